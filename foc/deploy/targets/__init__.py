"""Image targets: one data module per device image (`qemu`, `rpi3`); their runtimes: `foc.deploy.runtime`."""

from __future__ import annotations

from foc.deploy.targets.base import DebPackage, Firmware, Kernel, Rootfs, SdCard, SourcePackage, Target
from foc.errors import UsageError

__all__ = [
    "DebPackage",
    "Firmware",
    "Kernel",
    "Rootfs",
    "SdCard",
    "SourcePackage",
    "Target",
    "get_target",
    "names",
]


def _registry() -> dict[str, Target]:
    from foc.deploy.targets import qemu, rpi3

    return {t.name: t for t in (qemu.TARGET, rpi3.TARGET)}


def names() -> tuple[str, ...]:
    """Names of the targets foc-deploy knows."""
    return tuple(sorted(_registry()))


def get_target(name: str) -> Target:
    """The target called `name`, or a UsageError naming the known ones."""
    registry = _registry()
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise UsageError(f"unknown target {name!r}", hint=f"known targets: {known}") from None
