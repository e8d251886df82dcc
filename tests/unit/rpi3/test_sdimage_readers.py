"""Reading an SD image without tools: the MBR, and members of a (multi-archive) gzip'd initramfs."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from foc.deploy.rpi3.sdimage import cpio_files, read_mbr
from foc.errors import TargetError


def _mbr(entries: list[tuple[int, int, int, int]], disk_id: int = 0x464F4331) -> bytes:
    mbr = bytearray(512)
    mbr[440:444] = disk_id.to_bytes(4, "little")
    for i, (boot, ptype, start, sectors) in enumerate(entries):
        e = 446 + 16 * i
        mbr[e] = boot
        mbr[e + 4] = ptype
        mbr[e + 8 : e + 12] = start.to_bytes(4, "little")
        mbr[e + 12 : e + 16] = sectors.to_bytes(4, "little")
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


def test_mbr_partitions(tmp_path: Path) -> None:
    image = tmp_path / "sd.img"
    image.write_bytes(_mbr([(0x80, 0x0C, 8192, 262144), (0, 0x83, 270336, 253952)]))
    disk_id, parts = read_mbr(image)
    assert disk_id == 0x464F4331
    assert [(p.number, p.type, p.bootable, p.offset, p.size) for p in parts] == [
        (1, 0x0C, True, 8192 * 512, 262144 * 512),
        (2, 0x83, False, 270336 * 512, 253952 * 512),
    ]


def test_no_mbr_signature(tmp_path: Path) -> None:
    image = tmp_path / "blank.img"
    image.write_bytes(bytes(4096))
    with pytest.raises(TargetError, match="no MBR"):
        read_mbr(image)


def _newc(name: str, data: bytes) -> bytes:
    fields = [1, 0o100644, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    header = b"070701" + b"".join(f"{f:08x}".encode() for f in fields)
    out = header + name.encode() + b"\0"
    out += b"\0" * ((-len(out)) % 4) + data
    return out + b"\0" * ((-len(out)) % 4)


def _archive(*members: tuple[str, bytes]) -> bytes:
    body = b"".join(_newc(n, d) for n, d in members) + _newc("TRAILER!!!", b"")
    return gzip.compress(body + b"\0" * 512)


def test_cpio_members_from_concatenated_gzip_archives() -> None:
    initrd = _archive(("usr/bin/x", b"base"), ("usr/lib/optee_armtz/a.ta", b"old")) + _archive(
        ("usr/lib/optee_armtz/b.ta", b"TA bytes"), ("init", b"#!/bin/sh")
    )
    found = dict(cpio_files(initrd, {"usr/lib/optee_armtz/b.ta", "init", "missing"}))
    assert found == {"usr/lib/optee_armtz/b.ta": b"TA bytes", "init": b"#!/bin/sh"}
