"""Build steps of a board's SD-card image (rpi3), on top of the shared steps in `steps.py`.

- `BootFirmware`: the board's boot firmware files from their Debian package (raspi-firmware).
- `DeviceTree`: the kernel package's DTBs plus the OP-TEE node, PSCI and reserved memory.
- `SdImage`: one `.img`: MBR, FAT32 boot partition, ext4 data partition (REE FS and the board's
  SSH/TLS identity survive reboots there). Built from files with mkfs.vfat/mcopy, mkfs.ext4 -d and
  sfdisk: no loop devices, no root-only mounts. Timestamps, volume ids and UUIDs are fixed, so the
  same inputs give the same image bytes.

The shared steps (OP-TEE OS, TF-A, kernel modules, rootfs, OP-TEE client, wheels, bytecode, TA,
initramfs) run unchanged with the rpi3 target's pins.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from foc.deploy.build.apt import sha256_file
from foc.deploy.build.steps import SOURCE_DATE_EPOCH, Step, StepContext, write_record
from foc.deploy.targets.base import SdCard
from foc.errors import BuildError

FAT_LABEL = "FOCBOOT"
FAT_VOLUME_ID = "464f4331"  # "FOC1": fixed, so the image is reproducible
DATA_LABEL = "focdata"
DATA_UUID = "f0c0da7a-0000-4000-8000-000000000001"
DISK_ID = "0x464f4331"
SECTOR = 512
FAT_PARTITION_TYPE = "c"  # W95 FAT32 (LBA): what the Pi's boot ROM looks for
DATA_PARTITION_TYPE = "83"
INITRD_NAME = "initrd.img"
KERNEL_NAME = "vmlinuz"
ARMSTUB_NAME = "armstub8.bin"
#: directories created on the data partition (see the guest's /init)
DATA_DIRS = ("tee", "ssh", "foc/tls", "foc/ta", "foc/src")


def _sd(ctx: StepContext) -> SdCard:
    if ctx.target.sd_card is None:
        raise BuildError(f"target {ctx.target.name} has no SD card")
    return ctx.target.sd_card


def partition_layout(sd: SdCard) -> tuple[tuple[int, int], tuple[int, int]]:
    """((start, sectors) of the boot partition, (start, sectors) of the data partition)."""
    if sd.image_mib & (sd.image_mib - 1):
        raise BuildError(
            f"SD image size {sd.image_mib} MiB is not a power of two (QEMU's SD model needs one)"
        )
    total = sd.image_mib * 1024 * 1024 // SECTOR
    boot = (sd.first_sector, sd.boot_mib * 1024 * 1024 // SECTOR)
    data_start = boot[0] + boot[1]
    if data_start >= total:
        raise BuildError(f"the boot partition ({sd.boot_mib} MiB) does not fit into {sd.image_mib} MiB")
    return boot, (data_start, total - data_start)


def optee_dt_fragment(
    optee_conf: dict[str, str], reserved: tuple[tuple[str, int, int], ...], cpus: list[str]
) -> str:
    """DTS source merged into the board's DTB: OP-TEE's node, PSCI and the memory Linux must not use.

    OP-TEE's own regions come from its build (conf.mk: CFG_SHMEM_*, CFG_TZDRAM_*). The RPi3 port of
    OP-TEE does not patch the normal world's DT (it is not handed one), so the node is added here.
    `cpus` are the /cpus subnodes: they switch from the firmware's spin table to PSCI (TF-A).
    """

    def number(name: str) -> int:
        try:
            return int(optee_conf[name], 0)
        except (KeyError, ValueError):
            raise BuildError(f"OP-TEE's conf.mk has no usable {name}") from None

    regions = [
        *reserved,
        ("optee_shm", number("CFG_SHMEM_START"), number("CFG_SHMEM_SIZE")),
        ("optee_core", number("CFG_TZDRAM_START"), number("CFG_TZDRAM_SIZE")),
    ]
    lines = [
        "/ {",
        "\tpsci {",
        '\t\tcompatible = "arm,psci-1.0", "arm,psci-0.2";',
        '\t\tmethod = "smc";',
        "\t};",
        "\tfirmware {",
        "\t\toptee {",
        '\t\t\tcompatible = "linaro,optee-tz";',
        '\t\t\tmethod = "smc";',
        "\t\t};",
        "\t};",
        "\treserved-memory {",
    ]
    for name, base, size in regions:
        lines += [f"\t\t{name}@{base:x} {{", f"\t\t\treg = <{base:#x} {size:#x}>;", "\t\t\tno-map;", "\t\t};"]
    lines += ["\t};", "\tcpus {"]
    for cpu in cpus:
        lines.append(f'\t\t{cpu} {{ enable-method = "psci"; /delete-property/ cpu-release-addr; }};')
    lines += ["\t};", "};", ""]
    return "\n".join(lines)


class BootFirmware(Step):
    """The board's boot firmware (VideoCore: bootcode.bin, start.elf, fixup.dat) from Debian."""

    name = "boot_firmware"

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        sd = _sd(ctx)
        return {"package": sd.firmware.identity, "dir": sd.firmware_dir, "files": list(sd.firmware_files)}

    def run(self, ctx: StepContext, out: Path) -> None:
        sd = _sd(ctx)
        deb, record = ctx.apt.deb(sd.firmware)
        work = out / ".work"
        ctx.sh(["dpkg-deb", "-x", str(deb), str(work)])
        boot = out / "boot"
        boot.mkdir()
        files = {}
        for name in sd.firmware_files:
            src = work / sd.firmware_dir / name
            if not src.is_file():
                raise BuildError(f"{sd.firmware.name} has no {sd.firmware_dir}/{name}")
            shutil.copy2(src, boot / name)
            files[name] = sha256_file(boot / name)
        # The firmware's licence travels with it (Broadcom's redistribution terms).
        copyright_file = work / "usr" / "share" / "doc" / sd.firmware.name / "copyright"
        if copyright_file.is_file():
            shutil.copy2(copyright_file, boot / f"{sd.firmware.name}.copyright")
        shutil.rmtree(work)
        write_record(out, {"debian_packages": [record], "files": files})


class DeviceTree(Step):
    """The kernel package's Raspberry Pi DTBs with OP-TEE, PSCI and reserved memory merged in."""

    name = "devicetree"
    deps = ("optee_os",)

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        sd = _sd(ctx)
        return {
            "kernel": ctx.target.kernel.package.identity,
            "release": ctx.target.kernel.release,
            "dtbs": list(sd.dtbs),
            "reserved": [list(r) for r in sd.reserved_memory],
        }

    def run(self, ctx: StepContext, out: Path) -> None:
        from foc.deploy.build.steps import optee_config

        sd = _sd(ctx)
        k = ctx.target.kernel
        deb, record = ctx.apt.deb(k.package)
        work = out / ".work"
        work.mkdir()
        members = [f"./usr/lib/linux-image-{k.release}/{dtb}" for dtb in sd.dtbs]
        ctx.sh(["sh", "-c", f'dpkg-deb --fsys-tarfile "{deb}" | tar -x -C "{work}" ' + " ".join(members)])
        conf = optee_config((ctx.outputs["optee_os"] / "conf.mk").read_text())
        files = {}
        for dtb in sd.dtbs:
            src = work / "usr" / "lib" / f"linux-image-{k.release}" / dtb
            name = Path(dtb).name
            dts = work / (name + ".dts")
            ctx.sh(["dtc", "-q", "-I", "dtb", "-O", "dts", "-o", str(dts), str(src)])
            cpus = [c for c in _subnodes(dts.read_text(), "cpus") if c.startswith("cpu@")]
            if not cpus:
                raise BuildError(f"{dtb} has no /cpus/cpu@N nodes")
            fragment = optee_dt_fragment(conf, sd.reserved_memory, cpus)
            (out / "optee-fragment.dtsi").write_text(fragment)
            with dts.open("a") as f:
                f.write("\n/* FOC: OP-TEE, PSCI, reserved memory */\n" + fragment)
            ctx.sh(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(out / name), str(dts)])
            files[name] = sha256_file(out / name)
        shutil.rmtree(work)
        write_record(out, {"debian_packages": [record], "files": files})


def _subnodes(dts: str, node: str) -> list[str]:
    """Names of the direct subnodes of top-level `node` in decompiled DTS text."""
    m = re.search(rf"^\t{re.escape(node)} {{\n(.*?)^\t}};", dts, re.M | re.S)
    if not m:
        return []
    return re.findall(r"^\t\t([\w,.@+-]+) {", m.group(1), re.M)


class SdImage(Step):
    """The bootable SD image: MBR + FAT32 boot partition + ext4 data partition."""

    name = "sdimage"
    deps = ("tfa", "kernel", "devicetree", "boot_firmware", "initramfs_base", "initramfs_overlay")

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        sd = _sd(ctx)
        return {
            "config_txt": sd.config_txt,
            "cmdline": sd.cmdline,
            "sizes": [sd.image_mib, sd.boot_mib, sd.first_sector],
            "labels": [FAT_LABEL, FAT_VOLUME_ID, DATA_LABEL, DATA_UUID, DISK_ID],
            "data_dirs": list(DATA_DIRS),
        }

    def run(self, ctx: StepContext, out: Path) -> None:
        sd = _sd(ctx)
        boot_part, data_part = partition_layout(sd)
        outs = ctx.outputs
        stage = out / ".boot"
        stage.mkdir()
        for fw_file in sorted((outs["boot_firmware"] / "boot").iterdir()):
            shutil.copy2(fw_file, stage / fw_file.name)
        shutil.copy2(outs["tfa"] / ARMSTUB_NAME, stage / ARMSTUB_NAME)
        shutil.copy2(outs["kernel"] / "vmlinuz", stage / KERNEL_NAME)
        for dtb in sorted(outs["devicetree"].glob("*.dtb")):
            shutil.copy2(dtb, stage / dtb.name)
        with (stage / INITRD_NAME).open("wb") as initrd:  # the kernel unpacks both archives
            for part in (
                outs["initramfs_base"] / "base.cpio.gz",
                outs["initramfs_overlay"] / "overlay.cpio.gz",
            ):
                with part.open("rb") as archive:
                    shutil.copyfileobj(archive, initrd, 1 << 20)
        (stage / "config.txt").write_text(sd.config_txt)
        (stage / "cmdline.txt").write_text(sd.cmdline + "\n")
        (stage / "foc").mkdir()
        (stage / "foc" / "README.txt").write_text(
            "FOC board identity, written by `foc-deploy rpi3 flash` (see docs/rpi3.md):\n"
            "  authorized_keys           SSH public keys allowed to log in as root\n"
            "  ssh_host_ed25519_key      the board's SSH host key (pinned by the host that flashed it)\n"
        )
        files = {p.name: sha256_file(p) for p in sorted(stage.iterdir()) if p.is_file()}
        for p in [*stage.rglob("*"), stage]:
            os.utime(p, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        fat = out / ".boot.vfat"
        with fat.open("wb") as blank:
            blank.truncate(boot_part[1] * SECTOR)
        ctx.sh(["mkfs.vfat", "-F", "32", "-n", FAT_LABEL, "-i", FAT_VOLUME_ID, "--invariant", str(fat)])
        entries = [str(p) for p in sorted(stage.iterdir())]
        ctx.sh(["mcopy", "-i", str(fat), "-s", "-m", "-p", *entries, "::/"], env={"MTOOLS_SKIP_CHECK": "1"})
        data_root = out / ".data"
        for d in DATA_DIRS:
            (data_root / d).mkdir(parents=True)
        for p in [*data_root.rglob("*"), data_root]:
            os.utime(p, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        ext4 = out / ".data.ext4"
        ctx.sh(
            [
                "mkfs.ext4", "-q", "-F", "-L", DATA_LABEL, "-U", DATA_UUID, "-E",
                f"root_owner=0:0,hash_seed={DATA_UUID}", "-d", str(data_root), str(ext4),
                f"{data_part[1] * SECTOR // 1024}k",
            ],
            env={"E2FSPROGS_FAKE_TIME": str(SOURCE_DATE_EPOCH)},
        )  # fmt: skip
        image = out / "sd.img"
        with image.open("wb") as blank:
            blank.truncate(sd.image_mib * 1024 * 1024)
        table = (
            f"label: dos\nlabel-id: {DISK_ID}\nunit: sectors\n"
            f"start={boot_part[0]}, size={boot_part[1]}, type={FAT_PARTITION_TYPE}, bootable\n"
            f"start={data_part[0]}, size={data_part[1]}, type={DATA_PARTITION_TYPE}\n"
        )
        (out / "partitions.sfdisk").write_text(table)
        ctx.sh(
            ["sh", "-c", f'sfdisk --no-reread --no-tell-kernel -q "{image}" < "{out / "partitions.sfdisk"}"']
        )
        with image.open("r+b") as dst:
            for part, (start, _) in ((fat, boot_part), (ext4, data_part)):
                dst.seek(start * SECTOR)
                with part.open("rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
        for tmp in (fat, ext4):
            tmp.unlink()
        shutil.rmtree(stage)
        shutil.rmtree(data_root)
        write_record(
            out,
            {"files": {"sd.img": sha256_file(image)}, "boot_files": files, "partitions": table.splitlines()},
        )
