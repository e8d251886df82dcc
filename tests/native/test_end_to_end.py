"""End to end on the host: FocWrapper + dev ledger + a real `python -m foc.proxy --tee native`.

The proxy runs the same trusted core and coffee chaincode as the TA (built natively), so these
tests exercise the whole data path except OP-TEE itself: wrapper -> gRPC -> proxy -> core.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from foc.cli import main as cli
from foc.cli.local_proxy import LocalProxy
from foc.errors import MvccConflict, ProxyUnavailable
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.wrapper.chaincode import FocWrapper, error_from_response
from foc.wrapper.config import WrapperConfig
from foc.wrapper.stub import ChaincodeStub, Response

pytestmark = pytest.mark.native

MAX_ARGS, MAX_FUNCTION, MAX_KEY, MAX_VALUE = 16, 64, 256, 65536  # ta/include/foc_ta.h


@pytest.fixture(scope="module")
def proxy() -> Iterator[LocalProxy]:
    with LocalProxy("native", pool=4) as running:
        yield running


@pytest.fixture(scope="module")
def wrapper(proxy: LocalProxy) -> Iterator[FocWrapper]:
    w = FocWrapper(WrapperConfig(proxy.address, timeout_s=60.0))
    yield w
    w.close()


@pytest.fixture
def peer(tmp_path: Path, wrapper: FocWrapper) -> Iterator[DevPeer]:
    with DevLedger(tmp_path / "ledger.sqlite") as ledger:
        yield DevPeer(ledger, {"foc": wrapper})


def expect_error(peer: DevPeer, args: Sequence[str], code: str) -> str:
    height, dump = peer.ledger.height, peer.ledger.state_dump()
    result = peer.invoke("foc", list(args))
    assert result.response.status == 500, result.response
    assert result.response.message.startswith(f"{code}: "), result.response.message
    assert not result.committed
    assert peer.ledger.height == height and peer.ledger.state_dump() == dump
    return result.response.message


def test_coffee_scenario_and_error_cases(peer: DevPeer) -> None:
    assert peer.invoke("foc", ["create", "alice", "0"]).response == Response(200, "", b"OK")
    assert peer.invoke("foc", ["add", "alice", "3"]).response.payload == b"OK"
    query = peer.query("foc", ["query", "alice"])
    assert query.response.payload == b"person: alice, number of consumed coffees: 3"
    assert not query.committed
    assert "alice" not in expect_error(peer, ["create", "alice", "1"], "EXISTS")
    expect_error(peer, ["add", "bob", "1"], "NOT_FOUND")
    expect_error(peer, ["query", "bob"], "NOT_FOUND")
    expect_error(peer, ["drink", "alice"], "UNKNOWN_FUNCTION")
    expect_error(peer, ["add", "alice"], "ARG_COUNT")
    expect_error(peer, ["add", "alice", "-5"], "BAD_ARGUMENT")
    expect_error(peer, ["create", "", "1"], "BAD_ARGUMENT")
    assert peer.ledger.read("foc", "alice")[0] == b"3"  # type: ignore[index]
    assert peer.ledger.height == 3 and peer.ledger.verify().ok


def test_count_overflow_is_refused(peer: DevPeer) -> None:
    assert peer.invoke("foc", ["create", "max", str(2**64 - 1)]).committed
    expect_error(peer, ["add", "max", "1"], "OVERFLOW")


@pytest.mark.parametrize(
    ("args", "outcome"),
    [
        (["create", "k" * MAX_KEY, "1"], "OK"),
        (["create", "k" * (MAX_KEY + 1), "1"], "LIMIT"),
        (["create", "a"] + ["1"] * (MAX_ARGS - 2), "ARG_COUNT"),  # 16 in all: reaches the chaincode
        (["create", "a"] + ["1"] * (MAX_ARGS - 1), "LIMIT"),  # 17
        (["f" * MAX_FUNCTION], "UNKNOWN_FUNCTION"),
        (["f" * (MAX_FUNCTION + 1)], "LIMIT"),
        (["create", "b", "1" * MAX_VALUE], "OVERFLOW"),  # the argument fits; the number does not
        (["create", "b", "1" * (MAX_VALUE + 1)], "LIMIT"),
        (["create", "b", "1" * MAX_VALUE, "2" * MAX_VALUE, "3"], "LIMIT"),  # > FOC_MAX_REQUEST in all
    ],
    ids=[
        "key-max",
        "key-over",
        "args-max",
        "args-over",
        "fn-max",
        "fn-over",
        "arg-max",
        "arg-over",
        "req-over",
    ],
)
def test_limits(peer: DevPeer, args: list[str], outcome: str) -> None:
    if outcome == "OK":
        result = peer.invoke("foc", args)
        assert result.response.payload == b"OK" and result.committed
        assert peer.ledger.read("foc", args[1])[0] == b"1"  # type: ignore[index]
    else:
        message = expect_error(peer, args, outcome)
        assert len(message) < 200  # the error names the limit, it does not echo the argument


def test_concurrent_invocations_distinct_keys_all_commit(peer: DevPeer) -> None:
    names = [f"p{i}" for i in range(8)]
    results: dict[str, int] = {}

    def create(name: str) -> None:
        results[name] = peer.invoke("foc", ["create", name, "7"]).response.status

    threads = [threading.Thread(target=create, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {n: 200 for n in names}
    assert peer.ledger.height == 9 and peer.ledger.verify().ok
    assert all(peer.ledger.read("foc", n)[0] == b"7" for n in names)  # type: ignore[index]


class _ReadBarrierStub:
    """Delegates to the real stub; after each read waits until every participant has read too."""

    def __init__(self, inner: ChaincodeStub, barrier: threading.Barrier) -> None:
        self._inner, self._barrier = inner, barrier

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    @property
    def tx_id(self) -> str:
        return self._inner.tx_id

    @property
    def channel_id(self) -> str:
        return self._inner.channel_id

    def get_state(self, key: str) -> bytes | None:
        value = self._inner.get_state(key)
        self._barrier.wait(timeout=60)
        return value


class _Interposed:
    """A chaincode that runs `wrapper` on a stub wrapped by `make_stub`."""

    def __init__(self, wrapper: FocWrapper, make_stub) -> None:  # type: ignore[no-untyped-def]
        self._wrapper, self._make_stub = wrapper, make_stub

    def init(self, stub: ChaincodeStub) -> Response:
        return Response.success()

    def invoke(self, stub: ChaincodeStub) -> Response:
        return self._wrapper.invoke(self._make_stub(stub))


def test_concurrent_invocations_same_key_mvcc(peer: DevPeer, wrapper: FocWrapper) -> None:
    peer.invoke("foc", ["create", "shared", "10"])
    for i in range(3):
        peer.invoke("foc", ["create", f"d{i}", "0"])
    height = peer.ledger.height
    same = 3  # <= the proxy's pool: each holds a TA session while it waits at the barrier
    barrier = threading.Barrier(same)
    racing = DevPeer(peer.ledger, {"foc": _Interposed(wrapper, lambda s: _ReadBarrierStub(s, barrier))})
    outcomes: dict[str, object] = {}

    def add(name: str, via: DevPeer, key: str) -> None:
        try:
            outcomes[name] = via.invoke("foc", ["add", key, "1"]).response.status
        except MvccConflict as exc:
            outcomes[name] = exc

    jobs = [(f"same{i}", racing, "shared") for i in range(same)]
    jobs += [(f"dist{i}", peer, f"d{i}") for i in range(3)]
    threads = [threading.Thread(target=add, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [outcomes[f"dist{i}"] for i in range(3)] == [200, 200, 200]
    racers = [outcomes[f"same{i}"] for i in range(same)]
    assert racers.count(200) == 1
    conflicts = [r for r in racers if isinstance(r, MvccConflict)]
    assert len(conflicts) == same - 1
    assert all("changed before commit" in str(c) and "nothing was written" in str(c) for c in conflicts)
    # Final state = the committed transactions only.
    assert peer.ledger.read("foc", "shared")[0] == b"11"  # type: ignore[index]
    assert peer.ledger.height == height + 4 and peer.ledger.verify().ok
    assert peer.query("foc", ["query", "shared"]).response.payload.endswith(b": 11")


class _KillingStub(_ReadBarrierStub):
    """SIGKILLs the proxy while it waits for this GetState answer."""

    def __init__(self, inner: ChaincodeStub, proxy: LocalProxy) -> None:
        self._inner, self._proxy = inner, proxy

    def get_state(self, key: str) -> bytes | None:
        self._proxy.kill()
        return self._inner.get_state(key)


def test_proxy_killed_mid_transaction(tmp_path: Path) -> None:
    own = LocalProxy("native", pool=2).start()
    wrapper = FocWrapper(WrapperConfig(own.address, timeout_s=60.0))  # ONE long-lived client
    try:
        with DevLedger(tmp_path / "kill.sqlite") as ledger:
            peer = DevPeer(ledger, {"foc": wrapper})
            assert peer.invoke("foc", ["create", "alice", "1"]).committed
            dump, height = ledger.state_dump(), ledger.height

            killer = DevPeer(ledger, {"foc": _Interposed(wrapper, lambda s: _KillingStub(s, own))})
            result = killer.invoke("foc", ["add", "alice", "5"])
            assert own.pid is None  # it really died
            assert result.response.status == 500 and not result.committed
            assert isinstance(error_from_response(result.response), ProxyUnavailable)
            assert ledger.state_dump() == dump and ledger.height == height and ledger.verify().ok

            own.start()  # same port
            after = peer.invoke("foc", ["add", "alice", "5"])
            assert after.committed, after.response
            assert ledger.read("foc", "alice")[0] == b"6"  # type: ignore[index]
            assert ledger.height == height + 1 and ledger.verify().ok
    finally:
        wrapper.close()
        own.stop()


# -- the CLI against the native proxy --------------------------------------------------------


def _foc(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "foc.cli.main", *args],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=120,
    )


def test_cli_invoke_query_and_errors(proxy: LocalProxy, tmp_path: Path) -> None:
    env = {**os.environ, "FOC_PROXY_ADDRESS": proxy.address, "FOC_LEDGER": str(tmp_path / "cli.sqlite")}
    ok = _foc(env, "invoke", "create", "carol", "2")
    assert (ok.returncode, ok.stdout) == (0, "OK\n") and "block 1" in ok.stderr
    q = _foc(env, "query", "query", "carol")
    assert q.returncode == 0 and q.stdout == "person: carol, number of consumed coffees: 2\n"
    exists = _foc(env, "invoke", "create", "carol", "1")
    assert exists.returncode == 9 and exists.stdout == ""
    assert exists.stderr.strip().splitlines() == ["foc: error: EXISTS: person already exists"]
    missing = _foc(env, "invoke", "add", "dave", "1")
    assert missing.returncode == 9 and "NOT_FOUND" in missing.stderr
    verify = _foc(env, "ledger", "verify")
    assert verify.returncode == 0 and "2 blocks, 1 transactions" in verify.stdout
    down = _foc({**env, "FOC_PROXY_ADDRESS": "127.0.0.1:1"}, "invoke", "add", "carol", "1")
    assert down.returncode == 8 and len(down.stderr.strip().splitlines()) == 1


def test_demo_native(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    rc = cli.main(["demo", "--tee", "native", "--ledger", str(tmp_path / "demo.sqlite")], out=out, err=err)
    text = out.getvalue()
    assert rc == 0, text + err.getvalue()
    assert "summary: 5/5 steps behaved as expected" in text
    assert "EXISTS: person already exists" in text and "NOT_FOUND: person not found" in text
    assert "person: alice, number of consumed coffees: 3" in text
    assert "hash chain and world state: verified" in text
    with DevLedger(tmp_path / "demo.sqlite") as ledger:
        assert ledger.height == 3
