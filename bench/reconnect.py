"""How long one long-lived client stays broken after its server comes back (issue 8, kind 4).

    python bench/reconnect.py --outage 20            # ProxyClient, native backend (not a TEE)
    python bench/reconnect.py --outage 20 --outage 90
    python bench/reconnect.py --gateway --outage 20  # GatewayClient, a minimal in-process Gateway

The wrapper keeps one ProxyClient for its lifetime. This script does what an operator's restart
does to it: start foc-proxy (a separate process), invoke once, kill the proxy, invoke every 0.5 s
for OUTAGE seconds, restart the proxy on the same port, then invoke every 0.2 s and print how long
after the proxy printed "listening" the first invocation succeeded, and how many failed first.
Nothing in this process dials the restarted proxy except the client under test (a second channel
to the same target could share its gRPC subchannel and hide the back-off).

--gateway does the same to a GatewayClient: a minimal Gateway service (Evaluate answers "ok"; no
signature checks) in this process is stopped and served again on the same port. Run it with
PYTHONPATH pointing at another checkout to measure that checkout's client (before/after).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

if "PYTHONPATH" not in os.environ:  # PYTHONPATH=<checkout> measures that checkout's clients
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foc.deploy.native import free_port  # noqa: E402
from foc.errors import ProxyUnavailable  # noqa: E402
from foc.proxy.client import ProxyClient  # noqa: E402


def start_proxy(port: int, library: str | None) -> subprocess.Popen[str]:
    """foc-proxy --tee native on 127.0.0.1:port; returns once it printed its listening line."""
    cmd = [sys.executable, "-m", "foc.proxy", "--tee", "native", "--listen", f"127.0.0.1:{port}"]
    if library is None:
        from foc.deploy.native_build import build_native_core

        library = str(build_native_core())
    cmd += ["--pool", "1", "--log-level", "WARNING", "--native-lib", library]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on" in line:
            return proc
    raise SystemExit(f"foc-proxy exited with {proc.wait()} before listening")


def invoke(client: ProxyClient, n: int) -> bool:
    """One plaintext query; True if the proxy answered (a chaincode refusal counts as an answer)."""
    try:
        client.invoke("query", ["nobody"], transaction_id=f"tx{n}", get_state=lambda key: None, timeout=10)
        return True
    except ProxyUnavailable:
        return False


def one_outage(outage: float, library: str | None) -> tuple[float, int]:
    """(seconds from "listening" to the first success, failed invocations after the restart)."""
    port = free_port()
    proxy = start_proxy(port, library)
    n = 0
    with ProxyClient(f"127.0.0.1:{port}") as client:
        if not invoke(client, n):
            raise SystemExit("the first invocation failed")
        os.killpg(proxy.pid, signal.SIGKILL)
        proxy.wait()
        down_until = time.monotonic() + outage
        while time.monotonic() < down_until:
            n += 1
            if invoke(client, n):
                raise SystemExit("an invocation succeeded while the proxy was down")
            time.sleep(0.5)
        proxy = start_proxy(port, library)
        back = time.monotonic()
        failures = 0
        try:
            while True:
                n += 1
                if invoke(client, n):
                    return time.monotonic() - back, failures
                failures += 1
                time.sleep(0.2)
        finally:
            os.killpg(proxy.pid, signal.SIGTERM)
            proxy.wait()


def one_gateway_outage(outage: float) -> tuple[float, int]:
    """The same measurement for a GatewayClient against an in-process Gateway restarted in place."""
    from concurrent.futures import ThreadPoolExecutor

    import grpc
    from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
    from fabric_protos.peer import proposal_response_pb2

    from foc.client.gateway import GatewayClient
    from foc.client.identity import Identity
    from foc.errors import GatewayError

    class Gateway(gateway_pb2_grpc.GatewayServicer):
        def Evaluate(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
            ok = proposal_response_pb2.Response(status=200, payload=b"ok")
            return gateway_pb2.EvaluateResponse(result=ok)

    def serve(port: int) -> grpc.Server:
        # plain gRPC, not foc.protocol.transport, so that older checkouts run this too
        server = grpc.server(ThreadPoolExecutor(4), options=[("grpc.so_reuseport", 0)])
        gateway_pb2_grpc.add_GatewayServicer_to_server(Gateway(), server)
        bound = server.add_insecure_port(f"127.0.0.1:{port}")  # so_reuseport=0 above
        server.start()
        if bound != port:
            raise SystemExit(f"could not serve again on port {port}")
        return server

    port = free_port()
    server = serve(port)
    with GatewayClient(f"127.0.0.1:{port}", Identity.generate_for_tests(), timeout=10) as client:

        def evaluate() -> bool:
            try:
                return client.evaluate("ch", "cc", "f", []) == b"ok"
            except GatewayError:
                return False

        if not evaluate():
            raise SystemExit("the first evaluation failed")
        server.stop(None).wait()
        down_until = time.monotonic() + outage
        while time.monotonic() < down_until:
            if evaluate():
                raise SystemExit("an evaluation succeeded while the gateway was down")
            time.sleep(0.5)
        server = serve(port)
        back = time.monotonic()
        failures = 0
        try:
            while not evaluate():
                failures += 1
                time.sleep(0.2)
            return time.monotonic() - back, failures
        finally:
            server.stop(None).wait()


def main() -> int:
    """Run each outage and print one line per outage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, action="append", help="seconds down (repeatable)")
    parser.add_argument("--native-lib", help="libfoc_core.so (default: foc-proxy builds or reuses it)")
    parser.add_argument("--gateway", action="store_true", help="measure a GatewayClient instead")
    args = parser.parse_args()
    for outage in args.outage or [20.0]:
        if args.gateway:
            delay, failures = one_gateway_outage(outage)
        else:
            delay, failures = one_outage(outage, args.native_lib)
        print(
            f"outage {outage:5.1f} s: first success {delay:6.2f} s after the server was back, "
            f"{failures} invocation(s) failed first",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
