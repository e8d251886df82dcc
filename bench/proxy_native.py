"""Pooled session vs OpenSession per transaction: the latency FOC lost to TEEC_OpenSession.

    python bench/proxy_native.py                       # native backend (host build, not a TEE)
    python bench/proxy_native.py --tee optee -n 50     # in the QEMU guest / on the board

Runs the same coffee transactions (query of an existing person: INVOKE, one GET_STATE,
RESUME) in two modes and prints latency statistics and their ratio:
  pooled       one session opened up front and reused (what foc-proxy does)
  per-tx       open session -> transaction -> close session (what FOC's proxy did)
With --grpc it also measures the whole proxy path (ProxyClient -> gRPC on 127.0.0.1 ->
foc-proxy's pool -> TA, GetState relayed back to the client) on the same backend.
Only the stdlib and foc are needed, so the script runs in the guest as is.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foc.tee.api import TeeBackend  # noqa: E402
from foc.tee.invocation import run_invocation  # noqa: E402

WORLD = {"peter": b"42"}
ARGS = [b"query", b"peter"]


def _transaction(session) -> None:  # type: ignore[no-untyped-def]
    result = run_invocation(session, ARGS, WORLD.get)
    if not result.ok:
        raise SystemExit(f"transaction failed: {result.error}")


def measure(n: int, warmup: int, one: Callable[[], None]) -> list[float]:
    """Latencies in ms of `n` calls of `one` after `warmup` unmeasured calls."""
    for _ in range(warmup):
        one()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        one()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20) if len(ms) >= 2 else [ms[0]] * 19
    return (
        f"{name:8s} n={len(ms):4d}  mean {statistics.fmean(ms):8.3f} ms  p50 {statistics.median(ms):8.3f} ms"
        f"  p95 {q[18]:8.3f} ms  min {min(ms):8.3f} ms"
    )


def measure_grpc(backend: TeeBackend, tee: str, n: int, warmup: int) -> list[float]:
    """Latencies of the same transaction through an in-process foc-proxy (pool of 1) on 127.0.0.1."""
    from foc.protocol import invocation_pb2_grpc as pb_grpc
    from foc.protocol import transport
    from foc.proxy.client import ProxyClient
    from foc.proxy.config import ProxyConfig
    from foc.proxy.pool import SessionPool
    from foc.proxy.server import InvocationService

    # ProxyServer.stop() would close the shared backend, so wire the parts by hand here.
    config = ProxyConfig(listen="127.0.0.1:0", tee=tee, pool_size=1)
    pool = SessionPool(backend, 1)
    pool.start()
    server = transport.server(4, max_message_bytes=transport.PROXY_MESSAGE_BYTES, thread_name_prefix="bench")
    pb_grpc.add_InvocationServicer_to_server(
        InvocationService(pool, ta_uuid=config.ta_uuid, tee_name=tee), server
    )
    port = transport.bind(server, "127.0.0.1:0")
    server.start()
    world = dict(WORLD)
    try:
        with ProxyClient(f"127.0.0.1:{port}") as client:

            def one() -> None:
                r = client.invoke("query", ["peter"], transaction_id="bench", get_state=world.get)
                if not r.ok:
                    raise SystemExit(f"transaction failed: {r.error}")

            return measure(n, warmup, one)
    finally:
        server.stop(0).wait()
        pool.close()


def make_backend(tee: str, native_lib: str | None) -> TeeBackend:
    if tee == "optee":
        from foc.tee.libteec import LibteecBackend

        return LibteecBackend()
    from foc.tee.native import NativeBackend

    return NativeBackend(native_lib)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tee", choices=["native", "optee"], default="native")
    p.add_argument("-n", type=int, default=300, help="measured transactions per mode")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--native-lib", help="libfoc_core.so (default: build it)")
    p.add_argument("--grpc", action="store_true", help="also measure through foc-proxy over gRPC (pooled)")
    a = p.parse_args(argv)
    backend = make_backend(a.tee, a.native_lib)
    label = "native (host build, not a TEE)" if a.tee == "native" else "optee"
    print(f"backend: {label}; transaction: coffee query (INVOKE + 1 GET_STATE/RESUME)")
    try:
        session = backend.open_session()
        try:
            pooled = measure(a.n, a.warmup, lambda: _transaction(session))
        finally:
            session.close()

        def per_tx() -> None:
            s = backend.open_session()
            try:
                _transaction(s)
            finally:
                s.close()

        fresh = measure(a.n, a.warmup, per_tx)
        via_grpc = measure_grpc(backend, a.tee, a.n, a.warmup) if a.grpc else None
    finally:
        backend.close()
    print(summary("pooled", pooled))
    print(summary("per-tx", fresh))
    if via_grpc:
        print(summary("grpc", via_grpc))
    ratio = statistics.fmean(fresh) / statistics.fmean(pooled)
    print(f"ratio per-tx/pooled (mean): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
