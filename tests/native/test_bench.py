"""`foc bench --quick` on the host-native build: every cell present and well formed (no timing asserted)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest

from foc.bench.model import SCHEMA, expected_cells
from foc.cli.main import main

pytestmark = pytest.mark.native

NUMBERS = ("throughput_tps", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "invokes_per_tx", "bytes_per_tx")


def test_quick_bench_writes_every_cell_table_json_and_plot(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    rc = main(["bench", "--quick", "--systems", "host-native", "--out", str(tmp_path)], out=out, err=err)
    assert rc == 0, err.getvalue()
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert doc["schema"] == SCHEMA and doc["quick"] is True and doc["systems"] == ["host-native"]
    keys = [r["cell"]["key"] for r in doc["results"]]
    assert keys == [c.key for c in expected_cells(["host-native"])]
    for r in doc["results"]:
        for field in NUMBERS:
            value = r[field]
            assert isinstance(value, int | float) and math.isfinite(value) and value >= 0, (r["cell"], field)
        assert r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
        assert r["errors"] == 0, (r["cell"]["key"], r["first_error"])
        assert r["transactions"] > 0, r["cell"]["key"]
        # one TEEC_InvokeCommand to start, one per distinct key read; sessions stay pooled
        reads = r["cell"]["reads"] if r["cell"]["workload"] == "rw" else 1
        assert r["invokes_per_tx"] == 1 + reads, r["cell"]["key"]
        assert r["open_sessions"] == 0, r["cell"]["key"]
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = out.getvalue()
    assert "host-native / plaintext" in text and "host-native / confidential" in text
