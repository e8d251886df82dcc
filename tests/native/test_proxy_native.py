"""foc-proxy end to end on 127.0.0.1 over the host-native trusted core (NOT a TEE).

The real coffee chaincode and trusted core (libfoc_core.so) behind the real pool, server and
ProxyClient; the ledger is a dict that applies each write batch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from foc.protocol import invocation_pb2 as pb
from foc.protocol import invocation_pb2_grpc as pb_grpc
from foc.protocol.result import InvocationResult
from foc.proxy.client import ProxyClient
from foc.proxy.config import ProxyConfig
from foc.proxy.server import ProxyServer
from foc.tee import abi
from foc.tee.native import NativeBackend

pytestmark = pytest.mark.native


@pytest.fixture(scope="session")
def native_lib():
    from foc.deploy.native_build import build_native_core

    return build_native_core()


@pytest.fixture
def proxy(native_lib) -> Iterator[ProxyServer]:
    server = ProxyServer(
        ProxyConfig(listen="127.0.0.1:0", tee="native", pool_size=4), NativeBackend(native_lib)
    )
    server.start()
    yield server
    server.stop(grace=0.5)


@pytest.fixture
def client(proxy) -> Iterator[ProxyClient]:
    with ProxyClient(proxy.address, default_timeout=30) as c:
        yield c


class Ledger:
    """World state: answers GetState and applies write batches (thread-safe)."""

    def __init__(self) -> None:
        self.state: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self.lock:
            return self.state.get(key)

    def apply(self, result: InvocationResult) -> InvocationResult:
        with self.lock:
            for w in result.writes:
                if w.is_delete:
                    self.state.pop(w.key, None)
                else:
                    self.state[w.key] = w.value
        return result

    def run(self, client: ProxyClient, fn: str, *args: str | bytes, txid: str = "tx") -> InvocationResult:
        return self.apply(client.invoke(fn, list(args), transaction_id=txid, get_state=self.get))


def test_coffee_create_add_query(client) -> None:
    ledger = Ledger()
    r = ledger.run(client, "create", "peter", "2")
    assert r.ok and r.payload == b"OK" and r.reads == ("peter",)
    assert ledger.state == {"peter": b"2"}
    assert ledger.run(client, "add", "peter", "40").ok
    q = ledger.run(client, "query", "peter")
    assert q.ok and q.payload == b"person: peter, number of consumed coffees: 42" and q.writes == ()


@pytest.mark.parametrize(
    "setup, call, code",
    [
        ([("create", "peter", "1")], ("create", "peter", "1"), "EXISTS"),
        ([], ("add", "nobody", "1"), "NOT_FOUND"),
        ([], ("query", "nobody"), "NOT_FOUND"),
        ([], ("create", "peter", "abc"), "BAD_ARGUMENT"),
        ([], ("create", "peter"), "ARG_COUNT"),
        ([], ("brew", "peter"), "UNKNOWN_FUNCTION"),
        ([("create", "peter", "18446744073709551615")], ("add", "peter", "1"), "OVERFLOW"),
    ],
)
def test_chaincode_errors_arrive_with_code_and_message(client, setup, call, code) -> None:
    ledger = Ledger()
    for s in setup:
        assert ledger.run(client, *s).ok
    before = dict(ledger.state)
    r = ledger.run(client, *call)
    assert not r.ok and r.status == 500
    assert r.error.code == code and r.error.message, r.error
    assert r.writes == () and ledger.state == before


def test_key_at_the_limit_works_and_beyond_is_refused(client) -> None:
    ledger = Ledger()
    longest = "k" * abi.FOC_MAX_KEY
    assert ledger.run(client, "create", longest, "1").ok
    assert ledger.run(client, "query", longest).ok
    r = ledger.run(client, "create", longest + "k", "1")
    assert r.error.code == "LIMIT" and str(abi.FOC_MAX_KEY) in r.error.message


def test_value_and_argument_limits(client) -> None:
    ledger = Ledger()
    # a stored value at the limit reaches the TA (which finds it is not a count)
    ledger.state["peter"] = b"1" * abi.FOC_MAX_VALUE
    assert ledger.run(client, "query", "peter").error.code in ("INCONSISTENT", "OVERFLOW")
    # beyond the limit the proxy refuses the wrapper's answer
    ledger.state["peter"] = b"1" * (abi.FOC_MAX_VALUE + 1)
    r = ledger.run(client, "query", "peter")
    assert r.error.code == "LIMIT"
    # an argument at the limit reaches the chaincode; beyond it the proxy refuses the request
    assert ledger.run(client, "create", "anna", "9" * abi.FOC_MAX_VALUE).error.code == "OVERFLOW"
    r = ledger.run(client, "create", "anna", "9" * (abi.FOC_MAX_VALUE + 1))
    assert r.error.code == "LIMIT" and "limit" in r.error.message
    assert client.health().sessions_open == 4


def test_16_concurrent_transactions_on_one_client_pool_of_4(client) -> None:
    ledger = Ledger()
    with ThreadPoolExecutor(16) as ex:
        results = list(
            ex.map(lambda i: ledger.run(client, "create", f"p{i}", str(i), txid=f"t{i}"), range(16))
        )
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert ledger.state == {f"p{i}": str(i).encode() for i in range(16)}
    with ThreadPoolExecutor(16) as ex:
        queries = list(ex.map(lambda i: ledger.run(client, "query", f"p{i}"), range(16)))
    assert [q.payload for q in queries] == [
        f"person: p{i}, number of consumed coffees: {i}".encode() for i in range(16)
    ]


def test_no_session_is_opened_per_transaction(client) -> None:
    ledger = Ledger()
    assert ledger.run(client, "create", "peter", "0").ok
    for i in range(49):
        assert ledger.run(client, "add", "peter", "1", txid=f"t{i}").ok
    h = client.health()
    assert h.transactions_total == 50
    assert h.sessions_opened_total == 4, "the pool must not open a session per transaction"
    assert h.sessions_open == 4 and h.tee == "native" and h.ta_abi_version == abi.FOC_ABI_VERSION
    assert ledger.state["peter"] == b"49"


def test_ta_panic_fails_the_in_flight_transaction_and_the_proxy_recovers(proxy, client) -> None:
    ledger = Ledger()
    assert ledger.run(client, "create", "peter", "1").ok
    asked, go_on = threading.Event(), threading.Event()

    def slow_get(key: str) -> bytes | None:
        asked.set()
        assert go_on.wait(10)
        return ledger.get(key)

    box: dict = {}
    worker = threading.Thread(
        target=lambda: box.update(
            r=client.invoke("add", ["peter", "1"], transaction_id="t", get_state=slow_get)
        )
    )
    worker.start()
    assert asked.wait(10)
    proxy.pool.crash_ta_for_test()  # FOC_CMD_PANIC on another pool session kills the instance
    go_on.set()
    worker.join(10)
    err = box["r"].error
    assert err.code == "TA_CRASHED"
    assert "TEE_ERROR_TARGET_DEAD" in err.message and "retry" in err.message
    assert box["r"].writes == ()
    # the proxy reopened the instance: the next transaction succeeds
    assert ledger.run(client, "add", "peter", "1").ok
    assert ledger.run(client, "query", "peter").payload.endswith(b": 2")
    h = client.health()
    assert h.ta_restarts_total == 1 and h.sessions_open == 4 and h.sessions_opened_total == 8


def test_wrong_message_type_mid_stream_is_a_protocol_error(proxy, client) -> None:
    outbox: queue.SimpleQueue = queue.SimpleQueue()
    channel = grpc.insecure_channel(proxy.address)
    call = pb_grpc.InvocationStub(channel).TransactionInvocation(iter(outbox.get, None), timeout=10)
    outbox.put(
        pb.ChaincodeWrapperMessage(
            invocation_request=pb.InvocationRequest(
                function_name="query", arguments=["peter"], transaction_id="t"
            )
        )
    )
    assert next(call).get_state_request.key == "peter"
    outbox.put(pb.ChaincodeWrapperMessage(invocation_request=pb.InvocationRequest(function_name="query")))
    resp = next(call).invocation_response
    assert resp.error.code == pb.PROTOCOL and "get_state_response" in resp.error.message
    outbox.put(None)
    channel.close()
    assert Ledger().run(client, "query", "x").error.code == "NOT_FOUND"  # still serving


def test_malformed_body_and_tcp_garbage_leave_the_proxy_serving(proxy, client) -> None:
    import socket

    host, port = proxy.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00" + bytes(500))  # a TLS hello to a plaintext port
    channel = grpc.insecure_channel(proxy.address)
    raw = channel.stream_stream("/invocation.Invocation/TransactionInvocation", lambda b: b, lambda b: b)
    with pytest.raises(grpc.RpcError):
        list(raw(iter([b"\x0a\x05\xff\xff"]), timeout=5))  # truncated nested message
    channel.close()
    assert Ledger().run(client, "create", "peter", "1").ok


def test_legacy_foc_transaction_with_put_state_round_trips(client) -> None:
    world: dict[str, bytes] = {}
    puts: list[tuple[str, bytes]] = []

    def put(key: str, value: bytes) -> None:
        puts.append((key, value))
        world[key] = value

    r = client.invoke("create", ["peter", "0"], get_state=world.get, put_state=put)
    assert r.ok and r.payload == b"OK" and puts == [("peter", b"0")]
    r = client.invoke("add", ["peter", "3"], get_state=world.get, put_state=put)
    assert r.ok and world == {"peter": b"3"}
    r = client.invoke("query", ["peter"], get_state=world.get, put_state=put)
    assert r.payload == b"person: peter, number of consumed coffees: 3"
    r = client.invoke("create", ["peter", "0"], get_state=world.get, put_state=put)
    assert r.error.code == "EXISTS" and len(puts) == 2


def test_pool_size_transactions_are_in_flight_at_once_on_one_channel(client) -> None:
    """Four streams wait inside GetState together: four sessions serve one channel concurrently."""
    ledger = Ledger()
    for i in range(4):
        assert ledger.run(client, "create", f"c{i}", str(i)).ok
    all_in_flight = threading.Barrier(4, timeout=20)

    def get_when_all_are_waiting(key: str) -> bytes | None:
        all_in_flight.wait()  # raises BrokenBarrierError if the proxy serialised them
        return ledger.get(key)

    with ThreadPoolExecutor(4) as ex:
        results = list(
            ex.map(
                lambda i: client.invoke(
                    "query", [f"c{i}"], transaction_id=f"q{i}", get_state=get_when_all_are_waiting
                ),
                range(4),
            )
        )
    assert [r.payload for r in results] == [
        f"person: c{i}, number of consumed coffees: {i}".encode() for i in range(4)
    ]
