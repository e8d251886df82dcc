"""QEMU aarch64 `virt,secure=on`: TF-A + OP-TEE 4.10 + U-Boot + Debian 6.1 kernel + trixie userland.

Every version below was checked against deb.debian.org. When one disappears from the mirror
(point releases replace trixie packages; sid moves daily), the build stops and names the pin to
update here; `apt-cache madison` with the build's private apt config shows what is available.
"""

from __future__ import annotations

from foc.deploy.targets.base import DebPackage, Firmware, Kernel, Rootfs, SourcePackage, Target

OPTEE_PLATFORM = "vexpress-qemu_armv8a"

# debian/rules of optee-os 4.10.0-2 for the non-virtualized vexpress-qemu_armv8a subplatform
# (its O= and dpkg-buildflags CFLAGS are left out: those flags target the build host), plus ours.
OPTEE_OPTIONS = (
    "CFG_TEE_CORE_LOG_LEVEL=3",
    "CFG_TEE_BENCHMARK=n",
    "CFG_ARM_GICV3=y",
    "CFG_ARM64_core=y",
    "CFG_VIRTUALIZATION=n",
    "CFG_USER_TA_TARGETS=ta_arm64",
    "DEBUG=0",
    # Ours: evidence for enclave keys comes from the attestation pseudo-TA.
    "CFG_ATTESTATION_PTA=y",
    # Sealed keys live in REE FS secure storage (tee-supplicant's data dir). On by default; explicit here.
    "CFG_REE_FS=y",
    # AES, GHASH (PMULL) and SHA-1/SHA-256 in OP-TEE core with the ARMv8 Cryptography Extensions
    # (constant-time in hardware; QEMU's cortex-a57 emulates them: `aes pmull sha1 sha2` in the
    # guest's /proc/cpuinfo). vexpress-qemu_armv8a leaves it off by default. docs/performance.md.
    "CFG_CRYPTO_WITH_CE=y",
)

# Modules the guest loads; the build adds each one's dependency closure from modules.dep.
KERNEL_MODULES = (
    "tee",
    "optee",
    "optee-rng",
    "virtio_mmio",
    "virtio_pci",
    "virtio_net",
    "9pnet_virtio",
    "9p",
)

# Quirk: U-Boot's default kernel_addr_r (0x40400000) + a 33 MB Debian Image overlaps OP-TEE's static
# SHM at 0x42000000, so U-Boot's environment (in non-secure pflash unit 1) moves kernel and initrd up.
UBOOT_ENV = (
    ("bootdelay", "0"),
    ("kernel_addr_r", "0x44000000"),
    ("ramdisk_addr_r", "0x48000000"),
    (
        "bootcmd",
        "if qfw load ${kernel_addr_r} ${ramdisk_addr_r}; then "
        "booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}; fi",
    ),
)

HOST_PACKAGES = (
    "qemu-system-arm",
    "qemu-user-static",  # the guest's python3 byte-compiles the guest's Python at build time
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",  # libc headers for the guest normal-world build of the trusted core
    "binutils-aarch64-linux-gnu",
    "build-essential",
    "mmdebstrap",
    "u-boot-qemu",
    "u-boot-tools",
    "device-tree-compiler",
    "kmod",
    "cpio",
    "libssl-dev",
    "python3-cryptography",
    "python3-pyelftools",
    "dpkg-dev",
    "xz-utils",
    "debian-archive-keyring",
)

HOST_COMMANDS = (
    ("qemu-system-aarch64", "qemu-system-arm"),
    ("qemu-aarch64-static", "qemu-user-static"),
    ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
    ("aarch64-linux-gnu-ld", "binutils-aarch64-linux-gnu"),
    ("make", "build-essential"),
    ("gcc", "build-essential"),
    ("mmdebstrap", "mmdebstrap"),
    ("mkenvimage", "u-boot-tools"),
    ("dtc", "device-tree-compiler"),
    ("depmod", "kmod"),
    ("cpio", "cpio"),
    ("dpkg-source", "dpkg-dev"),
    ("dpkg-deb", "dpkg"),
    ("apt-get", "apt"),
    ("xz", "xz-utils"),
    ("gzip", "gzip"),
)

TARGET = Target(
    name="qemu",
    description="QEMU aarch64 virt,secure=on (TF-A, OP-TEE 4.10 with attestation PTA, U-Boot, Debian 6.1)",
    firmware=Firmware(
        tfa_source=SourcePackage("arm-trusted-firmware", "2.12.1+dfsg-1", "trixie"),
        tfa_options=(
            "PLAT=qemu",
            "SPD=opteed",
            "QEMU_USE_GIC_DRIVER=QEMU_GICV3",  # Debian's OP-TEE uses GICv3; TF-A defaults to v2
        ),
        tfa_output="qemu/release/qemu_fw.bios",
        optee_source=SourcePackage("optee-os", "4.10.0-2", "sid"),
        optee_platform=OPTEE_PLATFORM,
        optee_options=OPTEE_OPTIONS,
        bl33="/usr/lib/u-boot/qemu_arm64/u-boot.bin",
    ),
    kernel=Kernel(
        package=DebPackage("linux-image-6.1.0-56-arm64", "6.1.192-2", "bookworm-security"),
        release="6.1.0-56-arm64",
        modules=KERNEL_MODULES,
    ),
    rootfs=Rootfs(
        suite="trixie",
        packages=(
            DebPackage("busybox-static", "1:1.37.0-6+b9", "trixie"),
            DebPackage("python3-minimal", "3.13.5-1", "trixie"),
            DebPackage("libpython3-stdlib", "3.13.5-1", "trixie"),
            DebPackage("libssl3t64", "3.5.9-1~deb13u1", "trixie"),
            DebPackage("libffi8", "3.4.8-2", "trixie"),
            # manylinux wheels (grpcio's cygrpc) link the system C++ runtime.
            DebPackage("libstdc++6", "14.2.0-19", "trixie"),
            DebPackage("libgcc-s1", "14.2.0-19", "trixie"),
        ),
        drop=(
            "usr/share/doc",
            "usr/share/man",
            "usr/share/info",
            "usr/share/locale",
            "usr/share/lintian",
            "usr/lib/aarch64-linux-gnu/gconv",
            "usr/lib/python3.13/test",
            "usr/lib/python3.13/idlelib",
            "usr/lib/python3.13/tkinter",
            "usr/lib/python3.13/turtledemo",
            "usr/lib/python3.13/ensurepip",
            "usr/lib/python3.13/pydoc_data",
            "var/cache/apt",
            "var/lib/apt/lists",
        ),
    ),
    optee_client=(
        DebPackage("libteec2", "4.11.0-1", "sid"),
        DebPackage("tee-supplicant", "4.11.0-1", "sid"),
        DebPackage("optee-test-qemu", "4.10.0-1", "sid"),
        DebPackage("libckteec0t64", "4.11.0-1", "sid"),
    ),
    host_packages=HOST_PACKAGES,
    host_commands=HOST_COMMANDS,
    guest_python="3.13",
    wheel_platforms=("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"),
    guest_wheels=("grpcio", "protobuf", "cryptography"),
    uboot_env=UBOOT_ENV,
    guest_native_dev=DebPackage("libssl-dev", "3.5.9-1~deb13u1", "trixie"),
    machine={
        "qemu": "qemu-system-aarch64",
        "machine": "virt,secure=on,virtualization=off,gic-version=3",
        "cpu": "cortex-a57",  # -cpu max hangs the first user TA with QEMU 7.2
        "smp": "2",
        "memory": "1024",
        "append": "console=ttyAMA0 rdinit=/init",
        "share_tag": "host0",
    },
)
