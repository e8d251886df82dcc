"""Reading, checking and personalising the rpi3 SD image without mounting it.

- `read_mbr(image)`: the partition table (parsed from the MBR's 64 bytes: no tool needed).
- `fat_read` / `fat_list` / `fat_write`: files of the FAT boot partition through mtools
  (`-i IMAGE@@OFFSET`), so neither root nor a loop device is needed.
- `inspect(image, manifest)`: the static checks `foc-deploy rpi3 inspect` and the CI run on a
  built image: partition table, FAT files and their hashes against the manifest, config.txt
  against TF-A's build options, the FIP inside armstub8.bin (`fiptool info`), every DTB's OP-TEE
  node, PSCI and reserved memory, that nothing the firmware loads overlaps the secure carve-out,
  and that the TA inside the initramfs is the one the manifest names.
- `personalize(image, files)`: write a board's identity files into `foc/` on the FAT partition.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foc.deploy.build.sdcard import (
    ARMSTUB_NAME,
    DATA_PARTITION_TYPE,
    FAT_PARTITION_TYPE,
    INITRD_NAME,
    KERNEL_NAME,
    SECTOR,
)
from foc.deploy.rpi3.firmware import (
    BOARDS,
    BootConfig,
    Load,
    arm64_image_size,
    check_no_overlap,
    parse_config_txt,
)
from foc.errors import ConfigError, HostSetupError, TargetError

MBR_SIGNATURE = b"\x55\xaa"
FIP_OFFSET = 0x20000  # TF-A rpi3: BL1 padded to 128 KiB, then the FIP (plat/rpi/rpi3/platform.mk)
FIP_TOC_HEADER = 0xAA640001  # TF-A include/tools_share/firmware_image_package.h
FIP_REQUIRED = (
    "Trusted Boot Firmware BL2",
    "EL3 Runtime Firmware BL31",
    "Secure Payload BL32 (Trusted OS)",
    "Secure Payload BL32 Extra1 (Trusted OS Extra1)",
)  # (Extra2, OP-TEE's pageable part, is empty without the pager: fiptool leaves it out)
FIP_ABSENT = ("Non-Trusted Firmware BL33",)  # direct Linux boot: the firmware preloads the kernel
#: FIP entries (`fiptool unpack` names) that must be the OP-TEE binaries the manifest names
FIP_OPTEE = {"tos-fw.bin": "tee-header_v2.bin", "tos-fw-extra1.bin": "tee-pager_v2.bin"}
MTOOLS_ENV = {"MTOOLS_SKIP_CHECK": "1"}
GUEST_TA_PATH = "usr/lib/optee_armtz"  # in the initramfs (foc.deploy.build.steps.GUEST_TA_DIR)


@dataclass(frozen=True)
class Partition:
    """One MBR partition: number (1-4), type byte, bootable flag, start and size in sectors."""

    number: int
    type: int
    bootable: bool
    start: int
    sectors: int

    @property
    def offset(self) -> int:
        return self.start * SECTOR

    @property
    def size(self) -> int:
        return self.sectors * SECTOR


def read_mbr(image: Path) -> tuple[int, list[Partition]]:
    """(disk id, the non-empty primary partitions) of an MBR disk image; TargetError if it has none."""
    with image.open("rb") as f:
        mbr = f.read(SECTOR)
    if len(mbr) < SECTOR or mbr[510:512] != MBR_SIGNATURE:
        raise TargetError(f"{image} has no MBR (no 55 AA signature in its first sector)")
    disk_id = int.from_bytes(mbr[440:444], "little")
    parts = []
    for i in range(4):
        entry = mbr[446 + 16 * i : 446 + 16 * (i + 1)]
        ptype = entry[4]
        if ptype == 0:
            continue
        start = int.from_bytes(entry[8:12], "little")
        sectors = int.from_bytes(entry[12:16], "little")
        parts.append(Partition(i + 1, ptype, entry[0] == 0x80, start, sectors))
    return disk_id, parts


def boot_partition(image: Path) -> Partition:
    """The FAT boot partition (partition 1)."""
    _, parts = read_mbr(image)
    for p in parts:
        if p.number == 1:
            return p
    raise TargetError(f"{image} has no partition 1 (the FAT boot partition)")


def _mtools(argv: list[str], *, capture: bool = True, input_bytes: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(
            argv, input=input_bytes, capture_output=capture, check=False, env={**os.environ, **MTOOLS_ENV}
        )
    except FileNotFoundError:
        raise HostSetupError(f"{argv[0]} is not installed", hint="apt-get install mtools") from None
    if proc.returncode != 0:
        raise TargetError(
            f"`{' '.join(argv[:2])} ...` failed: {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.stdout or b""


def _fat(image: Path) -> str:
    return f"{image}@@{boot_partition(image).offset}"


def fat_read(image: Path, name: str) -> bytes:
    """The content of `name` (e.g. "config.txt", "foc/authorized_keys") on the boot partition."""
    with tempfile.TemporaryDirectory(prefix="foc-fat-") as tmp:
        dest = Path(tmp) / "out"
        _mtools(["mcopy", "-n", "-i", _fat(image), f"::{name}", str(dest)])
        return dest.read_bytes()


def fat_list(image: Path) -> list[str]:
    """Every file on the boot partition, as paths relative to its root ("config.txt", "foc/README.txt")."""
    out = _mtools(["mdir", "-i", _fat(image), "-/", "-b", "::/"]).decode(errors="replace")
    return sorted(
        line.strip().removeprefix("::/")
        for line in out.splitlines()
        if line.strip() and not line.endswith("/")
    )


def fat_write(image: Path, files: Mapping[str, bytes]) -> None:
    """Create or replace files on the boot partition (paths relative to its root; dirs are made)."""
    fat = _fat(image)
    existing = set(fat_list(image))
    made: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="foc-fat-") as tmp:
        for name, data in sorted(files.items()):
            if name.startswith("/") or ".." in Path(name).parts:
                raise ConfigError(f"refusing FAT path {name!r}")
            parent = str(Path(name).parent)
            if parent != "." and parent not in made and not any(e.startswith(parent + "/") for e in existing):
                _mtools(["mmd", "-i", fat, f"::{parent}"])
            made.add(parent)
            src = Path(tmp) / Path(name).name
            src.write_bytes(data)
            _mtools(["mcopy", "-o", "-i", fat, str(src), f"::{name}"])


def personalize(image: Path, files: Mapping[str, bytes]) -> None:
    """Write a board's identity files (authorized_keys, SSH host key) into `foc/` on the FAT."""
    fat_write(image, {f"foc/{name}": data for name, data in files.items()})


# -- static checks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One static check of the image: what, whether it passed, and the evidence."""

    name: str
    ok: bool
    detail: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fiptool(args: list[str]) -> str:
    try:
        proc = subprocess.run(["fiptool", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise HostSetupError(
            "fiptool is not installed", hint="apt-get install arm-trusted-firmware-tools"
        ) from None
    if proc.returncode != 0:
        raise TargetError(f"fiptool {args[0]} failed: {proc.stderr.strip()}")
    return proc.stdout


def fip_contents(armstub: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """The FIP inside armstub8.bin: (`fiptool info`: image name -> details,
    `fiptool unpack`: file name -> sha256)."""
    if len(armstub) <= FIP_OFFSET + 16:
        raise TargetError(f"armstub8.bin is {len(armstub)} bytes: no FIP after BL1's {FIP_OFFSET:#x} bytes")
    with tempfile.TemporaryDirectory(prefix="foc-fip-") as tmp:
        fip = Path(tmp) / "fip.bin"
        fip.write_bytes(armstub[FIP_OFFSET:])
        info = _fiptool(["info", str(fip)])
        unpacked = Path(tmp) / "unpacked"
        unpacked.mkdir()
        _fiptool(["unpack", "--out", str(unpacked), str(fip)])
        hashes = {p.name: _sha256(p.read_bytes()) for p in sorted(unpacked.iterdir())}
    entries = {}
    for line in info.splitlines():
        name, sep, rest = line.partition(":")
        if sep:
            entries[name.strip()] = rest.strip()
    return entries, hashes


def fdtget(dtb: Path, node: str, prop: str, *, kind: str = "") -> str | None:
    """A DT property as fdtget prints it (`kind` "x" for hex cells), None if absent."""
    argv = ["fdtget", *(["-t", kind] if kind else []), str(dtb), node, prop]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise HostSetupError("fdtget is not installed", hint="apt-get install device-tree-compiler") from None
    return proc.stdout.strip() if proc.returncode == 0 else None


def fdt_subnodes(dtb: Path, node: str) -> list[str]:
    """The names of `node`'s subnodes (empty if it has none or does not exist)."""
    proc = subprocess.run(["fdtget", "-l", str(dtb), node], capture_output=True, text=True, check=False)
    return proc.stdout.split() if proc.returncode == 0 else []


def dt_reserved_memory(dtb: Path) -> list[tuple[str, int, int, bool]]:
    """(node, base, size, no-map) of every /reserved-memory child with a reg."""
    regions = []
    for node in fdt_subnodes(dtb, "/reserved-memory"):
        reg = fdtget(dtb, f"/reserved-memory/{node}", "reg", kind="x")
        if reg is None:
            continue
        cells = [int(c, 16) for c in reg.split()]
        if len(cells) == 2:
            nomap = (
                subprocess.run(
                    ["fdtget", str(dtb), f"/reserved-memory/{node}", "no-map"],
                    capture_output=True,
                    check=False,
                ).returncode
                == 0
            )
            regions.append((node, cells[0], cells[1], nomap))
    return regions


def cpio_files(initrd: bytes, wanted: set[str]) -> Iterator[tuple[str, bytes]]:
    """(name, content) of the members named in `wanted` of a newc cpio archive (gzip, possibly
    several archives concatenated, as an initramfs is)."""
    data = gzip.decompress(initrd)
    pos = 0
    while pos + 110 <= len(data):
        header = data[pos : pos + 110]
        if header[:6] != b"070701":
            # concatenated archives are padded; skip zeros to the next header
            nxt = data.find(b"070701", pos)
            if nxt < 0:
                return
            pos = nxt
            continue
        namesize = int(header[94:102], 16)
        filesize = int(header[54:62], 16)
        name = data[pos + 110 : pos + 110 + namesize - 1].decode(errors="replace")
        body = pos + 110 + namesize
        body += (-body) % 4
        if name in wanted:
            yield name, data[body : body + filesize]
        pos = body + filesize
        pos += (-pos) % 4


def _tfa_option(options: list[str], name: str) -> int | None:
    for o in options:
        key, _, value = o.partition("=")
        if key == name:
            return int(value, 0)
    return None


class _Checks(list[Check]):
    def add(self, name: str, ok: object, detail: str) -> None:
        self.append(Check(name, bool(ok), detail))


def inspect(image: Path, manifest_path: Path) -> list[Check]:
    """Every static check of a built rpi3 SD image (see the module docstring)."""
    manifest = json.loads(manifest_path.read_text())
    sd = manifest.get("sd_card") or {}
    checks = _Checks()
    _check_partitions(checks, image)
    names = fat_list(image)
    expected = sorted(sd.get("boot_files", {}))
    missing = [n for n in expected if n not in names]
    checks.add(
        "FAT holds every boot file of the manifest",
        expected and not missing,
        f"missing: {missing}" if missing else ", ".join(expected),
    )
    files = {n: fat_read(image, n) for n in expected if n in names}
    bad = [n for n, data in files.items() if _sha256(data) != sd["boot_files"][n]]
    checks.add(
        "FAT files match the manifest's sha256",
        files and not bad,
        f"differ: {bad}" if bad else f"{len(files)} files",
    )
    _check_payload(checks, manifest, files)
    configs = _check_config(checks, manifest, files, names)
    _check_fip(checks, manifest, files.get(ARMSTUB_NAME, b""))
    optee = manifest.get("build_options", {}).get("optee_os", {}).get("effective", {})
    with tempfile.TemporaryDirectory(prefix="foc-dtb-") as tmp:
        for board, cfg in configs.items():
            dtb = Path(tmp) / f"{board}.dtb"
            dtb.write_bytes(files.get(cfg.device_tree, b""))
            _check_dtb(checks, f"{cfg.device_tree} ({board})", dtb, cfg, optee, files)
    return list(checks)


def _check_partitions(checks: _Checks, image: Path) -> None:
    size = image.stat().st_size
    checks.add("image size is a power of two", size > 0 and size & (size - 1) == 0, f"{size} bytes")
    disk_id, parts = read_mbr(image)
    layout = ", ".join(
        f"p{p.number} type {p.type:#04x} start {p.start} size {p.sectors}{' boot' if p.bootable else ''}"
        for p in parts
    )
    fat = parts[0] if parts and parts[0].number == 1 else None
    checks.add(
        "partition 1: bootable FAT32 (LBA)",
        fat and fat.type == int(FAT_PARTITION_TYPE, 16) and fat.bootable,
        layout,
    )
    checks.add("partition 1 starts 4 MiB aligned", fat and fat.offset % (4 << 20) == 0, layout)
    data_ok = (
        fat is not None
        and len(parts) == 2
        and parts[1].type == int(DATA_PARTITION_TYPE, 16)
        and parts[1].start == fat.start + fat.sectors
        and parts[1].offset + parts[1].size == size
    )
    checks.add(
        "partition 2: Linux data partition filling the rest", data_ok, f"disk id {disk_id:#010x}; {layout}"
    )


def _check_payload(checks: _Checks, manifest: dict[str, Any], files: dict[str, bytes]) -> None:
    """The kernel, initramfs and TA on the card are the ones the manifest names."""
    image_files = manifest.get("image_files", {})
    release_kernel = next((k for k in image_files if k.startswith("vmlinuz-")), None)
    kernel = files.get(KERNEL_NAME, b"")
    checks.add(
        "kernel on the FAT is the manifest's Debian kernel",
        release_kernel is not None and _sha256(kernel) == image_files[release_kernel],
        f"{KERNEL_NAME} = {release_kernel} sha256 {_sha256(kernel)[:16]}",
    )
    initrd = files.get(INITRD_NAME, b"")
    checks.add(
        "initramfs on the FAT is the manifest's initramfs",
        _sha256(initrd) == image_files.get("initramfs.cpio.gz"),
        f"sha256 {_sha256(initrd)[:16]}",
    )
    tas = {n: h for n, h in manifest.get("files", {}).items() if n.endswith(".ta")}
    found = dict(cpio_files(initrd, {f"{GUEST_TA_PATH}/{n}" for n in tas})) if initrd else {}
    ta_bad = [n for n, h in tas.items() if _sha256(found.get(f"{GUEST_TA_PATH}/{n}", b"")) != h]
    checks.add(
        "the initramfs carries the manifest's TA(s)",
        tas and not ta_bad,
        f"mismatch: {ta_bad}" if ta_bad else ", ".join(tas),
    )


def _check_config(
    checks: _Checks, manifest: dict[str, Any], files: dict[str, bytes], names: list[str]
) -> dict[str, BootConfig]:
    """config.txt and cmdline.txt; returns the parsed config per board."""
    sd = manifest.get("sd_card") or {}
    text = files.get("config.txt", b"").decode(errors="replace")
    checks.add("config.txt is the manifest's", text == sd.get("config_txt"), f"{len(text)} bytes")
    tfa = manifest.get("build_options", {}).get("tfa", [])
    configs: dict[str, BootConfig] = {}
    for board in BOARDS:
        try:
            cfg = configs[board] = parse_config_txt(text, board)
        except ConfigError as exc:
            checks.add(f"config.txt parses for {board}", False, exc.message)
            continue
        refs = [cfg.armstub, cfg.kernel, cfg.device_tree, cfg.initramfs]
        checks.add(
            f"config.txt ({board}) boots TF-A in 64-bit with files on the FAT",
            cfg.arm_64bit
            and cfg.armstub == ARMSTUB_NAME
            and cfg.enable_uart
            and all(r in names for r in refs),
            f"armstub={cfg.armstub} kernel={cfg.kernel} dtb={cfg.device_tree} initramfs={cfg.initramfs}",
        )
        checks.add(
            f"config.txt ({board}) addresses match TF-A's build options",
            cfg.kernel_address == _tfa_option(tfa, "PRELOADED_BL33_BASE")
            and cfg.device_tree_address == _tfa_option(tfa, "RPI3_PRELOADED_DTB_BASE")
            and "RPI3_DIRECT_LINUX_BOOT=1" in tfa,
            f"kernel_address={cfg.kernel_address:#x} device_tree_address={cfg.device_tree_address:#x}; "
            f"TF-A {tfa}",
        )
    cmdline = files.get("cmdline.txt", b"").decode(errors="replace").strip()
    checks.add(
        "cmdline.txt puts the console on the mini UART",
        cmdline == sd.get("cmdline") and "console=ttyS1" in cmdline,
        cmdline,
    )
    return configs


def _check_fip(checks: _Checks, manifest: dict[str, Any], armstub: bytes) -> None:
    toc = (
        int.from_bytes(armstub[FIP_OFFSET : FIP_OFFSET + 4], "little") if len(armstub) > FIP_OFFSET + 4 else 0
    )
    checks.add(
        "armstub8.bin: BL1 then the FIP at 128 KiB",
        toc == FIP_TOC_HEADER,
        f"ToC header {toc:#010x} at {FIP_OFFSET:#x}",
    )
    name = "FIP holds BL2, BL31 and OP-TEE (BL32 + extra), no BL33"
    try:
        fip, fip_hashes = fip_contents(armstub)
    except TargetError as exc:
        checks.add(name, False, exc.message)
        return
    absent = [n for n in FIP_REQUIRED if n not in fip]
    extra = [n for n in FIP_ABSENT if n in fip]
    checks.add(name, not absent and not extra, "; ".join(f"{k}: {v}" for k, v in fip.items()))
    built = manifest.get("files", {})
    differ = [f"{entry} != {n}" for entry, n in FIP_OPTEE.items() if fip_hashes.get(entry) != built.get(n)]
    checks.add(
        "the FIP's BL32 images are the OP-TEE the manifest names",
        not differ,
        f"differ: {differ}" if differ else ", ".join(f"{e} = {n}" for e, n in FIP_OPTEE.items()),
    )


def _check_dtb(
    checks: _Checks, where: str, dtb: Path, cfg: BootConfig, optee: dict[str, str], files: dict[str, bytes]
) -> None:
    compatible = fdtget(dtb, "/firmware/optee", "compatible")
    method = fdtget(dtb, "/firmware/optee", "method")
    checks.add(
        f"{where}: /firmware/optee is linaro,optee-tz over SMC",
        compatible == "linaro,optee-tz" and method == "smc",
        f"compatible={compatible} method={method}",
    )
    cpus = fdt_subnodes(dtb, "/cpus")
    methods = {c: fdtget(dtb, f"/cpus/{c}", "enable-method") for c in cpus if c.startswith("cpu@")}
    psci = fdtget(dtb, "/psci", "method")
    checks.add(
        f"{where}: cores start through PSCI (TF-A)",
        psci == "smc" and len(methods) == 4 and set(methods.values()) == {"psci"},
        f"psci method={psci}; {methods}",
    )
    regions = dt_reserved_memory(dtb)
    shown = "; ".join(f"{n} [{b:#x}+{s:#x}]{' no-map' if m else ''}" for n, b, s, m in regions)
    tz = (int(optee.get("CFG_TZDRAM_START", "0"), 0), int(optee.get("CFG_TZDRAM_SIZE", "0"), 0))
    shm = (int(optee.get("CFG_SHMEM_START", "0"), 0), int(optee.get("CFG_SHMEM_SIZE", "0"), 0))
    checks.add(
        f"{where}: OP-TEE's core, TA RAM and SHM are reserved (no-map)",
        tz[1] > 0 and shm[1] > 0 and _covered(regions, *tz) and _covered(regions, *shm),
        f"OP-TEE TZDRAM [{tz[0]:#x}+{tz[1]:#x}] SHM [{shm[0]:#x}+{shm[1]:#x}]; {shown}",
    )
    checks.add(
        f"{where}: BL1 (the secondary cores' hold pen) is reserved", _covered(regions, 0, FIP_OFFSET), shown
    )
    armstub, kernel, initrd = (files.get(n, b"") for n in (cfg.armstub, cfg.kernel, cfg.initramfs))
    loads = [
        Load("armstub", Path(cfg.armstub), 0, len(armstub)),
        Load("dtb", Path(cfg.device_tree), cfg.device_tree_address, dtb.stat().st_size),
        Load("kernel", Path(cfg.kernel), cfg.kernel_address, _image_size(kernel)),
        Load("initramfs", Path(cfg.initramfs), cfg.initramfs_address, len(initrd)),
    ]
    name = f"{where}: what the firmware loads overlaps nothing reserved"
    try:
        check_no_overlap(loads, [(n, b, s) for n, b, s, _ in regions], limit=cfg.arm_memory)
    except ConfigError as exc:
        checks.add(name, False, exc.message)
        return
    checks.add(name, True, ", ".join(f"{ld.what} [{ld.address:#x}+{ld.size:#x}]" for ld in loads))


def _covered(regions: list[tuple[str, int, int, bool]], base: int, length: int) -> bool:
    """True if [base, base+length) lies inside one no-map reserved region."""
    return any(nomap and b <= base and base + length <= b + s for _, b, s, nomap in regions)


def _image_size(kernel: bytes) -> int:
    try:
        return max(arm64_image_size(kernel[:64]), len(kernel))
    except ConfigError:
        return len(kernel)


def copy_sparse(src: Path, dest: Path) -> None:
    """Copy an image keeping holes (a 256 MiB card image is mostly empty)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    if shutil.which("cp") is None:
        shutil.copyfile(src, tmp)
    else:
        subprocess.run(["cp", "--sparse=always", str(src), str(tmp)], check=True)
    tmp.replace(dest)
