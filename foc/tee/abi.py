"""The TA ABI (ta/include/foc_ta.h) in Python: its numbers and a strict codec.

Everything here mirrors the C header, which is the single source of truth: the limits come from
``foc.protocol.limits`` (generated from the header), and ``tests/unit/proxy/test_abi_header.py``
checks every other ``#define`` against the header with the same parser.

The codec is strict and bounded in both directions: encoders refuse what the TA would refuse
(so the proxy fails early with a clear error), decoders refuse anything the TA must never
produce (a compromised or buggy TA cannot make the proxy allocate without bound or
misread a frame). All integers are unsigned little-endian; ``bytes`` is a u32 length followed
by the data; a decoder consumes its buffer exactly.
"""

from __future__ import annotations

import enum
import struct
import uuid as _uuid
from collections.abc import Sequence

from foc import wire
from foc.errors import LimitExceeded, TeeError, UsageError
from foc.protocol import keys, sizes
from foc.protocol.context import (
    Creator,
    Transient,
    decode_context,
    decode_creator,
    encode_context,
    encode_creator,
)
from foc.protocol.limits import (  # the limits, generated from the header once (per mode: PLAINTEXT...)
    CONFIDENTIAL,
    FOC_CONF_STATE_OVERHEAD,
    FOC_MAX_ARGS,
    FOC_MAX_CACHE_BYTES,
    FOC_MAX_CERTIFICATE,
    FOC_MAX_DEVICE_KEY,
    FOC_MAX_FUNCTION,
    FOC_MAX_IDENTIFIER,
    FOC_MAX_KEY,
    FOC_MAX_MSP_ID,
    FOC_MAX_OUTPUT,
    FOC_MAX_PAYLOAD,
    FOC_MAX_RANGE_BYTES,
    FOC_MAX_RANGE_ENTRIES,
    FOC_MAX_RANGES,
    FOC_MAX_READS,
    FOC_MAX_REQUEST,
    FOC_MAX_TRANSIENT,
    FOC_MAX_TRUSTED_DEVICES,
    FOC_MAX_VALUE,
    FOC_MAX_WRITE_BYTES,
    FOC_MAX_WRITES,
    PLAINTEXT,
    Limits,
)
from foc.protocol.result import InvocationError, InvocationResult, KeyRange, StateWrite

__all__ = [  # re-exported: the header's limits are part of the ABI this module mirrors
    "CONFIDENTIAL",
    "FOC_CONF_STATE_OVERHEAD",
    "FOC_MAX_ARGS",
    "FOC_MAX_CACHE_BYTES",
    "FOC_MAX_CERTIFICATE",
    "FOC_MAX_FUNCTION",
    "FOC_MAX_DEVICE_KEY",
    "FOC_MAX_IDENTIFIER",
    "FOC_MAX_TRUSTED_DEVICES",
    "FOC_MAX_KEY",
    "FOC_MAX_MSP_ID",
    "FOC_MAX_OUTPUT",
    "FOC_MAX_PAYLOAD",
    "FOC_MAX_RANGES",
    "FOC_MAX_RANGE_BYTES",
    "FOC_MAX_RANGE_ENTRIES",
    "FOC_MAX_READS",
    "FOC_MAX_REQUEST",
    "FOC_MAX_TRANSIENT",
    "FOC_MAX_VALUE",
    "FOC_MAX_WRITE_BYTES",
    "FOC_MAX_WRITES",
    "PLAINTEXT",
    "Limits",
]

FOC_TA_UUID_STR = "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9"
FOC_TA_UUID = _uuid.UUID(FOC_TA_UUID_STR)
FOC_ABI_VERSION = 2  # 2: FOC2 requests, ranges, FCI1 confidential invocations

# Commands
FOC_CMD_INVOKE = 0
FOC_CMD_RESUME = 1
FOC_CMD_ABORT = 2
FOC_CMD_INFO = 3
FOC_CMD_ENCLAVE_CREATE = 4
FOC_CMD_ENCLAVE_CREDENTIALS = 5
FOC_CMD_CONFIDENTIAL_INVOKE = 6
FOC_CMD_ENCLAVE_JOIN = 16
FOC_CMD_KEY_EXPORT = 17
FOC_CMD_KEY_IMPORT = 18
FOC_CMD_PANIC = 0x7F

# Message types in params[1].value.a
FOC_MSG_RESPONSE = 0
FOC_MSG_GET_STATE = 1
FOC_MSG_CONFIDENTIAL_RESPONSE = 3
FOC_MSG_GET_STATE_BY_RANGE = 4
FOC_MSG_ERROR = 100

FOC_REQ_MAGIC = 0x31434F46  # "FOC1" little-endian
FOC_REQ2_MAGIC = 0x32434F46  # "FOC2": FOC1 followed by the context (creator, transient data)
FOC_CONF_INVOKE_MAGIC = 0x31494346  # "FCI1" confidential_invocation
FOC_CONF_REQUEST_MAGIC = 0x32524346  # "FCR2" confidential_request (v2)
FOC_CONF_STATE_MAGIC = 0x31534346  # "FCS1" stored_value
FOC_CONF_SIGNED_MAGIC = 0x32525346  # "FSR2" signed_message (v2)
FOC_CONF_ATTESTED_MAGIC = 0x32444146  # "FAD2" attested_data
FOC_CONF_EVIDENCE_MAGIC = 0x31564546  # "FEV1" evidence
FOC_CONF_CREDENTIALS_MAGIC = 0x31444346  # "FCD1" credentials
FOC_CONF_CONFIG_MAGIC = 0x32434546  # "FEC2" enclave_config
FOC_CONF_POLICY_MAGIC = 0x31504B46  # "FKP1" key_policy
FOC_CONF_JOIN_MAGIC = 0x31444A46  # "FJD1" join_data
FOC_CONF_KEY_REQUEST_MAGIC = 0x31524B46  # "FKR1" key_request
FOC_CONF_KEY_EXPORT_MAGIC = 0x31454B46  # "FKE1" key_export
FOC_CONF_KEY_PACKAGE_MAGIC = 0x31474B46  # "FKG1" key_package
FOC_CONF_KEY_IMPORT_MAGIC = 0x31494B46  # "FKI1" key_import


# Structured error codes (FOC_MSG_ERROR)
FOC_ERR_BAD_REQUEST = 1
FOC_ERR_UNKNOWN_FUNCTION = 2
FOC_ERR_ARG_COUNT = 3
FOC_ERR_BAD_ARGUMENT = 4
FOC_ERR_LIMIT = 5
FOC_ERR_EXISTS = 6
FOC_ERR_NOT_FOUND = 7
FOC_ERR_OVERFLOW = 8
FOC_ERR_SEQUENCE = 9
FOC_ERR_NO_MEMORY = 10
FOC_ERR_INTERNAL = 11
FOC_ERR_INCONSISTENT = 12
FOC_ERR_DENIED = 13
FOC_ERR_UNTRUSTED = 14


class MsgType(enum.IntEnum):
    """What the TA answered in params[1].value.a."""

    RESPONSE = FOC_MSG_RESPONSE
    GET_STATE = FOC_MSG_GET_STATE
    CONFIDENTIAL_RESPONSE = FOC_MSG_CONFIDENTIAL_RESPONSE
    GET_STATE_BY_RANGE = FOC_MSG_GET_STATE_BY_RANGE
    ERROR = FOC_MSG_ERROR


class Command(enum.IntEnum):
    """TA command ids (TEEC_InvokeCommand's commandID)."""

    INVOKE = FOC_CMD_INVOKE
    RESUME = FOC_CMD_RESUME
    ABORT = FOC_CMD_ABORT
    INFO = FOC_CMD_INFO
    ENCLAVE_CREATE = FOC_CMD_ENCLAVE_CREATE
    ENCLAVE_CREDENTIALS = FOC_CMD_ENCLAVE_CREDENTIALS
    CONFIDENTIAL_INVOKE = FOC_CMD_CONFIDENTIAL_INVOKE
    ENCLAVE_JOIN = FOC_CMD_ENCLAVE_JOIN
    KEY_EXPORT = FOC_CMD_KEY_EXPORT
    KEY_IMPORT = FOC_CMD_KEY_IMPORT
    PANIC = FOC_CMD_PANIC


#: Commands with the INVOKE parameter layout (params[1] message type, params[2] output).
#: FOC_CMD_ENCLAVE_CREDENTIALS has no input (params[0] NONE); the others take params[0].
OUTPUT_COMMANDS = frozenset(
    {
        FOC_CMD_INVOKE,
        FOC_CMD_RESUME,
        FOC_CMD_ENCLAVE_CREATE,
        FOC_CMD_ENCLAVE_CREDENTIALS,
        FOC_CMD_CONFIDENTIAL_INVOKE,
        FOC_CMD_ENCLAVE_JOIN,
        FOC_CMD_KEY_EXPORT,
        FOC_CMD_KEY_IMPORT,
    }
)
#: Commands that start from scratch, so a SHORT_BUFFER answer may be retried with a larger buffer.
RESTARTABLE_COMMANDS = frozenset(
    {
        FOC_CMD_INVOKE,
        FOC_CMD_ENCLAVE_CREATE,
        FOC_CMD_ENCLAVE_CREDENTIALS,
        FOC_CMD_CONFIDENTIAL_INVOKE,
        FOC_CMD_ENCLAVE_JOIN,
        FOC_CMD_KEY_EXPORT,
        FOC_CMD_KEY_IMPORT,
    }
)


class TaErrorCode(enum.IntEnum):
    """FOC_ERR_* (the same numbers as invocation.proto's ErrorCode 1..99)."""

    BAD_REQUEST = FOC_ERR_BAD_REQUEST
    UNKNOWN_FUNCTION = FOC_ERR_UNKNOWN_FUNCTION
    ARG_COUNT = FOC_ERR_ARG_COUNT
    BAD_ARGUMENT = FOC_ERR_BAD_ARGUMENT
    LIMIT = FOC_ERR_LIMIT
    EXISTS = FOC_ERR_EXISTS
    NOT_FOUND = FOC_ERR_NOT_FOUND
    OVERFLOW = FOC_ERR_OVERFLOW
    SEQUENCE = FOC_ERR_SEQUENCE
    NO_MEMORY = FOC_ERR_NO_MEMORY
    INTERNAL = FOC_ERR_INTERNAL
    INCONSISTENT = FOC_ERR_INCONSISTENT
    DENIED = FOC_ERR_DENIED
    UNTRUSTED = FOC_ERR_UNTRUSTED


def error_code_name(code: int) -> str:
    """The FOC_ERR_* name of `code` without the prefix, or ``UNKNOWN(<n>)``."""
    try:
        return TaErrorCode(code).name
    except ValueError:
        return f"UNKNOWN({code})"


class AbiError(TeeError):
    """A buffer does not follow the TA ABI (malformed, out of bounds, trailing bytes).

    Raised by the encoders for input the TA would refuse, and by the decoders for TA output
    that breaks foc_ta.h. Messages name the field and the limit, never the data.
    """


class KeyNotText(AbiError):
    """The chaincode in the TA used a state key that is not UTF-8: its own fault, not an ABI break.

    The ABI allows any non-empty key without NUL; Fabric keys are strings, so the proxy refuses
    the transaction (BAD_ARGUMENT) and keeps the session.
    """


# --- low-level reader/writer -------------------------------------------------------------------

_U32 = struct.Struct("<I")


def _reader(buf: bytes, what: str) -> wire.Reader:
    return wire.Reader(buf, what, AbiError)


_blob = wire.blob


_MAX_RUNE = keys.MAX_RUNE.encode("utf-8")


def _check_key(key: bytes, what: str) -> None:
    """The TA's key rules (foc_ta.h): a simple key without NUL, or a composite key."""
    if not key:
        raise AbiError(f"{what}: empty state key")
    if len(key) > FOC_MAX_KEY:
        raise AbiError(f"{what}: state key is {len(key)} bytes, limit {FOC_MAX_KEY}")
    if key[0] == 0:
        if len(key) < 2 or key[-1] != 0 or _MAX_RUNE in key:
            raise AbiError(f"{what}: state key starts with NUL but is not a composite key")
    elif b"\x00" in key:
        raise AbiError(f"{what}: state key contains a NUL byte")


def key_text(key: bytes, what: str) -> str:
    """A TA key as text; `KeyNotText` if it is not UTF-8 (Fabric state keys are strings)."""
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyNotText(f"{what}: a state key is not UTF-8 text (Fabric keys are strings)") from None


# --- request (proxy -> TA, FOC_CMD_INVOKE) ---------------------------------------------------


def encode_request(
    args: Sequence[bytes], *, creator: Creator | None = None, transient: Transient | None = None
) -> bytes:
    """Encode an invocation request; ``args[0]`` is the function name.

    With a `creator` or `transient` data it is a FOC2 request carrying that context (foc_ta.h),
    else FOC1 (the TA reads both; FOC1 has no creator and no transient data).
    """
    if not 1 <= len(args) <= FOC_MAX_ARGS:
        raise AbiError(
            f"request: {len(args)} arguments including the function name, allowed 1..{FOC_MAX_ARGS}"
        )
    if not args[0]:
        raise AbiError("request: empty function name")
    for i, arg in enumerate(args):
        if not isinstance(arg, bytes | bytearray):
            raise AbiError(f"request: argument {i} is {type(arg).__name__}, expected bytes")
    for key in transient or {}:
        if not key:
            raise AbiError("request: an empty transient key")
    try:
        sizes.check_request(args, creator=creator, transient=transient)
    except LimitExceeded as exc:
        raise AbiError(exc.reason) from None
    with_context = creator is not None or bool(transient)
    magic = FOC_REQ2_MAGIC if with_context else FOC_REQ_MAGIC
    parts = [_U32.pack(magic), _U32.pack(len(args)), *(_blob(bytes(a)) for a in args)]
    if with_context:
        parts.append(encode_context(creator, transient))
    return b"".join(parts)


def decode_request_context(buf: bytes) -> tuple[list[bytes], Creator | None, dict[str, bytes]]:
    """Decode a FOC1 or FOC2 request: (arguments, creator, transient data). The TA's side (fakes, tests)."""
    if len(buf) > FOC_MAX_REQUEST:
        raise AbiError(f"request: {len(buf)} bytes, limit {FOC_MAX_REQUEST}")
    r = _reader(buf, "request")
    magic = r.u32("magic")
    if magic not in (FOC_REQ_MAGIC, FOC_REQ2_MAGIC):
        raise AbiError(f"request: bad magic 0x{magic:08x}")
    n = r.u32("nargs")
    if not 1 <= n <= FOC_MAX_ARGS:
        raise AbiError(f"request: nargs {n}, allowed 1..{FOC_MAX_ARGS}")
    args = [r.blob(f"argument {i}", max_len=FOC_MAX_FUNCTION if i == 0 else FOC_MAX_VALUE) for i in range(n)]
    if not args[0]:
        raise AbiError("request: empty function name")
    creator, transient = decode_context(r) if magic == FOC_REQ2_MAGIC else (None, {})
    r.end()
    return args, creator, transient


def decode_request(buf: bytes) -> list[bytes]:
    """Decode an invocation request's arguments (the TA's side; used by fakes and tests)."""
    return decode_request_context(buf)[0]


def encode_confidential_invocation(request: bytes, creator: Creator | None) -> bytes:
    """FOC_CMD_CONFIDENTIAL_INVOKE's input: FCI1, the confidential_request, the peer's creator."""
    if not request:
        raise AbiError("confidential request: empty")
    try:
        sizes.check_confidential_request(request)
        sizes.check_context(creator, None)
    except LimitExceeded as exc:
        raise AbiError(exc.reason) from None
    return _U32.pack(FOC_CONF_INVOKE_MAGIC) + _blob(bytes(request)) + encode_creator(creator)


def decode_confidential_invocation(buf: bytes) -> tuple[bytes, Creator | None]:
    """Decode FCI1 (`encode_confidential_invocation`): (confidential_request, creator). The TA's
    side (fakes, tests); AbiError for anything the TA would refuse as malformed."""
    r = _reader(buf, "confidential invocation")
    if r.u32("magic") != FOC_CONF_INVOKE_MAGIC:
        raise AbiError("confidential invocation: bad magic (FCI1 expected)")
    request = r.blob("confidential_request", max_len=FOC_MAX_REQUEST)
    if not request:
        raise AbiError("confidential invocation: empty confidential_request")
    creator = decode_creator(r)
    r.end()
    return request, creator


# --- state answer (proxy -> TA, FOC_CMD_RESUME) ----------------------------------------------


def encode_state_answer(value: bytes | None, limits: Limits = PLAINTEXT) -> bytes:
    """Encode the answer to a GET_STATE: ``None`` means the key does not exist.

    `limits` is the invocation's mode: a confidential answer carries the stored (encrypted) value,
    up to FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD bytes.
    """
    if value is None:
        return b"\x00" + _U32.pack(0)
    try:
        sizes.check_state_value(value, limits)
    except LimitExceeded as exc:
        raise AbiError(f"state answer: {exc.reason}") from None
    return b"\x01" + _blob(bytes(value))


def decode_state_answer(buf: bytes, limits: Limits = PLAINTEXT) -> bytes | None:
    """Decode a state answer of the mode `limits` (the TA's side; used by fakes and tests)."""
    r = _reader(buf, "state answer")
    found = r.u8("found")
    if found not in (0, 1):
        raise AbiError(f"state answer: found flag is {found}, expected 0 or 1")
    value = r.blob("value", max_len=limits.state_value)
    r.end()
    if not found:
        if value:
            raise AbiError("state answer: found=0 with a non-empty value")
        return None
    return value


# --- TA outputs -------------------------------------------------------------------------------


def encode_get_state(key: bytes) -> bytes:
    """Encode FOC_MSG_GET_STATE output (the TA's side; used by fakes and tests)."""
    _check_key(key, "get_state")
    return _blob(key)


def decode_get_state(buf: bytes) -> bytes:
    """Decode FOC_MSG_GET_STATE output: the key the TA needs (bytes, checked against the ABI rules)."""
    r = _reader(buf, "get_state")
    key = r.blob("key", max_len=FOC_MAX_KEY)
    r.end()
    _check_key(key, "get_state")
    return key


def encode_get_state_by_range(start: bytes, end: bytes) -> bytes:
    """Encode FOC_MSG_GET_STATE_BY_RANGE output (the TA's side; used by fakes and tests)."""
    if not start or len(start) > FOC_MAX_KEY or len(end) > FOC_MAX_KEY:
        raise AbiError(f"get_state_by_range: bounds of 1..{FOC_MAX_KEY} and 0..{FOC_MAX_KEY} bytes")
    return _blob(start) + _blob(end)


def decode_get_state_by_range(buf: bytes) -> KeyRange:
    """Decode FOC_MSG_GET_STATE_BY_RANGE output: the range the TA needs, checked like Fabric's shim.

    AbiError for bounds the TA must never send; KeyNotText for bounds that are not UTF-8.
    """
    r = _reader(buf, "get_state_by_range")
    start = r.blob("start", max_len=FOC_MAX_KEY)
    end = r.blob("end", max_len=FOC_MAX_KEY)
    r.end()
    if not start:
        raise AbiError("get_state_by_range: empty start (the TA sends U+0001 for an open start)")
    bounds = KeyRange(key_text(start, "get_state_by_range"), key_text(end, "get_state_by_range"))
    try:
        keys.check_range(bounds.start, bounds.end)
    except UsageError as exc:
        raise AbiError(f"get_state_by_range: {exc}") from None
    return bounds


def encode_range_answer(
    entries: Sequence[tuple[str, bytes]], bounds: KeyRange, limits: Limits = PLAINTEXT
) -> bytes:
    """Encode the answer to a GET_STATE_BY_RANGE: ``u32 n { bytes key bytes value }``.

    Refuses what the TA would refuse: over the mode's limits (FOC_MAX_RANGE_ENTRIES, FOC_MAX_KEY,
    the state value bound, FOC_MAX_RANGE_BYTES for this answer alone), keys that are not valid, not
    strictly ascending in byte order or outside `bounds`.
    """
    try:
        sizes.check_range_answer(entries, limits)
    except LimitExceeded as exc:
        raise AbiError(f"range answer: {exc.reason}") from None
    parts = [_U32.pack(len(entries))]
    previous = b""
    for i, (key, value) in enumerate(entries):
        raw = key.encode("utf-8")
        _check_key(raw, f"range answer entry {i}")
        if not keys.in_range(key, bounds.start, bounds.end):
            raise AbiError(f"range answer: entry {i} is outside the range")
        if i and raw <= previous:
            raise AbiError(f"range answer: entry {i} is not after the one before (keys strictly ascending)")
        previous = raw
        parts += [_blob(raw), _blob(bytes(value))]
    return b"".join(parts)


def decode_range_answer(buf: bytes, limits: Limits = PLAINTEXT) -> list[tuple[str, bytes]]:
    """Decode a range answer of the mode `limits` (the TA's side; used by fakes and tests)."""
    r = _reader(buf, "range answer")
    n = r.count("nentries", FOC_MAX_RANGE_ENTRIES)
    out = []
    for i in range(n):
        key = r.blob(f"entry {i} key", max_len=FOC_MAX_KEY)
        _check_key(key, f"range answer entry {i}")
        value = r.blob(f"entry {i} value", max_len=limits.state_value)
        out.append((key_text(key, f"range answer entry {i}"), value))
    r.end()
    return out


def encode_response(resp: InvocationResult) -> bytes:
    """Encode FOC_MSG_RESPONSE output (the TA's side; used by fakes and tests)."""
    if len(resp.payload) > FOC_MAX_PAYLOAD:
        raise AbiError(f"response: payload is {len(resp.payload)} bytes, limit {FOC_MAX_PAYLOAD}")
    if len(resp.reads) > FOC_MAX_READS:
        raise AbiError(f"response: {len(resp.reads)} reads, limit {FOC_MAX_READS}")
    if len(resp.ranges) > FOC_MAX_RANGES:
        raise AbiError(f"response: {len(resp.ranges)} ranges, limit {FOC_MAX_RANGES}")
    if len(resp.writes) > FOC_MAX_WRITES:
        raise AbiError(f"response: {len(resp.writes)} writes, limit {FOC_MAX_WRITES}")
    if not 0 <= resp.status <= 0xFFFFFFFF:
        raise AbiError(f"response: status {resp.status} is not a u32")
    parts = [_U32.pack(resp.status), _blob(resp.payload), _U32.pack(len(resp.reads))]
    for read in resp.reads:
        key = read.encode("utf-8")
        _check_key(key, "response read")
        parts.append(_blob(key))
    parts.append(_U32.pack(len(resp.ranges)))
    for bounds in resp.ranges:
        parts += [_blob(bounds.start.encode("utf-8")), _blob(bounds.end.encode("utf-8"))]
    parts.append(_U32.pack(len(resp.writes)))
    for w in resp.writes:
        key = w.key.encode("utf-8")
        _check_key(key, "response write")
        if len(w.value) > FOC_MAX_VALUE:
            raise AbiError(f"response: written value is {len(w.value)} bytes, limit {FOC_MAX_VALUE}")
        if w.is_delete and w.value:
            raise AbiError("response: a delete carries a value")
        parts += [_blob(key), bytes([1 if w.is_delete else 0]), _blob(w.value)]
    out = b"".join(parts)
    if len(out) > FOC_MAX_OUTPUT:
        raise AbiError(f"response: {len(out)} bytes, limit {FOC_MAX_OUTPUT}")
    return out


def decode_response(buf: bytes, *, round_trips: int = 0) -> InvocationResult:
    """Decode FOC_MSG_RESPONSE output, checking every count, size and key rule.

    Raises AbiError for output that breaks foc_ta.h, KeyNotText for a key that is not UTF-8.
    """
    if len(buf) > FOC_MAX_OUTPUT:
        raise AbiError(f"response: {len(buf)} bytes, limit {FOC_MAX_OUTPUT}")
    r = _reader(buf, "response")
    status = r.u32("status")
    payload = r.blob("payload", max_len=FOC_MAX_PAYLOAD)
    nreads = r.u32("nreads")
    if nreads > FOC_MAX_READS:
        raise AbiError(f"response: {nreads} reads, limit {FOC_MAX_READS}")
    raw_reads: list[bytes] = []
    seen: set[bytes] = set()
    for i in range(nreads):
        key = r.blob(f"read {i} key", max_len=FOC_MAX_KEY)
        _check_key(key, f"response read {i}")
        if key in seen:
            raise AbiError(f"response: read {i} repeats an earlier key")
        seen.add(key)
        raw_reads.append(key)
    nranges = r.u32("nranges")
    if nranges > FOC_MAX_RANGES:
        raise AbiError(f"response: {nranges} ranges, limit {FOC_MAX_RANGES}")
    ranges = []
    for i in range(nranges):
        start = r.blob(f"range {i} start", max_len=FOC_MAX_KEY)
        end = r.blob(f"range {i} end", max_len=FOC_MAX_KEY)
        if not start:
            raise AbiError(f"response: range {i} has an empty start")
        ranges.append(KeyRange(key_text(start, f"response range {i}"), key_text(end, f"response range {i}")))
    nwrites = r.u32("nwrites")
    if nwrites > FOC_MAX_WRITES:
        raise AbiError(f"response: {nwrites} writes, limit {FOC_MAX_WRITES}")
    raw_writes: list[tuple[bytes, bytes, bool]] = []
    seen = set()
    total = 0
    for i in range(nwrites):
        key = r.blob(f"write {i} key", max_len=FOC_MAX_KEY)
        _check_key(key, f"response write {i}")
        if key in seen:
            raise AbiError(f"response: write {i} repeats an earlier key")
        seen.add(key)
        flag = r.u8(f"write {i} is_delete")
        if flag not in (0, 1):
            raise AbiError(f"response: write {i} is_delete flag is {flag}, expected 0 or 1")
        value = r.blob(f"write {i} value", max_len=FOC_MAX_VALUE)
        if flag and value:
            raise AbiError(f"response: write {i} is a delete with a value")
        total += len(key) + len(value)
        if total > FOC_MAX_WRITE_BYTES:
            raise AbiError(f"response: write set exceeds {FOC_MAX_WRITE_BYTES} bytes")
        raw_writes.append((key, value, bool(flag)))
    r.end()
    return InvocationResult(
        status,
        payload,
        tuple(key_text(k, f"response read {i}") for i, k in enumerate(raw_reads)),
        tuple(StateWrite(key_text(k, f"response write {i}"), v, d) for i, (k, v, d) in enumerate(raw_writes)),
        ranges=tuple(ranges),
        round_trips=round_trips,
    )


def encode_error(err: InvocationError) -> bytes:
    """Encode FOC_MSG_ERROR output (the TA's side; used by fakes and tests); `err.code` is a name."""
    msg = err.message.encode()
    if len(msg) > FOC_MAX_PAYLOAD:
        raise AbiError(f"error: message is {len(msg)} bytes, limit {FOC_MAX_PAYLOAD}")
    try:
        code = TaErrorCode[err.code]
    except KeyError:
        raise AbiError(f"error: {err.code!r} is not a FOC_ERR_* code") from None
    return _U32.pack(code) + _blob(msg)


def decode_error(buf: bytes) -> InvocationError:
    """Decode FOC_MSG_ERROR output (code as its FOC_ERR_* name). The message is decoded leniently."""
    r = _reader(buf, "error")
    code = r.u32("code")
    msg = r.blob("message", max_len=FOC_MAX_PAYLOAD)
    r.end()
    return InvocationError(error_code_name(code), msg.decode("utf-8", errors="replace"))


def ta_uuid_bytes(value: str | _uuid.UUID = FOC_TA_UUID) -> bytes:
    """The 16 big-endian bytes of a TA UUID, as carried in InvocationRequest.chaincode_uuid."""
    return (value if isinstance(value, _uuid.UUID) else _uuid.UUID(value)).bytes
