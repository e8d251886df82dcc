"""SessionPool: pre-opened sessions, checkout deadlines, crash recovery, counters."""

from __future__ import annotations

import threading

import pytest
from proxy_fakes import FakeTaBackend

from foc.errors import TaCrashed, TeeError
from foc.proxy.pool import PoolBusy, SessionPool
from foc.tee.invocation import NeedState, TaInvocation, run_invocation


def test_start_opens_exactly_size_sessions_and_transactions_reuse_them() -> None:
    backend = FakeTaBackend()
    pool = SessionPool(backend, 3)
    pool.start()
    assert backend.opened == 3
    store: dict[str, bytes] = {"k": b"v"}
    for _ in range(50):
        with pool.lease(1.0) as lease:
            result = run_invocation(lease.session, [b"get", b"k"], store.get)
            assert result.payload == b"v"
    c = pool.counters()
    assert (c.sessions_open, c.sessions_opened_total, c.transactions_total, c.ta_restarts_total) == (
        3,
        3,
        50,
        0,
    )
    assert backend.opened == 3


def test_checkout_waits_until_the_deadline_then_reports_busy() -> None:
    pool = SessionPool(FakeTaBackend(), 1)
    pool.start()
    held = pool.checkout(1.0)
    with pytest.raises(PoolBusy, match="busy"):
        pool.checkout(0.05)
    released = threading.Timer(0.05, pool.release, args=(held,))
    released.start()
    again = pool.checkout(5.0)  # gets the session once it is returned
    assert again.session is held.session
    pool.release(again)


def test_crash_reopens_the_instance_once_and_stale_leases_are_replaced() -> None:
    backend = FakeTaBackend()
    pool = SessionPool(backend, 3)
    pool.start()
    in_flight = pool.checkout(1.0)
    inv = TaInvocation(in_flight.session, [b"get", b"k"])
    assert isinstance(inv.start(), NeedState)

    pool.crash_ta_for_test()  # panics the instance through an idle session
    assert pool.counters().ta_restarts_total == 1

    with pytest.raises(TaCrashed):
        inv.answer(b"v")  # the in-flight transaction sees the dead TA
    pool.release(in_flight, crashed=True)

    c = pool.counters()
    assert c.ta_restarts_total == 1, "one crash is one restart, however many sessions notice it"
    assert c.sessions_open == 3
    assert c.sessions_opened_total == 6  # 3 at start + 3 for the new instance
    with pool.lease(1.0) as lease:
        assert run_invocation(lease.session, [b"get", b"k"], {"k": b"v"}.get).payload == b"v"
    assert backend.closed_sessions == 3  # every session of the dead instance was closed


def test_broken_session_is_replaced_without_counting_a_restart() -> None:
    backend = FakeTaBackend()
    pool = SessionPool(backend, 2)
    pool.start()
    with pytest.raises(RuntimeError), pool.lease(1.0):
        raise RuntimeError("stream broke")
    c = pool.counters()
    assert (c.sessions_open, c.sessions_opened_total, c.ta_restarts_total) == (2, 3, 0)


def test_failed_reopen_is_retried_lazily_on_checkout() -> None:
    backend = FakeTaBackend()
    pool = SessionPool(backend, 1)
    pool.start()
    backend.fail_open = True
    pool.crash_ta_for_test()
    assert pool.counters().sessions_open == 0
    assert "ITEM_NOT_FOUND" in (pool.last_error or "")
    with pytest.raises(TeeError, match="ITEM_NOT_FOUND"):
        pool.checkout(0.1)
    backend.fail_open = False
    with pool.lease(1.0) as lease:
        assert run_invocation(lease.session, [b"put", b"a", b"b"], dict().get).ok


def test_start_failure_closes_what_was_opened() -> None:
    backend = FakeTaBackend()
    pool = SessionPool(backend, 2)
    original = backend.open_session
    calls = []

    def second_fails():
        calls.append(1)
        if len(calls) == 2:
            raise TeeError("no more sessions")
        return original()

    backend.open_session = second_fails  # type: ignore[method-assign]
    with pytest.raises(TeeError):
        pool.start()
    assert backend.closed_sessions == 1


def test_closed_pool_refuses_checkout_and_closes_returned_sessions() -> None:
    backend = FakeTaBackend()
    pool = SessionPool(backend, 2)
    pool.start()
    lent = pool.checkout(1.0)
    pool.close()
    assert backend.closed_sessions == 1
    with pytest.raises(TeeError, match="closed"):
        pool.checkout(0.1)
    pool.release(lent)
    assert backend.closed_sessions == 2


def test_get_state_failure_aborts_the_ta_invocation() -> None:
    backend = FakeTaBackend()
    session = backend.open_session()

    def ledger_down(key: bytes) -> bytes | None:
        raise OSError("ledger unreachable")

    with pytest.raises(OSError):
        run_invocation(session, [b"get", b"k"], ledger_down)
    assert backend.aborts == 1
