"""The TAs one foc-proxy serves: each with its own session pool and limits, picked per request.

    table = TaTable([ServedTa(uuid, "coffee", SessionPool(backend, 4), checkout_timeout=10.0), ...])
    ta = table.select(request.chaincode_uuid)   # b"" = the default TA; unknown -> UnknownTa
    with ta.pool.lease(ta.checkout_timeout) as lease: ...

A chaincode TA is its own OP-TEE instance (single-instance, keep-alive), so a panic of one TA kills
only that TA's sessions: each `SessionPool` recovers on its own, and one TA's busy pool never delays
another's transactions. `counters()` adds the pools up for Health; `ServedTa.counters()` is one TA's.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from foc.proxy.pool import PoolCounters, SessionPool


class UnknownTa(Exception):
    """The request names a TA this proxy does not serve (or a malformed uuid)."""

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.malformed = malformed


@dataclass
class ServedTa:
    """One TA: uuid, name (logs, Health), its pool of pre-opened sessions, its checkout limit (s)."""

    uuid: _uuid.UUID
    name: str
    pool: SessionPool
    checkout_timeout: float = 10.0

    def counters(self) -> PoolCounters:
        """This TA's pool counters."""
        return self.pool.counters()


class TaTable:
    """The TAs of one proxy, by uuid; `default` answers requests without a chaincode_uuid."""

    def __init__(self, tas: Sequence[ServedTa], default: _uuid.UUID | None = None) -> None:
        if not tas:
            raise ValueError("a proxy serves at least one TA")
        self._by_uuid = {ta.uuid: ta for ta in tas}
        if len(self._by_uuid) != len(tas):
            raise ValueError("a TA is listed twice")
        self.default = self._by_uuid[default] if default is not None else tas[0]

    def __iter__(self) -> Iterator[ServedTa]:
        return iter(self._by_uuid.values())

    def __len__(self) -> int:
        return len(self._by_uuid)

    def select(self, uuid_bytes: bytes) -> ServedTa:
        """The TA a request's `chaincode_uuid` names (16 bytes, or empty for the default)."""
        if not uuid_bytes:
            return self.default
        if len(uuid_bytes) != 16:
            raise UnknownTa(
                f"chaincode_uuid must be 16 bytes or empty, got {len(uuid_bytes)}", malformed=True
            )
        wanted = _uuid.UUID(bytes=bytes(uuid_bytes))
        found = self._by_uuid.get(wanted)
        if found is None:
            served = ", ".join(f"{ta.uuid} ({ta.name})" for ta in self)
            raise UnknownTa(f"this proxy serves TA {served}, not {wanted}")
        return found

    def start(self) -> None:
        """Open every pool; on a failure close what was opened and re-raise (naming the TA)."""
        started: list[ServedTa] = []
        try:
            for ta in self:
                ta.pool.start()
                started.append(ta)
        except BaseException:
            for ta in started:
                ta.pool.close()
            raise

    def close(self) -> None:
        """Close every pool (lent sessions close when they come back)."""
        for ta in self:
            ta.pool.close()

    def counters(self) -> PoolCounters:
        """The sum of every pool's counters."""
        each = [ta.counters() for ta in self]
        return PoolCounters(
            sum(c.sessions_open for c in each),
            sum(c.sessions_opened_total for c in each),
            sum(c.transactions_total for c in each),
            sum(c.ta_restarts_total for c in each),
        )
