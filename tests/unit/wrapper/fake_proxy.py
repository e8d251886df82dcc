"""A fake proxy client: FOC's coffee chaincode in Python behind `ProxyInvoker.invoke`.

It drives the `get_state` callback exactly as the real proxy does (one call per key read) and
answers with the `InvocationResult` the real client decodes from the proxy's `pb.InvocationResponse`
(status, payload, structured error, write batch).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

from foc.errors import ProxyUnavailable
from foc.protocol import pb
from foc.protocol.context import Creator
from foc.protocol.result import InvocationResult

GetState = Callable[[str], bytes | None]


def _error(code: str, message: str) -> pb.InvocationResponse:
    return pb.InvocationResponse(status=500, error=pb.Error(code=pb.ErrorCode.Value(code), message=message))


def _ok(payload: bytes, writes: Sequence[tuple[str, bytes | None]] = ()) -> pb.InvocationResponse:
    return pb.InvocationResponse(
        status=200,
        payload=payload,
        execution_response=payload.decode(),
        writes=[pb.KeyWrite(key=k, value=v or b"", is_delete=v is None) for k, v in writes],
    )


def coffee(function: str, args: Sequence[bytes], get_state: GetState) -> pb.InvocationResponse:
    """FOC's coffee-tracking semantics (with the argument checks FOC lacked)."""
    if function not in ("create", "add", "query", "remove"):
        return _error("UNKNOWN_FUNCTION", "unknown function")
    want = 1 if function in ("query", "remove") else 2
    if len(args) != want:
        return _error("ARG_COUNT", f"{function} takes {want} argument(s)")
    try:
        person = args[0].decode()
    except UnicodeDecodeError:  # as the TA's stub: Fabric keys are text
        return _error("BAD_ARGUMENT", "state key is not valid UTF-8 (Fabric keys are text)")
    if len(args) == 2 and not args[1].isdigit():
        return _error("BAD_ARGUMENT", "the number must be a decimal integer")
    current = get_state(person)
    if function == "create":
        if current is not None:
            return _error("EXISTS", "the person already exists")
        return _ok(b"OK", [(person, str(int(args[1])).encode())])
    if current is None:
        return _error("NOT_FOUND", "the person does not exist")
    if function == "add":
        return _ok(b"OK", [(person, str(int(current) + int(args[1])).encode())])
    if function == "remove":
        return _ok(b"OK", [(person, None)])
    return _ok(f"person: {person}, number of consumed coffees: {int(current)}".encode())


class FakeProxyClient:
    """Records every call; `before_get_state` lets a test interfere mid-transaction."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []
        self.before_get_state: Callable[[str], None] | None = None
        self.down = False
        self.closed = False
        self._lock = threading.Lock()

    def invoke(
        self,
        function: str,
        args: Sequence[bytes],
        *,
        get_state: GetState,
        put_state: object = None,
        get_state_by_range: object = None,
        transaction_id: str = "",
        channel_id: str = "",
        chaincode_uuid: bytes = b"",
        creator: Creator | None = None,
        transient: Mapping[str, bytes] | None = None,
        timeout: float | None = None,
    ) -> InvocationResult:
        with self._lock:
            self.calls.append(
                {
                    "function": function,
                    "args": list(args),
                    "tx_id": transaction_id,
                    "channel_id": channel_id,
                    "uuid": chaincode_uuid,
                    "timeout": timeout,
                    "creator": creator,
                    "transient": dict(transient or {}),
                    "ranges": get_state_by_range is not None,
                }
            )
        if self.down:
            raise ProxyUnavailable("the proxy at 127.0.0.1:1 is unreachable")

        def relay(key: str) -> bytes | None:
            if self.before_get_state is not None:
                self.before_get_state(key)
            return get_state(key)

        return InvocationResult.from_proto(coffee(function, args, relay))

    def close(self) -> None:
        self.closed = True
