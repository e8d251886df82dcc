"""Run one cell: N client threads, a warm-up, then a fixed measured window.

Each client runs its `ClientWorkload` back to back. Transactions that start after the warm-up and
end inside the window are the samples; throughput = samples / window. A cell whose transactions are
slower than its window (a `--quick` window on a loaded machine) stretches the window to the end of its
first sample, so no cell comes back empty; failed transactions count as errors whenever they happen,
warm-up included. TEEC_InvokeCommand calls per
transaction are counted where the wrapper answers the proxy's GetState (`CountingProxy`: 1 + the
round trips); TEEC_OpenSession calls come from the proxy's Health counter (sessions opened during
the cell); link bytes from the relay in front of the proxy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from foc.bench.model import Cell, CellResult
from foc.bench.workloads import ClientWorkload, Contract

#: longest a single cell may take beyond its window (a stuck transaction ends the cell, not the run)
STRAGGLER_TIMEOUT_S = 120.0


class CountingProxy:
    """A `ProxyClient` stand-in that counts, per calling thread, the GetState callbacks of a transaction.

    Everything else is delegated to the real client unchanged.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._local = threading.local()

    def take(self) -> int:
        """GetState round trips since the last take() in this thread."""
        n = getattr(self._local, "n", 0)
        self._local.n = 0
        return int(n)

    def _wrap(self, get_state: Callable[[str], bytes | None]) -> Callable[[str], bytes | None]:
        local = self._local

        def counted(key: str) -> bytes | None:
            local.n = getattr(local, "n", 0) + 1
            return get_state(key)

        return counted

    def invoke(self, *args: Any, get_state: Callable[[str], bytes | None], **kwargs: Any) -> Any:
        return self._client.invoke(*args, get_state=self._wrap(get_state), **kwargs)

    def invoke_confidential(self, *args: Any, get_state: Callable[[str], bytes | None], **kwargs: Any) -> Any:
        return self._client.invoke_confidential(*args, get_state=self._wrap(get_state), **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def run_cell(
    cell: Cell,
    contracts: Sequence[Contract],
    *,
    counter: CountingProxy,
    prefix: str,
    warmup_s: float,
    duration_s: float,
    sessions_opened: Callable[[], int],
    link_bytes: Callable[[], int],
    reset_link: Callable[[], None],
) -> CellResult:
    """Measure `cell` with one client per contract (len(contracts) == cell.clients)."""
    if len(contracts) != cell.clients:
        raise ValueError(f"{cell.key}: {cell.clients} clients need as many contracts, got {len(contracts)}")
    samples: list[tuple[str, float, int]] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(cell.clients + 1)  # every client set up
    go = threading.Barrier(cell.clients + 1)  # the clock is set
    times: dict[str, float] = {}

    def client(index: int, contract: Contract) -> None:
        work = ClientWorkload(cell, contract, f"{prefix}-c{index}")
        try:
            work.setup()
        except Exception as exc:  # noqa: BLE001 - reported in the result, the run goes on
            with lock:
                errors.append(f"setup: {type(exc).__name__}: {exc}")
        ready.wait()
        go.wait()
        counter.take()
        while True:
            tx = work.next()
            t0 = time.monotonic()
            with lock:
                if t0 >= times["end"] and (samples or t0 >= times["deadline"]):
                    return
            try:
                op = tx()
                ok, what = True, ""
            except Exception as exc:  # noqa: BLE001
                ok, op, what = False, "", f"{type(exc).__name__}: {exc}"
            t1 = time.monotonic()
            invokes = 1 + counter.take()
            with lock:
                if not ok:
                    errors.append(what)  # a failed transaction counts whenever it happened
                    continue
                if t0 < times["warm_end"]:
                    continue
                if t1 > times["end"]:
                    if samples:
                        continue
                    times["end"] = t1  # slower than the window: it stretches to its first sample
                samples.append((op, (t1 - t0) * 1000, invokes))

    threads = [
        threading.Thread(target=client, args=(i, c), name=f"bench-client-{i}", daemon=True)
        for i, c in enumerate(contracts)
    ]
    for t in threads:
        t.start()
    ready.wait()
    opened_before = sessions_opened()
    times["warm_end"] = time.monotonic() + warmup_s
    times["end"] = times["warm_end"] + duration_s
    times["deadline"] = times["end"] + STRAGGLER_TIMEOUT_S
    go.wait()
    time.sleep(max(0.0, times["warm_end"] - time.monotonic()))
    reset_link()
    for t in threads:
        t.join(timeout=max(0.0, times["deadline"] - time.monotonic()) + STRAGGLER_TIMEOUT_S)
    with lock:
        window = times["end"] - times["warm_end"]
    return CellResult.from_samples(
        cell,
        samples,
        errors=len(errors),
        duration_s=window,
        open_sessions=sessions_opened() - opened_before,
        link_bytes=link_bytes(),
        first_error=errors[0][:300] if errors else "",
    )
