"""The Python API of foc-deploy's runtime: module-level shortcuts over `foc.deploy.runtime`.

The CLI (`foc.deploy.cli`) and the test tiers use these; each call picks the target's runtime by
name (`native`, `qemu`, `rpi3`) and instance, then delegates.

    running = ensure_up("qemu", port=50061)   # builds if needed, boots, waits for the proxy
    with attach_console("qemu") as console:
        rc, out = console.run("ls /dev/tee0")
    down("qemu")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from foc.deploy import paths
from foc.deploy.console import Console
from foc.deploy.image import ImageSet
from foc.deploy.runtime import (
    READY_PROXY,
    READY_TEE,
    BuildResult,
    ImageRuntime,
    Progress,
    RunningTarget,
    get_runtime,
    image_ta_measurement,
)
from foc.errors import TargetError

__all__ = [
    "READY_PROXY",
    "READY_TEE",
    "RunningTarget",
    "attach_console",
    "build",
    "down",
    "booted_image",
    "ensure_up",
    "expected_ta_measurement",
    "log_path",
    "status",
    "up",
]


def build(
    target: str = "qemu",
    *,
    progress: Progress | None = None,
    verbose: bool = False,
    refresh: bool = False,
    tas: Sequence[str | Path] = (),
) -> BuildResult:
    """Build (or fetch from the cache) what `target` runs, with the chaincode TAs `tas` (signed `.ta`
    files of chaincode projects) beside FOC's own."""
    return get_runtime(target).build(progress=progress, verbose=verbose, refresh=refresh, tas=tas)


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


def booted_image(
    target: str = "qemu", *, instance: str | None = None, proxy_address: str | None = None
) -> ImageSet | None:
    """The image a running instance of an image target booted (by instance name, or by the proxy
    address it serves), or None."""
    root = paths.cache_root() / "run" / target
    names = [instance] if instance else sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    for name in names:
        runtime = get_runtime(target, name)
        running = runtime.running() if isinstance(runtime, ImageRuntime) else None
        if running is None or (proxy_address is not None and running.proxy_address != proxy_address):
            continue
        assert isinstance(runtime, ImageRuntime)
        return runtime.booted_image()
    return None


def expected_ta_measurement(
    target: str = "qemu",
    *,
    instance: str | None = None,
    proxy_address: str | None = None,
    ta_uuid: str | None = None,
) -> bytes:
    """The measurement TA `ta_uuid` (default FOC's coffee TA) must have on `target`, computed
    offline from the image's `.ta` file.

    What `foc chaincode define` pins as the chaincode version (FPC pins MRENCLAVE the same way).
    The image is the one a running instance booted (named by `instance`, or found by the
    `proxy_address` it serves), else the image built from this checkout's current inputs. Raises
    TargetError when there is neither, or the image holds no FOC TA (and for the native target,
    which measures nothing).
    """
    from foc.deploy.build import current_image

    runtime = get_runtime(target)
    if not isinstance(runtime, ImageRuntime):
        raise TargetError(f"the {target} target measures nothing (it is not a TEE)")
    image = None
    if instance is not None or proxy_address is not None:
        image = booted_image(target, instance=instance, proxy_address=proxy_address)
    image = image or current_image(target)
    if image is None:
        raise TargetError(
            f"no {target} image has been built from this checkout's sources",
            hint=f"`foc-deploy {target} build`",
        )
    return image_ta_measurement(image, ta_uuid)
