"""The target model: what an image for one device is made of, as data.

A `Target` names every pinned input (Debian binary and source packages, each with suite, version
and the sha256 every download of it is checked against), the build options of TF-A and OP-TEE,
the kernel modules the guest loads and the device quirks (memory map, boot environment). The
build steps in `foc.deploy.build` read only this description, so a new board (e.g. `rpi3`) is a
new data file plus the quirks it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass


@dataclass(frozen=True)
class DebPackage:
    """One pinned Debian binary package: fetched by exact version from `suite`.

    `sha256` is the hex sha256 of the .deb (the `SHA256` field of its entry in Debian's signed
    `Packages` index). Every download, from the mirror or the snapshot archive, is checked against
    it before use. It authenticates the file; it is not part of `identity` (same version, same file).
    """

    name: str
    version: str
    suite: str
    arch: str = "arm64"
    sha256: str = ""

    @property
    def spec(self) -> str:
        """The apt-get argument that selects exactly this package."""
        return f"{self.name}:{self.arch}={self.version}"

    @property
    def identity(self) -> str:
        """Stable identity (name, version, arch, suite) used in cache keys."""
        return f"{self.name}_{self.version}_{self.arch}@{self.suite}"


@dataclass(frozen=True)
class SourcePackage:
    """One pinned Debian source package, fetched with `apt-get source`.

    `sha256` is the hex sha256 of the .dsc (its line in `Checksums-Sha256` of Debian's signed
    `Sources` index); the .dsc's own `Checksums-Sha256` then covers the tarballs.
    """

    name: str
    version: str
    suite: str
    sha256: str = ""

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}"

    @property
    def identity(self) -> str:
        return f"src:{self.name}_{self.version}@{self.suite}"

    @property
    def dsc_name(self) -> str:
        """File name of the .dsc: <name>_<version without epoch>.dsc."""
        return f"{self.name}_{self.version.split(':', 1)[-1]}.dsc"

    @property
    def upstream_dir(self) -> str:
        """Directory name `dpkg-source -x` creates: <name>-<upstream version>."""
        version = self.version.split(":", 1)[-1]
        upstream = version.rsplit("-", 1)[0] if "-" in version else version
        return f"{self.name}-{upstream}"


@dataclass(frozen=True)
class Rootfs:
    """The guest userland: an `mmdebstrap --variant=extract` of pinned top-level packages.

    Their dependencies are resolved by apt in `suite` and recorded (with sha256) in the manifest.
    `drop` lists paths (relative to the rootfs) removed to keep the initramfs small.
    """

    suite: str
    packages: tuple[DebPackage, ...]
    drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kernel:
    """A Debian kernel package and the modules the guest must load (dependencies are added)."""

    package: DebPackage
    release: str  # uname -r, e.g. 6.1.0-56-arm64
    modules: tuple[str, ...]  # wanted modules in load order; the build adds their dependency closure
    modules_dir: str = "lib/modules"  # relative to the extracted package (trixie+: usr/lib/modules)


@dataclass(frozen=True)
class Firmware:
    """How the secure firmware is built: TF-A + OP-TEE OS from Debian sources, plus BL33."""

    tfa_source: SourcePackage
    tfa_options: tuple[str, ...]  # make VAR=value
    tfa_output: str  # path of the boot image in TF-A's BUILD_BASE, e.g. qemu/release/qemu_fw.bios
    optee_source: SourcePackage
    optee_platform: str  # PLATFORM=...
    optee_options: tuple[str, ...]  # make CFG_...=value (debian/rules' set plus ours)
    bl33: str  # absolute host path of U-Boot (or a kernel) used as BL33


@dataclass(frozen=True)
class SdCard:
    """A bootable SD-card image for a board whose own boot firmware reads a FAT partition.

    Layout (MBR): partition 1 FAT32 `boot` (boot firmware, armstub, kernel, initramfs, DTBs,
    config.txt, cmdline.txt), partition 2 ext4 `data` (REE FS secure storage, SSH host keys, the
    proxy's TLS identity, provisioned updates) filling the rest. `image_mib` must be a power of
    two: QEMU's SD card model refuses other sizes.
    """

    firmware: DebPackage  # the board's boot firmware package (Raspberry Pi: raspi-firmware)
    firmware_dir: str  # where the package keeps the files, e.g. usr/lib/raspi-firmware
    firmware_files: tuple[str, ...]  # copied to the FAT root
    dtbs: tuple[str, ...]  # paths in the kernel package below usr/lib/linux-image-<release>/
    config_txt: str  # the firmware's config.txt
    cmdline: str  # cmdline.txt: the kernel command line
    image_mib: int = 256
    boot_mib: int = 128
    first_sector: int = 8192  # 4 MiB alignment, as SD cards' erase blocks want
    #: extra DT reserved-memory regions (name, base, size) beyond OP-TEE's own (from its conf.mk)
    reserved_memory: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class Target:
    """Everything needed to build (and describe how to boot) an image for one device."""

    name: str
    description: str
    firmware: Firmware
    kernel: Kernel
    rootfs: Rootfs
    optee_client: tuple[DebPackage, ...]  # extracted on top of the rootfs (libteec, tee-supplicant, xtest)
    host_packages: tuple[str, ...]  # Debian packages the host needs to build this target
    host_commands: tuple[tuple[str, str], ...]  # (command, package providing it)
    guest_python: str  # e.g. "3.13": version the wheels are fetched for
    wheel_platforms: tuple[str, ...]
    guest_wheels: tuple[str, ...]  # distributions installed in the guest at the host's versions
    uboot_env: tuple[tuple[str, str], ...] = ()  # U-Boot environment (quirk: kernel/initrd addresses)
    uboot_env_size: int = 0x40000
    pflash_size: int = 64 * 1024 * 1024
    machine: dict[str, str] = field(default_factory=dict)  # boot facts for the runtime (QEMU options...)
    # Headers the guest normal-world build of the trusted core compiles against (libssl-dev at the
    # rootfs's libssl3t64 version); None: the image carries no guest-native core (`foc bench` (b)).
    guest_native_dev: DebPackage | None = None
    apt_components: tuple[str, ...] = ("main",)  # archive components of the private apt sources
    guest_files: str = "qemu"  # repo directory with the guest's /init, profile, scripts
    sd_card: SdCard | None = None  # boards: the SD image the build assembles (rpi3)

    @property
    def pins(self) -> tuple[DebPackage | SourcePackage, ...]:
        """Every pinned Debian package of this target, wherever it sits in the description
        (fields, nested descriptions, tuples), in declaration order."""
        found: list[DebPackage | SourcePackage] = []

        def walk(value: object) -> None:
            if isinstance(value, DebPackage | SourcePackage):
                found.append(value)
            elif is_dataclass(value) and not isinstance(value, type):
                for f in fields(value):
                    walk(getattr(value, f.name))
            elif isinstance(value, tuple | list):
                for item in value:
                    walk(item)

        walk(self)
        return tuple(found)

    @property
    def debian_suites(self) -> tuple[str, ...]:
        """All suites this target fetches from, in a stable order."""
        suites: list[str] = []
        pkgs = [self.kernel.package, *self.rootfs.packages, *self.optee_client]
        if self.sd_card is not None:
            pkgs.append(self.sd_card.firmware)
        for s in [p.suite for p in pkgs] + [self.firmware.tfa_source.suite, self.firmware.optee_source.suite]:
            if s not in suites:
                suites.append(s)
        return tuple(suites)
