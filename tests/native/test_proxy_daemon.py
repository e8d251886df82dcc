"""The foc-proxy daemon as a process: start line, serving, SIGTERM shutdown, clean logs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from foc.proxy.client import ProxyClient

pytestmark = pytest.mark.native

SECRET_PERSON = "zq-secret-person-7731"
SECRET_COUNT = "918273645"


def test_daemon_serves_and_shuts_down_cleanly_without_logging_data() -> None:
    from foc.deploy.native_build import build_native_core

    lib = build_native_core()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "foc.proxy",
            "--listen",
            "127.0.0.1:0",
            "--tee",
            "native",
            "--pool",
            "2",
            "--native-lib",
            str(lib),
            "--log-level",
            "DEBUG",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"foc-proxy listening on (127\.0\.0\.1:\d+) tee=native pool=2 .*\n", line)
        assert m, line
        world: dict[str, bytes] = {}
        with ProxyClient(m.group(1)) as c:
            r = c.invoke("create", [SECRET_PERSON, SECRET_COUNT], transaction_id="tx-1", get_state=world.get)
            assert r.ok
            world.update({w.key: w.value for w in r.writes})
            assert c.invoke("query", [SECRET_PERSON], transaction_id="tx-2", get_state=world.get).ok
            assert c.health().sessions_opened_total == 2
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "foc-proxy stopped" in out
    assert "tx tx-1" in err and "outcome=OK" in err
    for secret in (SECRET_PERSON, SECRET_COUNT):
        assert secret not in err and secret not in out


def test_daemon_reports_a_bad_configuration() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "foc.proxy",
            "--tee",
            "native",
            "--pool",
            "0",
            "--native-lib",
            "/nonexistent.so",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3 and "pool size 0" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "foc.proxy", "--tee", "native", "--native-lib", "/nonexistent/libfoc_core.so"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 4 and "cannot load the native trusted core" in proc.stderr
