"""Pid-file safety and the QEMU process lifecycle (real QEMU running U-Boot only: ~3 s)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from foc.deploy.console import PexpectConsole
from foc.deploy.image import ImageSet
from foc.deploy.qemu import QemuInstance, QemuMachine, free_port, pid_is_ours, read_pid, stop_pid
from foc.errors import ConfigError, TargetError

UBOOT = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")


def test_read_pid_rejects_garbage(tmp_path: Path) -> None:
    f = tmp_path / "qemu.pid"
    assert read_pid(f) is None
    for bad in ("", "abc", "-5", "0", "12 13"):
        f.write_text(bad)
        assert read_pid(f) is None, bad
    f.write_text("4242\n")
    assert read_pid(f) == 4242


def test_a_process_that_does_not_name_the_run_dir_is_never_signalled(tmp_path: Path) -> None:
    # A stale pid file may point at any process: here a sleeping child of ours.
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not pid_is_ours(victim.pid, tmp_path / "run")
        assert stop_pid(victim.pid, tmp_path / "run", grace=0.1) is False
        assert victim.poll() is None  # still alive
        assert stop_pid(os.getpid(), tmp_path / "run") is False  # and so are we
    finally:
        victim.kill()
        victim.wait()


def test_a_matching_process_is_stopped(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(60)", str(run_dir)])
    try:
        # Wait for exec: until then the child's cmdline is ours.
        for _ in range(500):
            if pid_is_ours(proc.pid, run_dir):
                break
            time.sleep(0.01)
        assert stop_pid(proc.pid, run_dir, grace=5) is True
        assert proc.wait(timeout=5) is not None
        assert not pid_is_ours(proc.pid, run_dir)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _fake_image(tmp_path: Path, bios: Path) -> ImageSet:
    (tmp_path / "share").mkdir()
    for name in ("Image", "initrd"):
        (tmp_path / name).write_bytes(b"\0" * 4096)
    return ImageSet(
        target="qemu",
        root=tmp_path,
        bios=bios,
        kernel=tmp_path / "Image",
        initrd=tmp_path / "initrd",
        share=tmp_path / "share",
        manifest=tmp_path / "manifest.json",
    )


def test_command_line_forwards_only_on_loopback(tmp_path: Path) -> None:
    image = _fake_image(tmp_path, tmp_path / "bios")
    inst = QemuInstance(image, run_dir=tmp_path / "run", port=50099)
    argv = " ".join(inst.command_line())
    assert "hostfwd=tcp:127.0.0.1:50099-:50051" in argv
    assert "foc.proxy_port=50051" in argv
    assert f"logfile={inst.normal_log}" in argv and f"file:{inst.secure_log}" in argv
    assert "mount_tag=host0" in argv and str(image.share) in argv
    # secure storage is per instance (its run dir), never the shared image directory
    assert f"path={tmp_path / 'run' / 'secure-storage'}," in argv and "mount_tag=foc_state" in argv
    with pytest.raises(ConfigError):
        QemuInstance(image, run_dir=tmp_path / "run", port=70000)


def test_missing_image_files_are_reported(tmp_path: Path) -> None:
    image = _fake_image(tmp_path, tmp_path / "no-such-bios")
    (tmp_path / "run").mkdir()
    inst = QemuInstance(image, run_dir=tmp_path / "run", port=free_port())
    with pytest.raises(TargetError, match="no-such-bios"):
        inst.start()


@pytest.mark.skipif(
    not (shutil.which("qemu-system-aarch64") and UBOOT.is_file()), reason="needs qemu + u-boot-qemu"
)
def test_qemu_lifecycle_with_uboot(tmp_path: Path) -> None:
    """Start detached, console over the chardev socket, log captured, busy port refused, stop."""
    image = _fake_image(tmp_path, UBOOT)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    machine = QemuMachine(machine="virt", smp=1, memory_mb=256)
    inst = QemuInstance(image, run_dir=run_dir, port=free_port(), machine=machine)
    inst.start()
    try:
        assert inst.is_running()
        assert read_pid(inst.pid_file) == inst.pid
        with PexpectConsole.unix_socket(inst.console_socket, default_timeout=60) as console:
            console.expect("=> ", timeout=60)
            console.wait_for_shell()
            rc, out = console.run("version")
            assert rc == 0 and "U-Boot" in out
            rc, _ = console.run("false")
            assert rc == 1
        assert "__FOC_E_" in inst.normal_log.read_text(errors="replace")
        # A second instance on the same run dir is refused while the first runs.
        again = QemuInstance(image, run_dir=run_dir, port=free_port(), machine=machine)
        with pytest.raises(TargetError, match="already running"):
            again.start()
        # The hostfwd port is taken by QEMU, so another start on it is refused.
        other = QemuInstance(image, run_dir=tmp_path / "run2", port=inst.port, machine=machine)
        (tmp_path / "run2").mkdir()
        with pytest.raises(TargetError, match="in use"):
            other.start()
    finally:
        pid = inst.pid
        assert inst.stop() is True
    assert not inst.is_running() and not inst.pid_file.exists()
    assert pid is not None and not pid_is_ours(pid, run_dir)
    assert inst.stop() is False  # idempotent
