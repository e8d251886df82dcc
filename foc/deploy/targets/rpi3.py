"""Raspberry Pi 3 Model B/B+ (BCM2837, AArch64): SD image with TF-A + OP-TEE 4.10 + Debian Linux.

Boot chain on the board: the VideoCore firmware (Debian `raspi-firmware`, non-free-firmware)
reads config.txt, loads `armstub8.bin` (TF-A BL1 + FIP) at 0, the kernel at KERNEL_ADDRESS, the
initramfs at INITRD_ADDRESS and the device tree at DTB_ADDRESS, and starts the four Cortex-A53
cores at 0 in EL3. TF-A BL1 -> BL2 -> BL31 + OP-TEE (BL32) -> Linux directly from BL31
(`RPI3_DIRECT_LINUX_BOOT=1`: x0 = the DTB, as arm64 Linux expects).

Why no U-Boot: the firmware already loads kernel, initramfs and DTB and writes the command line
into the DT, so U-Boot would only repeat it (one more component and boot configuration). Debian's
`u-boot-rpi` does run as BL33 from the FIP when TF-A passes the DTB in x0 (checked under QEMU
raspi3b with `RPI3_DIRECT_LINUX_BOOT=1`: "U-Boot 2025.01-3+deb13u1 ... RPI 3 Model B"); without it
TF-A's rpi3 BL2 passes the MPIDR in x0 and U-Boot (CONFIG_OF_BOARD, takes the DT from x0) stays
silent — that was the spike's silence. Secure boot it could not add: nothing verifies armstub8.bin.

Memory map (TF-A docs/plat/rpi3.rst, OP-TEE core/arch/arm/plat-rpi3/conf.mk):
  0x00000000 +128 KiB  BL1 (secondary cores wait in its hold pen until PSCI CPU_ON) -> reserved
  0x01000000           DTB (firmware)           0x02000000  kernel Image (firmware)
  0x08000000 +4 MiB    OP-TEE static SHM        -> reserved (from OP-TEE's conf.mk)
  0x10000000 +1 MiB    TF-A BL2/BL31 "secure SRAM" (TF-A adds a /memreserve/ itself)
  0x10100000 +15 MiB   OP-TEE core + TA RAM     -> reserved (from OP-TEE's conf.mk)
  0x12000000           initramfs (firmware)
There is no TZASC on the BCM2837: the normal world can read and write all of it.

UARTs: TF-A prints on the mini UART when GPIO14 is in ALT5 (the firmware's `enable_uart=1`), else
on the PL011; OP-TEE always prints on the mini UART; Linux uses the mini UART (`console=ttyS1`).
On the board all of it comes out on GPIO14/15 (header pins 8/10). Under QEMU raspi3b (no firmware
sets GPIO14) TF-A's lines come out on the PL011 (first serial port), the rest on the mini UART.
"""

from __future__ import annotations

from foc.deploy.targets import qemu
from foc.deploy.targets.base import DebPackage, Firmware, Kernel, Rootfs, SdCard, Target

OPTEE_PLATFORM = "rpi3"

# OP-TEE for the RPi3: our choices (debian/rules builds no rpi3 flavour). Kept here, not in the
# qemu target, so the two targets' OP-TEE options can change independently.
OPTEE_OPTIONS = (
    "CFG_ARM64_core=y",
    "CFG_USER_TA_TARGETS=ta_arm64",
    # Info, not debug: OP-TEE shares the mini UART with the Linux console on the board.
    "CFG_TEE_CORE_LOG_LEVEL=2",
    "CFG_TEE_BENCHMARK=n",
    "DEBUG=0",
    "CFG_ATTESTATION_PTA=y",  # evidence for enclave keys
    "CFG_REE_FS=y",  # sealed keys in tee-supplicant's directory (the SD card's data partition)
)

DTB_ADDRESS = 0x01000000  # TF-A RPI3_PRELOADED_DTB_BASE = config.txt device_tree_address
KERNEL_ADDRESS = 0x02000000  # TF-A PRELOADED_BL33_BASE = config.txt kernel_address (2 MiB aligned)
INITRD_ADDRESS = 0x12000000  # above the secure carve-out; the Image (~33 MB) ends below 0x04100000
BL1_SIZE = 0x20000  # TF-A SEC_ROM_SIZE: BL1 stays in use as the secondary cores' hold pen
GPU_MEM_MIB = 64  # config.txt gpu_mem: the VideoCore's share at the top of the 1 GiB

TFA_OPTIONS = (
    "PLAT=rpi3",
    "SPD=opteed",
    f"PRELOADED_BL33_BASE={KERNEL_ADDRESS:#010x}",
    f"RPI3_PRELOADED_DTB_BASE={DTB_ADDRESS:#010x}",
    "RPI3_DIRECT_LINUX_BOOT=1",
)

KERNEL_MODULES = (
    "tee",
    "optee",
    "optee-rng",
    "bcm2835-rng",  # hwrng: entropy for sshd's first host key
    "bcm2835",  # SD card (sdhost)
    "crc32c_generic",  # ext4 metadata checksums
    "ext4",  # the data partition
    "vfat",  # the boot partition (authorized_keys, SSH host key)
    "nls_cp437",
    "nls_ascii",
    "dwc2",  # USB host
    "cdc_ether",  # QEMU's usb-net
    "rndis_host",
    "smsc",  # RPi 3B: LAN9514 (smsc95xx) and its PHY
    "smsc95xx",
    "microchip",  # RPi 3B+: LAN7515 (lan78xx) and its PHY
    "lan78xx",
)

CONFIG_TXT = f"""\
# FOC: Raspberry Pi 3 Model B/B+, TF-A (armstub8.bin) + OP-TEE + Debian Linux booted from BL31.
# Addresses must match TF-A's build options (foc/deploy/targets/rpi3.py).
arm_64bit=1
armstub=armstub8.bin
kernel=vmlinuz
kernel_address={KERNEL_ADDRESS:#010x}
device_tree_address={DTB_ADDRESS:#010x}
initramfs initrd.img {INITRD_ADDRESS:#010x}
# The mini UART on GPIO14/15 (header pins 8/10): TF-A, OP-TEE and Linux all print there.
enable_uart=1
gpu_mem={GPU_MEM_MIB}
disable_splash=1
[pi3]
device_tree=bcm2837-rpi-3-b.dtb
[pi3+]
device_tree=bcm2837-rpi-3-b-plus.dtb
[all]
"""

CMDLINE = "console=ttyS1,115200 rdinit=/init"

HOST_PACKAGES = (
    *qemu.HOST_PACKAGES,
    "mtools",  # FAT partition without mounting
    "dosfstools",
    "fdisk",  # sfdisk: the MBR
    "e2fsprogs",  # mkfs.ext4 -d: the data partition
    "arm-trusted-firmware-tools",  # fiptool: inspecting the FIP in armstub8.bin
    "openssh-server",  # the SSH provisioning test's server on 127.0.0.1
)

HOST_COMMANDS = (
    *qemu.HOST_COMMANDS,
    ("mcopy", "mtools"),
    ("mkfs.vfat", "dosfstools"),
    ("sfdisk", "fdisk"),
    ("mkfs.ext4", "e2fsprogs"),
    ("fiptool", "arm-trusted-firmware-tools"),
    ("fdtget", "device-tree-compiler"),
    ("sshd", "openssh-server"),
)

TARGET = Target(
    name="rpi3",
    description="Raspberry Pi 3 Model B/B+ SD image (TF-A armstub, OP-TEE 4.10, attestation PTA, Debian 6.1)",
    firmware=Firmware(
        tfa_source=qemu.TARGET.firmware.tfa_source,
        tfa_options=TFA_OPTIONS,
        tfa_output="rpi3/release/armstub8.bin",
        optee_source=qemu.TARGET.firmware.optee_source,
        optee_platform=OPTEE_PLATFORM,
        optee_options=OPTEE_OPTIONS,
        bl33="",  # direct Linux boot: the firmware preloads the kernel (see the module docstring)
    ),
    kernel=Kernel(
        package=qemu.TARGET.kernel.package,
        release=qemu.TARGET.kernel.release,
        modules=KERNEL_MODULES,
    ),
    rootfs=Rootfs(
        suite=qemu.TARGET.rootfs.suite,
        packages=(
            *qemu.TARGET.rootfs.packages,
            # The board is provisioned over SSH (OpenSSH, as the test's host-side server).
            DebPackage(
                "openssh-server",
                "1:10.0p1-7+deb13u4",
                "trixie",
                sha256="6da10564d3747e5f8fcca9595e154d863fdef786c3384ccd24e518c1fc45e41d",
            ),
        ),
        drop=qemu.TARGET.rootfs.drop,
    ),
    optee_client=qemu.TARGET.optee_client,
    host_packages=HOST_PACKAGES,
    host_commands=HOST_COMMANDS,
    guest_python=qemu.TARGET.guest_python,
    wheel_platforms=qemu.TARGET.wheel_platforms,
    guest_wheels=qemu.TARGET.guest_wheels,
    machine={
        "qemu": "qemu-system-aarch64",
        "machine": "raspi3b",  # 4 x Cortex-A53, 1 GiB, BCM2837 peripherals; no VideoCore firmware
        "memory": "1024",
        "board": "pi3",  # which config.txt sections the emulated firmware applies ([pi3], not [pi3+])
        "guest_proxy_port": "50051",
        "guest_ssh_port": "22",
    },
    apt_components=("main", "non-free-firmware"),
    sd_card=SdCard(
        firmware=DebPackage(
            "raspi-firmware",
            "1.20240424+ds-6",
            "trixie",
            arch="all",
            sha256="f95a3d3c41df10bac33580be91b595efa1e126ad5e4b7eca75ce26fbbc69af06",
        ),
        firmware_dir="usr/lib/raspi-firmware",
        firmware_files=("bootcode.bin", "start.elf", "fixup.dat"),
        dtbs=("broadcom/bcm2837-rpi-3-b.dtb", "broadcom/bcm2837-rpi-3-b-plus.dtb"),
        config_txt=CONFIG_TXT,
        cmdline=CMDLINE,
        reserved_memory=(("atf_bl1", 0x0, BL1_SIZE),),
    ),
)
