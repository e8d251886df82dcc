"""The board files and init scripts of the br2-external tree, run on the host.

Each test runs the real script or tool (dtc/fdtoverlay, genimage, start-stop-daemon) on stand-in inputs;
a test whose tool is missing skips and names the Debian package.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import br2_tree as tree
import pytest

BOARD = tree.TREE / "board" / "foc"
PYTHON_FOC = tree.PACKAGES / "python-foc"

# OP-TEE 4.10 core/arch/arm/plat-rpi3/conf.mk: static SHM and the secure DRAM OP-TEE runs in.
RPI3_SHMEM = (0x08000000, 0x00400000)
RPI3_TZDRAM = (0x10100000, 0x00F00000)
# TF-A docs/plat/rpi3.rst: BL1 (the secondary cores' hold pen, 128 KiB at 0) and BL2/BL31's "secure SRAM",
# which TF-A reserves itself with a /memreserve/ (a second reservation of it would overlap).
RPI3_BL1 = (0x0, 0x20000)
RPI3_TFA_SRAM = (0x10000000, 0x00100000)


def need(command: str, package: str) -> str:
    path = shutil.which(command)
    if path is None:
        pytest.skip(f"{command} not found: apt-get install {package}")
    return path


# A device tree shaped like the Raspberry Pi 3's where the overlay lands: /soc/firmware (the VideoCore
# mailbox firmware), /reserved-memory with 1-cell addresses, four spin-table cores.
RPI3_BASE_DTS = """/dts-v1/;
/ {
	compatible = "raspberrypi,3-model-b", "brcm,bcm2837";
	#address-cells = <1>;
	#size-cells = <1>;
	soc { firmware { compatible = "raspberrypi,bcm2835-firmware", "simple-mfd"; }; };
	reserved-memory {
		#address-cells = <1>;
		#size-cells = <1>;
		ranges;
		linux,cma { compatible = "shared-dma-pool"; size = <0x4000000>; reusable; };
	};
	cpus {
		#address-cells = <1>;
		#size-cells = <0>;
		cpu@0 { device_type = "cpu"; reg = <0>; enable-method = "spin-table"; };
		cpu@1 { device_type = "cpu"; reg = <1>; enable-method = "spin-table"; };
		cpu@2 { device_type = "cpu"; reg = <2>; enable-method = "spin-table"; };
		cpu@3 { device_type = "cpu"; reg = <3>; enable-method = "spin-table"; };
	};
};
"""


def fdtget(dtb: Path, node: str, prop: str, fmt: str = "s") -> str:
    out = subprocess.run(
        [need("fdtget", "device-tree-compiler"), "-t", fmt, str(dtb), node, prop],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, f"{node} {prop}: {out.stderr}"
    return out.stdout.strip()


def test_rpi3_overlay_reserves_optee_memory_and_adds_the_optee_node(tmp_path: Path) -> None:
    dtc = need("dtc", "device-tree-compiler")
    fdtoverlay = need("fdtoverlay", "device-tree-compiler")
    (tmp_path / "base.dts").write_text(RPI3_BASE_DTS)
    subprocess.run(
        [dtc, "-q", "-I", "dts", "-O", "dtb", "-o", tmp_path / "base.dtb", tmp_path / "base.dts"], check=True
    )
    # The same dtc command line as the board's post-image.sh.
    post_image = (BOARD / "rpi3" / "post-image.sh").read_text()
    assert '"$DTC" -@ -q -I dts -O dtb -o "$BINARIES_DIR/foc-optee.dtbo"' in post_image
    overlay = tmp_path / "foc-optee.dtbo"
    subprocess.run(
        [dtc, "-@", "-q", "-I", "dts", "-O", "dtb", "-o", overlay, BOARD / "rpi3" / "foc-optee-overlay.dts"],
        check=True,
    )
    out = tmp_path / "out.dtb"
    subprocess.run([fdtoverlay, "-i", tmp_path / "base.dtb", "-o", out, overlay], check=True)

    assert fdtget(out, "/firmware/optee", "compatible") == "linaro,optee-tz"
    assert fdtget(out, "/firmware/optee", "method") == "smc"
    assert fdtget(out, "/psci", "method") == "smc"
    for cpu in range(4):
        assert fdtget(out, f"/cpus/cpu@{cpu}", "enable-method") == "psci"
    # Reserved (no-map) ranges: BL1's hold pen, OP-TEE's static SHM and all of its secure DRAM, the same
    # map as foc-deploy's rpi3 target; none overlaps TF-A's own reservation of BL2/BL31.
    regions = []
    for node in ("atf_bl1@0", "optee_shm@8000000", "optee_core@10100000"):
        base, size = (int(x) for x in fdtget(out, f"/reserved-memory/{node}", "reg", "u").split())
        fdtget(out, f"/reserved-memory/{node}", "no-map", "x")
        regions.append((base, base + size))
    for start, length in (RPI3_BL1, RPI3_SHMEM, RPI3_TZDRAM):
        assert any(lo <= start and start + length <= hi for lo, hi in regions), hex(start)
    tfa_lo, tfa_hi = RPI3_TFA_SRAM[0], RPI3_TFA_SRAM[0] + RPI3_TFA_SRAM[1]
    assert all(hi <= tfa_lo or lo >= tfa_hi for lo, hi in regions), regions
    assert fdtget(out, "/reserved-memory/linux,cma", "compatible") == "shared-dma-pool"  # untouched


def test_rpi3_overlay_memory_map_is_foc_deploys() -> None:
    """The Buildroot overlay and foc-deploy's rpi3 image reserve the same BL1 region."""
    from foc.deploy.targets.rpi3 import BL1_SIZE

    assert RPI3_BL1 == (0x0, BL1_SIZE)


def test_rpi3_sd_card_has_the_boot_files_the_overlay_and_the_rootfs(tmp_path: Path) -> None:
    genimage = need("genimage", "genimage")
    mdir = need("mdir", "mtools")
    need("mkdosfs", "dosfstools")
    inputs = tmp_path / "images"
    (inputs / "rpi-firmware").mkdir(parents=True)
    for name in ("bootcode.bin", "start.elf", "fixup.dat", "config.txt", "cmdline.txt"):
        (inputs / "rpi-firmware" / name).write_text(name)
    for name in (
        "armstub8.bin",
        "Image",
        "bcm2710-rpi-3-b.dtb",
        "bcm2710-rpi-3-b-plus.dtb",
        "foc-optee.dtbo",
    ):
        (inputs / name).write_text(name)
    (inputs / "rootfs.ext4").write_bytes(b"\0" * (1 << 20))
    for d in ("root", "tmp", "out"):
        (tmp_path / d).mkdir()
    run = subprocess.run(
        [
            genimage,
            "--rootpath",
            tmp_path / "root",
            "--tmppath",
            tmp_path / "tmp",
            "--inputpath",
            inputs,
            "--outputpath",
            tmp_path / "out",
            "--config",
            BOARD / "rpi3" / "genimage.cfg",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    vfat = tmp_path / "out" / "boot.vfat"
    listing = subprocess.run(
        [mdir, "-b", "-i", vfat, "::/"], capture_output=True, text=True, check=True
    ).stdout
    names = {Path(line).name for line in listing.split()}
    assert {
        "bootcode.bin",
        "start.elf",
        "fixup.dat",
        "config.txt",
        "cmdline.txt",
        "armstub8.bin",
        "Image",
        "bcm2710-rpi-3-b.dtb",
        "overlays",
    } <= names
    overlays = subprocess.run(
        [mdir, "-b", "-i", vfat, "::/overlays"], capture_output=True, text=True, check=True
    )
    assert "foc-optee.dtbo" in overlays.stdout
    # MBR: partition 1 FAT32 (LBA) bootable, partition 2 Linux, holding rootfs.ext4.
    mbr = (tmp_path / "out" / "sdcard.img").read_bytes()[:512]
    assert mbr[510:512] == b"\x55\xaa"
    p1, p2 = mbr[446:462], mbr[462:478]
    assert (p1[0], p1[4], p2[4]) == (0x80, 0x0C, 0x83)


def test_qemu_post_image_refuses_missing_firmware_and_installs_start_qemu(tmp_path: Path) -> None:
    script = BOARD / "qemu-aarch64" / "post-image.sh"
    run = subprocess.run([script, tmp_path], capture_output=True, text=True)
    assert run.returncode == 1 and "qemu_fw.bios is missing" in run.stderr
    for name in ("qemu_fw.bios", "Image", "rootfs.ext4"):
        (tmp_path / name).write_text(name)
    subprocess.run([script, tmp_path, "ignored"], check=True)
    start = tmp_path / "start-qemu.sh"
    assert start.stat().st_mode & stat.S_IXUSR


def test_start_qemu_boots_the_images_next_to_it_and_forwards_the_proxy_port(tmp_path: Path) -> None:
    shutil.copy(BOARD / "qemu-aarch64" / "start-qemu.sh", tmp_path)
    fake = tmp_path / "fake-qemu"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    env = {**os.environ, "QEMU": str(fake), "FOC_PROXY_PORT": "50777"}
    out = subprocess.run(
        [tmp_path / "start-qemu.sh", "-S"], env=env, capture_output=True, text=True, check=True
    )
    args = out.stdout.splitlines()
    assert args[args.index("-bios") + 1] == f"{tmp_path}/qemu_fw.bios"
    assert args[args.index("-kernel") + 1] == f"{tmp_path}/Image"
    assert f"file={tmp_path}/rootfs.ext4,if=none,format=raw,id=hd0" in args
    assert "user,id=n0,hostfwd=tcp:127.0.0.1:50777-:50051" in args  # host side on 127.0.0.1 only
    assert "root=/dev/vda rootwait console=ttyAMA0" in args
    assert args[-1] == "-S"  # extra options reach QEMU


def test_post_build_records_the_foc_release_and_the_tas(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "lib" / "optee_armtz").mkdir(parents=True)
    (tmp_path / "lib" / "optee_armtz" / "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9.ta").write_bytes(b"x")
    env = {**os.environ, "BR2_VERSION": "2026.02.3"}
    subprocess.run([BOARD / "common" / "post-build.sh", tmp_path, "-c", "x"], env=env, check=True)
    release = dict(line.split("=", 1) for line in (tmp_path / "etc" / "foc-release").read_text().splitlines())
    assert release["FOC_VERSION"] == tree.pyproject()["project"]["version"]
    assert release["BUILDROOT_VERSION"] == "2026.02.3"
    assert release["TRUSTED_APPLICATIONS"] == '"6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9.ta"'
    assert release["FOC_REVISION"]


FAKE_PROXY = """#!{python}
import signal, sys, time
with open({argsfile!r}, "w") as f:
    f.write("\\n".join(sys.argv[1:]))
print("foc-proxy listening (fake)", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(0.1)
"""


def test_sysv_script_starts_the_proxy_with_its_defaults_and_stops_it(tmp_path: Path) -> None:
    """S95foc-proxy, paths moved into tmp_path, under the host's start-stop-daemon (dpkg's, not BusyBox's)."""
    need("start-stop-daemon", "dpkg")
    for d in ("run", "log", "default", "dev"):
        (tmp_path / d).mkdir()
    fake = tmp_path / "foc-proxy"
    fake.write_text(FAKE_PROXY.format(python=sys.executable, argsfile=str(tmp_path / "args")))
    fake.chmod(0o755)
    defaults = (PYTHON_FOC / "foc-proxy.default").read_text()
    user = getpass.getuser()
    (tmp_path / "default" / "foc-proxy").write_text(
        defaults.replace('FOC_PROXY_USER="foc"', f'FOC_PROXY_USER="{user}"')
    )
    script = (PYTHON_FOC / "S95foc-proxy").read_text()
    for old, new in (
        ("/var/run/", f"{tmp_path}/run/"),
        ("/var/log/", f"{tmp_path}/log/"),
        ("/etc/default/", f"{tmp_path}/default/"),
        ("/usr/bin/foc-proxy", str(fake)),
        ("/dev/tee", f"{tmp_path}/dev/tee"),
    ):
        assert old in script
        script = script.replace(old, new)
    s95 = tmp_path / "S95foc-proxy"
    s95.write_text(script)

    start = subprocess.run(["sh", s95, "start"], capture_output=True, text=True, timeout=30)
    assert start.returncode == 0 and start.stdout.strip().endswith("OK"), start
    pid = int((tmp_path / "run" / "foc-proxy.pid").read_text())
    try:
        deadline = time.monotonic() + 10
        while not (tmp_path / "args").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # FOC_PROXY_ARGS of /etc/default/foc-proxy, split into words; the daemon is the exec'd shell's PID.
        assert (tmp_path / "args").read_text().split("\n") == [
            "--listen",
            "0.0.0.0:50051",
            "--tee",
            "optee",
            "--pool",
            "4",
        ]
        assert "foc-proxy listening" in (tmp_path / "log" / "foc-proxy.log").read_text()
        stop = subprocess.run(["sh", s95, "stop"], capture_output=True, text=True, timeout=30)
        assert stop.returncode == 0 and stop.stdout.strip().endswith("OK"), stop
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
        assert not (tmp_path / "run" / "foc-proxy.pid").exists()
    finally:
        if Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
            os.kill(pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return False


def test_systemd_unit_and_udev_rule_agree_with_the_users_the_package_creates() -> None:
    unit = (PYTHON_FOC / "foc-proxy.service").read_text()
    users = tree.make_defines(PYTHON_FOC / "python-foc.mk")["PYTHON_FOC_USERS"]
    proxy_user = users.split()[0]
    assert f"User={proxy_user}" in unit and "SupplementaryGroups=tee" in unit
    assert "ExecStart=/usr/bin/foc-proxy $FOC_PROXY_ARGS" in unit
    assert "EnvironmentFile=-/etc/default/foc-proxy" in unit
    assert "FOC_PROXY_ARGS=" in (PYTHON_FOC / "foc-proxy.default").read_text()
    # optee-client's unit is the template tee-supplicant@.service, instantiated for /dev/teepriv0.
    assert "Wants=tee-supplicant@teepriv0.service" in unit
    rules = (PYTHON_FOC / "60-foc-tee.rules").read_text()
    assert 'KERNEL=="tee[0-9]*", MODE="0660", GROUP="tee"' in rules
    assert 'KERNEL=="teepriv[0-9]*", MODE="0660", GROUP="teepriv"' in rules
    assert "teesuppl -1 teesuppl -1 * - - teepriv" in users  # tee-supplicant@.service's User=teesuppl
