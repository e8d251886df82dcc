"""What the Raspberry Pi's VideoCore firmware does before the ARM cores run, for the emulation.

On the board, `start.elf` (VideoCore IV code) reads config.txt and cmdline.txt from the FAT
partition, loads armstub8.bin, the kernel, the initramfs and the DTB at the configured addresses,
fills in the DT (`/memory` = the ARM's share of the 1 GiB, `/chosen` bootargs and initramfs
range) and releases the cores at 0 in EL3. QEMU's raspi3b machine emulates the ARM side only, so
`foc.deploy.rpi3.emulator` does this part with `load_plan()`: the same files, read from the SD
image, at the addresses config.txt names. Not emulated: the firmware's own additions to the
command line and DT (serial numbers, MAC address, overlays) and its GPIO setup for
`enable_uart` (so under QEMU TF-A prints on the PL011, not the mini UART).

config.txt syntax (https://www.raspberrypi.com/documentation/computers/config_txt.html):
`key=value` lines, `initramfs FILE ADDRESS`, `#` comments, and conditional sections (`[all]`,
`[pi3]` = every Pi 3 incl. 3B+, `[pi3+]` = 3A+/3B+ only; other filters never match here).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from foc.errors import ConfigError, HostSetupError

BOARDS = ("pi3", "pi3+")  # what the emulated firmware identifies as: QEMU raspi3b is a Pi 3 Model B
RAM_BYTES = 1 << 30  # the Pi 3's 1 GiB, shared with the VideoCore (gpu_mem at the top)


@dataclass(frozen=True)
class BootConfig:
    """The parts of config.txt that decide what is loaded where (addresses in bytes)."""

    armstub: str
    kernel: str
    kernel_address: int
    device_tree: str
    device_tree_address: int
    initramfs: str
    initramfs_address: int
    gpu_mem_mib: int = 64
    arm_64bit: bool = False
    enable_uart: bool = False

    @property
    def arm_memory(self) -> int:
        """Bytes of RAM the ARM cores get (the firmware writes this into /memory)."""
        return RAM_BYTES - self.gpu_mem_mib * 1024 * 1024


def _section_applies(section: str, board: str) -> bool:
    if section == "all":
        return True
    if section == "pi3":
        return board in ("pi3", "pi3+")
    return section == board


def parse_config_txt(text: str, board: str = "pi3") -> BootConfig:
    """The effective boot settings of config.txt on `board` ("pi3" = 3B, "pi3+" = 3B+).

    Raises ConfigError when a setting FOC's boot chain depends on is missing or malformed.
    """
    if board not in BOARDS:
        raise ConfigError(f"unknown board {board!r}; one of {', '.join(BOARDS)}")
    values: dict[str, str] = {}
    initramfs: tuple[str, str] | None = None
    active = True
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            active = _section_applies(line[1:-1].strip(), board)
            continue
        if not active:
            continue
        if line.startswith("initramfs "):
            parts = line.split()
            if len(parts) != 3:
                raise ConfigError(f"config.txt line {number}: `initramfs FILE ADDRESS` expected, got {raw!r}")
            initramfs = (parts[1], parts[2])
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"config.txt line {number}: not key=value: {raw!r}")
        values[key.strip()] = value.strip()

    def need(key: str) -> str:
        if key not in values:
            raise ConfigError(f"config.txt sets no {key} for {board}")
        return values[key]

    def address(key: str, text_value: str) -> int:
        try:
            return int(text_value, 0)
        except ValueError:
            raise ConfigError(f"config.txt {key}={text_value!r} is not an address") from None

    if initramfs is None:
        raise ConfigError("config.txt has no `initramfs FILE ADDRESS` line")
    if initramfs[1] == "followkernel":
        raise ConfigError("config.txt: `initramfs ... followkernel` is not supported; give an address")
    try:
        gpu_mem = int(values.get("gpu_mem", "64"))
    except ValueError:
        raise ConfigError(f"config.txt gpu_mem={values['gpu_mem']!r} is not a number of MiB") from None
    return BootConfig(
        armstub=need("armstub"),
        kernel=need("kernel"),
        kernel_address=address("kernel_address", need("kernel_address")),
        device_tree=need("device_tree"),
        device_tree_address=address("device_tree_address", need("device_tree_address")),
        initramfs=initramfs[0],
        initramfs_address=address("initramfs", initramfs[1]),
        gpu_mem_mib=gpu_mem,
        arm_64bit=values.get("arm_64bit") == "1",
        enable_uart=values.get("enable_uart") == "1",
    )


def _fdtput(dtb: Path, *args: str) -> None:
    try:
        proc = subprocess.run(["fdtput", str(dtb), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise HostSetupError("fdtput is not installed", hint="apt-get install device-tree-compiler") from None
    if proc.returncode != 0:
        raise ConfigError(f"fdtput {' '.join(args[:3])}: {proc.stderr.strip()}")


def apply_firmware_fixups(dtb: Path, config: BootConfig, cmdline: str, initramfs_size: int) -> None:
    """Edit `dtb` in place as the firmware would: ARM memory, bootargs, initramfs range."""
    _fdtput(dtb, "-t", "x", "/memory@0", "reg", "0", f"{config.arm_memory:#x}")
    _fdtput(dtb, "-t", "s", "/chosen", "bootargs", cmdline.strip())
    start = config.initramfs_address
    _fdtput(dtb, "-t", "x", "/chosen", "linux,initrd-start", f"{start:#x}")
    _fdtput(dtb, "-t", "x", "/chosen", "linux,initrd-end", f"{start + initramfs_size:#x}")


ARM64_IMAGE_MAGIC = (
    b"ARM\x64"  # at offset 0x38 of an arm64 Linux Image (Documentation/arch/arm64/booting.rst)
)


def arm64_image_size(header: bytes) -> int:
    """Bytes an arm64 Linux Image occupies once loaded: its header's `image_size` (BSS included).

    `header`: at least the Image's first 64 bytes. ConfigError if it is not an arm64 Image.
    """
    if len(header) < 64 or header[0x38:0x3C] != ARM64_IMAGE_MAGIC:
        raise ConfigError("not an arm64 Linux Image (no ARM\\x64 magic at 0x38)")
    return int.from_bytes(header[16:24], "little")


@dataclass(frozen=True)
class Load:
    """One file the firmware places in RAM; `size` is what it occupies there."""

    what: str  # armstub, dtb, kernel, initramfs
    path: Path
    address: int
    size: int


def check_no_overlap(loads: list[Load], reserved: list[tuple[str, int, int]], *, limit: int) -> None:
    """ConfigError if two loaded files overlap each other, a reserved region, or pass `limit`.

    The armstub may overlap the BL1 reservation (that is where it lives).
    """
    spans = [(f"{ld.what} ({ld.path.name})", ld.address, ld.address + ld.size) for ld in loads]
    for name, _, end in spans:
        if end > limit:
            raise ConfigError(f"{name} ends at {end:#x}, beyond the ARM's RAM ({limit:#x})")
    for i, (a, a0, a1) in enumerate(spans):
        for b, b0, b1 in spans[i + 1 :]:
            if a0 < b1 and b0 < a1:
                raise ConfigError(f"{a} [{a0:#x}, {a1:#x}) overlaps {b} [{b0:#x}, {b1:#x})")
        for r, r0, size in reserved:
            if a.startswith("armstub") and r0 == 0:
                continue
            if a0 < r0 + size and r0 < a1:
                raise ConfigError(f"{a} [{a0:#x}, {a1:#x}) overlaps reserved {r} [{r0:#x}, {r0 + size:#x})")
