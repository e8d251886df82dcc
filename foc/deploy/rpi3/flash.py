"""`foc-deploy rpi3 flash`: write the SD image to a card (or to an image file), safely.

Refusals, each with its own override flag (the CLI's names):

| refusal                                                      | override               |
|--------------------------------------------------------------|------------------------|
| not a block device or regular file (a directory such as `/`) | none                   |
| a block device that is neither removable nor on USB          | `--allow-non-removable`|
| the device or one of its partitions is mounted               | `--allow-mounted`      |
| it holds the running system (`/`, `/boot`, `/usr`, swap)     | `--allow-system-disk`  |
| larger than `--max-size` (default 128 GiB: an SD card, not a disk) | `--max-size SIZE` |
| smaller than the image                                       | none                   |

Then: the image is copied and personalised (the board's SSH host key, pinned on this host, and
the deploy key as authorized_keys go into the FAT partition's `foc/`), written in 4 MiB chunks with
progress, flushed (`fsync`, and the kernel's buffer cache dropped with BLKFLSBUF), read back and
compared by SHA-256. `--dry-run` does every check and writes nothing.

Facts about a block device come from `lsblk --json` (sysfs): RM (removable), HOTPLUG, TRAN (usb),
SIZE, MOUNTPOINTS of the device and everything on it (partitions, LVM, dm-crypt).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foc.errors import ConfigError, HostSetupError, TargetError, UsageError

CHUNK = 4 << 20
DEFAULT_MAX_SIZE = 128 << 30
BLKFLSBUF = 0x1261  # linux/fs.h: flush the buffer cache of a block device
SYSTEM_MOUNTS = ("/", "/boot", "/boot/efi", "/usr", "/var", "[SWAP]")

Progress = Callable[[str, int, int], None]  # (phase "write"|"verify", bytes done, total)


@dataclass(frozen=True)
class Overrides:
    """The refusals the user chose to override (one flag each)."""

    allow_non_removable: bool = False
    allow_mounted: bool = False
    allow_system_disk: bool = False
    max_size: int = DEFAULT_MAX_SIZE


@dataclass(frozen=True)
class BlockDevice:
    """What lsblk says about a block device and everything on it."""

    path: str
    size: int
    removable: bool
    hotplug: bool
    transport: str | None
    mountpoints: tuple[str, ...]  # of the device and its descendants
    type: str = "disk"

    @property
    def usb(self) -> bool:
        return self.transport == "usb"


def parse_lsblk(data: dict[str, Any]) -> BlockDevice:
    """A `BlockDevice` from `lsblk --json --bytes -o PATH,SIZE,RM,HOTPLUG,TRAN,TYPE,MOUNTPOINTS DEV`."""
    devices = data.get("blockdevices")
    if not isinstance(devices, list) or not devices:
        raise TargetError("lsblk reported no block device")
    top = devices[0]

    def flag(v: object) -> bool:
        return v in (True, 1, "1", "true")

    def walk(node: dict[str, Any]) -> Iterator[str]:
        for mp in node.get("mountpoints") or []:
            if mp:
                yield str(mp)
        for child in node.get("children") or []:
            yield from walk(child)

    # lsblk nests partitions as "children" when it has udev's view, and lists them flat after the
    # device without it (containers): everything it lists for one device is on that device.
    return BlockDevice(
        path=str(top.get("path")),
        size=int(top.get("size") or 0),
        removable=flag(top.get("rm")),
        hotplug=flag(top.get("hotplug")),
        transport=str(top["tran"]) if top.get("tran") else None,
        mountpoints=tuple(mp for node in devices for mp in walk(node)),
        type=str(top.get("type") or "disk"),
    )


def describe_device(path: Path) -> BlockDevice:
    """lsblk's view of the block device `path`."""
    argv = ["lsblk", "--json", "--bytes", "-o", "PATH,SIZE,RM,HOTPLUG,TRAN,TYPE,MOUNTPOINTS", str(path)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise HostSetupError("lsblk is not installed", hint="apt-get install util-linux") from None
    if proc.returncode != 0:
        raise TargetError(f"lsblk {path}: {proc.stderr.strip()}")
    return parse_lsblk(json.loads(proc.stdout))


def refusals(device: BlockDevice, image_size: int, overrides: Overrides) -> list[tuple[str, str]]:
    """(reason, override flag or "") for each refusal that applies to `device` (empty: go)."""
    out: list[tuple[str, str]] = []
    if not (device.removable or device.usb or device.hotplug):
        kind = "a loop device" if device.type == "loop" else f"a fixed {device.type}"
        if not overrides.allow_non_removable:
            out.append((f"{device.path} is {kind}, not a removable or USB device", "--allow-non-removable"))
    system = [m for m in device.mountpoints if m in SYSTEM_MOUNTS]
    if system and not overrides.allow_system_disk:
        out.append((f"{device.path} holds the running system ({', '.join(system)})", "--allow-system-disk"))
    if device.mountpoints and not overrides.allow_mounted:
        out.append((f"{device.path} is mounted ({', '.join(device.mountpoints)})", "--allow-mounted"))
    if device.size > overrides.max_size:
        gib = device.size / (1 << 30)
        limit = overrides.max_size / (1 << 30)
        out.append((f"{device.path} is {gib:.1f} GiB, more than the {limit:.0f} GiB limit",
                    "--max-size"))  # fmt: skip
    if device.size < image_size:
        out.append(
            (f"{device.path} ({device.size} bytes) is smaller than the image ({image_size} bytes)", "")
        )
    return out


@dataclass
class FlashReport:
    """What `flash` did (or, with dry_run, would do)."""

    image: str
    target: str
    kind: str  # "block device" | "image file"
    bytes: int
    sha256: str
    dry_run: bool
    verified: bool = False
    personalized: list[str] = field(default_factory=list)
    device: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def sha256_file(path: Path, limit: int | None = None) -> str:
    h = hashlib.sha256()
    remaining = limit
    with path.open("rb") as f:
        while remaining is None or remaining > 0:
            chunk = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                break
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return h.hexdigest()


def check_target(
    target: Path, image: Path, image_size: int, overrides: Overrides
) -> tuple[str, BlockDevice | None]:
    """("block device" | "image file", lsblk facts) or UsageError/TargetError naming every refusal."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is None or stat.S_ISREG(st.st_mode):
        if st is not None and target.resolve() == image.resolve():
            raise UsageError(f"{target} is the source image itself")
        return "image file", None
    if not stat.S_ISBLK(st.st_mode):
        raise UsageError(
            f"{target} is not a block device or an image file", hint="give the card, e.g. /dev/sdX"
        )
    device = describe_device(target)
    found = refusals(device, image_size, overrides)
    if found:
        lines = "\n".join(f"- {reason}" + (f" (override: {flag})" if flag else "") for reason, flag in found)
        raise TargetError(f"refusing to write {target}:\n{lines}")
    return "block device", device


def write_image(
    source: Path,
    target: Path,
    *,
    block_device: bool,
    exclusive: bool = True,
    progress: Progress | None = None,
) -> str:
    """Write `source` to `target`, sync, drop caches, read back; returns the verified SHA-256.

    `exclusive` opens a block device with O_EXCL: the kernel then refuses one that is mounted.
    """
    size = source.stat().st_size
    expected = hashlib.sha256()
    if block_device:
        flags = os.O_WRONLY | (os.O_EXCL if exclusive else 0)
    else:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(target, flags, 0o644)
    except OSError as exc:
        busy = (
            " (the kernel says it is in use: mounted, or held by another program)" if exc.errno == 16 else ""
        )
        raise TargetError(f"cannot open {target} for writing: {exc.strerror}{busy}") from None
    try:
        done = 0
        with source.open("rb") as src:
            while chunk := src.read(CHUNK):
                expected.update(chunk)
                view = memoryview(chunk)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                done += len(chunk)
                if progress:
                    progress("write", done, size)
        os.fsync(fd)
        if block_device:
            fcntl.ioctl(fd, BLKFLSBUF)  # the read-back must come from the card, not the page cache
        else:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    got = hashlib.sha256()
    done = 0
    with target.open("rb") as f:
        while done < size:
            chunk = f.read(min(CHUNK, size - done))
            if not chunk:
                break
            got.update(chunk)
            done += len(chunk)
            if progress:
                progress("verify", done, size)
    if got.hexdigest() != expected.hexdigest():
        raise TargetError(
            f"read-back of {target} does not match the image (sha256 {got.hexdigest()[:16]} != "
            f"{expected.hexdigest()[:16]}): the card may be faulty or fake"
        )
    return got.hexdigest()


def flash(
    image: Path,
    target: Path,
    *,
    personalize: dict[str, bytes] | None = None,
    overrides: Overrides = Overrides(),
    dry_run: bool = False,
    progress: Progress | None = None,
    workdir: Path,
) -> FlashReport:
    """Check `target`, then (unless `dry_run`) write `image` personalised with `personalize`
    (FAT `foc/` files) and verify it. See the module docstring for the refusals."""
    from foc.deploy.rpi3 import sdimage

    if not image.is_file():
        raise ConfigError(f"no SD image at {image}", hint="`foc-deploy rpi3 build` first")
    size = image.stat().st_size
    kind, device = check_target(target, image, size, overrides)
    report = FlashReport(
        image=str(image), target=str(target), kind=kind, bytes=size, sha256="", dry_run=dry_run,
        personalized=sorted(personalize or {}), device=device.__dict__ if device else {},
    )  # fmt: skip
    if dry_run:
        report.sha256 = sha256_file(image)
        return report
    source = image
    if personalize:
        workdir.mkdir(parents=True, exist_ok=True)
        source = workdir / f"flash-{os.getpid()}.img"
        sdimage.copy_sparse(image, source)
    try:
        if personalize:
            sdimage.personalize(source, personalize)
        report.sha256 = write_image(
            source,
            target,
            block_device=device is not None,
            exclusive=not overrides.allow_mounted,
            progress=progress,
        )
        report.verified = True
    finally:
        if source != image:
            source.unlink(missing_ok=True)
    return report


def parse_size(text: str) -> int:
    """'128G', '512M', '4096' -> bytes (UsageError if malformed)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise UsageError(f"size {text!r} is not a number of bytes (suffix K, M, G or T allowed)") from None
