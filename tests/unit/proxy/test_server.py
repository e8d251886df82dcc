"""foc-proxy's gRPC server + ProxyClient on 127.0.0.1 over the fake TA (protocol behaviour).

The same scenarios on the real trusted core are in tests/native/test_proxy_native.py.
"""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator

import grpc
import pytest
from proxy_fakes import FakeTaBackend

from foc.errors import ChaincodeError, ListenError, ProxyUnavailable
from foc.protocol import invocation_pb2 as pb
from foc.protocol import invocation_pb2_grpc as pb_grpc
from foc.proxy.client import ProxyClient
from foc.proxy.config import ProxyConfig
from foc.proxy.server import ProxyServer
from foc.tee import abi


@pytest.fixture
def backend() -> FakeTaBackend:
    return FakeTaBackend()


@pytest.fixture
def proxy(backend) -> Iterator[ProxyServer]:
    server = ProxyServer(ProxyConfig(listen="127.0.0.1:0", tee="native", pool_size=2), backend)
    server.start()
    yield server
    server.stop(grace=0.5)


@pytest.fixture
def client(proxy) -> Iterator[ProxyClient]:
    with ProxyClient(proxy.address, default_timeout=10) as c:
        yield c


class RawStream:
    """Drive TransactionInvocation message by message (to break the protocol on purpose)."""

    def __init__(self, address: str, timeout: float = 10) -> None:
        self.channel = grpc.insecure_channel(address)
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        stub = pb_grpc.InvocationStub(self.channel)
        self.call = stub.TransactionInvocation(iter(self.outbox.get, None), timeout=timeout)

    def send(self, **kwargs) -> None:
        self.outbox.put(pb.ChaincodeWrapperMessage(**kwargs))

    def recv(self) -> pb.ChaincodeProxyMessage:
        return next(self.call)

    def close(self) -> None:
        self.outbox.put(None)
        self.channel.close()


def request(fn: str, *args: str, txid: str = "tx", uuid: bytes = b"") -> pb.InvocationRequest:
    return pb.InvocationRequest(
        function_name=fn, arguments=list(args), transaction_id=txid, chaincode_uuid=uuid
    )


def test_batch_transaction_returns_reads_writes_and_payload(client) -> None:
    result = client.invoke("copy", ["a", "b"], transaction_id="t1", get_state={"a": b"\x00v"}.get)
    assert result.ok and result.payload == b"OK"
    assert result.reads == ("a",)
    assert [(w.key, w.value, w.is_delete) for w in result.writes] == [("b", b"\x00v", False)]


def test_structured_chaincode_error_is_returned_and_can_be_raised(client) -> None:
    result = client.invoke("copy", ["a", "b"], transaction_id="t1", get_state=lambda k: None)
    assert not result.ok and result.status == 500
    assert (result.error.code, result.error.message) == ("NOT_FOUND", "source missing")
    with pytest.raises(ChaincodeError, match="NOT_FOUND: source missing"):
        result.raise_for_error()


def test_binary_arguments_reach_the_ta(client) -> None:
    result = client.invoke("put", [b"k", b"\xff\x00"], transaction_id="t", get_state=dict().get)
    assert result.writes[0].value == b"\xff\x00"


def test_legacy_transaction_uses_put_state_round_trips(client) -> None:
    ledger = {"a": b"1"}
    puts = []

    def put(key: str, value: bytes) -> None:
        puts.append((key, value))
        ledger[key] = value

    result = client.invoke("copy", ["a", "b"], get_state=ledger.get, put_state=put)
    assert result.ok and result.payload == b"OK" and result.writes == ()
    assert puts == [("b", b"1")]


def test_legacy_response_carries_the_payload_as_text_and_no_write_batch(proxy) -> None:
    s = RawStream(proxy.address)
    s.send(invocation_request=request("put", "k", "v", txid=""))
    assert s.recv().put_state_request.key == "k"
    s.send(put_state_response=pb.PutStateResponse(acknowledgement="OK"))
    resp = s.recv().invocation_response
    assert resp.status == 200 and resp.execution_response == "OK" and not resp.writes
    s.close()


def test_legacy_error_arrives_as_structured_error(client) -> None:
    result = client.invoke("copy", ["a", "b"], get_state=lambda k: None, put_state=lambda k, v: None)
    assert result.error is not None and result.error.code == "NOT_FOUND"
    assert result.error.message == "source missing"


def test_legacy_wrapper_that_does_not_ack_ok_gets_protocol_error(proxy) -> None:
    s = RawStream(proxy.address)
    s.send(invocation_request=request("put", "k", "v", txid=""))
    assert s.recv().WhichOneof("type") == "put_state_request"
    s.send(put_state_response=pb.PutStateResponse(acknowledgement="NO"))
    with pytest.raises(grpc.RpcError) as err:
        s.recv()
    assert err.value.code() == grpc.StatusCode.UNKNOWN
    assert err.value.details().startswith("PROTOCOL:")
    s.close()


def test_wrong_message_type_mid_stream_is_a_protocol_error_and_the_ta_is_aborted(
    proxy, backend, client
) -> None:
    s = RawStream(proxy.address)
    s.send(invocation_request=request("get", "k"))
    assert s.recv().get_state_request.key == "k"
    s.send(put_state_response=pb.PutStateResponse(acknowledgement="OK"))
    resp = s.recv().invocation_response
    assert resp.status == 500 and resp.error.code == pb.PROTOCOL
    assert "get_state_response" in resp.error.message
    s.close()
    assert backend.aborts == 1
    assert client.invoke("get", ["k"], transaction_id="t", get_state=dict().get).payload == b"absent"


def test_first_message_must_be_an_invocation_request(proxy) -> None:
    s = RawStream(proxy.address)
    s.send(get_state_response=pb.GetStateResponse(found=True))
    with pytest.raises(grpc.RpcError) as err:  # no transaction id known: legacy-style error
        s.recv()
    assert "PROTOCOL: the first message must be invocation_request" in err.value.details()
    s.close()


@pytest.mark.parametrize(
    "req, code, fragment",
    [
        (request("get", "k", uuid=b"\x01" * 5), pb.BAD_REQUEST, "16 bytes"),
        (request("get", "k", uuid=b"\x01" * 16), pb.UNKNOWN_CHAINCODE, "serves TA"),
        (
            pb.InvocationRequest(
                function_name="get", transaction_id="t", arguments=["a"], binary_arguments=[b"b"]
            ),
            pb.BAD_REQUEST,
            "not both",
        ),
        (request("", "k"), pb.BAD_REQUEST, "function_name"),
        (request("get", *(["a"] * abi.FOC_MAX_ARGS)), pb.LIMIT, "arguments"),
        (request("get", "v" * (abi.FOC_MAX_VALUE + 1)), pb.LIMIT, "limit"),
    ],
)
def test_invalid_requests_get_structured_errors(proxy, req, code, fragment) -> None:
    s = RawStream(proxy.address)
    s.send(invocation_request=req)
    resp = s.recv().invocation_response
    assert resp.error.code == code and fragment in resp.error.message
    s.close()


def test_the_served_ta_uuid_is_accepted(client) -> None:
    result = client.invoke(
        "get", ["k"], transaction_id="t", get_state=dict().get, chaincode_uuid=abi.FOC_TA_UUID.bytes
    )
    assert result.ok


def test_new_mode_state_answer_must_be_consistent(proxy) -> None:
    s = RawStream(proxy.address)
    s.send(invocation_request=request("get", "k"))
    s.recv()
    s.send(get_state_response=pb.GetStateResponse(raw_value=b"x", found=False))
    assert s.recv().invocation_response.error.code == pb.PROTOCOL
    s.close()


def test_ta_breaking_the_abi_gives_tee_failure_and_a_fresh_session(proxy, backend, client) -> None:
    result = client.invoke("badout", [], transaction_id="t", get_state=dict().get)
    assert result.error.code == "TEE_FAILURE" and "ABI" in result.error.message
    assert client.health().sessions_open == 2


def test_cancelled_stream_aborts_the_invocation_and_returns_the_session(proxy, backend, client) -> None:
    asked = threading.Event()

    def stalls(key: str) -> bytes | None:
        asked.set()
        raise KeyboardInterrupt  # the caller gives up mid-transaction

    with pytest.raises(KeyboardInterrupt):
        client.invoke("get", ["k"], transaction_id="t", get_state=stalls)
    assert asked.is_set()
    for _ in range(200):  # the server notices the cancel asynchronously
        if backend.aborts:
            break
        threading.Event().wait(0.01)
    assert backend.aborts == 1
    health = client.health()
    assert health.sessions_open == 2 and health.sessions_opened_total == 2


def test_ta_crash_fails_the_in_flight_transaction_and_the_proxy_recovers(proxy, client) -> None:
    in_get_state = threading.Event()
    go_on = threading.Event()

    def slow_get(key: str) -> bytes | None:
        in_get_state.set()
        assert go_on.wait(10)
        return b"v"

    box: dict = {}
    t = threading.Thread(
        target=lambda: box.update(r=client.invoke("get", ["k"], transaction_id="t", get_state=slow_get))
    )
    t.start()
    assert in_get_state.wait(10)
    proxy.pool.crash_ta_for_test()
    go_on.set()
    t.join(10)
    err = box["r"].error
    assert err.code == "TA_CRASHED" and "TARGET_DEAD" in err.message and "retry" in err.message
    assert client.invoke("get", ["k"], transaction_id="t2", get_state=dict().get).ok
    h = client.health()
    assert (h.ta_restarts_total, h.sessions_open, h.sessions_opened_total) == (1, 2, 4)


def test_busy_when_no_session_frees_up_before_the_deadline(backend) -> None:
    config = ProxyConfig(listen="127.0.0.1:0", tee="native", pool_size=1, checkout_timeout=0.2)
    with ProxyServer(config, backend) as server, ProxyClient(server.address) as c:
        lease = server.pool.checkout(1)
        result = c.invoke("get", ["k"], transaction_id="t", get_state=dict().get)
        assert result.error.code == "BUSY"
        server.pool.release(lease)
        assert c.invoke("get", ["k"], transaction_id="t", get_state=dict().get).ok


def test_raw_tcp_garbage_does_not_stop_the_proxy(proxy, client) -> None:
    host, port = proxy.address.rsplit(":", 1)
    for junk in [b"\x00" * 64, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", bytes(range(256)) * 8]:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(junk)
            sock.settimeout(2)
            try:
                sock.recv(1024)
            except (TimeoutError, ConnectionError):
                pass
    assert client.invoke("get", ["k"], transaction_id="t", get_state=dict().get).ok


def test_undecodable_message_body_is_an_error_and_the_proxy_keeps_serving(proxy, client) -> None:
    channel = grpc.insecure_channel(proxy.address)
    raw = channel.stream_stream(
        "/invocation.Invocation/TransactionInvocation",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    with pytest.raises(grpc.RpcError) as err:
        list(raw(iter([b"\xff\xff\xff\xff\x0f garbage"]), timeout=5))
    assert err.value.code() in (
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    channel.close()
    assert client.invoke("get", ["k"], transaction_id="t", get_state=dict().get).ok


def test_unreachable_proxy_raises_proxy_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ProxyClient(f"127.0.0.1:{port}") as c:
        with pytest.raises(ProxyUnavailable, match="UNAVAILABLE"):
            c.invoke("get", ["k"], transaction_id="t", get_state=dict().get, timeout=2)
        with pytest.raises(ProxyUnavailable):
            c.health(timeout=1)


def test_legacy_mode_needs_put_state(client) -> None:
    with pytest.raises(ValueError, match="put_state"):
        client.invoke("get", ["k"], get_state=dict().get)


def test_client_deadline_ends_the_transaction_and_the_ta_invocation_is_aborted(
    proxy, backend, client
) -> None:
    release = threading.Event()

    def ledger_too_slow(key: str) -> bytes | None:
        release.wait(1.0)  # longer than the deadline below
        return b"v"

    with pytest.raises(ProxyUnavailable, match="DEADLINE_EXCEEDED"):
        client.invoke("get", ["k"], transaction_id="t", get_state=ledger_too_slow, timeout=0.2)
    for _ in range(500):
        if backend.aborts:
            break
        threading.Event().wait(0.01)
    assert backend.aborts == 1
    h = client.health()
    assert (h.sessions_open, h.sessions_opened_total) == (2, 2)
    assert client.invoke("get", ["k"], transaction_id="t2", get_state=dict().get).ok


def test_a_second_proxy_on_a_taken_address_fails_with_a_clear_error(proxy, backend, client) -> None:
    """Issue 8, kind 7: no SO_REUSEPORT, and the TA is never touched by the refused server."""
    opened = backend.opened
    second = ProxyServer(ProxyConfig(listen=proxy.address, tee="native", pool_size=2), backend)
    with pytest.raises(ListenError) as caught:
        second.start()
    assert f"cannot listen on {proxy.address!r}" in caught.value.message and "in use" in caught.value.message
    assert caught.value.exit_code == 1
    assert backend.opened == opened  # bound first: no session opened for a server that cannot serve
    assert client.invoke("get", ["k"], transaction_id="t", get_state=dict().get).ok
