"""Offline TA measurement on synthetic signed TAs (exact equality with OP-TEE is checked on QEMU)."""

from __future__ import annotations

import hashlib
import struct

import pytest

from foc.confidential.measurement import (
    PAGE_SIZE,
    SHDR_BOOTSTRAP_TA,
    SHDR_ENCRYPTED_TA,
    SHDR_MAGIC,
    elf_measurement,
    parse_signed_ta,
    read_only_regions,
    ta_measurement,
)
from foc.errors import MeasurementError

PF_R, PF_W, PF_X = 4, 2, 1
PT_LOAD, PT_DYNAMIC = 1, 2
RSA_PSS_SHA256 = 0x70414930


def elf64(segments: list[tuple[int, int, bytes, int, int]], size: int, dynamic: bytes | None = None) -> bytes:
    """A little ELF64 image: segments are (type, flags, content, offset, vaddr) with memsz extra."""
    phnum = len(segments) + (dynamic is not None)
    image = bytearray(size)
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 3, 183, 1, 0, 64, 0, 0, 64, 56, phnum, 64, 0, 0)
    image[: len(header)] = header
    for i, (flags, memsz_extra, content, offset, vaddr) in enumerate(segments):
        struct.pack_into(
            "<IIQQQQQQ", image, 64 + 56 * i, PT_LOAD, flags, offset, vaddr, vaddr,
            len(content), len(content) + memsz_extra, PAGE_SIZE,
        )  # fmt: skip
        image[offset : offset + len(content)] = content
    if dynamic is not None:
        offset = size - len(dynamic)
        struct.pack_into("<IIQQQQQQ", image, 64 + 56 * len(segments), PT_DYNAMIC, PF_R, offset, 0, 0,
                         len(dynamic), len(dynamic), 8)  # fmt: skip
        image[offset:] = dynamic
    return bytes(image)


def sign(elf: bytes, *, img_type: int = SHDR_BOOTSTRAP_TA, corrupt: bool = False) -> bytes:
    """Wrap `elf` as OP-TEE's sign_encrypt.py does (signature bytes are not checked here)."""
    sub = bytes(range(16)) + struct.pack("<I", 1) if img_type != 0 else b""
    static = struct.pack("<IIIIHH", SHDR_MAGIC, img_type, len(elf), RSA_PSS_SHA256, 32, 384)
    digest = hashlib.sha256(static + sub + elf).digest()
    if corrupt:
        elf = elf[:-1] + bytes([elf[-1] ^ 1])
    return static + digest + bytes(384) + sub + elf


TEXT = bytes(range(256)) * 20  # 5120 bytes: 2 pages
RODATA = b"R" * 100
DATA = b"D" * 50


def three_segment_elf() -> bytes:
    # text at offset 0x1000, rodata at 0x3000, data (RW, with bss) at 0x4000.
    return elf64([(PF_R | PF_X, 0, TEXT, 0x1000, 0), (PF_R, 0, RODATA, 0x3000, 0x2000),
                  (PF_R | PF_W, 0x500, DATA, 0x4000, 0x3000)], 0x4000 + len(DATA))  # fmt: skip


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % PAGE_SIZE)


def test_measurement_hashes_header_page_and_read_only_segments_sorted_by_size() -> None:
    elf = three_segment_elf()
    # Expected by hand: the ELF header page, rodata (1 page), text (2 pages); data is writable.
    header_page, rodata_page, text_pages = elf[:PAGE_SIZE], pad(RODATA), pad(TEXT)
    assert read_only_regions(elf) == [header_page, text_pages, rodata_page]
    smallest_first = sorted([header_page, rodata_page], key=lambda r: r) + [text_pages]
    expected = hashlib.sha256(b"".join(smallest_first)).digest()
    assert elf_measurement(elf) == expected
    assert ta_measurement(sign(elf)) == expected


def test_writable_data_does_not_change_the_measurement_but_code_does() -> None:
    elf = three_segment_elf()
    other_data = elf[:-1] + b"E"
    assert elf_measurement(other_data) == elf_measurement(elf)
    other_code = elf[:0x1000] + b"\xff" + elf[0x1001:]
    assert elf_measurement(other_code) != elf_measurement(elf)


def test_signed_ta_layout_is_parsed_and_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    elf = three_segment_elf()
    path = tmp_path / "x.ta"
    path.write_bytes(sign(elf))
    signed = parse_signed_ta(path.read_bytes())
    assert signed.elf == elf and signed.img_type == SHDR_BOOTSTRAP_TA and signed.algo == RSA_PSS_SHA256
    assert ta_measurement(path) == elf_measurement(elf)
    assert parse_signed_ta(sign(elf, img_type=0)).elf == elf  # legacy SHDR_TA: no bootstrap header


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00" * 64, "not a signed TA"),
        (sign(three_segment_elf(), corrupt=True), "does not match the signed hash"),
        (sign(three_segment_elf())[:-1], "size mismatch"),
        (sign(three_segment_elf(), img_type=SHDR_ENCRYPTED_TA), "encrypted"),
        (sign(elf64([], 0x100)), "no PT_LOAD"),
    ],
    ids=["not-signed", "corrupt", "truncated", "encrypted", "no-load-segment"],
)
def test_unmeasurable_tas_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MeasurementError, match=reason):
        ta_measurement(data)


def test_shared_library_dependencies_are_refused() -> None:
    dynamic = struct.pack("<qQqQ", 1, 0, 0, 0)  # DT_NEEDED, DT_NULL
    elf = elf64([(PF_R | PF_X, 0, TEXT, 0x1000, 0)], 0x3000 + len(dynamic), dynamic=dynamic)
    with pytest.raises(MeasurementError, match="DT_NEEDED"):
        elf_measurement(elf)


def test_read_only_segment_with_bss_is_refused_as_ldelf_does() -> None:
    elf = elf64([(PF_R | PF_X, 0x10, TEXT, 0x1000, 0)], 0x3000)
    with pytest.raises(MeasurementError, match="filesz != memsz"):
        elf_measurement(elf)


def test_segments_sharing_a_page_are_merged_like_ldelf() -> None:
    # rodata starts in text's last page: ldelf merges them into one read-only region.
    rodata_vaddr = len(TEXT) + 16
    elf = elf64([(PF_R | PF_X, 0, TEXT, 0x1000, 0), (PF_R, 0, RODATA, 0x1000 + rodata_vaddr, rodata_vaddr)],
                0x1000 + rodata_vaddr + len(RODATA))  # fmt: skip
    regions = read_only_regions(elf)
    assert len(regions) == 2
    assert regions[1] == pad(elf[0x1000 : 0x1000 + rodata_vaddr + len(RODATA)])
