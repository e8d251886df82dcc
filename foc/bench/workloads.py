"""The transactions one benchmark client runs, through any `foc.client.gateway.Contract`.

coffee  FOC's chaincode: create <p> 0 (commit), add <p> 3 (commit), query <p> (simulate only), then the
        next person; every client has its own persons, so clients never conflict.
rw      bench_rw(prefix, N, M, size) (ta/chaincode/bench.c), committed: N distinct reads (one GetState
        round trip each), M writes of `size` bytes; `setup` first writes the N keys it reads.
Every transaction checks its payload, so a wrong answer counts as an error, not as a fast one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from foc.bench.model import Cell
from foc.errors import FocError


class Contract(Protocol):
    def invoke(self, function: str, args: list[bytes | str]) -> bytes: ...

    def query(self, function: str, args: list[bytes | str]) -> bytes: ...


class WorkloadError(FocError):
    """A transaction answered something other than what the workload expects."""


class ClientWorkload:
    """The transaction sequence of one client of one cell: `setup()` once, then `next()` repeatedly."""

    def __init__(self, cell: Cell, contract: Contract, prefix: str) -> None:
        self.cell = cell
        self.contract = contract
        self.prefix = prefix
        self._i = 0
        self._step = 0

    def setup(self) -> None:
        """Write what the measured transactions read (rw); nothing for coffee."""
        c = self.cell
        if c.workload == "rw" and c.reads:
            payload = self.contract.invoke("bench_rw", [self.prefix, "0", str(c.reads), str(c.value_size)])
            self._expect(payload, f"read 0 (0 found, 0 bytes), wrote {c.reads}".encode())

    def next(self) -> Callable[[], str]:
        """The next transaction as a callable returning its operation name (raises on failure)."""
        if self.cell.workload == "rw":
            return self._rw
        person = f"{self.prefix}-{self._i}"
        step = self._step
        self._step = (self._step + 1) % 3
        if self._step == 0:
            self._i += 1

        def coffee() -> str:
            if step == 0:
                self._expect(self.contract.invoke("create", [person, "0"]), b"OK")
                return "create"
            if step == 1:
                self._expect(self.contract.invoke("add", [person, "3"]), b"OK")
                return "add"
            want = f"person: {person}, number of consumed coffees: 3".encode()
            self._expect(self.contract.query("query", [person]), want)
            return "query"

        return coffee

    def _rw(self) -> str:
        c = self.cell
        payload = self.contract.invoke(
            "bench_rw", [self.prefix, str(c.reads), str(c.writes), str(c.value_size)]
        )
        self._expect(payload, f"read {c.reads} ({c.reads} found".encode(), prefix=True)
        return "bench_rw"

    @staticmethod
    def _expect(payload: bytes, want: bytes, *, prefix: bool = False) -> None:
        ok = payload.startswith(want) if prefix else payload == want
        if not ok:
            raise WorkloadError(f"unexpected payload {payload[:80]!r} (expected {want!r})")
