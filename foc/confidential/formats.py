"""Encoders and strict decoders for every confidential-mode message (docs/confidential-protocol.md).

Encoding is the TA ABI's: little-endian ``u32``, ``u8``, and ``bytes`` = ``u32`` length + data.
Decoders check every length against a limit before slicing, check fixed sizes and magics, and
consume the buffer exactly (trailing bytes are an error). Every failure is a
`ConfidentialityError` naming the message and field, never the field's content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from foc import wire
from foc.confidential.suite import HASH_SIZE, NONCE_SIZE, POINT_SIZE, SIGNATURE_SIZE, TAG_SIZE
from foc.errors import ConfidentialityError, UsageError
from foc.protocol import keys, limits, sizes
from foc.protocol.context import Creator, creator_hash, decode_context, encode_context

MAGIC_REQUEST = 0x32524346  # "FCR2" (v2: the plaintext carries the creator and transient data)
MAGIC_STATE = 0x31534346  # "FCS1"
MAGIC_SIGNED_RWSET = 0x32525346  # "FSR2" (v2: the creator hash and the ranges read)
MAGIC_ATTESTED_DATA = 0x31444146  # "FAD1"
MAGIC_EVIDENCE = 0x31564546  # "FEV1"
MAGIC_CREDENTIALS = 0x31444346  # "FCD1"
MAGIC_ENCLAVE_CONFIG = 0x31434546  # "FEC1"

EVIDENCE_KIND_TA_MEMORY = "optee-ta-memory-v1"
# Host-native build, tests only: signed with a published key, proves nothing (refused by default).
EVIDENCE_KIND_NATIVE_INSECURE = "native-insecure-v1"

# Limits (the "Limits" table of the contract): the TA header's where they overlap, from the one
# generated definition (foc.protocol.limits); the rest are this protocol's own.
MAX_IDENTIFIER = limits.FOC_MAX_IDENTIFIER  # chaincode id, version, channel id, host endpoint
MAX_ARGS = limits.FOC_MAX_ARGS
MAX_ARG = limits.FOC_MAX_VALUE
MAX_REQUEST = limits.FOC_MAX_REQUEST
MAX_KEY = limits.FOC_MAX_KEY
MAX_VALUE = limits.FOC_MAX_VALUE
#: stored_value = u32 magic, bytes nonce, bytes ciphertext (value + GCM tag): FOC_CONF_STATE_OVERHEAD
STORED_VALUE_OVERHEAD = 4 + 4 + NONCE_SIZE + 4 + TAG_SIZE
MAX_STORED_VALUE = limits.CONFIDENTIAL.state_value
MAX_PAYLOAD = limits.FOC_MAX_PAYLOAD
MAX_READS = limits.FOC_MAX_READS
MAX_RANGES = limits.FOC_MAX_RANGES
MAX_WRITES = limits.FOC_MAX_WRITES
MAX_EVIDENCE_KIND = 64
MAX_EVIDENCE_SIGNATURE = 512  # RSA-4096, CFG_ATTESTATION_PTA_KEY_SIZE's maximum
MAX_ENCRYPTED_RESPONSE = 4 + NONCE_SIZE + 4 + 4 + 4 + MAX_PAYLOAD + TAG_SIZE
MAX_SIGNED_MESSAGE = limits.FOC_MAX_OUTPUT
if STORED_VALUE_OVERHEAD != limits.FOC_CONF_STATE_OVERHEAD:  # the layout and the header must agree
    raise ImportError(f"stored_value overhead {STORED_VALUE_OVERHEAD} != FOC_CONF_STATE_OVERHEAD")
ENCLAVE_ID_SIZE = 64  # lowercase hex of SHA-256


class _Reader(wire.Reader):
    """foc.wire.Reader raising ConfidentialityError; identifiers default to MAX_IDENTIFIER."""

    def __init__(self, data: bytes, what: str) -> None:
        super().__init__(data, what, ConfidentialityError)

    def text(self, field: str, *, max_len: int = MAX_IDENTIFIER, allow_empty: bool = False) -> str:
        return super().text(field, max_len=max_len, allow_empty=allow_empty)


_Writer = wire.Writer


def _check_len(what: str, value: bytes, max_len: int) -> None:
    if len(value) > max_len:
        raise ConfidentialityError(f"{what} is {len(value)} bytes, more than the limit of {max_len}")


def _key_text(reader: _Reader, field: str) -> str:
    """A state key: a simple key without NUL, or a composite key (`foc.protocol.keys`)."""
    key = reader.text(field, max_len=MAX_KEY)
    if keys.is_composite(key):
        try:
            keys.check_composite_key(key)
        except UsageError:
            raise reader.fail(f"{field} starts with NUL but is not a composite key") from None
    elif "\x00" in key:
        raise reader.fail(f"{field} contains NUL")
    return key


# -- request -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestPlaintext:
    """What the client encrypts: channel, chaincode, arguments (function first), the context (the
    client's own identity as the transaction's creator, transient data), response key."""

    channel_id: str
    chaincode_id: str
    args: tuple[bytes, ...]
    response_key: bytes
    creator: Creator | None = None
    transient: Mapping[str, bytes] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The encoding; LimitExceeded (naming the TA's limit) for a request the TA would refuse."""
        if not self.args:
            raise ConfidentialityError("a request needs the function name")
        if any(not k for k in self.transient):
            raise ConfidentialityError("a transient key must not be empty")
        sizes.check_request(self.args, limits.CONFIDENTIAL, creator=self.creator, transient=self.transient)
        w = _Writer().text(self.channel_id).text(self.chaincode_id).u32(len(self.args))
        for arg in self.args:
            w.blob(arg)
        return w.done() + encode_context(self.creator, self.transient) + wire.blob(self.response_key)

    @classmethod
    def decode(cls, data: bytes) -> RequestPlaintext:
        r = _Reader(data, "request plaintext")
        channel = r.text("channel_id")
        chaincode = r.text("chaincode_id")
        nargs = r.count("nargs", MAX_ARGS)
        if nargs == 0:
            raise r.fail("nargs is 0 (the function name is required)")
        args = tuple(r.blob(f"argument {i}", max_len=MAX_ARG) for i in range(nargs))
        creator, transient = decode_context(r)
        key = r.blob("response_key", size=32)
        r.end()
        return cls(channel, chaincode, args, key, creator, transient)


@dataclass(frozen=True)
class ConfidentialRequest:
    """`confidential_request`: the client's ephemeral ECDH point and the AES-GCM sealed plaintext."""

    client_ephemeral_pub: bytes
    nonce: bytes
    ciphertext: bytes

    def encode(self) -> bytes:
        out = (
            _Writer()
            .u32(MAGIC_REQUEST)
            .blob(self.client_ephemeral_pub)
            .blob(self.nonce)
            .blob(self.ciphertext)
            .done()
        )
        sizes.check_confidential_request(out)  # LimitExceeded naming FOC_MAX_REQUEST
        return out

    @classmethod
    def decode(cls, data: bytes) -> ConfidentialRequest:
        if len(data) > MAX_REQUEST:
            raise ConfidentialityError(f"confidential request is larger than {MAX_REQUEST} bytes")
        r = _Reader(data, "confidential request")
        r.magic(MAGIC_REQUEST)
        point = r.blob("client_ephemeral_pub", size=POINT_SIZE)
        nonce = r.blob("nonce", size=NONCE_SIZE)
        ct = r.blob("ciphertext", max_len=MAX_REQUEST)
        if len(ct) < TAG_SIZE:
            raise r.fail("ciphertext is shorter than the GCM tag")
        r.end()
        return cls(point, nonce, ct)


# -- state values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredValue:
    """`stored_value`: a state value encrypted under the chaincode's state key, bound to its key."""

    nonce: bytes
    ciphertext: bytes

    def encode(self) -> bytes:
        return _Writer().u32(MAGIC_STATE).blob(self.nonce).blob(self.ciphertext).done()

    @classmethod
    def decode(cls, data: bytes) -> StoredValue:
        r = _Reader(data, "stored state value")
        r.magic(MAGIC_STATE)
        nonce = r.blob("nonce", size=NONCE_SIZE)
        ct = r.blob("ciphertext", max_len=MAX_VALUE + TAG_SIZE)
        if len(ct) < TAG_SIZE:
            raise r.fail("ciphertext is shorter than the GCM tag")
        r.end()
        return cls(nonce, ct)


# -- response ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponsePlaintext:
    """What the enclave encrypts for the client: status and payload (or error message)."""

    status: int
    payload: bytes

    def encode(self) -> bytes:
        _check_len("a response payload", self.payload, MAX_PAYLOAD)
        return _Writer().u32(self.status).blob(self.payload).done()

    @classmethod
    def decode(cls, data: bytes) -> ResponsePlaintext:
        r = _Reader(data, "response plaintext")
        status = r.u32("status")
        payload = r.blob("payload", max_len=MAX_PAYLOAD)
        r.end()
        return cls(status, payload)


@dataclass(frozen=True)
class EncryptedResponse:
    """`encrypted_response`: AES-GCM under the client's response key, aad = request_hash."""

    nonce: bytes
    ciphertext: bytes

    def encode(self) -> bytes:
        return _Writer().blob(self.nonce).blob(self.ciphertext).done()

    @classmethod
    def decode(cls, data: bytes) -> EncryptedResponse:
        r = _Reader(data, "encrypted response")
        nonce = r.blob("nonce", size=NONCE_SIZE)
        ct = r.blob("ciphertext", max_len=MAX_PAYLOAD + 8 + TAG_SIZE)
        if len(ct) < TAG_SIZE:
            raise r.fail("ciphertext is shorter than the GCM tag")
        r.end()
        return cls(nonce, ct)


# -- signed read/write set ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReadRecord:
    """A key the enclave read: whether it existed and SHA-256 of the stored bytes ("" if absent)."""

    key: str
    found: bool
    value_hash: bytes


@dataclass(frozen=True)
class RangeRecord:
    """A range the enclave read: its bounds and `range_results_hash` of what it returned."""

    start: str
    end: str
    results_hash: bytes


def range_results_hash(entries: Sequence[tuple[str, bytes]]) -> bytes:
    """SHA-256(u32 n { bytes key bytes SHA-256(stored value) }) of a range's entries (stored bytes)."""
    w = _Writer().u32(len(entries))
    for key, stored in entries:
        w.text(key).blob(hashlib.sha256(stored).digest())
    return hashlib.sha256(w.done()).digest()


@dataclass(frozen=True)
class WriteRecord:
    """A key the enclave wrote: the encrypted `stored_value`, or a deletion (empty value)."""

    key: str
    is_delete: bool
    stored_value: bytes


@dataclass(frozen=True)
class SignedMessage:
    """`signed_message`: what the enclave signs for the validator and the client.

    `creator_hash` is `foc.protocol.context.creator_hash` of the creator inside the request (the
    default: no creator); `ranges` the ranges the chaincode read.
    """

    enclave_id: str
    request_hash: bytes
    reads: tuple[ReadRecord, ...]
    writes: tuple[WriteRecord, ...]
    encrypted_response: bytes
    creator_hash: bytes = creator_hash(None)
    ranges: tuple[RangeRecord, ...] = ()

    def encode(self) -> bytes:
        if len(self.reads) > MAX_READS or len(self.writes) > MAX_WRITES or len(self.ranges) > MAX_RANGES:
            raise ConfidentialityError(
                f"a read/write set is limited to {MAX_READS} reads and writes and {MAX_RANGES} ranges"
            )
        w = (
            _Writer()
            .u32(MAGIC_SIGNED_RWSET)
            .text(self.enclave_id)
            .blob(self.request_hash)
            .blob(self.creator_hash)
            .u32(len(self.reads))
        )
        for read in self.reads:
            w.text(read.key).u8(int(read.found)).blob(read.value_hash)
        w.u32(len(self.ranges))
        for bounds in self.ranges:
            w.text(bounds.start).text(bounds.end).blob(bounds.results_hash)
        w.u32(len(self.writes))
        for write in self.writes:
            w.text(write.key).u8(int(write.is_delete)).blob(write.stored_value)
        return w.blob(self.encrypted_response).done()

    @classmethod
    def decode(cls, data: bytes) -> SignedMessage:
        if len(data) > MAX_SIGNED_MESSAGE:
            raise ConfidentialityError(f"signed read/write set is larger than {MAX_SIGNED_MESSAGE} bytes")
        r = _Reader(data, "signed read/write set")
        r.magic(MAGIC_SIGNED_RWSET)
        eid = r.text("enclave_id", max_len=ENCLAVE_ID_SIZE)
        if len(eid) != ENCLAVE_ID_SIZE or any(c not in "0123456789abcdef" for c in eid):
            raise r.fail("enclave_id must be 64 lowercase hex characters")
        request_hash = r.blob("request_hash", size=HASH_SIZE)
        signed_creator = r.blob("creator_hash", size=HASH_SIZE)
        reads = []
        seen: set[str] = set()
        for i in range(r.count("nreads", MAX_READS)):
            key = _key_text(r, f"read {i} key")
            found = r.flag(f"read {i} found")
            reads.append(ReadRecord(key, found, r.blob(f"read {i} value_hash", size=HASH_SIZE)))
            if key in seen:
                raise r.fail(f"read {i} repeats an earlier key")
            seen.add(key)
        ranges = []
        for i in range(r.count("nranges", MAX_RANGES)):
            start = r.text(f"range {i} start", max_len=MAX_KEY)
            end = r.text(f"range {i} end", max_len=MAX_KEY, allow_empty=True)
            try:
                keys.check_range(start, end)
            except UsageError as exc:
                raise r.fail(f"range {i}: {exc}") from None
            ranges.append(RangeRecord(start, end, r.blob(f"range {i} results_hash", size=HASH_SIZE)))
            if (start, end) in {(x.start, x.end) for x in ranges[:-1]}:
                raise r.fail(f"range {i} repeats an earlier range")
        writes = []
        seen.clear()
        for i in range(r.count("nwrites", MAX_WRITES)):
            key = _key_text(r, f"write {i} key")
            is_delete = r.flag(f"write {i} is_delete")
            value = r.blob(f"write {i} stored_value", max_len=MAX_STORED_VALUE)
            if is_delete and value:
                raise r.fail(f"write {i} is a delete but carries a value")
            if not is_delete and not value:
                raise r.fail(f"write {i} has an empty stored value")
            if key in seen:
                raise r.fail(f"write {i} repeats an earlier key")
            seen.add(key)
            writes.append(WriteRecord(key, is_delete, value))
        encrypted_response = r.blob("encrypted_response", max_len=MAX_ENCRYPTED_RESPONSE)
        r.end()
        return cls(
            eid, request_hash, tuple(reads), tuple(writes), encrypted_response, signed_creator, tuple(ranges)
        )


@dataclass(frozen=True)
class ConfidentialResponse:
    """`confidential_response`: the signed message bytes (kept verbatim) and the raw signature."""

    signed_message: bytes
    signature: bytes

    def encode(self) -> bytes:
        return _Writer().blob(self.signed_message).blob(self.signature).done()

    @classmethod
    def decode(cls, data: bytes) -> ConfidentialResponse:
        r = _Reader(data, "confidential response")
        message = r.blob("signed_message", max_len=MAX_SIGNED_MESSAGE)
        signature = r.blob("signature", size=SIGNATURE_SIZE)
        r.end()
        return cls(message, signature)

    def message(self) -> SignedMessage:
        """Decode the signed message (call only after the signature has been verified)."""
        return SignedMessage.decode(self.signed_message)


# -- credentials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttestedData:
    """What the enclave attests to: chaincode definition, host, enclave and chaincode keys."""

    chaincode_id: str
    chaincode_version: str
    channel_id: str
    host_endpoint: str
    enclave_pub: bytes
    chaincode_pub: bytes

    def encode(self) -> bytes:
        return (
            _Writer()
            .u32(MAGIC_ATTESTED_DATA)
            .text(self.chaincode_id)
            .text(self.chaincode_version)
            .text(self.channel_id)
            .text(self.host_endpoint)
            .blob(self.enclave_pub)
            .blob(self.chaincode_pub)
            .done()
        )

    @classmethod
    def decode(cls, data: bytes) -> AttestedData:
        r = _Reader(data, "attested data")
        r.magic(MAGIC_ATTESTED_DATA)
        out = cls(
            chaincode_id=r.text("chaincode_id"),
            chaincode_version=r.text("chaincode_version"),
            channel_id=r.text("channel_id"),
            host_endpoint=r.text("host_endpoint"),
            enclave_pub=r.blob("enclave_pub", size=POINT_SIZE),
            chaincode_pub=r.blob("chaincode_pub", size=POINT_SIZE),
        )
        r.end()
        return out


@dataclass(frozen=True)
class Evidence:
    """`evidence`: the attestation PTA's measurement and its device-key signature."""

    kind: str
    measurement: bytes
    signature: bytes

    def encode(self) -> bytes:
        return (
            _Writer().u32(MAGIC_EVIDENCE).text(self.kind).blob(self.measurement).blob(self.signature).done()
        )

    @classmethod
    def decode(cls, data: bytes) -> Evidence:
        r = _Reader(data, "evidence")
        r.magic(MAGIC_EVIDENCE)
        kind = r.text("kind", max_len=MAX_EVIDENCE_KIND)
        measurement = r.blob("measurement", size=HASH_SIZE)
        signature = r.blob("signature", max_len=MAX_EVIDENCE_SIGNATURE)
        if not signature:
            raise r.fail("signature is empty")
        r.end()
        return cls(kind, measurement, signature)


@dataclass(frozen=True)
class Credentials:
    """`credentials`: attested data (bytes kept verbatim: the nonce is their hash) plus evidence."""

    attested_data_bytes: bytes
    evidence_bytes: bytes

    @property
    def attested_data(self) -> AttestedData:
        return AttestedData.decode(self.attested_data_bytes)

    @property
    def evidence(self) -> Evidence:
        return Evidence.decode(self.evidence_bytes)

    def encode(self) -> bytes:
        return (
            _Writer().u32(MAGIC_CREDENTIALS).blob(self.attested_data_bytes).blob(self.evidence_bytes).done()
        )

    @classmethod
    def decode(cls, data: bytes) -> Credentials:
        r = _Reader(data, "credentials")
        r.magic(MAGIC_CREDENTIALS)
        attested = r.blob("attested_data", max_len=4096)
        evidence = r.blob("evidence", max_len=4096)
        r.end()
        out = cls(attested, evidence)
        out.attested_data  # noqa: B018 - decode both parts now: malformed credentials fail here
        out.evidence  # noqa: B018
        return out

    @classmethod
    def build(cls, attested: AttestedData, evidence: Evidence) -> Credentials:
        """Credentials from their parts."""
        return cls(attested.encode(), evidence.encode())


@dataclass(frozen=True)
class EnclaveConfig:
    """`enclave_config`: the input of FOC_CMD_ENCLAVE_CREATE."""

    chaincode_id: str
    chaincode_version: str
    channel_id: str
    host_endpoint: str
    force: bool = False

    def encode(self) -> bytes:
        return (
            _Writer()
            .u32(MAGIC_ENCLAVE_CONFIG)
            .text(self.chaincode_id)
            .text(self.chaincode_version)
            .text(self.channel_id)
            .text(self.host_endpoint)
            .u8(int(self.force))
            .done()
        )

    @classmethod
    def decode(cls, data: bytes) -> EnclaveConfig:
        r = _Reader(data, "enclave config")
        r.magic(MAGIC_ENCLAVE_CONFIG)
        out = cls(
            r.text("chaincode_id"),
            r.text("chaincode_version"),
            r.text("channel_id"),
            r.text("host_endpoint"),
            r.flag("force"),
        )
        r.end()
        return out
