"""What the emulated VideoCore firmware reads from config.txt, and the overlap checks of what it loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from foc.deploy.rpi3 import firmware
from foc.deploy.targets import get_target
from foc.errors import ConfigError

CONFIG = """\
# comment
arm_64bit=1
armstub=armstub8.bin
kernel=vmlinuz
kernel_address=0x02000000
device_tree_address=0x01000000   # trailing comment
initramfs initrd.img 0x12000000
enable_uart=1
gpu_mem=16
[pi4]
kernel=never.img
[pi3]
device_tree=bcm2837-rpi-3-b.dtb
[pi3+]
device_tree=bcm2837-rpi-3-b-plus.dtb
[all]
"""


def test_sections_pick_the_board_specific_device_tree() -> None:
    b = firmware.parse_config_txt(CONFIG, "pi3")
    assert (b.device_tree, b.kernel, b.armstub) == ("bcm2837-rpi-3-b.dtb", "vmlinuz", "armstub8.bin")
    assert (b.kernel_address, b.device_tree_address, b.initramfs_address) == (
        0x02000000,
        0x01000000,
        0x12000000,
    )
    assert b.arm_64bit and b.enable_uart and b.initramfs == "initrd.img"
    assert b.arm_memory == (1 << 30) - (16 << 20)
    assert (
        firmware.parse_config_txt(CONFIG, "pi3+").device_tree == "bcm2837-rpi-3-b-plus.dtb"
    )  # [pi3] too, then [pi3+]


def test_the_targets_own_config_txt_parses_for_both_models() -> None:
    sd = get_target("rpi3").sd_card
    assert sd is not None
    for board in firmware.BOARDS:
        assert firmware.parse_config_txt(sd.config_txt, board).arm_64bit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CONFIG.replace("kernel_address=0x02000000\n", ""), "no kernel_address"),
        (
            CONFIG.replace("initramfs initrd.img 0x12000000", "initramfs initrd.img followkernel"),
            "followkernel",
        ),
        (CONFIG.replace("initramfs initrd.img 0x12000000\n", ""), "no `initramfs"),
        (CONFIG.replace("kernel_address=0x02000000", "kernel_address=far"), "not an address"),
        (CONFIG + "garbage line\n", "not key=value"),
        (CONFIG.replace("gpu_mem=16", "gpu_mem=lots"), "gpu_mem"),
    ],
)
def test_bad_config_txt_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        firmware.parse_config_txt(text, "pi3")


def test_unknown_board_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown board"):
        firmware.parse_config_txt(CONFIG, "pi4")


def test_arm64_image_size_reads_the_header() -> None:
    header = bytearray(64)
    header[16:24] = (0x02010000).to_bytes(8, "little")
    header[0x38:0x3C] = b"ARM\x64"
    assert firmware.arm64_image_size(bytes(header)) == 0x02010000
    with pytest.raises(ConfigError, match="not an arm64 Linux Image"):
        firmware.arm64_image_size(b"\0" * 64)


def _load(what: str, address: int, size: int) -> firmware.Load:
    return firmware.Load(what, Path(what), address, size)


RESERVED = [
    ("atf_bl1", 0, 0x20000),
    ("optee_shm", 0x08000000, 0x400000),
    ("optee_core", 0x10100000, 0xF00000),
]


def test_the_targets_layout_has_no_overlap() -> None:
    loads = [
        _load("armstub", 0, 0x9E2F0),  # may sit in BL1's own reservation
        _load("dtb", 0x01000000, 0x4000),
        _load("kernel", 0x02000000, 0x02010000),
        _load("initramfs", 0x12000000, 0x3700000),
    ]
    firmware.check_no_overlap(loads, RESERVED, limit=0x3C000000)


@pytest.mark.parametrize(
    ("loads", "message"),
    [
        ([_load("kernel", 0x02000000, 0x06100000)], "overlaps reserved optee_shm"),  # a 97 MiB kernel
        ([_load("initramfs", 0x10000000, 0x200000)], "overlaps reserved optee_core"),
        ([_load("dtb", 0x01000000, 0x1000), _load("kernel", 0x01000800, 0x1000)], "overlaps kernel"),
        ([_load("initramfs", 0x3B000000, 0x2000000)], "beyond the ARM's RAM"),
    ],
)
def test_overlaps_are_found(loads: list[firmware.Load], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        firmware.check_no_overlap(loads, RESERVED, limit=0x3C000000)
