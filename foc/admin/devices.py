"""Enrolled attestation devices: the RSA public keys an administrator pins per device.

OP-TEE's attestation PTA has no vendor certificate: its RSA key is generated inside the TEE on
first use (docs/confidential.md, "Threat model"). A verifier therefore trusts a device only after
an administrator has enrolled its public key (`foc device enroll`, calling `enroll_device`).
Keys are stored as PEM files, ``$FOC_HOME/devices/<name>.pem``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from foc.admin.home import check_name, foc_home, write_atomically
from foc.errors import ConfigError, UsageError

MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class EnrolledDevice:
    """A device's attestation public key and the name it was enrolled under."""

    name: str
    public_key: rsa.RSAPublicKey

    @property
    def fingerprint(self) -> str:
        """Lowercase hex SHA-256 of the key's DER SubjectPublicKeyInfo."""
        return key_fingerprint(self.public_key)


def key_fingerprint(public_key: rsa.RSAPublicKey) -> str:
    """Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo of `public_key`."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def device_key_from_pta(exponent: bytes, modulus: bytes) -> rsa.RSAPublicKey:
    """The RSA public key from PTA_ATTESTATION_GET_PUBKEY's big-endian e (memref 0) and n (memref 1)."""
    e = int.from_bytes(exponent, "big")
    n = int.from_bytes(modulus, "big")
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise UsageError(f"the attestation PTA's public key is not a valid RSA key: {exc}") from exc


def load_public_key(data: bytes | rsa.RSAPublicKey) -> rsa.RSAPublicKey:
    """Accept an RSA public key object, PEM or DER bytes; refuse anything else with a reason."""
    if isinstance(data, rsa.RSAPublicKey):
        key = data
    else:
        raw = bytes(data)
        try:
            loaded = (
                serialization.load_pem_public_key(raw)
                if raw.lstrip().startswith(b"-----")
                else serialization.load_der_public_key(raw)
            )
        except ValueError as exc:
            raise UsageError("not a PEM or DER public key", hint="export the device key as PEM") from exc
        if not isinstance(loaded, rsa.RSAPublicKey):
            raise UsageError("a device attestation key must be RSA (OP-TEE's attestation PTA key)")
        key = loaded
    if key.key_size < MIN_RSA_BITS:
        raise UsageError(f"device key has {key.key_size} bits; at least {MIN_RSA_BITS} are required")
    return key


class DeviceStore:
    """The enrolled devices under ``<home>/devices``."""

    def __init__(self, home: Path | None = None) -> None:
        self.root = (home or foc_home()) / "devices"

    def path(self, name: str) -> Path:
        return self.root / f"{check_name('device name', name)}.pem"

    def enroll(
        self, name: str, public_key: bytes | rsa.RSAPublicKey, *, replace: bool = False
    ) -> EnrolledDevice:
        """Pin `public_key` for device `name`. Refuses to re-key a name or enroll a key twice."""
        device = EnrolledDevice(name, load_public_key(public_key))
        path = self.path(name)
        for other in self.devices():
            if other.fingerprint == device.fingerprint and other.name != name:
                raise UsageError(f"this key is already enrolled as device {other.name!r}")
        if path.exists() and not replace:
            existing = self.get(name)
            if existing.fingerprint == device.fingerprint:
                return existing
            raise UsageError(
                f"device {name!r} is already enrolled with a different key",
                hint="pass replace=True (foc device enroll --replace) if the device was re-keyed",
            )
        pem = device.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        write_atomically(path, pem)
        return device

    def get(self, name: str) -> EnrolledDevice:
        """The enrolled device `name`, or ConfigError if it is not enrolled."""
        path = self.path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ConfigError(f"device {name!r} is not enrolled ({path} does not exist)") from exc
        try:
            return EnrolledDevice(name, load_public_key(data))
        except UsageError as exc:
            raise ConfigError(f"enrolled key file {path} is unusable: {exc}") from exc

    def devices(self) -> Iterator[EnrolledDevice]:
        """Every enrolled device, by name."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("*.pem")):
            yield self.get(path.stem)

    def remove(self, name: str) -> None:
        """Un-enroll `name` (its enclaves then fail registration and client verification)."""
        self.path(name).unlink(missing_ok=True)


def enroll_device(
    name: str, public_key: bytes | rsa.RSAPublicKey, *, home: Path | None = None, replace: bool = False
) -> EnrolledDevice:
    """Enroll (pin) a device's attestation public key: the entry point of `foc device enroll`."""
    return DeviceStore(home).enroll(name, public_key, replace=replace)
