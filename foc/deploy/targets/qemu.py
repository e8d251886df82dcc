"""QEMU aarch64 `virt,secure=on`: TF-A + OP-TEE 4.10 + U-Boot + Debian 6.1 kernel + trixie userland.

Every version below was checked against deb.debian.org, and each sha256 is the one Debian's signed
`Packages` / `Sources` index gives for that exact file (the .deb; for source packages the .dsc).
When a version disappears from the mirror (point releases replace trixie packages; sid moves
daily), the build fetches that exact version from the Debian snapshot archive, checked against
the same sha256, and stops naming the pin to update here only if that fails too (docs/deploy.md,
"Pins").
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
        tfa_source=SourcePackage(
            "arm-trusted-firmware",
            "2.12.1+dfsg-1",
            "trixie",
            sha256="1b10c0f421eb994c23b4f7fafe18f8e6b65eb70fd4195b49e40611beafcedc26",
        ),
        tfa_options=(
            "PLAT=qemu",
            "SPD=opteed",
            "QEMU_USE_GIC_DRIVER=QEMU_GICV3",  # Debian's OP-TEE uses GICv3; TF-A defaults to v2
        ),
        tfa_output="qemu/release/qemu_fw.bios",
        optee_source=SourcePackage(
            "optee-os",
            "4.10.0-2",
            "sid",
            sha256="3775e59ac3b9193294533ec2d3511aea02ef0c08a906a96c100adbeeac1f13cc",
        ),
        optee_platform=OPTEE_PLATFORM,
        optee_options=OPTEE_OPTIONS,
        bl33="/usr/lib/u-boot/qemu_arm64/u-boot.bin",
    ),
    kernel=Kernel(
        package=DebPackage(
            "linux-image-6.1.0-56-arm64",
            "6.1.192-2",
            "bookworm-security",
            sha256="6f4ed2d1cb9106bc977c2b1960008f175e2eed5740340634b7894e65ef5acc82",
        ),
        release="6.1.0-56-arm64",
        modules=KERNEL_MODULES,
    ),
    rootfs=Rootfs(
        suite="trixie",
        packages=(
            DebPackage(
                "busybox-static",
                "1:1.37.0-6+b9",
                "trixie",
                sha256="c833be48abfa16bc19c4966ec93e289ff1ce5d2f1476cad3a57bd105378cd15c",
            ),
            DebPackage(
                "python3-minimal",
                "3.13.5-1",
                "trixie",
                sha256="b1dff61d3e68c83c747b03399356ba707d491bcaf6e495b575d46be3143cdec8",
            ),
            DebPackage(
                "libpython3-stdlib",
                "3.13.5-1",
                "trixie",
                sha256="0e5b09b3c90f34399a357c32e1be08a3f31b39d3c615464f00354b309f82e732",
            ),
            DebPackage(
                "libssl3t64",
                "3.5.9-1~deb13u1",
                "trixie",
                sha256="18edc2b123e8e81efcc14ea5502454b4505285aa9d3325c22315e9304acb25ca",
            ),
            DebPackage(
                "libffi8",
                "3.4.8-2",
                "trixie",
                sha256="d84a783b818f2386627604e64b793eb4ac5bb9ea1ba321a194a1c9c82fe09a01",
            ),
            # manylinux wheels (grpcio's cygrpc) link the system C++ runtime.
            DebPackage(
                "libstdc++6",
                "14.2.0-19",
                "trixie",
                sha256="6669b0c52a2e7c6af9adfdabce3ff6e286065cdfbc7b85280862b5f799daebee",
            ),
            DebPackage(
                "libgcc-s1",
                "14.2.0-19",
                "trixie",
                sha256="1108bc87879833d6d9a145f22a4a15cddb34e065b4b5f4b97bee586adbac2851",
            ),
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
        DebPackage(
            "libteec2",
            "4.11.0-1",
            "sid",
            sha256="87f98b5846fb6729a4f074147af97be4f0e1768cffef0a413b95dfbe08f20869",
        ),
        DebPackage(
            "tee-supplicant",
            "4.11.0-1",
            "sid",
            sha256="64f34500cd9bea3e8eeb6b382a3715265a1f2d146662ffe480fab0bca322bb67",
        ),
        DebPackage(
            "optee-test-qemu",
            "4.10.0-1",
            "sid",
            sha256="eda7e86e7af7892d586856060e5e5b68a507b40773e24e4b5e09cf5ad4b06ad2",
        ),
        DebPackage(
            "libckteec0t64",
            "4.11.0-1",
            "sid",
            sha256="9f9b7a4f81abb03dc1dde49ed9c0a650bd1dcfde448bd04357a1b9e049647b6f",
        ),
    ),
    host_packages=HOST_PACKAGES,
    host_commands=HOST_COMMANDS,
    guest_python="3.13",
    wheel_platforms=("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"),
    guest_wheels=("grpcio", "protobuf", "cryptography"),
    uboot_env=UBOOT_ENV,
    guest_native_dev=DebPackage(
        "libssl-dev",
        "3.5.9-1~deb13u1",
        "trixie",
        sha256="465ce1c3fb062bdfda604213697a4edd2f2308c117c502351b6ab479623b8e21",
    ),
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
