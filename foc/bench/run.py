"""One `foc bench` run: every cell of the requested systems, in one process, one after the other.

Order: host-native (context), then the QEMU guest: optee, then guest-native (the same guest, its
proxy switched to the normal-world build), so the TEE and its baseline share one boot. The host's
load average is recorded per cell: the machine is shared, compare ratios within one run.
"""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from foc.bench.model import SYSTEMS, WORKLOADS, BenchReport, Cell, expected_cells
from foc.bench.runner import run_cell
from foc.bench.systems import BenchGuest, HostNativeProxy, SystemClient
from foc.deploy.paths import REPO_ROOT
from foc.errors import FocError, UsageError

QUICK_DURATION_S = 0.4
QUICK_WARMUP_S = 0.1
FULL_DURATION_S = 8.0
FULL_WARMUP_S = 2.0

Progress = Callable[[str], None]


def git_commit() -> str:
    """The commit of the checkout being measured (+ "-dirty" with local changes), or "unknown"."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def image_info(instance: str) -> dict[str, str]:
    """What the instance booted: the image's key and the sha256 of each TA file in it."""
    from foc.deploy.api import booted_image
    from foc.deploy.build.apt import sha256_file

    image = booted_image("qemu", instance=instance)
    if image is None:
        return {}
    info = {"image_key": str(image.extra.get("image_key", ""))}
    for ta in image.ta_files:
        if ta.exists():
            info[ta.name] = sha256_file(ta)
    return info


def run_bench(
    systems: Sequence[str],
    *,
    quick: bool = False,
    duration_s: float | None = None,
    warmup_s: float | None = None,
    build: bool = True,
    measurement: Callable[[], bytes] | None = None,
    progress: Progress | None = None,
    workloads: Sequence[str] = WORKLOADS,
) -> BenchReport:
    """Measure every cell of `systems` (a subset of SYSTEMS); returns the report (no files written)."""
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown or not systems:
        named = ", ".join(unknown) or "(none)"
        raise UsageError(f"unknown system(s) {named}; choose from {', '.join(SYSTEMS)}")
    say = progress or (lambda _msg: None)
    duration = duration_s if duration_s is not None else (QUICK_DURATION_S if quick else FULL_DURATION_S)
    warmup = warmup_s if warmup_s is not None else (QUICK_WARMUP_S if quick else FULL_WARMUP_S)
    ordered = [s for s in ("host-native", "optee", "guest-native") if s in systems]
    report = BenchReport(
        commit=git_commit(),
        started=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        quick=quick,
        duration_s=duration,
        warmup_s=warmup,
        host={"cpus": os.cpu_count(), "load_at_start": list(os.getloadavg())},
        systems=ordered,
    )
    if not workloads or any(w not in WORKLOADS for w in workloads):
        raise UsageError(f"workloads must be a non-empty subset of {', '.join(WORKLOADS)}")
    cells = expected_cells(ordered, workloads=tuple(workloads))

    def expected(instance: str) -> Callable[[], bytes]:
        if measurement is not None:
            return measurement
        from foc.deploy.api import expected_ta_measurement

        return lambda: expected_ta_measurement("qemu", instance=instance)

    def measure(system: str, address: str, measurement: Callable[[], bytes] | None = None) -> None:
        with SystemClient(system, address, work, measurement=measurement) as sc:
            assert sc.counter is not None and sc.relay is not None
            for i, cell in enumerate(c for c in cells if c.system == system):
                report.results.append(_measure(sc, cell, f"b{i}", warmup, duration, say))

    def attempt(system: str, run: Callable[[], None]) -> None:
        """Run one system; a failure is noted in the report and the other systems still run."""
        try:
            run()
        except FocError as exc:
            report.failures.append(f"{system}: {exc}")
            say(f"{system}: FAILED: {exc}")

    with tempfile.TemporaryDirectory(prefix="foc-bench-") as tmp:
        work = Path(tmp)
        if "host-native" in ordered:
            say("host-native: starting a local foc-proxy on the host build (NOT a TEE) ...")

            def host_native() -> None:
                with HostNativeProxy(work) as address:
                    measure("host-native", address)

            attempt("host-native", host_native)
        if "optee" in ordered or "guest-native" in ordered:

            def in_guest() -> None:
                with BenchGuest(build=build, progress=say) as guest:
                    report.host["image"] = image_info(guest.instance)
                    if "optee" in ordered:
                        attempt("optee", lambda: measure("optee", guest.address, expected(guest.instance)))
                    if "guest-native" in ordered:

                        def native() -> None:
                            guest.switch_to_native()
                            measure("guest-native", guest.address)

                        attempt("guest-native", native)

            attempt("qemu", in_guest)
    report.host["load_at_end"] = list(os.getloadavg())
    return report


def _measure(sc: SystemClient, cell: Cell, prefix: str, warmup: float, duration: float, say: Progress):  # type: ignore[no-untyped-def]
    assert sc.counter is not None and sc.relay is not None
    load = os.getloadavg()[0]
    result = run_cell(
        cell,
        sc.contracts(cell.mode, cell.clients),
        counter=sc.counter,
        prefix=prefix,
        warmup_s=warmup,
        duration_s=duration,
        sessions_opened=sc.sessions_opened,
        link_bytes=sc.relay.total,
        reset_link=sc.relay.reset,
    )
    result.load_1min = round(load, 2)
    say(
        f"{cell.key:48s} {result.throughput_tps:8.1f} tx/s  p50 {result.p50_ms:8.1f} ms  "
        f"invokes/tx {result.invokes_per_tx:.2f}  errors {result.errors}"
    )
    return result
