"""`foc-deploy rpi3 flash` on real block devices: a loop device (written, read back), its refusals
when mounted, and the disk that holds this system. Needs root (losetup, mount), as CI has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from foc.deploy.image import ImageSet
from foc.deploy.rpi3 import flash, sdimage
from foc.deploy.rpi3.identity import BoardIdentity, deploy_key
from foc.errors import TargetError, UsageError


def _run(*argv: str) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("flashing a loop device needs root (losetup); CI runs as root")
    backing = tmp_path / "card.bin"
    with backing.open("wb") as f:
        f.truncate(512 << 20)  # a 512 MiB "card"
    device = Path(_run("losetup", "--find", "--show", "--partscan", str(backing)))
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", str(device)], check=False)


def test_a_loop_device_is_refused_without_its_override_then_written_and_verified(
    rpi3_image: ImageSet, loop: Path, foc_home: Path, tmp_path: Path
) -> None:
    assert rpi3_image.sd_image is not None
    with pytest.raises(TargetError, match="a loop device, not a removable or USB device") as info:
        flash.flash(rpi3_image.sd_image, loop, workdir=tmp_path)
    assert "--allow-non-removable" in info.value.message
    with loop.open("rb") as f:
        assert f.read(512) == bytes(512), "a refusal writes nothing"
    identity = BoardIdentity.of("loop-card", home=foc_home)
    report = flash.flash(
        rpi3_image.sd_image,
        loop,
        personalize=identity.flash_files(),
        overrides=flash.Overrides(allow_non_removable=True),
        workdir=tmp_path,
    )
    assert report.verified and report.kind == "block device" and report.device["type"] == "loop"
    assert report.personalized == ["authorized_keys", "ssh_host_ed25519_key"]
    # What the card holds now: the image's partitions, and the board's identity on its FAT.
    _, parts = sdimage.read_mbr(loop)
    assert [(p.number, p.type) for p in parts] == [(1, 0x0C), (2, 0x83)]
    assert sdimage.fat_read(loop, "config.txt") == sdimage.fat_read(rpi3_image.sd_image, "config.txt")
    assert sdimage.fat_read(loop, "foc/authorized_keys").decode().strip() == deploy_key(foc_home)[1]
    assert identity.pinned_host_key() is not None
    assert flash.sha256_file(loop, limit=report.bytes) == report.sha256  # the read-back hash, once more


def test_a_mounted_loop_device_is_refused(rpi3_image: ImageSet, loop: Path, tmp_path: Path) -> None:
    assert rpi3_image.sd_image is not None
    flash.flash(
        rpi3_image.sd_image, loop, overrides=flash.Overrides(allow_non_removable=True), workdir=tmp_path
    )  # a card with partitions to mount
    subprocess.run(["partx", "-u", str(loop)], check=False)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "ro", f"{loop}p2", str(mnt)], check=True)  # the ext4 data partition
    try:
        with pytest.raises(TargetError, match=rf"{loop} is mounted \({mnt}\)") as info:
            flash.flash(
                rpi3_image.sd_image,
                loop,
                overrides=flash.Overrides(allow_non_removable=True),
                workdir=tmp_path,
            )
        assert "--allow-mounted" in info.value.message
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_the_system_disk_and_root_are_refused(rpi3_image: ImageSet, tmp_path: Path) -> None:
    assert rpi3_image.sd_image is not None
    with pytest.raises(UsageError, match="not a block device"):
        flash.flash(rpi3_image.sd_image, Path("/"), workdir=tmp_path)
    argv = ["findmnt", "-n", "-o", "SOURCE", "/"]
    found = subprocess.run(argv, capture_output=True, text=True, check=False)
    if found.returncode != 0:  # e.g. a chroot (fresh-debian-check): / is a directory, not a mount
        pytest.skip("/ is not a mount point here: no system disk to refuse; covered by the unit tests")
    source = found.stdout.strip()
    root = Path(source)
    if not root.exists() or not root.is_block_device():
        pytest.skip(f"/ is on {source!r}, not a block device here: its refusal is covered by the unit tests")
    everything_but_system = flash.Overrides(allow_non_removable=True, allow_mounted=True, max_size=1 << 50)
    with pytest.raises(TargetError, match="holds the running system") as info:
        flash.flash(
            rpi3_image.sd_image, root, overrides=everything_but_system, dry_run=True, workdir=tmp_path
        )
    assert "--allow-system-disk" in info.value.message


def test_the_cli_dry_run_and_an_image_file(rpi3_image: ImageSet, tmp_path: Path, foc_home: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    target = tmp_path / "personal.img"
    cli = [sys.executable, "-m", "foc.deploy.cli"]
    proc = subprocess.run([*cli, "rpi3", "flash", "--device", str(target), "--dry-run", "--json"],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["dry_run"] is True and not target.exists()
    proc = subprocess.run([*cli, "rpi3", "flash", "--device", str(target), "--board", "file-card"],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "wrote and verified" in proc.stdout and "file-card" in proc.stdout
    assert "verify" in proc.stderr  # rich's progress bars (write, verify) on stderr
    assert sdimage.fat_read(target, "foc/ssh_host_ed25519_key").startswith(b"-----BEGIN OPENSSH PRIVATE KEY")
