"""What `foc bench` measures: cells, their results, the report and its JSON document.

A cell is one (system, mode, workload, clients, reads, writes, value size). Its result holds
latencies in ms (per transaction, measured window only), throughput in transactions per second,
TEEC_InvokeCommand calls per transaction (1 + GetState round trips), TEEC_OpenSession calls during
the cell (from the proxy's Health counters), and bytes over the proxy link per transaction.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from foc.protocol import limits

SYSTEMS = ("optee", "guest-native", "host-native")
MODES = ("plaintext", "confidential")
CLIENTS = (1, 2, 4, 8)
#: The "64 KiB" value of the rw cells: 64 KiB - 40 B, the largest value both modes carried while the proxy
#: capped a confidential (stored) GetState answer at 64 KiB (docs/performance.md, findings; fixed since,
#: issue 8). Kept so that runs compare with the run of record.
LARGE_VALUE = limits.FOC_MAX_VALUE - limits.FOC_CONF_STATE_OVERHEAD
#: bench_rw cells at one client: (reads, writes, value size in bytes)
RW_CELLS = ((1, 1, 16), (8, 1, 16), (64, 1, 16), (1, 8, 16), (1, 64, 16), (1, 1, 1024), (1, 1, LARGE_VALUE))
SCHEMA = "foc-bench/1"


@dataclass(frozen=True)
class Cell:
    """One measurement: `workload` is "coffee" (create/add/query) or "rw" (bench_rw)."""

    system: str
    mode: str
    workload: str
    clients: int
    reads: int = 0
    writes: int = 0
    value_size: int = 0

    @property
    def key(self) -> str:
        base = f"{self.system}/{self.mode}/{self.workload}/c{self.clients}"
        if self.workload == "rw":
            base += f"/r{self.reads}/w{self.writes}/v{self.value_size}"
        return base


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values` by linear interpolation; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class CellResult:
    """The measured figures of one cell (times in ms, throughput in tx/s)."""

    cell: Cell
    transactions: int
    errors: int
    duration_s: float
    throughput_tps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    invokes_per_tx: float
    open_sessions: int
    bytes_per_tx: float
    #: coffee: median latency per operation (create/add commit, query does not)
    op_p50_ms: dict[str, float] = field(default_factory=dict)
    first_error: str = ""
    #: the host's 1-minute load average when the cell started (the machine is shared)
    load_1min: float = 0.0

    @classmethod
    def from_samples(
        cls,
        cell: Cell,
        samples: list[tuple[str, float, int]],
        *,
        errors: int,
        duration_s: float,
        open_sessions: int,
        link_bytes: int,
        first_error: str = "",
    ) -> CellResult:
        """`samples` = (operation, latency ms, TEEC_InvokeCommand calls) of each measured transaction."""
        lat = [s[1] for s in samples]
        n = len(samples)
        ops: dict[str, list[float]] = {}
        for op, ms, _ in samples:
            ops.setdefault(op, []).append(ms)
        return cls(
            cell=cell,
            transactions=n,
            errors=errors,
            duration_s=round(duration_s, 3),
            throughput_tps=round(n / duration_s, 3) if duration_s > 0 else 0.0,
            p50_ms=round(percentile(lat, 0.50), 3),
            p95_ms=round(percentile(lat, 0.95), 3),
            p99_ms=round(percentile(lat, 0.99), 3),
            mean_ms=round(statistics.fmean(lat), 3) if lat else 0.0,
            invokes_per_tx=round(sum(s[2] for s in samples) / n, 3) if n else 0.0,
            open_sessions=open_sessions,
            bytes_per_tx=round(link_bytes / n, 1) if n else 0.0,
            op_p50_ms={op: round(percentile(v, 0.5), 3) for op, v in sorted(ops.items())},
            first_error=first_error,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cell"] = asdict(self.cell) | {"key": self.cell.key}
        return d


@dataclass
class BenchReport:
    """A whole run: its conditions and every cell's result."""

    commit: str
    started: str
    quick: bool
    duration_s: float
    warmup_s: float
    host: dict[str, Any]
    systems: list[str]
    results: list[CellResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: systems that could not be measured, with the error (their cells are missing)
    failures: list[str] = field(default_factory=list)

    def result(self, cell: Cell) -> CellResult | None:
        for r in self.results:
            if r.cell == cell:
                return r
        return None

    def ratios(self) -> dict[str, float]:
        """TEE / normal-world throughput ratios (guest-native over optee), per matching cell."""
        out: dict[str, float] = {}
        for r in self.results:
            if r.cell.system != "optee" or not r.throughput_tps:
                continue
            twin = Cell("guest-native", *list(asdict(r.cell).values())[1:])
            base = self.result(twin)
            if base is not None and base.throughput_tps:
                out[r.cell.key.removeprefix("optee/")] = round(base.throughput_tps / r.throughput_tps, 3)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "commit": self.commit,
            "started": self.started,
            "quick": self.quick,
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "host": self.host,
            "systems": self.systems,
            "notes": self.notes,
            "failures": self.failures,
            "results": [r.to_dict() for r in self.results],
            "tee_over_normal_world_throughput": self.ratios(),
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")


WORKLOADS = ("coffee", "rw")


def expected_cells(
    systems: list[str] | tuple[str, ...], *, workloads: tuple[str, ...] | list[str] = WORKLOADS
) -> list[Cell]:
    """Every cell a run over `systems` measures (a quick run measures the same matrix, shorter)."""
    cells = []
    for system in systems:
        for mode in MODES:
            if "coffee" in workloads:
                for clients in CLIENTS:
                    cells.append(Cell(system, mode, "coffee", clients))
            if "rw" in workloads:
                for reads, writes, size in RW_CELLS:
                    cells.append(Cell(system, mode, "rw", 1, reads, writes, size))
    return cells
