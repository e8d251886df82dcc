"""A pool of pre-opened TA sessions: no OpenSession on the transaction path.

OpenSession was 65-75 % of FOC's latency (TA load + signature check, serialised in OP-TEE),
so the proxy opens ``size`` sessions at start-up and lends them to transactions.

Recovery: the FOC TA is single-instance, so a panic kills *every* session of the instance.
The first lease that reports TaCrashed starts a new "generation": idle sessions are closed
and reopened at once (a new TA instance), leases of the old generation are closed when they
come back, and ``ta_restarts_total`` counts one restart per crash, however many in-flight
transactions noticed it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from foc.errors import TaCrashed, TeeError
from foc.tee import abi
from foc.tee.api import TeeBackend, TeeSession

log = logging.getLogger(__name__)


class PoolBusy(TeeError):
    """No session became free before the deadline."""


@dataclass
class Lease:
    """A session lent to one transaction."""

    session: TeeSession
    generation: int
    broken: bool = False

    def mark_broken(self) -> None:
        """The session's state is unknown: close it instead of returning it to the pool."""
        self.broken = True


@dataclass(frozen=True)
class PoolCounters:
    """A snapshot of the pool's counters (reported by the health endpoint)."""

    sessions_open: int
    sessions_opened_total: int
    transactions_total: int
    ta_restarts_total: int


class SessionPool:
    """``size`` pre-opened sessions with the TA behind ``backend``."""

    def __init__(self, backend: TeeBackend, size: int) -> None:
        if size < 1:
            raise ValueError("the pool needs at least one session")
        self.backend = backend
        self.size = size
        self._cond = threading.Condition()
        self._idle: deque[Lease] = deque()
        self._total = 0  # sessions that exist: idle + lent + being opened
        self._generation = 0
        self._closed = False
        self.sessions_opened_total = 0
        self.transactions_total = 0
        self.ta_restarts_total = 0
        self.last_error: str | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Open all sessions now; raises TeeError (closing what was opened) if any fails."""
        try:
            for _ in range(self.size):
                self._open_one(strict=True)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close idle sessions now; lent sessions are closed when they come back."""
        with self._cond:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
            self._total -= len(idle)
            self._cond.notify_all()
        for lease in idle:
            _close_quietly(lease.session)

    def counters(self) -> PoolCounters:
        """Current counters."""
        with self._cond:
            return PoolCounters(
                self._total, self.sessions_opened_total, self.transactions_total, self.ta_restarts_total
            )

    # --- lending --------------------------------------------------------------------------

    def checkout(self, timeout: float | None) -> Lease:
        """Borrow a session, waiting at most ``timeout`` seconds (None = forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        raise TeeError("the session pool is closed (the proxy is shutting down)")
                    if self._idle:
                        lease = self._idle.popleft()
                        self.transactions_total += 1
                        return lease
                    if self._total < self.size:
                        break  # a session failed to reopen earlier: open it now
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise PoolBusy(
                            f"all {self.size} TA sessions stayed busy for {timeout:.3g} s",
                            hint="raise --pool or the client's deadline",
                        )
                    self._cond.wait(remaining)
            opened = self._open_one(strict=True, lend=True)
            if opened is not None:
                with self._cond:
                    self.transactions_total += 1
                return opened

    def release(self, lease: Lease, *, crashed: bool = False) -> None:
        """Give a session back. ``crashed``: it reported TaCrashed (a TA panic)."""
        if crashed:
            self._handle_crash(lease)
            return
        with self._cond:
            keep = not lease.broken and not self._closed and lease.generation == self._generation
            if keep:
                self._idle.append(lease)
                self._cond.notify()
                return
            self._total -= 1
            self._cond.notify_all()
        _close_quietly(lease.session)
        self._refill()

    @contextlib.contextmanager
    def lease(self, timeout: float | None) -> Iterator[Lease]:
        """``with pool.lease(t) as lease:`` — returns the session however the block ends.

        TaCrashed triggers recovery; any other error marks the session broken (replaced).
        """
        lease = self.checkout(timeout)
        try:
            yield lease
        except TaCrashed:
            self.release(lease, crashed=True)
            raise
        except BaseException:
            lease.mark_broken()
            self.release(lease)
            raise
        else:
            self.release(lease)

    # --- recovery -------------------------------------------------------------------------

    def _handle_crash(self, lease: Lease) -> None:
        with self._cond:
            self._total -= 1
            stale: list[Lease] = []
            if lease.generation == self._generation:
                self._generation += 1
                self.ta_restarts_total += 1
                stale, self._idle = list(self._idle), deque()
                self._total -= len(stale)
                log.warning(
                    "TA crashed (restart %d): reopening %d sessions", self.ta_restarts_total, self.size
                )
            self._cond.notify_all()
        for old in [lease, *stale]:
            _close_quietly(old.session)
        self._refill()

    def _refill(self) -> None:
        while self._open_one(strict=False) is not None:
            pass

    def _open_one(self, *, strict: bool, lend: bool = False) -> Lease | None:
        """Open one session if the pool is short of one. strict: raise on failure."""
        with self._cond:
            if self._closed or self._total >= self.size:
                return None
            self._total += 1
            generation = self._generation
        try:
            session = self.backend.open_session()
        except BaseException as exc:
            with self._cond:
                self._total -= 1
                self.last_error = str(exc)
                self._cond.notify_all()
            log.error("cannot open a TA session: %s", exc)
            if strict:
                raise
            return None
        with self._cond:
            self.sessions_opened_total += 1
            lease = Lease(session, generation)
            if self._closed or generation != self._generation:
                # the TA crashed again (or we are shutting down) while this one was opening
                self._total -= 1
                stale = True
            else:
                stale = False
                if not lend:
                    self._idle.append(lease)
                    self._cond.notify()
        if stale:
            _close_quietly(session)
            if lend:
                raise TaCrashed("the TA crashed while a session was being opened")
        return lease

    # --- test hook ------------------------------------------------------------------------

    def crash_ta_for_test(self, timeout: float = 5.0) -> None:
        """Test-only: send FOC_CMD_PANIC on an idle session, killing the TA instance.

        Used by the tests to prove that in-flight transactions fail with TA_CRASHED and the
        pool recovers. The TA's panic command adds no power: the normal world can always deny
        service.
        """
        lease = self.checkout(timeout)
        with self._cond:
            self.transactions_total -= 1  # not a transaction
        try:
            lease.session.invoke(abi.FOC_CMD_PANIC)
        except TaCrashed:
            self.release(lease, crashed=True)
            return
        except BaseException:
            lease.mark_broken()
            self.release(lease)
            raise
        self.release(lease)
        raise TeeError("FOC_CMD_PANIC returned normally: the TA did not panic")


def _close_quietly(session: TeeSession) -> None:
    try:
        session.close()
    except Exception as exc:  # closing a dead session must not hide the original error
        log.debug("closing a TA session failed: %s", exc)
