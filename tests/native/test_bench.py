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


def test_bench_devices_measures_one_chaincode_on_one_and_two_simulated_devices(tmp_path: Path) -> None:
    """`foc bench --devices 1,2` (issue 13): key transfer to the second device, then every figure
    of both rows present and positive, in the table and in endorsers.json (no timing asserted)."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["bench", "--devices", "1,2", "--duration", "0.3", "--out", str(tmp_path)]
    assert main(argv, out=out, err=err) == 0, err.getvalue()
    assert "joined by 1 other(s)" in out.getvalue() and "invoke all-of-n" in out.getvalue()
    doc = json.loads((tmp_path / "endorsers.json").read_text())
    assert [r["devices"] for r in doc["rows"]] == [1, 2] and doc["duration_s"] == 0.3
    for row in doc["rows"]:
        for field in ("set_up_s", "invoke_all_tps", "invoke_one_tps", "query_qps"):
            value = row[field]
            assert isinstance(value, float) and math.isfinite(value) and value > 0, (row, field)
    bad = io.StringIO()
    assert main(["bench", "--devices", "0,17", "--out", str(tmp_path)], out=io.StringIO(), err=bad) == 2
    assert "1 to 16" in bad.getvalue()
