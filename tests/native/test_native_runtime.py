"""The native target's runtime: a detached local proxy that `status` and `down` find again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from foc.deploy.api import down, ensure_up, status, up
from foc.deploy.native import is_local_proxy

pytestmark = pytest.mark.native


def test_up_status_reuse_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOC_CACHE", str(tmp_path / "cache"))
    running = up("native", instance="t1")
    try:
        assert running.ready == "proxy ready" and running.pid is not None and running.tls_ca is None
        assert is_local_proxy(running.pid, running.proxy_address)
        st = status("native", instance="t1")
        assert st["running"] is True and st["proxy_serving"] is True and st["pid"] == running.pid
        again = ensure_up("native", instance="t1")  # healthy: reused, not restarted
        assert again.reused and again.pid == running.pid
        assert status("native", instance="other")["running"] is False  # instances are separate
    finally:
        assert down("native", instance="t1") is True
    assert not is_local_proxy(running.pid, running.proxy_address)
    assert status("native", instance="t1")["running"] is False and down("native", instance="t1") is False


def test_the_proxy_without_a_library_names_the_build_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "foc.proxy", "--tee", "native", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "FOC_CACHE": str(tmp_path)},
        check=False,
    )
    assert proc.returncode == 4 and "foc-deploy native build" in proc.stderr
