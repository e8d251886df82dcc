"""The size checks every hop runs before it sends anything on, from the one set of limits.

Every bound comes from `foc.protocol.limits` (generated from ta/include/foc_ta.h), per mode. The
client, the wrapper's proxy client, the proxy and the TA ABI codec call the same functions, so a
request over a limit gets the same ``LIMIT`` error whichever hop meets it first and whatever its
size: no gRPC message cap is ever the first limit a user meets.

Each check raises `foc.errors.LimitExceeded` whose message names the thing, its size and the limit
by value and by the header's name, e.g. ``request: encoded size 589914 bytes, limit 131072
(FOC_MAX_REQUEST)``. Messages never quote the data.
"""

from __future__ import annotations

from collections.abc import Sequence

from foc.errors import LimitExceeded
from foc.protocol.context import Creator, Transient, encode_context
from foc.protocol.limits import CONFIDENTIAL, PLAINTEXT, Limits

#: Bytes the TA request encoding adds: u32 magic, u32 nargs, then a u32 length per argument.
REQUEST_HEADER_BYTES = 8
ARGUMENT_OVERHEAD_BYTES = 4


def request_size(args: Sequence[bytes], context: bytes = b"") -> int:
    """Bytes of the TA request encoding of `args` (function name first) and its encoded `context`."""
    return REQUEST_HEADER_BYTES + sum(ARGUMENT_OVERHEAD_BYTES + len(a) for a in args) + len(context)


def _over(what: str, size: int, limit: int, name: str, unit: str = "bytes") -> LimitExceeded:
    return LimitExceeded(f"{what} {size} {unit}, limit {limit} ({name})", limit_name=name, limit=limit)


def check_context(creator: Creator | None, transient: Transient | None, limits: Limits = PLAINTEXT) -> None:
    """Refuse a request context the TA would refuse for its size: the creator's MSP id
    (FOC_MAX_MSP_ID) and certificate (FOC_MAX_CERTIFICATE), the number of transient entries
    (FOC_MAX_TRANSIENT), each transient key (FOC_MAX_KEY) and value (FOC_MAX_VALUE)."""
    if creator is not None:
        msp = len(creator.msp_id.encode("utf-8"))
        if msp > limits.msp_id:
            raise _over("request: the creator's MSP id is", msp, limits.msp_id, "FOC_MAX_MSP_ID")
        if len(creator.certificate) > limits.certificate:
            size, limit = len(creator.certificate), limits.certificate
            raise _over("request: the creator's certificate is", size, limit, "FOC_MAX_CERTIFICATE")
    entries = transient or {}
    if len(entries) > limits.transient:
        raise _over("request:", len(entries), limits.transient, "FOC_MAX_TRANSIENT", "transient entries")
    for key, value in entries.items():
        if len(key.encode("utf-8")) > limits.key:
            raise _over("request: a transient key is", len(key.encode("utf-8")), limits.key, "FOC_MAX_KEY")
        if len(value) > limits.value:
            raise _over("request: a transient value is", len(value), limits.value, "FOC_MAX_VALUE")


def check_request(
    args: Sequence[bytes],
    limits: Limits = PLAINTEXT,
    *,
    creator: Creator | None = None,
    transient: Transient | None = None,
) -> None:
    """Refuse a plaintext invocation the TA would refuse for its size: `args` = function + arguments.

    Checks the argument count (FOC_MAX_ARGS, function name included), the function name
    (FOC_MAX_FUNCTION), each argument (FOC_MAX_VALUE), the context (`check_context`) and the encoded
    request with its context (FOC_MAX_REQUEST). An empty list or an empty function name is no size
    matter: the caller refuses those.
    """
    if len(args) > limits.args:
        unit = "arguments including the function name"
        raise _over("request:", len(args), limits.args, "FOC_MAX_ARGS", unit)
    if args and len(args[0]) > limits.function:
        raise _over("request: function name is", len(args[0]), limits.function, "FOC_MAX_FUNCTION")
    for i, arg in enumerate(args[1:], start=1):
        if len(arg) > limits.value:
            raise _over(f"request: argument {i} is", len(arg), limits.value, "FOC_MAX_VALUE")
    check_context(creator, transient, limits)
    size = request_size(args, encode_context(creator, transient) if creator or transient else b"")
    if size > limits.request:
        raise _over("request: encoded size", size, limits.request, "FOC_MAX_REQUEST")


def check_confidential_request(request: bytes, limits: Limits = CONFIDENTIAL) -> None:
    """Refuse a confidential_request over FOC_MAX_REQUEST (the TA's bound on params[0])."""
    if len(request) > limits.request:
        raise _over("confidential_request is", len(request), limits.request, "FOC_MAX_REQUEST")


def check_state_value(value: bytes, limits: Limits) -> None:
    """Refuse a GetState answer the TA would refuse: over `limits.state_value` for the mode.

    Plaintext: FOC_MAX_VALUE. Confidential: the stored (encrypted) value, which may be
    FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD bytes.
    """
    if len(value) > limits.state_value:
        raise _over("a state value is", len(value), limits.state_value, limits.state_value_name)


def check_range_answer(entries: Sequence[tuple[str, bytes]], limits: Limits, bytes_so_far: int = 0) -> int:
    """Refuse a range answer the TA would refuse for its size; return the range bytes used so far.

    Checks the entry count (FOC_MAX_RANGE_ENTRIES), each key (FOC_MAX_KEY), each value against the
    mode's `limits.state_value` (a confidential answer carries stored values) and the keys and values
    of all range answers of the invocation (FOC_MAX_RANGE_BYTES, `bytes_so_far` before this one).
    """
    if len(entries) > limits.range_entries:
        raise _over("a range has", len(entries), limits.range_entries, "FOC_MAX_RANGE_ENTRIES", "entries")
    total = bytes_so_far
    for key, value in entries:
        size = len(key.encode("utf-8"))
        if size > limits.key:
            raise _over("a key in a range is", size, limits.key, "FOC_MAX_KEY")
        check_state_value(value, limits)
        total += size + len(value)
    if total > limits.range_bytes:
        raise _over("the ranges' keys and values are", total, limits.range_bytes, "FOC_MAX_RANGE_BYTES")
    return total
