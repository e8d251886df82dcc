"""Issue 8, kind 4: one long-lived ProxyClient (as the wrapper keeps) works again as soon as the
proxy is back, and still fails in seconds while it is down.

Measured with bench/reconnect.py (a native `foc-proxy` process SIGKILLed, invoked every 0.5 s while
down, restarted on the same port, then invoked every 0.2 s), on the shared 2-core machine:
  before: first success 9.75 s after a 20 s outage (48 invocations failed first),
          29.29 s after a 90 s outage (144 failed first) -- gRPC's reconnect back-off;
  after:  first success 0.01 s after a 20 s outage and 0.47 s after a 90 s outage, 0 failed:
          back-off capped at 1 s, and after a call found no connection the next ones wait up to
          3 s (half their deadline at most) for a connection (foc.protocol.transport).
The real process is restarted in tests/native/test_end_to_end.py; here the server restarts in place.
"""

from __future__ import annotations

import threading
import time

import pytest
from proxy_fakes import FakeTaBackend

from foc.errors import ProxyUnavailable
from foc.proxy.client import ProxyClient
from foc.proxy.config import ProxyConfig
from foc.proxy.server import ProxyServer

OUTAGE_S = 6.0  # long enough for gRPC's default back-off to outgrow the first call after the restart


def _serve(port: int, backend: FakeTaBackend) -> ProxyServer:
    server = ProxyServer(ProxyConfig(listen=f"127.0.0.1:{port}", tee="native", pool_size=1), backend)
    server.start()
    return server


def _invoke(client: ProxyClient, timeout: float) -> bool:
    try:
        result = client.invoke("get", ["k"], transaction_id="tx", get_state=lambda key: b"v", timeout=timeout)
    except ProxyUnavailable:
        return False
    assert result.ok and result.payload == b"v"
    return True


def test_the_first_invocation_after_the_proxy_is_back_succeeds() -> None:
    backend = FakeTaBackend()
    server = _serve(0, backend)
    port = server.port
    assert port
    with ProxyClient(server.address, default_timeout=10) as client:  # the one the wrapper keeps
        assert _invoke(client, 10)
        server.stop(grace=0)
        down_until = time.monotonic() + OUTAGE_S
        while time.monotonic() < down_until:  # invoked every 0.5 s while the proxy is down
            assert not _invoke(client, 1.0)
            time.sleep(0.5)
        server = _serve(port, backend)
        try:
            assert _invoke(client, 10), "the first invocation after the restart failed"
        finally:
            server.stop(grace=0)


def test_an_invocation_while_the_proxy_is_down_fails_as_unavailable_not_at_its_deadline() -> None:
    """The wait for a connection is bounded: a down proxy is UNAVAILABLE, never a 30 s timeout."""
    backend = FakeTaBackend()
    server = _serve(0, backend)
    address = server.address
    server.stop(grace=0)
    with ProxyClient(address, default_timeout=30) as client:
        with pytest.raises(ProxyUnavailable) as caught:
            client.invoke("get", ["k"], transaction_id="tx", get_state=lambda key: None)
        assert "UNAVAILABLE" in caught.value.message and "DEADLINE_EXCEEDED" not in caught.value.message


class _StuckBackend(FakeTaBackend):
    """A TA whose every invocation blocks until released (a hung device)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def open_session(self):  # type: ignore[no-untyped-def]
        session = super().open_session()
        real = session.invoke

        def stuck(cmd: int, data: bytes = b"") -> tuple[int, bytes]:
            self.release.wait(30)
            return real(cmd, data)

        session.invoke = stuck  # type: ignore[method-assign]
        return session


def test_a_stream_past_its_deadline_is_cancelled_by_the_client_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """gRPC Python can leave a stream's reader waiting past the deadline (grpc/grpc#20562; it hung
    this suite once, after the proxy had gone): the client's watchdog cancels the call and says so.
    The watchdog is moved before gRPC's own deadline here, so only it can end the call."""
    import foc.proxy.client as client_module

    backend = _StuckBackend()
    server = _serve(0, backend)
    monkeypatch.setattr(client_module, "WATCHDOG_GRACE_S", -4.5)  # fires 0.5 s into a 5 s deadline
    try:
        with ProxyClient(server.address) as client:
            with pytest.raises(ProxyUnavailable, match="did not finish the transaction within its"):
                client.invoke("get", ["k"], transaction_id="tx", get_state=lambda key: b"v", timeout=5.0)
    finally:
        backend.release.set()
        server.stop(grace=0)


def test_a_unary_call_that_never_completes_is_abandoned_after_its_deadline() -> None:
    """The same bound for unary calls (Health, enclave commands, device key): a call whose completion
    never comes is cancelled and reported, not waited for forever."""
    import grpc

    from foc.protocol import invocation_pb2 as pb

    class NeverDone:
        cancelled = False

        def result(self, timeout: float) -> object:
            assert timeout < 10  # the call's budget plus the grace, never unbounded
            raise grpc.FutureTimeoutError()

        def cancel(self) -> bool:
            self.cancelled = True
            return True

    class Method:
        def future(self, request: object, timeout: float, **kwargs: object) -> NeverDone:
            self.pending = NeverDone()
            return self.pending

    method = Method()
    with ProxyClient("127.0.0.1:1") as client:
        with pytest.raises(ProxyUnavailable, match="did not answer within the call's 3.0 s deadline"):
            client._unary(method, pb.HealthRequest(), 3.0)  # type: ignore[arg-type]
    assert method.pending.cancelled
