"""The Python API of foc-deploy's runtime: module-level shortcuts over `foc.deploy.runtime`.

The CLI (`foc.deploy.cli`) and the test tiers use these; each call picks the target's runtime by
name (`native`, `qemu`, `rpi3`) and instance, then delegates.

    running = ensure_up("qemu", port=50061)   # builds if needed, boots, waits for the proxy
    with attach_console("qemu") as console:
        rc, out = console.run("ls /dev/tee0")
    down("qemu")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foc.deploy.console import Console
from foc.deploy.runtime import (
    READY_PROXY,
    READY_TEE,
    BuildResult,
    Progress,
    RunningTarget,
    get_runtime,
)

__all__ = [
    "READY_PROXY",
    "READY_TEE",
    "RunningTarget",
    "attach_console",
    "build",
    "down",
    "ensure_up",
    "expected_measurement",
    "log_path",
    "status",
    "up",
]


def build(
    target: str = "qemu", *, progress: Progress | None = None, verbose: bool = False, refresh: bool = False
) -> BuildResult:
    """Build (or fetch from the cache) what `target` runs."""
    return get_runtime(target).build(progress=progress, verbose=verbose, refresh=refresh)


def up(
    target: str = "qemu",
    *,
    port: int | None = None,
    build: bool = True,
    progress: Progress | None = None,
    verbose: bool = False,
    instance: str = "default",
    **options: Any,
) -> RunningTarget:
    """Start `target` and wait until its proxy answers; `options` are target-specific (e.g.
    qemu's `kernel_args`, `boot_timeout`; rpi3's `host`, `serial`)."""
    runtime = get_runtime(target, instance)
    return runtime.up(build=build, port=port, progress=progress, verbose=verbose, **options)


def ensure_up(
    target: str = "qemu",
    *,
    port: int | None = None,
    build: bool = True,
    progress: Progress | None = None,
    verbose: bool = False,
    instance: str = "default",
) -> RunningTarget:
    """Reuse a running healthy instance (on `port` if given), else (re)start one."""
    return get_runtime(target, instance).ensure_up(build=build, port=port, progress=progress, verbose=verbose)


def down(target: str = "qemu", *, instance: str = "default") -> bool:
    """Stop what `up` started (only that). True if something ran."""
    return get_runtime(target, instance).down()


def status(target: str = "qemu", *, instance: str = "default") -> dict[str, object]:
    """What runs and whether it answers; JSON-serialisable (the CLI's `status --json`)."""
    return get_runtime(target, instance).status()


def attach_console(target: str = "qemu", *, instance: str = "default", **kwargs: Any) -> Console:
    """An open console on the running target's normal-world shell (close it when done)."""
    return get_runtime(target, instance).console(**kwargs)


def log_path(target: str = "qemu", *, secure: bool = False, instance: str = "default") -> Path:
    """The normal-world (or secure-world) log of the target's last start."""
    return get_runtime(target, instance).log_path(secure=secure)


def expected_measurement(target: str = "qemu") -> bytes | None:
    """The TA measurement a verifier must expect from `target` (None: native, nothing measured)."""
    return get_runtime(target).expected_measurement()
