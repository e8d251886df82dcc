"""The proxy's gRPC message pattern alone: sync (thread pool) vs grpc.aio server, no TA.

One round trip = one ``TransactionInvocation`` stream as foc-proxy runs a one-read transaction:

    client  invocation_request   ->  server
            get_state_request    <-  (trivial handler: no TA, no checks)
            get_state_response   ->
            invocation_response  <-  stream ends

The messages are the product's (`foc.protocol.invocation_pb2`) and the client is the wrapper's own
`foc.proxy.client.ProxyClient`, so only the transport and the server's threading model differ:

    sync    a gRPC server on a ThreadPoolExecutor, a generator handler reading the request iterator
            (what foc/proxy/server.py does, with foc.protocol.transport's options)
    aio     grpc.aio.server (one asyncio event loop), an async handler: context.read() / context.write()
    tcp     no gRPC, for scale: the same four protobuf messages as length-prefixed frames on one plain
            TCP connection (socketserver thread, TCP_NODELAY), driven by a raw socket client
            (serve --kind tcp; a target whose NAME starts with "tcp")

Usage (stdlib + grpc + foc only, so it runs in the QEMU guest as is):

    python3 bench/grpc_transport.py serve --kind sync --listen 0.0.0.0:50061
    python3 bench/grpc_transport.py serve --kind aio --listen 0.0.0.0:50062
    python3 bench/grpc_transport.py measure sync=127.0.0.1:50061 aio=127.0.0.1:50062 -n 60
    python3 bench/grpc_transport.py local -n 60     # both servers as child processes + measure

`measure` alternates the targets round trip by round trip (A/B/A/B...) after `--warmup` unmeasured
round trips each, and prints per target n, p50, p95, mean and min in ms and the load average of the
machine it runs on. In the guest, the host-side client reaches the servers through QEMU hostfwd ports.
Give a running foc-proxy as one more target (NAME=its address) to time the product beside them: the
round trip is a coffee `query` of an absent person (the TA answers NOT_FOUND after one GetState).
`--unary` adds one Health call per target and round: what a single unary gRPC call costs there.

Measured 2026-11-30 (QEMU TCG -smp 2, the qemu image of main at 7d55b80, on this 2-core host shared
with other builds; QEMU under nice 10; the servers and the guest's own foc-proxy (coffee TA in OP-TEE)
in one guest; 4 rounds of 30 round trips per variant, alternating A/B, 5 warm-up each, so n = 120 per
cell; ms p50 / p95; load = the host's 1-minute load average over the rounds):

    client, run (load)          sync          aio           sync bdp_probe=0   foc-proxy+TA   tcp
    host  15:31-15:33 (3.3-4.2) 33.5 / 67.1   36.5 / 64.7   33.7 / 61.3        -              -
    host  15:38-15:42 (6.0-8.1) 50.0 / 150    57.9 / 198    47.9 / 161         64.7 / 230     -
    host  15:52-15:55 (2.8-4.7) 40.4 / 139    49.4 / 138    -                  58.3 / 181     12.6 / 67.0
    guest 15:31-15:33           74.8 / 109    79.9 / 113    75.8 / 110         -              -
    guest 15:38-15:42           115 / 353     117 / 298     120 / 327          128 / 326      -
    guest 15:52-15:55           91.4 / 178    90.3 / 179    -                  93.7 / 244     18.8 / 61.2
    one unary Health call from the host: 16-26 ms p50 on every gRPC server, in every run.

grpc.aio is not faster: aio / sync p50 per round 0.83-1.51 from the host (pooled: +9 %, +16 %, +22 %),
0.89-1.26 from the guest, and its server used more guest CPU per round trip (10 ms ticks from
/proc/PID/stat over each round: sync 51-136 ms, aio 63-157 ms, tcp 11-26 ms; TCG inflates these, the
ratios hold). Turning off BDP probing changed nothing beyond the noise. Even the trivial handler costs
more than issue 11's 15 ms plaintext target, and the product adds ~10-20 ms (TA and checks) on top. The
same four messages without gRPC take 3-4x less: the cost is gRPC's per-call work (HTTP/2 framing,
completion queues, threads) under emulation, on the server and on a client in the guest alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import socketserver
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc  # noqa: E402

from foc.protocol import invocation_pb2 as pb  # noqa: E402
from foc.protocol import invocation_pb2_grpc as pb_grpc  # noqa: E402
from foc.protocol import transport  # noqa: E402

KINDS = ("sync", "aio", "tcp")
_OPTIONS = [
    ("grpc.max_receive_message_length", transport.PROXY_MESSAGE_BYTES),
    ("grpc.max_send_message_length", transport.PROXY_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
]


def _key(first: pb.ChaincodeWrapperMessage) -> str:
    args = first.invocation_request.arguments
    return args[0] if args else "k"


def _response(key: str, answer: pb.ChaincodeWrapperMessage) -> pb.ChaincodeProxyMessage:
    value = answer.get_state_response.raw_value
    return pb.ChaincodeProxyMessage(
        invocation_response=pb.InvocationResponse(status=200, payload=value, reads=[pb.KeyRead(key=key)])
    )


class SyncService(pb_grpc.InvocationServicer):
    """The message pattern on a sync server: the handler thread pulls from the request iterator."""

    def TransactionInvocation(  # noqa: N802
        self, request_iterator: Iterator[pb.ChaincodeWrapperMessage], context: grpc.ServicerContext
    ) -> Iterator[pb.ChaincodeProxyMessage]:
        first = next(request_iterator)
        key = _key(first)
        yield pb.ChaincodeProxyMessage(get_state_request=pb.GetStateRequest(key=key))
        yield _response(key, next(request_iterator))

    def Health(self, request: pb.HealthRequest, context: grpc.ServicerContext) -> pb.HealthResponse:  # noqa: N802
        return pb.HealthResponse(serving=True, tee="none")


class AioService(pb_grpc.InvocationServicer):
    """The same pattern on grpc.aio: one coroutine per stream, read()/write() on the context."""

    async def TransactionInvocation(  # type: ignore[override]  # noqa: N802
        self, request_iterator: object, context: grpc.aio.ServicerContext
    ) -> None:
        first = await context.read()
        key = _key(first)
        await context.write(pb.ChaincodeProxyMessage(get_state_request=pb.GetStateRequest(key=key)))
        await context.write(_response(key, await context.read()))

    async def Health(  # type: ignore[override]  # noqa: N802
        self, request: pb.HealthRequest, context: grpc.aio.ServicerContext
    ) -> pb.HealthResponse:
        return pb.HealthResponse(serving=True, tee="none")


def serve_sync(listen: str, workers: int, options: Sequence[tuple[str, int]]) -> None:
    server = transport.server(
        workers, max_message_bytes=transport.PROXY_MESSAGE_BYTES, thread_name_prefix="bench", options=options
    )
    pb_grpc.add_InvocationServicer_to_server(SyncService(), server)
    port = transport.bind(server, listen)
    server.start()
    print(f"serving sync on port {port}", flush=True)
    server.wait_for_termination()


async def _serve_aio(listen: str, options: Sequence[tuple[str, int]]) -> None:
    # transport.server makes sync servers only: the same caps, so_reuseport 0 (in _OPTIONS)
    server = grpc.aio.server(options=[*_OPTIONS, *options])  # so_reuseport: 0, see _OPTIONS
    pb_grpc.add_InvocationServicer_to_server(AioService(), server)
    port = transport.bind(cast("grpc.Server", server), listen)  # add_insecure_port: the same call
    await server.start()
    print(f"serving aio on port {port}", flush=True)
    await server.wait_for_termination()


def _read_frame(sock: socket.socket) -> bytes | None:
    """One length-prefixed frame (4 bytes big-endian, then the message); None at end of stream."""
    head = _read_exactly(sock, 4)
    return None if head is None else _read_exactly(sock, struct.unpack(">I", head)[0])


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _send_frame(sock: socket.socket, message: bytes) -> None:
    sock.sendall(struct.pack(">I", len(message)) + message)


class _TcpHandler(socketserver.BaseRequestHandler):
    """The same four messages as length-prefixed frames on a plain TCP connection (no gRPC)."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while (frame := _read_frame(sock)) is not None:
            key = _key(pb.ChaincodeWrapperMessage.FromString(frame))
            _send_frame(
                sock,
                pb.ChaincodeProxyMessage(get_state_request=pb.GetStateRequest(key=key)).SerializeToString(),
            )
            answer = _read_frame(sock)
            if answer is None:
                return
            _send_frame(
                sock, _response(key, pb.ChaincodeWrapperMessage.FromString(answer)).SerializeToString()
            )


def serve_tcp(listen: str) -> None:
    host, _, port = listen.rpartition(":")
    socketserver.ThreadingTCPServer.allow_reuse_address = True  # SO_REUSEADDR only, never SO_REUSEPORT
    socketserver.ThreadingTCPServer.daemon_threads = True
    with socketserver.ThreadingTCPServer((host.strip("[]"), int(port)), _TcpHandler) as server:
        print(f"serving tcp on port {server.server_address[1]}", flush=True)
        server.serve_forever()


class _TcpClient:
    """The wrapper's side of `_TcpHandler`: one connection, one transaction after the other."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def round_trip(self) -> None:
        request = pb.InvocationRequest(function_name="query", arguments=["peter"], transaction_id="bench")
        _send_frame(self.sock, pb.ChaincodeWrapperMessage(invocation_request=request).SerializeToString())
        ask = pb.ChaincodeProxyMessage.FromString(_read_frame(self.sock) or b"")
        if ask.WhichOneof("type") != "get_state_request":
            raise SystemExit(f"tcp round trip: expected get_state_request, got {ask.WhichOneof('type')}")
        answer = pb.GetStateResponse(raw_value=b"", found=False)
        _send_frame(self.sock, pb.ChaincodeWrapperMessage(get_state_response=answer).SerializeToString())
        done = pb.ChaincodeProxyMessage.FromString(_read_frame(self.sock) or b"")
        if done.WhichOneof("type") != "invocation_response":
            raise SystemExit(f"tcp round trip: expected invocation_response, got {done.WhichOneof('type')}")

    def close(self) -> None:
        self.sock.close()


def measure(targets: dict[str, str], n: int, warmup: int, unary: bool = False) -> dict[str, list[float]]:
    """Latencies in ms per target, alternating targets round trip by round trip; `unary` adds one
    Health call per target and round (NAME/health: gRPC's cost of one unary call, for scale)."""
    from foc.proxy.client import ProxyClient

    clients = {name: ProxyClient(addr) for name, addr in targets.items() if not name.startswith("tcp")}
    raw = {name: _TcpClient(addr) for name, addr in targets.items() if name.startswith("tcp")}

    def tcp(client: _TcpClient) -> float:
        t0 = time.perf_counter()
        client.round_trip()
        return (time.perf_counter() - t0) * 1000

    def one(client: ProxyClient) -> float:
        # "peter" is absent: the trivial handler answers 200 with an empty payload, a real foc-proxy's
        # coffee TA NOT_FOUND; both after the same four messages.
        t0 = time.perf_counter()
        r = client.invoke(
            "query", ["peter"], transaction_id="bench", get_state=lambda key: None, timeout=30.0
        )
        ms = (time.perf_counter() - t0) * 1000
        if not r.ok and (r.error is None or r.error.code != "NOT_FOUND"):
            raise SystemExit(f"round trip failed: {r.error}")
        return ms

    def health(client: ProxyClient) -> float:
        t0 = time.perf_counter()
        client.health(timeout=30.0)
        return (time.perf_counter() - t0) * 1000

    ops: list[tuple[str, Any, Callable[[Any], float]]] = [(name, c, one) for name, c in clients.items()]
    ops += [(name, c, tcp) for name, c in raw.items()]
    if unary:
        ops += [(f"{name}/health", c, health) for name, c in clients.items()]
    out: dict[str, list[float]] = {label: [] for label, _, _ in ops}
    try:
        for _ in range(warmup):
            for _, client, op in ops:
                op(client)
        for i in range(n):
            for label, client, op in ops if i % 2 == 0 else reversed(ops):  # no fixed order bias
                out[label].append(op(client))
    finally:
        for client in clients.values():
            client.close()
        for conn in raw.values():
            conn.close()
    return out


def report(results: dict[str, list[float]]) -> None:
    for name, ms in results.items():
        q = statistics.quantiles(ms, n=20)
        print(
            f"{name:10s} n={len(ms):4d}  p50 {statistics.median(ms):8.2f} ms  p95 {q[18]:8.2f} ms"
            f"  mean {statistics.fmean(ms):8.2f} ms  min {min(ms):8.2f} ms"
        )
    print("loadavg " + " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)


def local(n: int, warmup: int, workers: int, unary: bool) -> dict[str, list[float]]:
    """Both servers as child processes on free loopback ports, then `measure` against them."""
    procs, targets = [], {}
    try:
        for kind in KINDS:
            p = subprocess.Popen(
                [sys.executable, __file__, "serve", "--kind", kind, "--listen", "127.0.0.1:0",
                 "--workers", str(workers)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            procs.append(p)
            line = p.stdout.readline() if p.stdout else ""
            if not line.startswith("serving"):
                raise SystemExit(f"the {kind} server did not start: {line!r}")
            targets[kind] = f"127.0.0.1:{line.split()[-1]}"
        return measure(targets, n, warmup, unary)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run one server until killed")
    s.add_argument("--kind", choices=KINDS, required=True)
    s.add_argument("--listen", default="127.0.0.1:0")
    s.add_argument(
        "--workers", type=int, default=32, help="sync: handler threads (foc-proxy: max(32, 8 x pool))"
    )
    s.add_argument(
        "--option", action="append", default=[], metavar="KEY=INT", help="extra gRPC server option"
    )
    m = sub.add_parser("measure", help="alternate round trips over NAME=HOST:PORT targets")
    m.add_argument("targets", nargs="+")
    m.add_argument("--json", type=Path, help="also write the latencies (ms, per target) to this file")
    loc = sub.add_parser("local", help="both servers as children on loopback, then measure")
    loc.add_argument("--workers", type=int, default=32)
    for q in (m, loc):
        q.add_argument("-n", type=int, default=60, help="measured round trips per target")
        q.add_argument("--warmup", type=int, default=5)
        q.add_argument("--unary", action="store_true", help="also time one Health (unary) call per target")
    a = p.parse_args(argv)
    if a.cmd == "serve":
        options = [(k, int(v)) for k, v in (o.split("=", 1) for o in a.option)]
        if a.kind == "sync":
            serve_sync(a.listen, a.workers, options)
        elif a.kind == "tcp":
            serve_tcp(a.listen)
        else:
            asyncio.run(_serve_aio(a.listen, options))
        return 0
    if a.cmd == "measure":
        targets = dict(t.split("=", 1) for t in a.targets)
        results = measure(targets, a.n, a.warmup, a.unary)
        report(results)
        if a.json:
            a.json.write_text(json.dumps({"loadavg": os.getloadavg(), "ms": results}))
        return 0
    report(local(a.n, a.warmup, a.workers, a.unary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
