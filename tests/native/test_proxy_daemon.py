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


def test_a_second_daemon_on_a_taken_address_exits_with_a_clear_error() -> None:
    """Issue 8, kind 7: gRPC's SO_REUSEPORT let a second server start on a taken port and the
    kernel split the connections between the two. foc-proxy never shares a port."""
    from foc.deploy.native_build import build_native_core

    lib = build_native_core()
    base = [sys.executable, "-m", "foc.proxy", "--tee", "native", "--pool", "1", "--native-lib", str(lib)]
    first = subprocess.Popen([*base, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None
        m = re.match(r"foc-proxy listening on (127\.0\.0\.1:\d+) ", first.stdout.readline())
        assert m
        second = subprocess.run([*base, "--listen", m.group(1)], capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and "listening" not in second.stdout
        assert f"cannot listen on '{m.group(1)}'" in second.stderr and "in use" in second.stderr
        with ProxyClient(m.group(1)) as c:  # the first one still serves
            assert c.health().serving
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
