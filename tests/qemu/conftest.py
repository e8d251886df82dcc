"""The qemu tier: one real OP-TEE guest per test session, built and booted once, always torn down.

The guest runs in its own foc-deploy instance (run dir `qemu/pytest-<pid>`) on a free port, so it
never touches an instance someone started by hand with `foc-deploy qemu up`.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import pytest

from foc.deploy import api, paths
from foc.deploy.console import PexpectConsole
from foc.deploy.qemu import free_port, pid_is_ours, read_pid
from foc.errors import FocError, HostSetupError, ProxyUnavailable
from foc.proxy.client import ProxyClient

GUEST_PYTHONPATH = "/opt/foc/src:/opt/foc/site"


@dataclass
class Guest:
    """The booted guest: its console (a root shell) and where the proxy answers."""

    running: api.RunningTarget
    console: PexpectConsole
    instance: str

    @property
    def proxy_address(self) -> str:
        return self.running.proxy_address

    def wait_for_proxy(self, timeout: float = 180.0) -> float:
        """Poll the guest proxy's Health on a fresh channel until it serves (after a restart);
        returns the seconds waited. 180 s covers python + grpc start under TCG."""
        t0 = time.monotonic()
        with ProxyClient(self.proxy_address) as probe:
            while True:
                try:
                    if probe.health(timeout=5.0).serving:
                        return time.monotonic() - t0
                except ProxyUnavailable:
                    pass
                if time.monotonic() - t0 > timeout:
                    pytest.fail(f"the guest proxy did not serve again within {timeout:g} s")
                time.sleep(0.5)

    def python(self, script: str, timeout: float = 120.0) -> tuple[int, str]:
        """Run a Python script in the guest with the FOC sources on its path."""
        path = f"/tmp/foc-test-{abs(hash(script)) & 0xFFFFFF:06x}.py"
        self.console.write_file(path, script.encode())
        return self.console.run(f"PYTHONPATH={GUEST_PYTHONPATH} python3 {path} 2>&1", timeout=timeout)


def _report(config: pytest.Config, line: str) -> None:
    # Shown in the terminal summary by tests/conftest.py (live writes get redrawn over).
    getattr(config, "foc_qemu_report", []).append(line)


def _remove_stale_test_instances() -> None:
    """Delete run dirs (logs) of earlier test sessions whose QEMU is gone; the newest ones stay."""
    root = paths.cache_root() / "run" / "qemu"
    for run_dir in root.glob("pytest-*"):
        pid = read_pid(run_dir / "qemu.pid")
        recent = time.time() - run_dir.stat().st_mtime < 600  # maybe another session still building
        if not recent and (pid is None or not pid_is_ours(pid, run_dir)):
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def guest_booter() -> Callable[[str], AbstractContextManager[Guest]]:
    """`booted_guest` for test modules: in the full suite `from conftest import ...` finds whichever
    directory's conftest was loaded last, not this one."""
    return booted_guest


@contextmanager
def booted_guest(instance: str) -> Iterator[Guest]:
    """Boot the qemu target (built, cached) as `instance` on a free port; yields a `Guest` with an
    open root console; always stops the instance. pytest.fail when it does not come up."""
    try:
        running = api.up("qemu", port=free_port(), instance=instance)
    except FocError as exc:
        api.down("qemu", instance=instance)
        pytest.fail(f"qemu tier: the target did not come up: {exc}", pytrace=False)
    console = running.console(default_timeout=120.0)
    try:
        console.open()
        console.wait_for_shell()
        yield Guest(running=running, console=console, instance=instance)
    finally:
        console.close()
        api.down("qemu", instance=instance)


@pytest.fixture(scope="session")
def guest(request: pytest.FixtureRequest) -> Iterator[Guest]:
    """Build (cached) and boot the qemu target once; yields a `Guest`; always stops it."""
    from foc.deploy.host import require_host

    try:
        require_host("qemu")
    except HostSetupError as exc:  # fail, never skip: CI must not pass without the tier
        pytest.fail(f"qemu tier: host not ready: {exc.message}\n{exc.hint or ''}", pytrace=False)

    _remove_stale_test_instances()
    instance = f"pytest-{os.getpid()}"
    t0 = time.monotonic()
    request.config.foc_qemu_t0 = t0  # type: ignore[attr-defined]
    with booted_guest(instance) as booted:
        running = booted.running
        _report(
            request.config,
            f"{running.ready} in {time.monotonic() - t0:.1f} s "
            f"({', '.join(f'{k}={v}' for k, v in running.timings.items())}); logs in {running.logs}",
        )
        try:
            yield booted
        finally:
            t_down = time.monotonic()
    _report(request.config, f"stopped the guest in {time.monotonic() - t_down:.1f} s")
    _report(request.config, f"qemu tier wall time (up to down): {time.monotonic() - t0:.1f} s")
