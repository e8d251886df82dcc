"""Key-material leak scan shared by the native and the qemu tier ("keys never leave the TA").

The TA seals two objects (ta/confidential/foc_enclave.c, docs/confidential-protocol.md "Keys"):
  foc.enclave.v1   := u32 version(1) bytes sign_priv(32) bytes sign_pub(65) bytes chaincode_id
                      bytes version bytes channel_id bytes host_endpoint bytes credentials
  foc.chaincode.v1 := u32 version(1 or 2) bytes chaincode_priv(32) bytes chaincode_pub(65) bytes state_key(32)
                      [version 2: bytes key_policy]
(`bytes` = u32 little-endian length + data, as everywhere in the TA's encoding). The secrets are
the two private scalars and the state key. `KeyMaterial.check_against` proves that the bytes
read are the keys in use (public halves equal the credentials, the state key opens a stored
value), so a scan that finds nothing is not a scan for the wrong bytes.

`scan` looks for each secret, and for each 16-byte half of it, raw, as lower/upper-case hex and as
base64 at all three alignments a secret can have inside a longer base64 text. `scan` of a blob
that holds a planted secret in every form must report every form: `assert_scanner_finds_plants`
is the positive control each leak-scan test runs first.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from foc.confidential.formats import Credentials, StoredValue
from foc.tee.abi import FOC_TA_UUID_STR

TA_DIR = Path(__file__).resolve().parents[1] / "ta"
TEST_COMMANDS_HEADER = TA_DIR / "test" / "foc_test_commands.h"
ENCLAVE_OBJECT = "foc.enclave.v1"
CHAINCODE_OBJECT = "foc.chaincode.v1"
SEALED_VERSION = 1
CHAINCODE_VERSIONS = (1, 2)  # 2: + the key policy (key distribution between enclaves)
STATE_LABEL = b"FOC/v1/state"


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def u32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise ValueError(f"{self.what}: truncated")
        (value,) = struct.unpack_from("<I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def bytes(self, size: int | None = None) -> bytes:
        length = self.u32()
        if (size is not None and length != size) or self.pos + length > len(self.data):
            raise ValueError(f"{self.what}: bad field length {length}")
        out = self.data[self.pos : self.pos + length]
        self.pos += length
        return out

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ValueError(f"{self.what}: {len(self.data) - self.pos} trailing bytes")


@dataclass(frozen=True)
class KeyMaterial:
    """The secrets of one enclave and its chaincode, read from the sealed objects."""

    sign_priv: bytes
    sign_pub: bytes
    chaincode_priv: bytes
    chaincode_pub: bytes
    state_key: bytes
    credentials: bytes

    @classmethod
    def from_objects(cls, enclave_object: bytes, chaincode_object: bytes) -> KeyMaterial:
        e = _Reader(enclave_object, ENCLAVE_OBJECT)
        if e.u32() != SEALED_VERSION:
            raise ValueError(f"{ENCLAVE_OBJECT}: unknown version")
        sign_priv, sign_pub = e.bytes(32), e.bytes(65)
        for _ in range(4):  # chaincode id, version, channel id, host endpoint
            e.bytes()
        credentials = e.bytes()
        e.end()
        c = _Reader(chaincode_object, CHAINCODE_OBJECT)
        chaincode_version = c.u32()
        if chaincode_version not in CHAINCODE_VERSIONS:
            raise ValueError(f"{CHAINCODE_OBJECT}: unknown version {chaincode_version}")
        chaincode_priv, chaincode_pub, state_key = c.bytes(32), c.bytes(65), c.bytes(32)
        if chaincode_version == 2:
            c.bytes()  # key policy (public: device key ids)
        c.end()
        return cls(sign_priv, sign_pub, chaincode_priv, chaincode_pub, state_key, credentials)

    @classmethod
    def from_test_command(cls, answer: bytes) -> KeyMaterial:
        """From the answer of a TEST build's FOC_CMD_TEST_SEALED_OBJECTS: bytes enclave || bytes chaincode."""
        r = _Reader(answer, "FOC_CMD_TEST_SEALED_OBJECTS answer")
        enclave_object, chaincode_object = r.bytes(), r.bytes()
        r.end()
        return cls.from_objects(enclave_object, chaincode_object)

    @classmethod
    def from_directory(cls, storage: Path, ta_uuid: str = FOC_TA_UUID_STR) -> KeyMaterial:
        """The native build's sealed objects of one TA: plain files in $FOC_NATIVE_STORAGE/<ta_uuid>/
        (not secure storage; each TA's objects apart, as OP-TEE's storage; default the coffee TA)."""
        directory = storage / ta_uuid
        return cls.from_objects(
            (directory / ENCLAVE_OBJECT).read_bytes(), (directory / CHAINCODE_OBJECT).read_bytes()
        )

    def secrets(self) -> dict[str, bytes]:
        return {
            "enclave signing key": self.sign_priv,
            "chaincode private key": self.chaincode_priv,
            "state key": self.state_key,
        }

    def check_against(self, credentials: Credentials, stored: Mapping[str, bytes]) -> None:
        """Raise AssertionError unless these are the keys behind `credentials` and `stored` values."""
        attested = credentials.attested_data
        assert _public_point(self.sign_priv) == self.sign_pub == attested.enclave_pub
        assert _public_point(self.chaincode_priv) == self.chaincode_pub == attested.chaincode_pub
        assert stored, "no stored value to check the state key against"
        for key, value in stored.items():
            sealed = StoredValue.decode(value)
            AESGCM(self.state_key).decrypt(sealed.nonce, sealed.ciphertext, STATE_LABEL + key.encode())


def sealed_objects_command_id() -> int:
    """FOC_CMD_TEST_SEALED_OBJECTS from ta/test/foc_test_commands.h (test builds of the TA only)."""
    match = re.search(r"#define FOC_CMD_TEST_SEALED_OBJECTS (0x[0-9a-f]+)u", TEST_COMMANDS_HEADER.read_text())
    assert match, f"no FOC_CMD_TEST_SEALED_OBJECTS in {TEST_COMMANDS_HEADER}"
    return int(match.group(1), 16)


def _public_point(private: bytes) -> bytes:
    key = ec.derive_private_key(int.from_bytes(private, "big"), ec.SECP256R1())
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _base64_cores(secret: bytes) -> list[bytes]:
    """Base64 substrings present wherever `secret` is base64-encoded, whatever its offset mod 3."""
    cores = []
    for shift in range(3):
        text = base64.b64encode(b"\x00" * shift + secret)
        first = -(-shift * 4 // 3)  # characters that also hold bits of the bytes before the secret
        last = len(text) - 4  # the final quantum depends on what follows
        cores.append(text[first:last])
    return cores


def needles(secret: bytes) -> list[tuple[str, bytes]]:
    """(form, bytes to look for) for the whole secret and for each 16-byte half."""
    found: list[tuple[str, bytes]] = []
    parts = [("", secret)] + [(f" half {i}", secret[i * 16 : (i + 1) * 16]) for i in range(len(secret) // 16)]
    for suffix, part in parts:
        found.append(("raw" + suffix, part))
        found.append(("hex" + suffix, part.hex().encode()))
        found.append(("HEX" + suffix, part.hex().upper().encode()))
        for shift, core in enumerate(_base64_cores(part)):
            found.append((f"base64@{shift}{suffix}", core))
            found.append((f"base64url@{shift}{suffix}", core.replace(b"+", b"-").replace(b"/", b"_")))
    return found


def scan(blobs: Mapping[str, bytes], secrets: Mapping[str, bytes]) -> list[str]:
    """Every (blob, secret, form) where a form of a secret occurs."""
    hits = []
    for where, blob in blobs.items():
        for name, secret in secrets.items():
            for form, needle in needles(secret):
                if needle in blob:
                    hits.append(f"{name} ({form}) in {where}")
    return hits


def assert_scanner_finds_plants(secrets: Mapping[str, bytes]) -> None:
    """Positive control: every form of every secret, planted in text, is reported."""
    for name, secret in secrets.items():
        for shift in range(3):
            planted = {
                "raw": b"<" + secret + b">",
                "hex": b"key=" + secret.hex().encode(),
                "b64": base64.b64encode(b"x" * shift + secret + b"tail"),
            }
            for where, blob in planted.items():
                assert scan({where: blob}, {name: secret}), f"the scan misses {name} planted as {where}"


def files_under(paths: Iterable[Path]) -> dict[str, bytes]:
    """The contents of every file at or below `paths` (missing paths are skipped), by path."""
    out: dict[str, bytes] = {}
    for path in paths:
        if path.is_file():
            out[str(path)] = path.read_bytes()
        elif path.is_dir():
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                out[str(f)] = f.read_bytes()
    return out


def process_memory(pid: int | str = "self", limit: int = 2 << 30) -> bytes:
    """Every readable mapping of process `pid` (Linux /proc/PID/maps and /proc/PID/mem; root, or
    the same user under ptrace_scope 0), concatenated, at most `limit` bytes: a memory dump for the
    scan. Mappings that cannot be read (guard pages, [vvar], device memory) are skipped.

    Self-contained (no imports from this module) so the guest can run its source as a script."""
    import re as _re

    out, total = [], 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            m = _re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            if not m or m.group(3)[0] != "r" or "[vvar" in line or "[vsyscall]" in line:
                continue
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            size = min(end - start, limit - total)
            if size <= 0:
                break
            try:
                mem.seek(start)
                chunk = mem.read(size)
            except (OSError, ValueError, OverflowError):
                continue
            out.append(chunk)
            total += len(chunk)
    return b"".join(out)
