"""`python -m foc.fabric serve` as a process: registers, serves the FOC wrapper, stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from fake_peer import FakePeer
from kv_chaincode import PACKAGE_ID

REPO = Path(__file__).resolve().parents[3]


def test_serve_registers_and_reports_an_unreachable_proxy(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        FOC_PROXY_ADDRESS="127.0.0.1:1",
        CHAINCODE_ID=PACKAGE_ID,
        FOC_CONFIG=str(tmp_path / "none"),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "foc.fabric", "serve", "--address", "127.0.0.1:0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"\(port (\d+)\)", line)
        assert match, f"unexpected first line: {line!r}"
        peer = FakePeer(f"127.0.0.1:{match.group(1)}", PACKAGE_ID)
        try:
            peer.connect()
            response = FakePeer.response_of(peer.invoke("query", "alice", timeout=60))
            assert response.status == 500
            assert response.message.startswith("PROXY_UNAVAILABLE")
        finally:
            peer.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "alice" not in (process.stderr.read() if process.stderr else "")
