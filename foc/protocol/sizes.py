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
from foc.protocol.limits import CONFIDENTIAL, PLAINTEXT, Limits

#: Bytes the TA request encoding adds: u32 magic, u32 nargs, then a u32 length per argument.
REQUEST_HEADER_BYTES = 8
ARGUMENT_OVERHEAD_BYTES = 4


def request_size(args: Sequence[bytes]) -> int:
    """Bytes of the TA request encoding of `args` (function name first), without building it."""
    return REQUEST_HEADER_BYTES + sum(ARGUMENT_OVERHEAD_BYTES + len(a) for a in args)


def _over(what: str, size: int, limit: int, name: str, unit: str = "bytes") -> LimitExceeded:
    return LimitExceeded(f"{what} {size} {unit}, limit {limit} ({name})", limit_name=name, limit=limit)


def check_request(args: Sequence[bytes], limits: Limits = PLAINTEXT) -> None:
    """Refuse a plaintext invocation the TA would refuse for its size: `args` = function + arguments.

    Checks the argument count (FOC_MAX_ARGS, function name included), the function name
    (FOC_MAX_FUNCTION), each argument (FOC_MAX_VALUE) and the encoded request (FOC_MAX_REQUEST).
    An empty list or an empty function name is no size matter: the caller refuses those.
    """
    if len(args) > limits.args:
        unit = "arguments including the function name"
        raise _over("request:", len(args), limits.args, "FOC_MAX_ARGS", unit)
    if args and len(args[0]) > limits.function:
        raise _over("request: function name is", len(args[0]), limits.function, "FOC_MAX_FUNCTION")
    for i, arg in enumerate(args[1:], start=1):
        if len(arg) > limits.value:
            raise _over(f"request: argument {i} is", len(arg), limits.value, "FOC_MAX_VALUE")
    size = request_size(args)
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
