"""The target model: qemu is data (pins, options, quirks); scripts/setup-host installs what doctor checks."""

from __future__ import annotations

import re

from foc.deploy.paths import REPO_ROOT
from foc.deploy.targets import get_target, names
from foc.deploy.targets.base import DebPackage, SourcePackage


def test_qemu_is_registered_and_fully_pinned() -> None:
    assert "qemu" in names()
    t = get_target("qemu")
    pkgs = [t.kernel.package, *t.rootfs.packages, *t.optee_client]
    for p in pkgs:
        assert p.version and p.suite, p
        assert re.fullmatch(r"[0-9][A-Za-z0-9.+~:-]*", p.version), p
    assert set(t.debian_suites) == {"bookworm-security", "trixie", "sid"}


def test_every_pin_of_every_target_carries_a_sha256() -> None:
    # Every download (mirror or snapshot archive) is checked against it: a pin without one cannot build.
    for name in names():
        t = get_target(name)
        assert t.pins, name
        for p in t.pins:
            assert re.fullmatch(r"[0-9a-f]{64}", p.sha256), f"{name}: {p.identity} has no sha256"
        assert len({p.sha256 for p in t.pins}) == len(t.pins), f"{name}: two pins share a hash"


def test_pins_are_found_wherever_the_target_keeps_them() -> None:
    t = get_target("qemu")
    assert t.pins == (
        t.firmware.tfa_source,
        t.firmware.optee_source,
        t.kernel.package,
        *t.rootfs.packages,
        *t.optee_client,
        t.guest_native_dev,
    )
    assert all(isinstance(p, DebPackage | SourcePackage) for p in t.pins)


def test_qemu_firmware_options_carry_what_the_product_needs() -> None:
    fw = get_target("qemu").firmware
    assert "CFG_ATTESTATION_PTA=y" in fw.optee_options
    assert "CFG_REE_FS=y" in fw.optee_options
    assert "CFG_ARM_GICV3=y" in fw.optee_options
    assert "QEMU_USE_GIC_DRIVER=QEMU_GICV3" in fw.tfa_options and "SPD=opteed" in fw.tfa_options


def test_uboot_env_moves_the_kernel_off_optee_shm() -> None:
    env = dict(get_target("qemu").uboot_env)
    # OP-TEE's static SHM is at 0x42000000: the kernel (~33 MB) must not be loaded below it.
    assert int(env["kernel_addr_r"], 16) >= 0x42000000 + 0x200000
    assert int(env["ramdisk_addr_r"], 16) > int(env["kernel_addr_r"], 16) + 33 * 1024 * 1024


def test_source_package_directory_name() -> None:
    assert SourcePackage("optee-os", "4.10.0-2", "sid").upstream_dir == "optee-os-4.10.0"
    assert SourcePackage("arm-trusted-firmware", "2.12.1+dfsg-1", "trixie").upstream_dir == (
        "arm-trusted-firmware-2.12.1+dfsg"
    )
    assert SourcePackage("x", "1:2.0", "sid").upstream_dir == "x-2.0"
    assert SourcePackage("x", "1:2.0-3", "sid").dsc_name == "x_2.0-3.dsc"


def test_setup_host_installs_every_package_doctor_checks() -> None:
    script = (REPO_ROOT / "scripts" / "setup-host").read_text()
    block = script.split('PACKAGES="', 1)[1].split('"', 1)[0]
    wanted = {p for name in names() for p in get_target(name).host_packages}
    assert set(block.split()) == wanted
    assert "openssh-server" in wanted  # the SSH provisioning test's server (and doctor checks it)


def test_every_host_command_comes_from_a_checked_package() -> None:
    for name in names():
        t = get_target(name)
        providers = {pkg for _, pkg in t.host_commands} - {"dpkg", "apt", "gzip"}  # essential packages
        assert providers <= set(t.host_packages), (name, providers - set(t.host_packages))


def test_rpi3_is_registered_pinned_and_keeps_its_own_optee_options() -> None:
    from foc.deploy.targets import rpi3

    t = get_target("rpi3")
    assert t.sd_card is not None and t.sd_card.firmware.name == "raspi-firmware"
    assert "non-free-firmware" in t.apt_components  # raspi-firmware lives there (rpi3 only)
    assert get_target("qemu").apt_components == ("main",)
    fw = t.firmware
    assert fw.optee_platform == "rpi3" and fw.bl33 == ""  # direct Linux boot from BL31
    assert {"CFG_ATTESTATION_PTA=y", "CFG_REE_FS=y"} <= set(fw.optee_options)
    assert (
        fw.optee_options is rpi3.OPTEE_OPTIONS
        and fw.optee_options != get_target("qemu").firmware.optee_options
    )
    assert "RPI3_DIRECT_LINUX_BOOT=1" in fw.tfa_options
    cfg = t.sd_card.config_txt
    assert f"kernel_address={rpi3.KERNEL_ADDRESS:#010x}" in cfg
    assert f"PRELOADED_BL33_BASE={rpi3.KERNEL_ADDRESS:#010x}" in fw.tfa_options
    assert f"device_tree_address={rpi3.DTB_ADDRESS:#010x}" in cfg
    assert f"RPI3_PRELOADED_DTB_BASE={rpi3.DTB_ADDRESS:#010x}" in fw.tfa_options
    assert t.sd_card.image_mib & (t.sd_card.image_mib - 1) == 0  # QEMU's SD model: a power of two
    for p in [t.sd_card.firmware, *t.rootfs.packages]:
        assert re.fullmatch(r"[0-9][A-Za-z0-9.+~:-]*", p.version), p
