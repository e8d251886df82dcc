"""Issue 8, kinds 5 and 1 on the plaintext path over the fake TA: one definition of the limits, and
every request over a limit gets the LIMIT error naming it, whatever its size, on every hop.

Hops: the SDK's wrapper contract and the CLI (`foc invoke --plaintext`), the wrapper (FocWrapper) and
its proxy client (checks before it sends), the proxy itself (raw streams that skip the client's
checks), and the gRPC transport (a RESOURCE_EXHAUSTED is a LIMIT, never "unavailable").
Confidential mode's per-mode bound is in test_server_confidential.py; the real trusted core in
tests/native and tests/qemu.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from proxy_fakes import FakeTaBackend
from test_server import RawStream, request

from foc.chaincode.memory import MemoryStub
from foc.cli import main as cli
from foc.client.contract import WrapperContract
from foc.errors import ChaincodeError, LimitExceeded, ProxyUnavailable
from foc.protocol import invocation_pb2 as pb
from foc.protocol import limits, transport
from foc.proxy import client as proxy_client
from foc.proxy.client import ProxyClient
from foc.proxy.config import ProxyConfig
from foc.proxy.server import ProxyServer
from foc.wrapper.plaintext import FocWrapper, error_from_response

A = b"1" * limits.FOC_MAX_VALUE  # one argument exactly at FOC_MAX_VALUE
ISSUE_INSTANCE = [b"b", *[A] * 9]  # `foc invoke --plaintext create b A A A A A A A A A` (589,9xx bytes)


class CountingBackend(FakeTaBackend):
    """The fake TA, counting FOC_CMD_INVOKE calls: a refused request must never reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.invokes = 0

    def open_session(self):  # type: ignore[no-untyped-def]
        session = super().open_session()
        original = session.invoke

        def invoke(cmd: int, data: bytes = b"") -> tuple[int, bytes]:
            if cmd == 0:
                self.invokes += 1
            return original(cmd, data)

        session.invoke = invoke  # type: ignore[method-assign]
        return session


@pytest.fixture
def backend() -> CountingBackend:
    return CountingBackend()


@pytest.fixture
def proxy(backend: CountingBackend) -> Iterator[ProxyServer]:
    server = ProxyServer(ProxyConfig(listen="127.0.0.1:0", tee="native", pool_size=2), backend)
    server.start()
    yield server
    server.stop(grace=0.5)


@pytest.fixture
def client(proxy: ProxyServer) -> Iterator[ProxyClient]:
    with ProxyClient(proxy.address, default_timeout=10) as c:
        yield c


def _assert_limit(message: str, limit: int, name: str) -> None:
    assert f"limit {limit} ({name})" in message, message
    assert len(message) < 200, "the error names the limit; it never echoes the data"


# -- kind 5: a value exactly at the limit crosses every hop, both ways ---------------------------


def test_a_value_at_the_limit_is_written_and_read_back_through_wrapper_and_proxy(client) -> None:
    """FocWrapper -> ProxyClient -> foc-proxy -> TA (fake) -> write batch -> stub; then read back."""
    wrapper = FocWrapper(client=client)
    stub = MemoryStub(["put", "k", A], tx_id="tx-put")
    response = wrapper.invoke(stub)
    assert response.status == 200, response
    assert stub.writes == {"k": A}
    reader = MemoryStub(["get", "k"], state={"k": A}, tx_id="tx-get")
    response = wrapper.invoke(reader)
    assert response.status == 200 and response.payload == A  # FOC_MAX_PAYLOAD == FOC_MAX_VALUE


def test_one_byte_past_the_state_value_limit_is_limit_at_the_client(client, backend) -> None:
    result = client.invoke("get", ["k"], transaction_id="t", get_state=lambda key: A + b"1")
    assert result.error is not None and result.error.code == "LIMIT"
    _assert_limit(result.error.message, limits.FOC_MAX_VALUE, "FOC_MAX_VALUE")
    for _ in range(500):  # the client cancelled the stream: the proxy aborts the TA invocation
        if backend.aborts:
            break
        threading.Event().wait(0.01)
    assert backend.aborts == 1


def test_one_byte_past_the_state_value_limit_is_limit_at_the_proxy(proxy) -> None:
    """A wrapper that skips the client's check still gets LIMIT from the proxy itself."""
    s = RawStream(proxy.address)
    s.send(invocation_request=request("get", "k"))
    assert s.recv().WhichOneof("type") == "get_state_request"
    s.send(get_state_response=pb.GetStateResponse(raw_value=A + b"1", found=True))
    error = s.recv().invocation_response.error
    assert error.code == pb.LIMIT
    _assert_limit(error.message, limits.FOC_MAX_VALUE, "FOC_MAX_VALUE")
    s.close()


# -- kind 1: over a limit, whatever the size, is LIMIT naming the limit -------------------------


@pytest.mark.parametrize(
    ("args", "limit", "name"),
    [
        ([b"b", A, A], limits.FOC_MAX_REQUEST, "FOC_MAX_REQUEST"),  # below the proxy's gRPC cap
        (ISSUE_INSTANCE, limits.FOC_MAX_REQUEST, "FOC_MAX_REQUEST"),  # was RESOURCE_EXHAUSTED, exit 8
        ([b"b", *[A] * 14], limits.FOC_MAX_REQUEST, "FOC_MAX_REQUEST"),  # over the cap of both sides
        ([b"b", b"1" * (5 * 1024 * 1024)], limits.FOC_MAX_VALUE, "FOC_MAX_VALUE"),  # over gRPC's 4 MiB
        ([b"1"] * limits.FOC_MAX_ARGS, limits.FOC_MAX_ARGS, "FOC_MAX_ARGS"),
    ],
    ids=["3x64KiB", "issue-9x64KiB", "15x64KiB", "5MiB-argument", "17-arguments"],
)
def test_every_request_over_a_limit_is_limit_at_the_wrapper_whatever_its_size(
    client, backend, args: list[bytes], limit: int, name: str
) -> None:
    result = client.invoke("create", args, transaction_id="t", get_state=dict().get)
    assert result.error is not None and result.error.code == "LIMIT", result
    _assert_limit(result.error.message, limit, name)
    response = FocWrapper(client=client).invoke(MemoryStub(["create", *args], tx_id="tx-w"))
    assert response.status == 500 and response.message.startswith("LIMIT: ")
    typed = error_from_response(response)
    assert isinstance(typed, ChaincodeError) and typed.code == "LIMIT" and typed.exit_code == 9
    assert backend.invokes == 0, "nothing over a limit reaches the TA"


def test_the_proxy_answers_limit_to_any_request_its_transport_accepts(proxy) -> None:
    """Up to its gRPC cap the proxy answers an oversized request with LIMIT naming the limit."""
    s = RawStream(proxy.address)
    s.send(
        invocation_request=pb.InvocationRequest(
            function_name="create", binary_arguments=ISSUE_INSTANCE, transaction_id="t"
        )
    )
    error = s.recv().invocation_response.error
    assert error.code == pb.LIMIT
    _assert_limit(error.message, limits.FOC_MAX_REQUEST, "FOC_MAX_REQUEST")
    s.close()


def test_an_oversized_message_is_limit_before_it_is_sent(client, backend) -> None:
    """Identifiers bloating the message past the transport's cap: LIMIT naming the cap, not sent."""
    huge_tx_id = "t" * (transport.PROXY_MESSAGE_BYTES + 1)
    result = client.invoke("get", ["k"], transaction_id=huge_tx_id, get_state=dict().get)
    assert result.error is not None and result.error.code == "LIMIT"
    assert f"{transport.PROXY_MESSAGE_BYTES}-byte gRPC message limit" in result.error.message
    assert backend.invokes == 0


def test_resource_exhausted_is_a_limit_error_never_unavailable(backend, monkeypatch) -> None:
    """A proxy with a smaller cap than the client's: gRPC says RESOURCE_EXHAUSTED; FOC says LIMIT."""
    monkeypatch.setattr(transport, "PROXY_MESSAGE_BYTES", 4096)
    server = ProxyServer(ProxyConfig(listen="127.0.0.1:0", tee="native", pool_size=1), backend)
    server.start()
    monkeypatch.undo()
    try:
        with ProxyClient(server.address, default_timeout=10) as c:
            result = c.invoke("put", ["k", "v" * 8000], transaction_id="t", get_state=dict().get)
            assert result.error is not None and result.error.code == "LIMIT", result
            assert "RESOURCE_EXHAUSTED" in result.error.message
            with pytest.raises(LimitExceeded) as caught:  # the unary RPCs raise it
                c.create_enclave(b"c" * 8000)
            assert caught.value.exit_code == 9 and not isinstance(caught.value, ProxyUnavailable)
            with pytest.raises(LimitExceeded):
                c.invoke_confidential(b"c" * 8000, get_state=dict().get, transaction_id="t")
    finally:
        server.stop(grace=0.5)


def test_rpc_errors_map_resource_exhausted_to_limit_and_the_rest_to_unavailable() -> None:
    class Failed(grpc.RpcError, grpc.Call):  # type: ignore[misc]
        def __init__(self, code: grpc.StatusCode) -> None:
            self._code = code

        def code(self) -> grpc.StatusCode:
            return self._code

        def details(self) -> str:
            return "Received message larger than max (589932 vs. 524288)"

    limit = proxy_client._rpc_error("127.0.0.1:1", Failed(grpc.StatusCode.RESOURCE_EXHAUSTED))
    assert isinstance(limit, LimitExceeded) and limit.code == "LIMIT"
    assert "589932 vs. 524288" in limit.message
    down = proxy_client._rpc_error("127.0.0.1:1", Failed(grpc.StatusCode.UNAVAILABLE))
    assert isinstance(down, ProxyUnavailable)


def test_the_sdk_checks_a_wrapper_request_before_sending_it() -> None:
    class Recorder:
        calls = 0

        def invoke(self, function, args, *, transient=None):  # type: ignore[no-untyped-def]
            Recorder.calls += 1
            return b"OK"

        query = invoke

    contract = WrapperContract(Recorder())  # type: ignore[arg-type]
    with pytest.raises(LimitExceeded) as caught:
        contract.invoke("create", ISSUE_INSTANCE)
    _assert_limit(caught.value.reason, limits.FOC_MAX_REQUEST, "FOC_MAX_REQUEST")
    with pytest.raises(LimitExceeded):
        contract.query("create", ISSUE_INSTANCE)
    assert Recorder.calls == 0
    assert contract.invoke("create", [b"b", A]) == b"OK"  # at the limits: sent


def test_cli_issue_instance_is_limit_exit_9(proxy, backend, tmp_path: Path, monkeypatch) -> None:
    """`foc invoke --plaintext create b A A A A A A A A A` (each A 65536 bytes of '1'): exit 9,
    LIMIT naming FOC_MAX_REQUEST (it was exit 8, RESOURCE_EXHAUSTED reported as an unreachable proxy)."""
    monkeypatch.setenv("FOC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FOC_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("FOC_HOME", str(tmp_path / "home"))
    for args in (ISSUE_INSTANCE, ISSUE_INSTANCE[:3]):
        out, err = io.StringIO(), io.StringIO()
        argv = ["invoke", "--plaintext", "--proxy", proxy.address, "--ledger", str(tmp_path / "l.sqlite")]
        rc = cli.main([*argv, "create", *(a.decode() for a in args)], out=out, err=err)
        assert (rc, out.getvalue()) == (9, ""), err.getvalue()
        assert err.getvalue().startswith("foc: error: LIMIT: ") and err.getvalue().count("\n") == 1
        _assert_limit(err.getvalue(), limits.FOC_MAX_REQUEST, "FOC_MAX_REQUEST")
    assert backend.invokes == 0
