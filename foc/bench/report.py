"""The benchmark's outputs: a rich table, the TEE/normal-world ratios, and a PNG plot.

The plot draws FOC's published figures beside ours for the same scenario (coffee, QEMU, 1-8
clients): C. Müller, "Execution of Smart Contracts with ARM TrustZone", MSc thesis, Univ. Bern,
2019, Table B.2 (FOC measured `query` only, with a mock peer and no crypto; QEMU on a 4-core
Xeon E3-1270 v6 with SMP 4, 2019).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from foc.bench.model import CLIENTS, BenchReport, CellResult

#: Thesis Table B.2: throughput in tx/s at 1, 2, 4, 8 clients
FOC_TABLE_B2_TPS = {
    "FOC (TA in OP-TEE), QEMU": (36.1, 44.2, 45.4, 44.5),
    "FOC baseline (normal world), QEMU": (167.3, 281.1, 373.5, 441.3),
    "FOC (TA in OP-TEE), RPi3": (13.1, 8.9, 8.5, 8.35),
    "FOC baseline (normal world), RPi3": (356.8, 618.3, 838.8, 950.4),
}
#: Thesis Table B.2: mean latency in ms at 1, 2, 4, 8 clients
FOC_TABLE_B2_MS = {
    "FOC (TA in OP-TEE), QEMU": (27.7, 45.2, 88.0, 178.4),
    "FOC baseline (normal world), QEMU": (5.97, 7.11, 10.70, 18.10),
}


def _cell_label(r: CellResult) -> str:
    c = r.cell
    if c.workload == "coffee":
        return f"coffee c={c.clients}"
    return f"rw N={c.reads} M={c.writes} {c.value_size}B"


COLUMNS = (
    "cell", "tx/s", "p50 ms", "p95 ms", "p99 ms", "invokes/tx", "OpenSession", "bytes/tx", "errors", "load"
)  # fmt: skip


def _row(r: CellResult) -> list[str]:
    return [
        _cell_label(r),
        f"{r.throughput_tps:.1f}",
        f"{r.p50_ms:.1f}",
        f"{r.p95_ms:.1f}",
        f"{r.p99_ms:.1f}",
        f"{r.invokes_per_tx:.2f}",
        str(r.open_sessions),
        f"{r.bytes_per_tx:.0f}",
        str(r.errors),
        f"{r.load_1min:.1f}",
    ]


def _groups(report: BenchReport) -> dict[tuple[str, str], list[CellResult]]:
    groups: dict[tuple[str, str], list[CellResult]] = {}
    for r in report.results:
        groups.setdefault((r.cell.system, r.cell.mode), []).append(r)
    return groups


RATIO_TITLE = "TEE / normal world (guest-native tx/s over optee tx/s, same guest, same run)"


def print_table(report: BenchReport, console: Console) -> None:
    """One table per system and mode, then the TEE/normal-world ratios."""
    for (system, mode), rows in _groups(report).items():
        table = Table(title=f"{system} / {mode}", title_justify="left")
        for col in COLUMNS:
            table.add_column(col, justify="left" if col == "cell" else "right")
        for r in rows:
            table.add_row(*_row(r))
        console.print(table)
    ratios = report.ratios()
    if ratios:
        table = Table(title=RATIO_TITLE, title_justify="left")
        table.add_column("cell")
        table.add_column("ratio", justify="right")
        for key, value in ratios.items():
            table.add_row(key, f"{value:.2f}")
        console.print(table)


def plot(report: BenchReport, path: Path) -> None:
    """Throughput vs clients (coffee) with FOC's Table B.2, and p50 latency vs distinct reads (bench_rw)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=80)
    styles = {"plaintext": "-", "confidential": "--"}
    colors = {"optee": "tab:red", "guest-native": "tab:blue", "host-native": "tab:gray"}
    for system in report.systems:
        for mode in ("plaintext", "confidential"):
            pts = sorted(
                (r.cell.clients, r.throughput_tps)
                for r in report.results
                if r.cell.system == system and r.cell.mode == mode and r.cell.workload == "coffee"
            )
            if pts:
                ax1.plot(*zip(*pts, strict=True), styles[mode], marker="o", color=colors.get(system),
                         label=f"ours: {system} {mode}")  # fmt: skip
            rw = sorted(
                (r.cell.reads, r.p50_ms)
                for r in report.results
                if r.cell.system == system
                and r.cell.mode == mode
                and r.cell.workload == "rw"
                and r.cell.writes == 1
                and r.cell.value_size == 16
            )
            if rw:
                ax2.plot(*zip(*rw, strict=True), styles[mode], marker="o", color=colors.get(system),
                         label=f"{system} {mode}")  # fmt: skip
    for (label, tps), color in zip(list(FOC_TABLE_B2_TPS.items())[:2], ("darkred", "navy"), strict=True):
        ax1.plot(CLIENTS, tps, ":", marker="x", color=color, label=f"{label} (2019, Table B.2)")
    ax1.set_xlabel("concurrent clients")
    ax1.set_ylabel("throughput, tx/s (log)")
    ax1.set_yscale("log")
    ax1.set_xticks(list(CLIENTS))
    ax1.set_title("coffee: throughput vs clients")
    ax1.legend(fontsize=6)
    ax2.set_xlabel("distinct keys read (bench_rw, 1 write, 16 B)")
    ax2.set_ylabel("p50 latency, ms")
    ax2.set_xscale("log", base=2)
    ax2.set_title("latency vs reads (1 client)")
    if ax2.lines:
        ax2.legend(fontsize=6)
    fig.suptitle(f"foc bench at {report.commit[:12]} ({'quick' if report.quick else 'full'} run)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(report: BenchReport) -> str:
    """The report as Markdown tables (docs/performance.md): one per system and mode, then the ratios."""
    lines = [
        f"Commit `{report.commit}`, started {report.started}, {report.duration_s:g} s per cell after "
        f"{report.warmup_s:g} s warm-up; host load (1/5/15 min) at start {report.host.get('load_at_start')}, "
        f"at end {report.host.get('load_at_end')}.",
        "",
    ]
    for (system, mode), rows in _groups(report).items():
        header = ["| " + " | ".join(COLUMNS) + " |", "|---" * len(COLUMNS) + "|"]
        lines += [f"**{system} / {mode}**", "", *header]
        lines += ["| " + " | ".join(_row(r)) + " |" for r in rows]
        lines.append("")
    ratios = report.ratios()
    if ratios:
        lines += [f"**{RATIO_TITLE}**", ""]
        lines += ["| cell | ratio |", "|---|---|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in ratios.items()]
        lines.append("")
    return "\n".join(lines)
