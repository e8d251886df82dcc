"""docs/usage.md's two-line Python snippet, run exactly as written against the session's OP-TEE guest.

The enclave is set up first with the same `Network` administration calls the docs list; then the
snippet runs in a fresh interpreter, in a directory holding its `dev.sqlite`, with FOC_HOME and
FOC_INSTANCE pointing at this test's home and the session's QEMU instance.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import foc
from foc.deploy.api import expected_ta_measurement

pytestmark = pytest.mark.qemu

USAGE = Path(__file__).resolve().parents[2] / "docs" / "usage.md"


def two_line_snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", USAGE.read_text(), flags=re.S)
    found = [b for b in blocks if 'foc.connect(ledger="dev.sqlite", target="qemu")' in b]
    assert found, "docs/usage.md lost its two-line snippet"
    snippet = found[0]
    code = [line for line in snippet.splitlines() if line.strip() and not line.startswith("import ")]
    assert len(code) == 2, snippet  # the promise: two lines (after the import)
    return snippet


def test_usage_two_line_snippet_runs_as_written(guest, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with foc.connect(ledger=tmp_path / "dev.sqlite", proxy=guest.proxy_address, home=home) as net:
        measurement = expected_ta_measurement("qemu", instance=guest.instance)
        net.set_up_enclave("coffee", device_name="qemu-snippet", measurement=measurement)
        assert net.contract("coffee").invoke("create", ["alice", "0"]) == b"OK"
    env = {**os.environ, "FOC_HOME": str(home), "FOC_INSTANCE": guest.instance}
    env.pop("FOC_LEDGER", None)
    run = subprocess.run(
        [sys.executable, "-c", two_line_snippet()], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    with foc.connect(ledger=tmp_path / "dev.sqlite", proxy=guest.proxy_address, home=home) as net:
        queried = net.contract("coffee").query("query", ["alice"])
        assert queried == b"person: alice, number of consumed coffees: 1"
        assert net.ledger.height == 4  # registration, create, the snippet's add
