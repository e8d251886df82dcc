"""FocWrapper against a fake proxy client, on the in-memory stub and on the dev ledger."""

from __future__ import annotations

import sys
import threading
import uuid
from pathlib import Path

import pytest

from foc.chaincode.memory import MemoryStub
from foc.chaincode.stub import ChaincodeStub, Response
from foc.errors import ChaincodeError, ConfigError, MvccConflict, ProxyUnavailable, UsageError
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.protocol.result import InvocationResult, StateWrite
from foc.wrapper.config import FOC_TA_UUID, WrapperConfig
from foc.wrapper.plaintext import FocWrapper, error_from_response

sys.path.insert(0, str(Path(__file__).parent))
from fake_proxy import FakeProxyClient  # noqa: E402

CONFIG = WrapperConfig(proxy_address="127.0.0.1:1", timeout_s=7.0)


@pytest.fixture
def proxy() -> FakeProxyClient:
    return FakeProxyClient()


@pytest.fixture
def wrapper(proxy: FakeProxyClient) -> FocWrapper:
    return FocWrapper(CONFIG, client=proxy)


def run(wrapper: FocWrapper, state: dict[str, bytes], *args: str) -> Response:
    stub = MemoryStub(list(args), state=state, tx_id="tx-1", channel_id="ch")
    response = wrapper.invoke(stub)
    if response.endorsed:
        stub.commit()
    return response


def test_memory_stub_is_a_chaincode_stub() -> None:
    assert isinstance(MemoryStub(["f"]), ChaincodeStub)


def test_coffee_scenario_keeps_focs_payloads(wrapper: FocWrapper, proxy: FakeProxyClient) -> None:
    state: dict[str, bytes] = {}
    assert run(wrapper, state, "create", "alice", "0") == Response(200, "", b"OK")
    assert run(wrapper, state, "add", "alice", "3") == Response(200, "", b"OK")
    assert state == {"alice": b"3"}
    query = run(wrapper, state, "query", "alice")
    assert query.payload == b"person: alice, number of consumed coffees: 3"
    call = proxy.calls[0]
    assert call["function"] == "create" and call["args"] == [b"alice", b"0"]
    assert call["tx_id"] == "tx-1" and call["channel_id"] == "ch"
    assert call["uuid"] == FOC_TA_UUID.bytes and call["timeout"] == 7.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "alice", "1"), "EXISTS: the person already exists"),
        (("add", "bob", "1"), "NOT_FOUND: the person does not exist"),
        (("query", "bob"), "NOT_FOUND: the person does not exist"),
        (("drink", "alice"), "UNKNOWN_FUNCTION: unknown function"),
        (("add", "alice"), "ARG_COUNT: add takes 2 argument(s)"),
        (("add", "alice", "x"), "BAD_ARGUMENT: the number must be a decimal integer"),
    ],
)
def test_structured_errors_become_status_500(
    wrapper: FocWrapper, args: tuple[str, ...], message: str
) -> None:
    state = {"alice": b"3"}
    response = run(wrapper, state, *args)
    assert response == Response(500, message, b"")
    assert state == {"alice": b"3"}  # nothing written
    error = error_from_response(response)
    assert isinstance(error, ChaincodeError) and error.code == message.split(":")[0]
    assert error.exit_code == 9


def test_delete_in_write_batch_uses_del_state(wrapper: FocWrapper) -> None:
    state = {"alice": b"3"}
    assert run(wrapper, state, "remove", "alice").status == 200
    assert state == {}


def test_proxy_down_is_proxy_unavailable(wrapper: FocWrapper, proxy: FakeProxyClient) -> None:
    proxy.down = True
    response = run(wrapper, {}, "create", "alice", "0")
    assert response.status == 500 and response.message.startswith("PROXY_UNAVAILABLE: ")
    assert isinstance(error_from_response(response), ProxyUnavailable)


def test_chaincode_error_raised_by_client_is_mapped(proxy: FakeProxyClient) -> None:
    class Raising(FakeProxyClient):
        def invoke(self, *a, **kw):  # type: ignore[no-untyped-def]
            raise ChaincodeError("TA_CRASHED", "the TA panicked; the proxy reopened its session")

    response = FocWrapper(CONFIG, client=Raising()).invoke(MemoryStub(["query", "a"]))
    assert response.message == "TA_CRASHED: the TA panicked; the proxy reopened its session"


def test_invalid_write_from_proxy_writes_nothing() -> None:
    class BadBatch(FakeProxyClient):
        def invoke(self, *a, **kw):  # type: ignore[no-untyped-def]
            return InvocationResult(200, b"OK", writes=(StateWrite("good", b"1"), StateWrite("", b"2")))

    stub = MemoryStub(["create", "a", "1"])
    response = FocWrapper(CONFIG, client=BadBatch()).invoke(stub)
    assert response.status == 500 and response.message.startswith("PROTOCOL: ")
    assert stub.writes == {}


def test_empty_and_non_utf8_invocations_are_refused(wrapper: FocWrapper, proxy: FakeProxyClient) -> None:
    assert wrapper.invoke(MemoryStub([])).message.startswith("INVALID_INVOCATION: ")
    bad = wrapper.invoke(MemoryStub([b"\xff\xfe"]))
    assert bad.status == 500 and bad.message.startswith("INVALID_INVOCATION: ")
    assert isinstance(error_from_response(bad), UsageError)
    assert proxy.calls == []


def test_setup_is_accepted_for_compatibility_not_required(
    wrapper: FocWrapper, proxy: FakeProxyClient
) -> None:
    other = uuid.uuid4()
    assert run(wrapper, {}, "setup", other.hex) == Response(200, "", b"OK")
    run(wrapper, {}, "create", "a", "1")
    assert proxy.calls[-1]["uuid"] == other.bytes
    bad = run(wrapper, {}, "setup", "not-a-uuid")
    assert bad.status == 500 and "INVALID_INVOCATION" in bad.message
    assert run(wrapper, {}, "setup").status == 500


def test_client_created_once_from_config_and_closed() -> None:
    made: list[WrapperConfig] = []
    client = FakeProxyClient()

    def factory(cfg: WrapperConfig) -> FakeProxyClient:
        made.append(cfg)
        return client

    wrapper = FocWrapper(CONFIG, client_factory=factory)
    for _ in range(3):
        run(wrapper, {}, "query", "x")
    assert made == [CONFIG] and len(client.calls) == 3
    wrapper.close()
    assert client.closed


def test_missing_proxy_address_is_a_config_error_response(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("FOC_PROXY_ADDRESS", raising=False)
    monkeypatch.setenv("FOC_CONFIG", str(tmp_path / "none.toml"))
    response = FocWrapper(client_factory=lambda cfg: FakeProxyClient()).invoke(MemoryStub(["query", "a"]))
    assert response.status == 500 and response.message.startswith("CONFIG: no proxy address")
    assert isinstance(error_from_response(response), ConfigError)


def test_unstructured_message_maps_to_internal() -> None:
    err = error_from_response(Response(500, "something odd"))
    assert isinstance(err, ChaincodeError) and err.code == "INTERNAL"


def test_logs_carry_no_arguments_or_values(wrapper: FocWrapper, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    state: dict[str, bytes] = {}
    run(wrapper, state, "create", "secretperson", "987654")
    run(wrapper, state, "query", "secretperson")
    assert caplog.records
    assert "secretperson" not in caplog.text and "987654" not in caplog.text


# -- on the dev ledger ------------------------------------------------------------------


@pytest.fixture
def peer(tmp_path: Path, wrapper: FocWrapper):
    with DevLedger(tmp_path / "dev.sqlite") as ledger:
        yield DevPeer(ledger, {"foc": wrapper})


def test_dev_ledger_commits_wrapper_writes(peer: DevPeer) -> None:
    assert peer.invoke("foc", ["create", "alice", "0"]).committed
    assert peer.invoke("foc", ["add", "alice", "3"]).block.number == 2  # type: ignore[union-attr]
    failed = peer.invoke("foc", ["add", "bob", "1"])
    assert not failed.committed and failed.response.message.startswith("NOT_FOUND")
    assert peer.ledger.read("foc", "alice")[0] == b"3"  # type: ignore[index]
    assert peer.ledger.height == 3 and peer.ledger.verify().ok


def test_concurrent_invocations_distinct_and_same_keys(peer: DevPeer, proxy: FakeProxyClient) -> None:
    peer.invoke("foc", ["create", "shared", "0"])
    for i in range(4):
        peer.invoke("foc", ["create", f"p{i}", "0"])
    height = peer.ledger.height
    n_same = 4
    barrier = threading.Barrier(4 + n_same)
    results: dict[str, object] = {}
    lock = threading.Lock()

    class Synchronised(FakeProxyClient):
        def invoke(self, function, args, *, get_state, **kw):  # type: ignore[no-untyped-def]
            def read_then_wait(key: str) -> bytes | None:
                value = get_state(key)
                barrier.wait(timeout=30)
                return value

            return super().invoke(function, args, get_state=read_then_wait, **kw)

    wrapper = FocWrapper(CONFIG, client=Synchronised())
    dev = DevPeer(peer.ledger, {"foc": wrapper})

    def run_one(name: str, key: str) -> None:
        try:
            outcome: object = dev.invoke("foc", ["add", key, "1"]).response.status
        except MvccConflict as exc:
            outcome = exc
        with lock:
            results[name] = outcome

    jobs = [(f"d{i}", f"p{i}") for i in range(4)] + [(f"s{i}", "shared") for i in range(n_same)]
    threads = [threading.Thread(target=run_one, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[f"d{i}"] == 200 for i in range(4))
    same = [results[f"s{i}"] for i in range(n_same)]
    winners = [r for r in same if r == 200]
    conflicts = [r for r in same if isinstance(r, MvccConflict)]
    assert len(winners) == 1 and len(conflicts) == n_same - 1
    assert all("nothing was written" in str(c) for c in conflicts)
    assert peer.ledger.read("foc", "shared")[0] == b"1"  # type: ignore[index]
    assert all(peer.ledger.read("foc", f"p{i}")[0] == b"1" for i in range(4))  # type: ignore[index]
    assert peer.ledger.height == height + 5 and peer.ledger.verify().ok


def test_proxy_dying_mid_transaction_commits_nothing(peer: DevPeer, proxy: FakeProxyClient) -> None:
    peer.invoke("foc", ["create", "alice", "1"])
    dump, height = peer.ledger.state_dump(), peer.ledger.height

    def die(key: str) -> None:
        proxy.before_get_state = None
        raise ProxyUnavailable("the proxy dropped the transaction stream")

    proxy.before_get_state = die
    result = peer.invoke("foc", ["add", "alice", "5"])
    assert not result.committed
    assert isinstance(error_from_response(result.response), ProxyUnavailable)
    assert peer.ledger.state_dump() == dump and peer.ledger.height == height
    assert peer.invoke("foc", ["add", "alice", "5"]).committed
    assert peer.ledger.read("foc", "alice")[0] == b"6"  # type: ignore[index]
