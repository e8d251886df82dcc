"""The invocation path on real OP-TEE: host FocWrapper + DevLedger -> hostfwd -> guest foc-proxy -> TA.

The same scenarios as the native tier (tests/scenarios.py) plus what only a real device shows:
the session counter under OP-TEE, a TA panic in the secure world, garbage on the guest's port, and
the guest proxy SIGKILLed in the middle of a transaction. Every test leaves the guest proxy serving
(counters are compared as deltas: the kill test restarts the proxy, which resets them).
Latencies are reported in the "qemu tier timings" summary, never asserted.
"""

from __future__ import annotations

import re
import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
import scenarios  # tests/scenarios.py: shared with tests/native/test_end_to_end.py

from foc.chaincode.stub import ChaincodeStub, Response
from foc.errors import ProxyUnavailable
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.protocol import invocation_pb2 as pb
from foc.proxy.client import ProxyClient
from foc.tee import abi
from foc.wrapper.config import WrapperConfig
from foc.wrapper.plaintext import FocWrapper, error_from_response

if TYPE_CHECKING:
    from conftest import Guest  # tests/qemu/conftest.py

TX_TIMEOUT_S = 120.0  # TCG on a shared 2-core host
POOL_SIZE = 4  # qemu/init starts the proxy with the default pool
# `grep` would match its own command line; the bracket keeps the pattern from matching itself.
FIND_PROXY_PIDS = "grep -l 'foc[.]proxy' /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3"


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(guest: Guest, request: pytest.FixtureRequest) -> Iterator[ProxyClient]:
    if guest.running.ready != "proxy ready":
        pytest.fail(f"the guest proxy is not serving: the target came up as {guest.running.ready!r}")
    with ProxyClient(guest.proxy_address, default_timeout=TX_TIMEOUT_S) as c:
        settle(c, request.config)
        yield c


def settle(client: ProxyClient, config: pytest.Config) -> None:
    """Start from a proxy whose sessions are alive.

    A test that panics the TA from its own guest session (as tests/qemu/test_confidential_ta.py does)
    leaves the proxy's pooled sessions dead without the proxy knowing; the product's promise is
    that the next transaction fails with TA_CRASHED and the pool reopens. Absorb that one, say so.
    """
    probe = client.invoke("query", ["settle"], transaction_id="settle", get_state=lambda key: None)
    if probe.error is not None and probe.error.code == "TA_CRASHED":
        report(config, "setup", "absorbed a TA_CRASHED left by an earlier test's TA panic")
        probe = client.invoke("query", ["settle"], transaction_id="settle", get_state=lambda key: None)
    assert probe.error is not None and probe.error.code == "NOT_FOUND", probe


@pytest.fixture(scope="module")
def wrapper(guest: Guest, client: ProxyClient) -> Iterator[FocWrapper]:
    w = FocWrapper(WrapperConfig(guest.proxy_address, timeout_s=TX_TIMEOUT_S))
    yield w
    w.close()


@pytest.fixture
def peer(tmp_path: Path, wrapper: FocWrapper) -> Iterator[DevPeer]:
    with DevLedger(tmp_path / "ledger.sqlite") as ledger:
        yield DevPeer(ledger, {"foc": wrapper})


def report(config: pytest.Config, scenario: str, text: str) -> None:
    """A latency line for the terminal summary (and -s output)."""
    line = f"invocation path on OP-TEE: {scenario}: {text}"
    print(line)
    getattr(config, "foc_qemu_report", []).append(line)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def spread(samples: list[float]) -> str:
    return (
        f"n={len(samples)} median {ms(statistics.median(samples))} "
        f"min {ms(min(samples))} max {ms(max(samples))}"
    )


def health(client: ProxyClient) -> pb.TaHealth:
    """The coffee TA's counters (the image's proxy also serves the auction TA, with its own pool)."""
    h = client.health(timeout=20.0)
    assert h.serving and h.tee == "optee", h
    (coffee,) = [ta for ta in h.tas if ta.is_default]
    assert coffee.name == "coffee" and coffee.uuid == abi.FOC_TA_UUID.bytes, h
    return coffee


def guest_proxy_pids(guest: Guest) -> list[int]:
    rc, out = guest.console.run(FIND_PROXY_PIDS, timeout=30)
    return [int(p) for p in out.split() if p.isdigit()]


def guest_proxy_command(guest: Guest, pid: int) -> str:
    """The running proxy's command line with its PYTHONPATH, exactly as qemu/init started it."""
    argv = guest.console.check(f"tr '\\0' ' ' < /proc/{pid}/cmdline", timeout=30).strip()
    assert "-m foc.proxy" in argv and "--tee optee" in argv, argv
    env = guest.console.check(f"tr '\\0' '\\n' < /proc/{pid}/environ | grep '^PYTHONPATH='", timeout=30)
    return f"{env.strip()} {argv}"


def start_guest_proxy(guest: Guest, command: str) -> None:
    """Start the proxy in the background as qemu/init does (own session, log appended)."""
    # In a subshell: Console.run appends "; echo <marker>", which cannot follow a bare "&".
    guest.console.check(
        f"(cd / && setsid env {command} >>/var/log/foc-proxy.log 2>&1 </dev/null &)", timeout=30
    )


def secure_world_log(guest: Guest) -> str:
    return (guest.running.logs / "secure-world.log").read_bytes().decode("utf-8", errors="replace")


# -- 1. coffee scenario and every error case -------------------------------------------------


def test_coffee_scenario_and_error_cases(peer: DevPeer, request: pytest.FixtureRequest) -> None:
    t0 = time.monotonic()
    scenarios.coffee_scenario_and_error_cases(peer)
    report(request.config, "coffee scenario (3 ok + 7 refused tx)", ms(time.monotonic() - t0))


def test_arguments_that_are_not_utf8_reach_the_ta_as_bytes(peer: DevPeer) -> None:
    """Issue 8, kind 2, through the guest's proxy to the TA on OP-TEE."""
    scenarios.arguments_that_are_not_utf8_reach_the_ta_as_bytes(peer)


def test_count_overflow_is_refused(peer: DevPeer) -> None:
    scenarios.count_overflow_is_refused(peer)


def test_error_messages_reach_the_client(peer: DevPeer) -> None:
    """Every chaincode refusal arrives as "<CODE>: <message>" and maps back to its typed error."""
    assert peer.invoke("foc", ["create", "carol", "1"]).committed
    cases = {
        "EXISTS": ["create", "carol", "1"],
        "NOT_FOUND": ["add", "nobody", "1"],
        "ARG_COUNT": ["create", "carol"],
        "BAD_ARGUMENT": ["create", "dave", "abc"],
        "UNKNOWN_FUNCTION": ["brew", "carol"],
    }
    for code, args in cases.items():
        message = scenarios.expect_error(peer, args, code)
        typed = error_from_response(Response.error(message))
        assert getattr(typed, "code", None) == code, (code, typed)
        assert str(typed).strip() and "carol" not in message.partition(": ")[2]


# -- 2. limits --------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "outcome"), scenarios.LIMIT_CASES, ids=scenarios.LIMIT_IDS)
def test_limits(peer: DevPeer, args: list[str], outcome: str) -> None:
    scenarios.check_limit(peer, args, outcome)


def test_value_at_the_limit_is_written_and_read_back(peer: DevPeer) -> None:
    scenarios.value_at_the_limit_is_written_and_read_back(peer)


def test_state_value_at_and_beyond_the_limit(peer: DevPeer) -> None:
    """64 KiB reaches the TA through OP-TEE shared memory; one byte more is refused before it."""
    scenarios.state_value_at_and_beyond_the_limit(peer)


# -- 3. concurrency ---------------------------------------------------------------------------


def test_concurrent_invocations_distinct_keys_all_commit(
    peer: DevPeer, request: pytest.FixtureRequest
) -> None:
    t0 = time.monotonic()
    scenarios.concurrent_invocations_distinct_keys_all_commit(peer, count=8)
    report(request.config, "8 concurrent creates, pool of 4", ms(time.monotonic() - t0))


def test_concurrent_invocations_same_key_mvcc(
    peer: DevPeer, wrapper: FocWrapper, request: pytest.FixtureRequest
) -> None:
    t0 = time.monotonic()
    scenarios.concurrent_invocations_same_key_mvcc(peer, wrapper, same=3)
    report(request.config, "MVCC race (4 setup + 3 racing + 3 distinct tx)", ms(time.monotonic() - t0))


# -- 4. no OpenSession per transaction --------------------------------------------------------


def test_no_session_is_opened_per_transaction(
    peer: DevPeer, client: ProxyClient, request: pytest.FixtureRequest
) -> None:
    before = health(client)
    assert before.sessions_open == POOL_SIZE
    latencies: list[float] = []
    for i in range(20):
        t0 = time.monotonic()
        result = peer.invoke("foc", ["create", "peter", "0"] if i == 0 else ["add", "peter", "1"])
        latencies.append(time.monotonic() - t0)
        assert result.committed, result.response
    after = health(client)
    assert after.transactions_total - before.transactions_total == 20
    assert after.sessions_opened_total == before.sessions_opened_total, (
        "the proxy opened TA sessions on the transaction path"
    )
    assert after.sessions_open == POOL_SIZE and after.ta_restarts_total == before.ta_restarts_total
    assert peer.ledger.read("foc", "peter")[0] == b"19"  # type: ignore[index]
    report(request.config, "sequential tx (1 GetState round trip each) incl. commit", spread(latencies))


# -- 5. a TA panic on real OP-TEE -------------------------------------------------------------

PANIC_SCRIPT = "\n".join(
    [
        "from foc.errors import TaCrashed",
        "from foc.tee import abi",
        "from foc.tee.libteec import LibteecBackend",
        "backend = LibteecBackend()",
        "session = backend.open_session()  # the TA is single-instance: this joins the proxy's instance",
        "try:",
        "    session.invoke(abi.FOC_CMD_PANIC)",
        "except TaCrashed as exc:",
        "    print('PANICKED', exc.message)",
        "else:",
        "    print('NO PANIC')",
        "session.close()",
        "backend.close()",
    ]
)


def test_ta_panic_fails_one_transaction_then_the_proxy_recovers(
    guest: Guest, peer: DevPeer, client: ProxyClient, request: pytest.FixtureRequest
) -> None:
    assert peer.invoke("foc", ["create", "erin", "1"]).committed
    before = health(client)
    secure_before = len(secure_world_log(guest))

    rc, out = guest.python(PANIC_SCRIPT)
    assert rc == 0 and "PANICKED" in out and "TEE_ERROR_TARGET_DEAD" in out, out

    # The proxy cannot know until a session reports TARGET_DEAD; foc/proxy/server.py promises that
    # transaction a TA_CRASHED error asking for a retry, and the pool reopens every session.
    t0 = time.monotonic()
    crashed = scenarios.expect_error(peer, ["add", "erin", "1"], "TA_CRASHED")
    t_crashed = time.monotonic() - t0
    assert "TEE_ERROR_TARGET_DEAD" in crashed and "retry" in crashed, crashed
    t0 = time.monotonic()
    assert peer.invoke("foc", ["add", "erin", "1"]).committed
    t_next = time.monotonic() - t0
    assert peer.query("foc", ["query", "erin"]).response.payload.endswith(b": 2")

    after = health(client)
    assert after.ta_restarts_total == before.ta_restarts_total + 1
    assert after.sessions_open == POOL_SIZE
    assert after.sessions_opened_total == before.sessions_opened_total + POOL_SIZE

    # OP-TEE reports the panic (with FOC_CMD_PANIC as the panic code) on the secure-world UART.
    deadline = time.monotonic() + 10
    while True:
        fresh = secure_world_log(guest)[secure_before:]
        if re.search(rf"TA panicked with code 0x0*{abi.FOC_CMD_PANIC:x}\b", fresh):
            break
        assert time.monotonic() < deadline, f"no TA panic in the secure-world log:\n{fresh[-2000:]}"
        time.sleep(0.5)
    report(
        request.config,
        "TA panic",
        f"failing tx {ms(t_crashed)} (TA_CRASHED), next tx {ms(t_next)} (reopened {POOL_SIZE} sessions)",
    )


# -- 6. garbage on the proxy port -------------------------------------------------------------


def test_garbage_and_undecodable_bodies_leave_the_proxy_serving(
    guest: Guest, peer: DevPeer, client: ProxyClient
) -> None:
    host, port = guest.proxy_address.rsplit(":", 1)
    tls_hello, http1 = b"\x16\x03\x01\x02\x00" + bytes(500), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    for junk in (tls_hello, http1, bytes(range(256))):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(junk)
            sock.settimeout(10)
            try:
                sock.recv(4096)  # whatever the proxy says (a GOAWAY or nothing), it must not crash
            except (TimeoutError, ConnectionError):
                pass
    channel = grpc.insecure_channel(guest.proxy_address)
    try:
        raw = channel.stream_stream("/invocation.Invocation/TransactionInvocation", lambda b: b, lambda b: b)
        with pytest.raises(grpc.RpcError) as caught:
            list(raw(iter([b"\x0a\x05\xff\xff"]), timeout=60))  # a truncated nested message
        assert caught.value.code() != grpc.StatusCode.OK
        unary = channel.unary_unary("/invocation.Invocation/Health", lambda b: b, lambda b: b)
        with pytest.raises(grpc.RpcError):
            unary(b"\xff\xff\xff", timeout=60)
    finally:
        channel.close()
    assert health(client).sessions_open == POOL_SIZE
    assert peer.invoke("foc", ["create", "frank", "1"]).committed


# -- 7. the proxy killed mid-transaction ------------------------------------------------------


class _KillingStub(scenarios.ReadBarrierStub):
    """SIGKILLs the guest proxy over the console while it waits for this GetState answer."""

    def __init__(self, inner: ChaincodeStub, guest: Guest) -> None:
        self._inner, self._guest = inner, guest
        self.killed: list[int] = []

    def get_state(self, key: str) -> bytes | None:
        pids = guest_proxy_pids(self._guest)
        assert len(pids) == 1, f"expected one proxy in the guest, found {pids}"
        self._guest.console.check(f"kill -9 {pids[0]}", timeout=30)
        self.killed = pids
        return self._inner.get_state(key)


@pytest.mark.usefixtures("client")  # settled: the pool's sessions are alive
def test_proxy_killed_mid_transaction(guest: Guest, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    pids = guest_proxy_pids(guest)
    assert len(pids) == 1, f"expected one proxy in the guest, found {pids}"
    command = guest_proxy_command(guest, pids[0])
    wrapper = FocWrapper(WrapperConfig(guest.proxy_address, timeout_s=TX_TIMEOUT_S))  # ONE client
    try:
        with DevLedger(tmp_path / "kill.sqlite") as ledger:
            peer = DevPeer(ledger, {"foc": wrapper})
            assert peer.invoke("foc", ["create", "alice", "1"]).committed
            dump, height = ledger.state_dump(), ledger.height

            stubs: list[_KillingStub] = []

            def killing(stub: ChaincodeStub) -> _KillingStub:
                stubs.append(_KillingStub(stub, guest))
                return stubs[-1]

            killer = DevPeer(ledger, {"foc": scenarios.Interposed(wrapper, killing)})
            t0 = time.monotonic()
            result = killer.invoke("foc", ["add", "alice", "5"])
            t_fail = time.monotonic() - t0
            assert stubs and stubs[0].killed == pids  # the kill happened inside the transaction
            assert guest_proxy_pids(guest) == []  # it really died
            assert result.response.status == 500 and not result.committed
            assert isinstance(error_from_response(result.response), ProxyUnavailable), result.response
            assert ledger.state_dump() == dump and ledger.height == height and ledger.verify().ok

            start_guest_proxy(guest, command)
            t_restart = guest.wait_for_proxy()
            t0 = time.monotonic()
            after = peer.invoke("foc", ["add", "alice", "5"])  # the same FocWrapper reconnects
            t_after = time.monotonic() - t0
            assert after.committed, after.response
            assert ledger.read("foc", "alice")[0] == b"6"  # type: ignore[index]
            assert ledger.height == height + 1 and ledger.verify().ok
        report(
            request.config,
            "proxy SIGKILL",
            f"failed tx {ms(t_fail)} (incl. the console kill), proxy restart to healthy "
            f"{t_restart:.1f} s, first tx after {ms(t_after)}",
        )
    finally:
        wrapper.close()
        if not guest_proxy_pids(guest):  # leave a serving proxy for the other tests
            start_guest_proxy(guest, command)
            guest.wait_for_proxy()


# -- 8. a legacy FOC transaction --------------------------------------------------------------


def test_legacy_foc_transaction_with_put_state_round_trips(
    client: ProxyClient, request: pytest.FixtureRequest
) -> None:
    world: dict[str, bytes] = {}
    puts: list[tuple[str, bytes]] = []

    def put(key: str, value: bytes) -> None:
        puts.append((key, value))
        world[key] = value

    t0 = time.monotonic()
    r = client.invoke("create", ["peter", "0"], get_state=world.get, put_state=put)  # no transaction id
    t_create = time.monotonic() - t0
    assert r.ok and r.payload == b"OK" and r.writes == () and puts == [("peter", b"0")]
    r = client.invoke("add", ["peter", "3"], get_state=world.get, put_state=put)
    assert r.ok and world == {"peter": b"3"} and len(puts) == 2
    r = client.invoke("query", ["peter"], get_state=world.get, put_state=put)
    assert r.payload == b"person: peter, number of consumed coffees: 3" and len(puts) == 2
    r = client.invoke("create", ["peter", "0"], get_state=world.get, put_state=put)
    assert not r.ok and r.error is not None
    assert r.error.code == "EXISTS" and r.error.message and len(puts) == 2
    assert world == {"peter": b"3"}
    report(request.config, "legacy create (GetState + PutState round trips)", ms(t_create))
