"""TEST-ONLY reference enclave: the TA side of docs/confidential-protocol.md, in Python.

This is test code. It lets the unit tests run the whole confidential flow without OP-TEE: it
creates credentials (with a fake attestation device key standing in for the PTA's), decrypts
requests, runs a tiny key/value chaincode, encrypts state values and the response, and signs the
read/write set exactly as the contract says the TA does. It is deliberately independent from the
client/validator code paths it tests: it uses `cryptography` directly, only sharing the message
encoders (whose strictness has its own tests).

Like the TA, it refuses writes under FOC's reserved prefix `~foc/` (BAD_ARGUMENT inside the signed,
encrypted response). `reserved_prefix_check=False` plays a TA without that check, so that the
validator's own check (`validate_and_apply`) can be tested against a signed write set that has one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from foc.confidential.formats import (
    EVIDENCE_KIND_TA_MEMORY,
    AttestedData,
    ConfidentialRequest,
    ConfidentialResponse,
    Credentials,
    EnclaveConfig,
    EncryptedResponse,
    Evidence,
    RangeRecord,
    ReadRecord,
    RequestPlaintext,
    ResponsePlaintext,
    SignedMessage,
    StoredValue,
    WriteRecord,
    range_results_hash,
)
from foc.errors import ChaincodeError
from foc.protocol.context import Creator, creator_hash

GetState = Callable[[str], bytes | None]
GetStateByRange = Callable[[str, str], Sequence[tuple[str, bytes]]]

RESERVED_PREFIX = "~foc/"  # the TA's check_write (ta/confidential/foc_confidential.c)


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


@dataclass
class ChaincodeSecrets:
    """The per-chaincode secrets the first enclave creates (sealed in the TA)."""

    chaincode_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    state_key: bytes = field(default_factory=lambda: os.urandom(32))


class ReferenceEnclave:
    """One enclave (device + TA). `device_key` plays the attestation PTA's RSA key."""

    def __init__(
        self,
        device_key: rsa.RSAPrivateKey,
        measurement: bytes,
        secrets: ChaincodeSecrets | None = None,
        *,
        reserved_prefix_check: bool = True,
    ) -> None:
        self.device_key = device_key
        self.reserved_prefix_check = reserved_prefix_check
        self.measurement = measurement
        self.secrets = secrets or ChaincodeSecrets()
        self.signing_key = ec.generate_private_key(ec.SECP256R1())
        self.config: EnclaveConfig | None = None
        self.evidence_kind = EVIDENCE_KIND_TA_MEMORY  # "native-insecure-v1" plays the native build

    @property
    def enclave_point(self) -> bytes:
        return _point(self.signing_key)

    # -- FOC_CMD_ENCLAVE_CREATE ---------------------------------------------------------------

    def create(
        self, config: EnclaveConfig, *, nonce: bytes | None = None, measurement: bytes | None = None
    ) -> bytes:
        """Credentials for `config`. `nonce`/`measurement` override what an honest TA would use."""
        self.config = config
        attested = AttestedData(
            config.chaincode_id,
            config.chaincode_version,
            config.channel_id,
            config.host_endpoint,
            self.enclave_point,
            _point(self.secrets.chaincode_key),
            config.key_policy.digest(),
        ).encode()
        used_nonce = _sha(attested) if nonce is None else nonce
        used_measurement = self.measurement if measurement is None else measurement
        digest = _sha(used_nonce + used_measurement)
        signature = self.device_key.sign(
            digest,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            Prehashed(hashes.SHA256()),
        )
        evidence = Evidence(self.evidence_kind, used_measurement, signature).encode()
        return Credentials(attested, evidence).encode()

    # -- FOC_CMD_CONFIDENTIAL_INVOKE ------------------------------------------------------------

    def invoke(
        self,
        confidential_request: bytes,
        get_state: GetState,
        *,
        transaction_id: str = "",
        channel_id: str = "",
        creator: Creator | None = None,
        get_state_by_range: GetStateByRange | None = None,
    ) -> bytes:
        assert self.config is not None, "create the enclave first"
        request = ConfidentialRequest.decode(confidential_request)
        cc_point = _point(self.secrets.chaincode_key)
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), request.client_ephemeral_pub)
        shared = self.secrets.chaincode_key.exchange(ec.ECDH(), peer)
        k_req = HKDF(
            hashes.SHA256(), 32, salt=b"", info=b"FOC/v2/request" + request.client_ephemeral_pub + cc_point
        ).derive(shared)
        try:
            plaintext = AESGCM(k_req).decrypt(request.nonce, request.ciphertext, b"FOC/v2/request")
        except Exception as exc:
            raise ChaincodeError("BAD_REQUEST", "request failed authentication") from exc
        body = RequestPlaintext.decode(plaintext)
        if body.channel_id != self.config.channel_id or body.chaincode_id != self.config.chaincode_id:
            raise ChaincodeError("BAD_REQUEST", "request is for another chaincode or channel")
        if body.creator != creator:
            raise ChaincodeError(
                "BAD_REQUEST", "the confidential request's creator is not the transaction's creator"
            )
        request_hash = _sha(confidential_request)

        reads: dict[str, ReadRecord] = {}
        ranges: dict[tuple[str, str], RangeRecord] = {}
        writes: dict[str, WriteRecord] = {}

        def open_stored(key: str, stored: bytes) -> bytes:
            value = StoredValue.decode(stored)
            try:
                return AESGCM(self.secrets.state_key).decrypt(
                    value.nonce, value.ciphertext, b"FOC/v1/state" + key.encode()
                )
            except Exception as exc:
                raise ChaincodeError("INCONSISTENT", f"state value for {key} failed authentication") from exc

        def read(key: str) -> bytes | None:
            stored = get_state(key)
            if key not in reads:
                reads[key] = ReadRecord(key, stored is not None, _sha(stored or b""))
            return None if stored is None else open_stored(key, stored)

        def read_range(start: str, end: str) -> list[tuple[str, bytes]]:
            assert get_state_by_range is not None, "this caller cannot answer range reads"
            start = start or "\x01"
            entries = list(get_state_by_range(start, end))
            ranges.setdefault((start, end), RangeRecord(start, end, range_results_hash(entries)))
            return [(k, open_stored(k, v)) for k, v in entries]

        def delete(key: str) -> None:
            writes[key] = WriteRecord(key, True, b"")

        def write(key: str, value: bytes) -> None:
            if self.reserved_prefix_check and key.startswith(RESERVED_PREFIX):
                raise ChaincodeError("BAD_ARGUMENT", "state keys starting with ~foc/ are reserved")
            nonce = _state_nonce(self.secrets.state_key, request_hash, key, value)
            ct = AESGCM(self.secrets.state_key).encrypt(nonce, value, b"FOC/v1/state" + key.encode())
            writes[key] = WriteRecord(key, False, StoredValue(nonce, ct).encode())

        context = _Context(read, write, delete, read_range, body.creator, body.transient)
        try:
            status, payload = 200, _run_chaincode(body.args, context)
        except ChaincodeError as exc:
            if exc.code == "INCONSISTENT":
                raise  # not a chaincode answer: the TA refuses to run on tampered state
            status, payload, writes = 500, f"{exc.code}: {exc.reason}".encode(), {}
        nonce = os.urandom(12)
        ct = AESGCM(body.response_key).encrypt(
            nonce, ResponsePlaintext(status, payload).encode(), request_hash
        )
        message = SignedMessage(
            enclave_id=hashlib.sha256(self.enclave_point).hexdigest(),
            request_hash=request_hash,
            reads=tuple(reads.values()),
            writes=tuple(writes.values()),
            encrypted_response=EncryptedResponse(nonce, ct).encode(),
            creator_hash=creator_hash(body.creator),
            ranges=tuple(ranges.values()),
        ).encode()
        r, s = decode_dss_signature(self.signing_key.sign(message, ec.ECDSA(hashes.SHA256())))
        return ConfidentialResponse(message, r.to_bytes(32, "big") + s.to_bytes(32, "big")).encode()


def _state_nonce(state_key: bytes, request_hash: bytes, key: str, value: bytes) -> bytes:
    """The TA's synthetic nonce of a written value (docs/confidential-protocol.md, "Key
    distribution"): the first 12 bytes of HKDF-SHA256(state_key, salt "", info "FOC/v1/state-nonce"
    || request_hash || SHA-256(key) || SHA-256(value)), so enclaves sharing the keys write alike."""
    info = b"FOC/v1/state-nonce" + request_hash + _sha(key.encode()) + _sha(value)
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(state_key)[:12]


@dataclass
class _Context:
    """What the chaincode may use: reads, writes, range reads, the creator, transient data."""

    read: Callable[[str], bytes | None]
    write: Callable[[str, bytes], None]
    delete: Callable[[str], None]
    read_range: Callable[[str, str], list[tuple[str, bytes]]]
    creator: Creator | None
    transient: Mapping[str, bytes]


def _run_chaincode(args: tuple[bytes, ...], ctx: _Context) -> bytes:
    """A small key/value chaincode: create, get, add (integers), put (blind write), del, whoami (the
    creator's MSP id), transient (a transient value), range (start, end[, out_key]: "k=v;" per entry,
    out_key = the count)."""
    read, write = ctx.read, ctx.write
    function = args[0].decode()
    params = [a.decode() for a in args[1:]]
    if function == "whoami" and not params:
        if ctx.creator is None:
            raise ChaincodeError("NOT_FOUND", "no creator")
        return ctx.creator.msp_id.encode()
    if function == "transient" and len(params) == 1:
        if params[0] not in ctx.transient:
            raise ChaincodeError("NOT_FOUND", "no such transient key")
        return ctx.transient[params[0]]
    if function == "range" and len(params) in (2, 3):
        entries = ctx.read_range(params[0], params[1])
        if len(params) == 3:
            write(params[2], str(len(entries)).encode())
        return b"".join(k.encode() + b"=" + v + b";" for k, v in entries)
    if function == "create" and len(params) == 2:
        if read(params[0]) is not None:
            raise ChaincodeError("EXISTS", "the key already exists")
        write(params[0], params[1].encode())
        return b"OK"
    if function == "get" and len(params) == 1:
        value = read(params[0])
        if value is None:
            raise ChaincodeError("NOT_FOUND", "no such key")
        return value
    if function == "add" and len(params) == 2:
        value = read(params[0])
        if value is None:
            raise ChaincodeError("NOT_FOUND", "no such key")
        total = int(value) + int(params[1])
        write(params[0], str(total).encode())
        return str(total).encode()
    if function == "del" and len(params) == 1:
        ctx.delete(params[0])
        return b"OK"
    if function == "put" and len(params) == 2:
        write(params[0], params[1].encode())
        return b"OK"
    raise ChaincodeError("UNKNOWN_FUNCTION", "unknown function")
