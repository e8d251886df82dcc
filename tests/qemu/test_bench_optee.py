"""`foc bench --quick` on real OP-TEE and on the guest normal-world build: every cell present, well formed.

Boots its own QEMU instance (the bench switches that guest's proxy to the normal-world build, so it must
not share the session guest). Nothing about time is asserted; the run's table goes to the qemu summary.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest

from foc.bench.model import SCHEMA, expected_cells
from foc.cli.main import main

pytestmark = pytest.mark.qemu

SYSTEMS = ["optee", "guest-native"]


def test_quick_bench_on_optee_and_the_guest_normal_world(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    out, err = io.StringIO(), io.StringIO()
    rc = main(["bench", "--quick", "--systems", ",".join(SYSTEMS), "--out", str(tmp_path)], out=out, err=err)
    assert rc == 0, err.getvalue() + out.getvalue()[-3000:]
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert doc["schema"] == SCHEMA and doc["failures"] == [] and doc["host"]["image"]["image_key"]
    assert [r["cell"]["key"] for r in doc["results"]] == [c.key for c in expected_cells(SYSTEMS)]
    for r in doc["results"]:
        assert r["errors"] == 0, (r["cell"]["key"], r["first_error"])
        assert r["open_sessions"] == 0, r["cell"]["key"]
        for value in (r["throughput_tps"], r["p50_ms"], r["p99_ms"], r["bytes_per_tx"]):
            assert math.isfinite(value) and value >= 0
        if r["transactions"]:  # a 0.4 s window may hold no 64-read transaction under TCG
            reads = r["cell"]["reads"] if r["cell"]["workload"] == "rw" else 1
            assert r["invokes_per_tx"] == 1 + reads, r["cell"]["key"]
    assert set(doc["tee_over_normal_world_throughput"]) <= {
        c.key.removeprefix("optee/") for c in expected_cells(["optee"])
    }
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"
    getattr(request.config, "foc_qemu_report", []).append(
        "foc bench --quick (optee, guest-native): "
        + ", ".join(f"{k}={v}" for k, v in list(doc["tee_over_normal_world_throughput"].items())[:4])
    )
