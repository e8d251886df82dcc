"""The rpi3 tier: the Raspberry Pi 3 SD image, proven without a board.

- `rpi3_image`: builds the image once (cached by content hash: seconds when nothing changed);
- `board`: boots that exact image under QEMU raspi3b in its own instance (`rpi3/pytest-<pid>`) on
  free ports, provisions it over SSH and yields a `device_checks.Device`; always stopped at the end.
Credentials (the emulated board's pinned SSH host key and proxy certificate, the deploy key) live
in a FOC_HOME of this session, never in the user's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from device_checks import Device, report

from foc.deploy import api
from foc.deploy.image import ImageSet
from foc.deploy.qemu import free_port
from foc.deploy.rpi3.identity import BoardIdentity
from foc.errors import FocError, HostSetupError


@pytest.fixture(scope="session")
def foc_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("foc-home")
    old = os.environ.get("FOC_HOME")
    os.environ["FOC_HOME"] = str(home)
    try:
        yield home
    finally:
        if old is None:
            os.environ.pop("FOC_HOME", None)
        else:
            os.environ["FOC_HOME"] = old


@pytest.fixture(scope="session")
def rpi3_image(request: pytest.FixtureRequest) -> ImageSet:
    """The rpi3 image (built once per session if its inputs changed); without the host packages
    the tier fails, never skips."""
    from foc.deploy.host import require_host

    try:
        require_host("rpi3")
    except HostSetupError as exc:
        pytest.fail(f"rpi3 tier: host not ready: {exc.message}\n{exc.hint or ''}", pytrace=False)
    built = api.build("rpi3")
    image = ImageSet.from_json(built.details["image"])  # type: ignore[arg-type]
    cold = image.extra.get("cold_build_seconds")
    report(
        request.config,
        f"image: {image.sd_image} built/checked in {built.seconds:.1f} s"
        + (f" (last cold build {float(cold):.0f} s)" if cold else ""),
    )
    return image


def _remove_stale_test_instances() -> None:
    """Delete run dirs of earlier sessions whose QEMU is gone (their 256 MiB cards); recent ones stay."""
    import shutil

    from foc.deploy.paths import cache_root
    from foc.deploy.qemu import pid_is_ours, read_pid

    for run_dir in (cache_root() / "run" / "rpi3").glob("pytest-*"):
        pid = read_pid(run_dir / "qemu.pid")
        recent = time.time() - run_dir.stat().st_mtime < 600  # maybe another session still booting
        if not recent and (pid is None or not pid_is_ours(pid, run_dir)):
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def board(rpi3_image: ImageSet, foc_home: Path, request: pytest.FixtureRequest) -> Iterator[Device]:
    """The SD image booted under QEMU raspi3b and provisioned over SSH, until "proxy ready"."""
    _remove_stale_test_instances()
    instance = f"pytest-{os.getpid()}"
    t0 = time.monotonic()
    try:
        running = api.up("rpi3", build=False, port=free_port(), instance=instance)
    except FocError as exc:
        api.down("rpi3", instance=instance)
        pytest.fail(f"rpi3 tier: the raspi3b emulation did not come up: {exc}", pytrace=False)
    report(
        request.config,
        f"raspi3b: {running.ready} in {time.monotonic() - t0:.1f} s "
        f"({', '.join(f'{k}={v}' for k, v in running.timings.items())}); logs in {running.logs}",
    )
    from foc.deploy.rpi3.runtime import Rpi3Runtime

    state = Rpi3Runtime(instance).read_state()
    device = Device(
        running=running,
        identity=BoardIdentity.of(str(state["board"])),
        ssh_host=str(state["host"]),
        ssh_port=int(state["ssh_port"]),
        instance=instance,
    )
    try:
        yield device
    finally:
        api.down("rpi3", instance=instance)
        (running.run_dir / "card.img").unlink(missing_ok=True)  # 256 MiB; the logs stay
