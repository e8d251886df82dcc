"""gRPC transport policy shared by every channel and server FOC opens.

Message caps. Each hop checks the product's own limits before it sends (`foc.protocol.sizes`), so
a transport cap is never the first limit a user meets; the caps only stop what no FOC component
sends. Wrapper <-> proxy: `PROXY_MESSAGE_BYTES`, derived from the TA's limits with headroom. Where
a Fabric peer is the other side (the CaaS shim, the gateway client) the cap is Fabric's own default,
`FABRIC_MESSAGE_BYTES`, the most the peer sends or accepts unless its operator changed it. A
RESOURCE_EXHAUSTED status (a message over some hop's cap) becomes `foc.errors.LimitExceeded`
(`limit_error`), never "unavailable".

Reconnects. gRPC backs off exponentially between reconnect attempts (up to 120 s by default), so a
long-lived channel stayed broken for seconds to tens of seconds after its server came back. FOC's
channels cap the back-off at `MAX_RECONNECT_BACKOFF_MS`, and once a call has found no connection
the next calls wait up to `CONNECT_WAIT_S` (never more than half their deadline) for the channel to
be connected (`ChannelReadiness`), so the first call after the server is back succeeds, and a
server that is down still fails a call in seconds.

Servers. gRPC enables SO_REUSEPORT by default on Linux, so a second server on the same address
starts and the kernel splits the connections between the two. FOC's servers never set it, and
`bind` refuses an address in use with `foc.errors.ListenError` naming it.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from foc.errors import LimitExceeded, ListenError
from foc.protocol.limits import FOC_MAX_OUTPUT

#: Largest gRPC message between the wrapper and the proxy, either way. The largest message FOC sends
#: on that stream is an InvocationResponse carrying at most FOC_MAX_OUTPUT bytes of TA output
#: (protobuf framing adds at most a few bytes per field); an InvocationRequest is at most
#: FOC_MAX_REQUEST plus its identifiers. Twice FOC_MAX_OUTPUT leaves room for both.
PROXY_MESSAGE_BYTES = 2 * FOC_MAX_OUTPUT
#: Fabric's default gRPC message limit (core.yaml peer.maxRecvMsgSize / maxSendMsgSize, 100 MiB),
#: used where a Fabric peer sends or receives: the CaaS shim's stream and the gateway client.
FABRIC_MESSAGE_BYTES = 100 * 1024 * 1024

#: Longest pause between two reconnect attempts of a FOC channel (gRPC's default grows to 120 s).
MAX_RECONNECT_BACKOFF_MS = 1000
INITIAL_RECONNECT_BACKOFF_MS = 250
#: Longest wait for a channel to become READY before a call (capped at half the call's deadline).
CONNECT_WAIT_S = 3.0

Options = list[tuple[str, Any]]


def channel_options(max_message_bytes: int, extra: Sequence[tuple[str, Any]] = ()) -> Options:
    """Options of a FOC client channel: message caps both ways, bounded reconnect back-off."""
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.initial_reconnect_backoff_ms", INITIAL_RECONNECT_BACKOFF_MS),
        ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
        *extra,
    ]


def check_message(message: Any, max_message_bytes: int, what: str) -> None:
    """Refuse to send a protobuf `message` over the hop's cap (LimitExceeded naming the cap)."""
    size = message.ByteSize()
    if size > max_message_bytes:
        raise LimitExceeded(
            f"{what} is {size} bytes, over the {max_message_bytes}-byte gRPC message limit of this hop",
            limit_name="gRPC max message length",
            limit=max_message_bytes,
        )


def limit_error(exc: grpc.RpcError, hop: str) -> LimitExceeded | None:
    """LimitExceeded for a RESOURCE_EXHAUSTED status (a message over a cap on `hop`), else None."""
    code = exc.code() if isinstance(exc, grpc.Call) else None
    if code != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return LimitExceeded(
        f"{hop} refused a message over a size limit (RESOURCE_EXHAUSTED: {details!r})",
        limit_name="gRPC max message length",
    )


class ChannelReadiness:
    """Lets a call wait briefly for its channel to be connected again after a call found none.

    Lifecycle: construct with a `probe` -> `wait` before each call, `lost` after a call that
    failed with UNAVAILABLE. While calls succeed, `wait` returns at once. After `lost`, `wait` runs
    `probe(timeout)`: one cheap unary RPC made with ``wait_for_ready=True``, which gRPC holds until
    the channel is connected (or the timeout passes). Any answer, even an error status, proves the
    connection. gRPC's Python connectivity watchers (`subscribe`, `channel_ready_future`) are not
    used: their poller thread raced with closing channels and calls.
    """

    def __init__(self, probe: Callable[[float], object]) -> None:
        self._probe = probe
        self._connected = True  # a fresh channel connects on its first call

    def lost(self) -> None:
        """A call found no connection: the next calls wait for one (see `wait`)."""
        self._connected = False

    def wait(self, deadline: float) -> None:
        """After `lost`: probe for up to CONNECT_WAIT_S and half the time left until `deadline`
        (time.monotonic()); if no connection comes, the call goes ahead and fails with gRPC's reason."""
        if self._connected:
            return
        budget = min(CONNECT_WAIT_S, (deadline - time.monotonic()) / 2)
        if budget <= 0:
            return
        try:
            self._probe(budget)
        except grpc.RpcError as exc:
            if isinstance(exc, grpc.Call) and exc.code() in _NOT_CONNECTED:
                return
        self._connected = True


_NOT_CONNECTED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def is_unavailable(exc: grpc.RpcError) -> bool:
    """True for an UNAVAILABLE status (no connection, or the connection broke)."""
    return isinstance(exc, grpc.Call) and exc.code() == grpc.StatusCode.UNAVAILABLE


def server(
    max_workers: int,
    *,
    max_message_bytes: int,
    thread_name_prefix: str,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.Server:
    """A gRPC server with FOC's policy: message caps both ways, never SO_REUSEPORT."""
    return grpc.server(
        ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=thread_name_prefix),
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
            *options,
        ],
    )


def bind(grpc_server: grpc.Server, address: str, credentials: grpc.ServerCredentials | None = None) -> int:
    """Listen on `address` (HOST:PORT; port 0 picks one); the bound port.

    Raises ListenError naming the address when another process listens there (checked for every
    address the host resolves to, so `localhost` cannot end up on one family only) or when it
    cannot be bound at all.
    """
    _refuse_address_in_use(address)
    try:
        if credentials is not None:
            port = grpc_server.add_secure_port(address, credentials)
        else:
            port = grpc_server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if not port:
        _refuse_address_in_use(address)  # taken in between: say so
        raise ListenError(
            f"cannot listen on {address!r}", hint="is the host an address of this machine, and the port free?"
        )
    return int(port)


def _split(address: str) -> tuple[str, int] | None:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or address.startswith("unix:"):
        return None
    return host.strip("[]") or "0.0.0.0", int(port)


def _refuse_address_in_use(address: str) -> None:
    parts = _split(address)
    if parts is None or parts[1] == 0:
        return
    host, port = parts
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {address!r}: {exc.strerror}") from None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            # as the server will bind: SO_REUSEADDR (TIME_WAIT is no conflict), no SO_REUSEPORT
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise ListenError(
                        f"cannot listen on {address!r}: {sockaddr[0]} port {port} is in use by another "
                        "process",
                        hint="stop the other server or pick another port; FOC servers never share a port",
                    ) from None
                if exc.errno != errno.EADDRNOTAVAIL or len(infos) == 1:
                    raise ListenError(f"cannot listen on {address!r}: {exc.strerror}") from None
