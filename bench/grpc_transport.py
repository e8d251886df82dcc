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

Measured 2026-11-30 (QEMU TCG, -smp 2, the qemu image of main at 7d55b80, this 2-core host shared with
other builds; QEMU under nice 10; 3 servers + the guest's foc-proxy in one guest, 4 rounds of 30 per
variant alternating A/B, 5 warm-up each; n = 120 per cell; ms p50 / p95):

    run (host load 1 min)   client            sync          aio           sync, bdp_probe=0   foc-proxy + TA
    15:31-15:43 (3.3-4.2)   host (hostfwd)    33.5 / 67.1   36.5 / 64.7   33.7 / 61.3         -
                            guest (loopback)  74.8 / 109    79.9 / 113    75.8 / 110          -
                            host, Health      18.2 / 36.9   20.1 / 37.7   16.2 / 31.4         -
    15:50-16:02 (6.0-8.1)   host (hostfwd)    50.0 / 150    57.9 / 198    47.9 / 161          64.7 / 230
                            guest (loopback)  115 / 353     117 / 298     120 / 327           128 / 326
                            host, Health      24.7 / 98.2   25.3 / 110    20.4 / 103          22.0 / 79.4

aio / sync p50 per round: 0.83-1.51 (host client), 0.98-1.26 (guest client): grpc.aio is not faster
per round trip, and the trivial handler alone already costs more than issue 11's 15 ms plaintext target
(a single unary call: 16-25 ms p50). The cost is gRPC's per-call work under emulation on both sides: a
client in the guest doubles the round trip. Disabling BDP probing changed nothing beyond the noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc  # noqa: E402

from foc.protocol import invocation_pb2 as pb  # noqa: E402
from foc.protocol import invocation_pb2_grpc as pb_grpc  # noqa: E402
from foc.protocol import transport  # noqa: E402

KINDS = ("sync", "aio")
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


def measure(targets: dict[str, str], n: int, warmup: int, unary: bool = False) -> dict[str, list[float]]:
    """Latencies in ms per target, alternating targets round trip by round trip; `unary` adds one
    Health call per target and round (NAME/health: gRPC's cost of one unary call, for scale)."""
    from foc.proxy.client import ProxyClient

    clients = {name: ProxyClient(addr) for name, addr in targets.items()}

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

    ops = [(name, name, one) for name in targets]
    if unary:
        ops += [(f"{name}/health", name, health) for name in targets]
    out: dict[str, list[float]] = {label: [] for label, _, _ in ops}
    try:
        for _ in range(warmup):
            for _, name, op in ops:
                op(clients[name])
        for i in range(n):
            for label, name, op in ops if i % 2 == 0 else reversed(ops):  # no fixed order bias
                out[label].append(op(clients[name]))
    finally:
        for client in clients.values():
            client.close()
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
