"""flash: the refusals (from lsblk facts), writing and verifying an image file, sizes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from foc.deploy.rpi3 import flash
from foc.errors import TargetError, UsageError

GIB = 1 << 30


def lsblk(**top: object) -> dict[str, object]:
    node = {"path": "/dev/sdz", "size": 32 * GIB, "rm": True, "hotplug": True, "tran": "usb", "type": "disk",
            "mountpoints": [None]}  # fmt: skip
    node.update(top)
    return {"blockdevices": [node]}


def test_an_sd_card_in_a_usb_reader_passes() -> None:
    dev = flash.parse_lsblk(lsblk())
    assert dev.usb and dev.removable and not dev.mountpoints
    assert flash.refusals(dev, 256 << 20, flash.Overrides()) == []


def test_a_fixed_disk_holding_the_system_is_refused_three_ways() -> None:
    data = lsblk(path="/dev/nvme0n1", size=512 * GIB, rm=False, hotplug=False, tran="nvme",
                 children=[{"path": "/dev/nvme0n1p1", "mountpoints": ["/boot/efi"]},
                           {"path": "/dev/nvme0n1p2", "mountpoints": [None],
                            "children": [{"path": "/dev/mapper/root", "mountpoints": ["/"]}]}])  # fmt: skip
    dev = flash.parse_lsblk(data)
    assert set(dev.mountpoints) == {"/boot/efi", "/"}  # found through partitions and dm children
    reasons = {flag: reason for reason, flag in flash.refusals(dev, 256 << 20, flash.Overrides())}
    assert set(reasons) == {"--allow-non-removable", "--allow-system-disk", "--allow-mounted", "--max-size"}
    assert "holds the running system (/boot/efi, /)" in reasons["--allow-system-disk"]
    # each override lifts exactly its refusal
    everything = flash.Overrides(True, True, True, max_size=1024 * GIB)
    assert flash.refusals(dev, 256 << 20, everything) == []
    only_size = flash.Overrides(max_size=1024 * GIB)
    assert "--max-size" not in {f for _, f in flash.refusals(dev, 256 << 20, only_size)}


def test_a_loop_device_is_not_removable_and_a_mounted_one_is_mounted() -> None:
    child = {"path": "/dev/loop7p1", "mountpoints": ["/mnt/x"]}
    dev = flash.parse_lsblk(
        lsblk(path="/dev/loop7", rm=False, hotplug=False, tran=None, type="loop", children=[child])
    )
    found = flash.refusals(dev, 256 << 20, flash.Overrides(allow_non_removable=True))
    assert [f for _, f in found] == ["--allow-mounted"]
    assert "a loop device" in flash.refusals(dev, 256 << 20, flash.Overrides())[0][0]


def test_partitions_listed_flat_count_too() -> None:
    """Without udev (containers) lsblk lists a device's partitions after it, not as children."""
    data = lsblk(path="/dev/loop0", rm=False, hotplug=False, tran=None, type="loop")
    data["blockdevices"].append({"path": "/dev/loop0p1", "type": "part", "mountpoints": ["/mnt/card"]})  # type: ignore[attr-defined]
    assert flash.parse_lsblk(data).mountpoints == ("/mnt/card",)


def test_too_small_has_no_override() -> None:
    dev = flash.parse_lsblk(lsblk(size=128 << 20))
    ((reason, flag),) = flash.refusals(dev, 256 << 20, flash.Overrides(True, True, True, 10 * GIB))
    assert "smaller than the image" in reason and flag == ""


def test_a_directory_such_as_root_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "sd.img"
    image.write_bytes(b"x" * 4096)
    with pytest.raises(UsageError, match="not a block device or an image file"):
        flash.check_target(Path("/"), image, 4096, flash.Overrides())
    with pytest.raises(UsageError, match="the source image itself"):
        flash.check_target(image, image, 4096, flash.Overrides())


def test_writing_an_image_file_verifies_by_reading_back(tmp_path: Path) -> None:
    image = tmp_path / "sd.img"
    image.write_bytes(os.urandom(3 * flash.CHUNK + 123))
    target = tmp_path / "card.img"
    seen: list[tuple[str, int, int]] = []
    digest = flash.write_image(image, target, block_device=False, progress=lambda *a: seen.append(a))
    assert target.read_bytes() == image.read_bytes()
    assert digest == flash.sha256_file(image)
    assert seen[-1] == ("verify", image.stat().st_size, image.stat().st_size)
    assert any(p[0] == "write" for p in seen)


def test_a_read_back_mismatch_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "sd.img"
    image.write_bytes(b"a" * 10000)
    real_fsync = os.fsync

    def corrupting_fsync(fd: int) -> None:  # a card that silently drops a write
        real_fsync(fd)
        os.pwrite(fd, b"b", 5000)

    monkeypatch.setattr(flash.os, "fsync", corrupting_fsync)
    with pytest.raises(TargetError, match="read-back .* does not match"):
        flash.write_image(image, tmp_path / "card.img", block_device=False)


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    image = tmp_path / "sd.img"
    image.write_bytes(b"z" * 8192)
    report = flash.flash(image, tmp_path / "card.img", dry_run=True, workdir=tmp_path / "w")
    assert report.dry_run and not report.verified and report.kind == "image file"
    assert not (tmp_path / "card.img").exists() and report.sha256 == flash.sha256_file(image)


@pytest.mark.parametrize(
    ("text", "value"), [("128G", 128 * GIB), ("512M", 512 << 20), ("4096", 4096), ("1.5GiB", int(1.5 * GIB))]
)
def test_sizes(text: str, value: int) -> None:
    assert flash.parse_size(text) == value


def test_bad_size() -> None:
    with pytest.raises(UsageError):
        flash.parse_size("big")
