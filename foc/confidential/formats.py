"""Encoders and strict decoders for every confidential-mode message (docs/confidential-protocol.md).

Encoding is the TA ABI's: little-endian ``u32``, ``u8``, and ``bytes`` = ``u32`` length + data.
Decoders check every length against a limit before slicing, check fixed sizes and magics, and
consume the buffer exactly (trailing bytes are an error). Every failure is a
`ConfidentialityError` naming the message and field, never the field's content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from foc import wire
from foc.confidential.suite import HASH_SIZE, NONCE_SIZE, POINT_SIZE, SIGNATURE_SIZE, TAG_SIZE
from foc.errors import ConfidentialityError, UsageError
from foc.protocol import keys, limits, sizes
from foc.protocol.context import Creator, creator_hash, decode_context, encode_context

MAGIC_REQUEST = 0x32524346  # "FCR2" (v2: the plaintext carries the creator and transient data)
MAGIC_STATE = 0x31534346  # "FCS1"
MAGIC_SIGNED_RWSET = 0x32525346  # "FSR2" (v2: the creator hash and the ranges read)
MAGIC_ATTESTED_DATA = 0x32444146  # "FAD2" (v2: + key policy digest)
MAGIC_EVIDENCE = 0x31564546  # "FEV1"
MAGIC_CREDENTIALS = 0x31444346  # "FCD1"
MAGIC_ENCLAVE_CONFIG = 0x32434546  # "FEC2" (v2: mode, key policy)
# Key distribution (docs/confidential-protocol.md, "Key distribution")
MAGIC_KEY_POLICY = 0x31504B46  # "FKP1"
MAGIC_JOIN_DATA = 0x31444A46  # "FJD1"
MAGIC_KEY_REQUEST = 0x31524B46  # "FKR1"
MAGIC_KEY_EXPORT = 0x31454B46  # "FKE1"
MAGIC_KEY_PACKAGE = 0x31474B46  # "FKG1"
MAGIC_KEY_IMPORT = 0x31494B46  # "FKI1"

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
MAX_TRUSTED_DEVICES = limits.FOC_MAX_TRUSTED_DEVICES
MAX_DEVICE_KEY = limits.FOC_MAX_DEVICE_KEY
MAX_STATEMENT = 4096  # attested_data, join_data, evidence inside credentials and key requests
MAX_CREDENTIALS = 4 + 4 + MAX_STATEMENT + 4 + MAX_STATEMENT


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
class KeyPolicy:
    """`key_policy`: the devices whose enclaves may hold a chaincode's keys (key distribution).

    Each device is named by its key id: SHA-256 of its attestation key's DER SubjectPublicKeyInfo
    (`foc.admin.devices.key_fingerprint`, as bytes). Ids are distinct and sorted, so one set has
    one encoding. The TA seals the policy with the chaincode keys when it creates them, and every
    enclave attests its digest; the empty policy (the default) means the keys never leave the
    enclave that created them.
    """

    device_ids: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if len(self.device_ids) > MAX_TRUSTED_DEVICES:
            raise ConfidentialityError(f"a key policy lists at most {MAX_TRUSTED_DEVICES} devices")
        if any(len(i) != HASH_SIZE for i in self.device_ids):
            raise ConfidentialityError(f"a device key id is {HASH_SIZE} bytes (SHA-256)")
        if list(self.device_ids) != sorted(set(self.device_ids)):
            raise ConfidentialityError("key policy device ids must be distinct and sorted")

    @classmethod
    def of(cls, device_ids: Iterable[bytes | str]) -> KeyPolicy:
        """The policy of these device key ids (bytes or hex fingerprints), in any order."""
        ids = {bytes.fromhex(i) if isinstance(i, str) else bytes(i) for i in device_ids}
        return cls(tuple(sorted(ids)))

    def encode(self) -> bytes:
        w = _Writer().u32(MAGIC_KEY_POLICY).u32(len(self.device_ids))
        for device_id in self.device_ids:
            w.blob(device_id)
        return w.done()

    def digest(self) -> bytes:
        """SHA-256 of the encoding: what attested data and join data carry."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes) -> KeyPolicy:
        r = _Reader(data, "key policy")
        r.magic(MAGIC_KEY_POLICY)
        n = r.count("device count", MAX_TRUSTED_DEVICES)
        ids = tuple(r.blob(f"device {i}", size=HASH_SIZE) for i in range(n))
        r.end()
        return cls(ids)


EMPTY_KEY_POLICY = KeyPolicy()


@dataclass(frozen=True)
class AttestedData:
    """What the enclave attests to: chaincode definition, host, enclave and chaincode keys, and the
    digest of the key policy its chaincode keys are bound to."""

    chaincode_id: str
    chaincode_version: str
    channel_id: str
    host_endpoint: str
    enclave_pub: bytes
    chaincode_pub: bytes
    key_policy_digest: bytes = field(default_factory=EMPTY_KEY_POLICY.digest)

    def encode(self) -> bytes:
        return _statement(MAGIC_ATTESTED_DATA, self, self.chaincode_pub)

    @classmethod
    def decode(cls, data: bytes) -> AttestedData:
        return cls(*_decode_statement(data, MAGIC_ATTESTED_DATA, "attested data", "chaincode_pub"))


def _statement(magic: int, s: AttestedData | JoinData, key: bytes) -> bytes:
    """attested_data and join_data: u32 magic, four identifiers, enclave key, key, policy digest."""
    return (
        _Writer()
        .u32(magic)
        .text(s.chaincode_id)
        .text(s.chaincode_version)
        .text(s.channel_id)
        .text(s.host_endpoint)
        .blob(s.enclave_pub)
        .blob(key)
        .blob(s.key_policy_digest)
        .done()
    )


def _decode_statement(
    data: bytes, magic: int, what: str, key: str
) -> tuple[str, str, str, str, bytes, bytes, bytes]:
    r = _Reader(data, what)
    r.magic(magic)
    out = (
        r.text("chaincode_id"),
        r.text("chaincode_version"),
        r.text("channel_id"),
        r.text("host_endpoint"),
        r.blob("enclave_pub", size=POINT_SIZE),
        r.blob(key, size=POINT_SIZE),
        r.blob("key_policy_digest", size=HASH_SIZE),
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
        attested = r.blob("attested_data", max_len=MAX_STATEMENT)
        evidence = r.blob("evidence", max_len=MAX_STATEMENT)
        r.end()
        out = cls(attested, evidence)
        out.attested_data  # noqa: B018 - decode both parts now: malformed credentials fail here
        out.evidence  # noqa: B018
        return out

    @classmethod
    def build(cls, attested: AttestedData, evidence: Evidence) -> Credentials:
        """Credentials from their parts."""
        return cls(attested.encode(), evidence.encode())


MODE_CREATE = 0  # FOC_ERR_EXISTS if the TA has an enclave
MODE_REPLACE = 1  # a new enclave key; the chaincode keys (and their key policy) stay
MODE_REKEY = 2  # new chaincode keys (create), or replace this TA's keys once new ones arrive (join)


@dataclass(frozen=True)
class EnclaveConfig:
    """`enclave_config`: the input of FOC_CMD_ENCLAVE_CREATE and FOC_CMD_ENCLAVE_JOIN.

    `force` replaces an existing enclave and keeps the chaincode keys (mode 1); `rekey` also
    replaces the chaincode keys (mode 2; their state is then lost to this device). `key_policy`
    binds new chaincode keys to the devices that may receive them; a create that keeps sealed keys
    must repeat their policy.
    """

    chaincode_id: str
    chaincode_version: str
    channel_id: str
    host_endpoint: str
    force: bool = False
    key_policy: KeyPolicy = EMPTY_KEY_POLICY
    rekey: bool = False

    @property
    def mode(self) -> int:
        return MODE_REKEY if self.rekey else MODE_REPLACE if self.force else MODE_CREATE

    def encode(self) -> bytes:
        return (
            _Writer()
            .u32(MAGIC_ENCLAVE_CONFIG)
            .text(self.chaincode_id)
            .text(self.chaincode_version)
            .text(self.channel_id)
            .text(self.host_endpoint)
            .u8(self.mode)
            .blob(self.key_policy.encode())
            .done()
        )

    @classmethod
    def decode(cls, data: bytes) -> EnclaveConfig:
        r = _Reader(data, "enclave config")
        r.magic(MAGIC_ENCLAVE_CONFIG)
        ids = (
            r.text("chaincode_id"),
            r.text("chaincode_version"),
            r.text("channel_id"),
            r.text("host_endpoint"),
        )
        mode = r.u8("mode")
        if mode > MODE_REKEY:
            raise r.fail("mode must be 0, 1 or 2")
        policy = KeyPolicy.decode(r.blob("key_policy", max_len=8 + MAX_TRUSTED_DEVICES * (4 + HASH_SIZE)))
        r.end()
        return cls(*ids, force=mode != MODE_CREATE, key_policy=policy, rekey=mode == MODE_REKEY)


# -- key distribution --------------------------------------------------------------------------


@dataclass(frozen=True)
class JoinData:
    """`join_data`: what a joining enclave attests to: its identifiers, enclave key, a fresh
    transfer key (the keys are sealed to it) and the key policy digest it expects."""

    chaincode_id: str
    chaincode_version: str
    channel_id: str
    host_endpoint: str
    enclave_pub: bytes
    transfer_pub: bytes
    key_policy_digest: bytes

    def encode(self) -> bytes:
        return _statement(MAGIC_JOIN_DATA, self, self.transfer_pub)

    @classmethod
    def decode(cls, data: bytes) -> JoinData:
        return cls(*_decode_statement(data, MAGIC_JOIN_DATA, "join data", "transfer_pub"))


def _pair(magic: int, a: bytes, b: bytes) -> bytes:
    return _Writer().u32(magic).blob(a).blob(b).done()


def _decode_pair(
    data: bytes, magic: int, what: str, names: tuple[str, str], max_len: int
) -> tuple[bytes, bytes]:
    r = _Reader(data, what)
    r.magic(magic)
    a = r.blob(names[0], max_len=max_len)
    b = r.blob(names[1], max_len=max_len)
    r.end()
    return a, b


@dataclass(frozen=True)
class KeyRequest:
    """`key_request` (FOC_CMD_ENCLAVE_JOIN's answer): join data and evidence over it."""

    join_data_bytes: bytes
    evidence_bytes: bytes

    @property
    def join_data(self) -> JoinData:
        return JoinData.decode(self.join_data_bytes)

    @property
    def evidence(self) -> Evidence:
        return Evidence.decode(self.evidence_bytes)

    def encode(self) -> bytes:
        return _pair(MAGIC_KEY_REQUEST, self.join_data_bytes, self.evidence_bytes)

    @classmethod
    def decode(cls, data: bytes) -> KeyRequest:
        out = cls(
            *_decode_pair(
                data,
                MAGIC_KEY_REQUEST,
                "key request",
                ("join_data", "evidence"),
                MAX_STATEMENT,
            )
        )
        out.join_data  # noqa: B018 - both parts decode, or the request is refused here
        out.evidence  # noqa: B018
        return out


@dataclass(frozen=True)
class KeyExport:
    """`key_export` (FOC_CMD_KEY_EXPORT's input): a key request and the requester's device key (DER)."""

    key_request: bytes
    device_key_der: bytes

    def encode(self) -> bytes:
        _check_len("a device key", self.device_key_der, MAX_DEVICE_KEY)
        return _pair(MAGIC_KEY_EXPORT, self.key_request, self.device_key_der)


@dataclass(frozen=True)
class KeyPackage:
    """`key_package` (FOC_CMD_KEY_EXPORT's answer): the sender's credentials and the chaincode keys
    sealed to the receiver's transfer key (only the receiving TA can open them)."""

    sender_credentials: bytes
    nonce: bytes
    sealed: bytes

    def encode(self) -> bytes:
        return (
            _Writer()
            .u32(MAGIC_KEY_PACKAGE)
            .blob(self.sender_credentials)
            .blob(self.nonce)
            .blob(self.sealed)
            .done()
        )

    @classmethod
    def decode(cls, data: bytes) -> KeyPackage:
        r = _Reader(data, "key package")
        r.magic(MAGIC_KEY_PACKAGE)
        creds = r.blob("sender_credentials", max_len=MAX_CREDENTIALS)
        nonce = r.blob("nonce", size=NONCE_SIZE)
        sealed = r.blob("sealed", max_len=4096)
        if len(sealed) < TAG_SIZE:
            raise r.fail("sealed keys are shorter than the GCM tag")
        r.end()
        Credentials.decode(creds)
        return cls(creds, nonce, sealed)


@dataclass(frozen=True)
class KeyImport:
    """`key_import` (FOC_CMD_KEY_IMPORT's input): a key package and the sender's device key (DER)."""

    key_package: bytes
    device_key_der: bytes

    def encode(self) -> bytes:
        _check_len("a device key", self.device_key_der, MAX_DEVICE_KEY)
        return _pair(MAGIC_KEY_IMPORT, self.key_package, self.device_key_der)
