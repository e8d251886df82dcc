"""The expected TA measurement, computed offline from a signed `.ta`.

Mirrors, step by step, what OP-TEE 4.x computes at runtime for `PTA_ATTESTATION_HASH_TA_MEMORY`
(docs/confidential.md, "The TA measurement", has the source references):

1. ``core/pta/attestation.c`` `hash_regions`: every region of the calling TA's address space
   except writable ones (``TEE_MATTR_UW``) and those flagged EPHEMERAL (parameters), PERMANENT
   (kernel) or LDELF (the loader), sorted by size, equal sizes by content (memcmp), then SHA-256
   over their full (page-sized) contents in that order.
2. Which read-only regions exist comes from ``ldelf/ta_elf.c`` for the main TA:
   * `init_elf` maps the first page of the ELF file (the ELF header page) read-only and never
     unmaps it for a non-legacy TA;
   * `parse_load_segments` + `adjust_segments` turn PT_LOAD headers into page-aligned segments,
     merging a segment into the previous one when their pages overlap (permissions OR-ed);
   * `populate_segments` maps each non-writable segment from the file
     (`sys_map_ta_bin(filesz)`, refused unless filesz == memsz) and each writable one as
     zero-initialised read-write memory (excluded from the hash).
3. ``core/kernel/ldelf_syscalls.c`` `ldelf_syscall_map_bin`: a mapping is
   roundup(filesz, 4096) bytes of fresh zeroed secure memory holding the file's bytes
   [offset, offset + filesz); bytes past the end of the ELF image read as zero.

The "file" is the ELF image inside the signed `.ta`: after the signed header (and, for
bootstrap TAs, the bootstrap header; subkey chains are skipped), exactly `img_size` bytes.
Encrypted TAs cannot be measured without their key and are refused. TAs that load shared
libraries (DT_NEEDED) are refused: their libraries' pages would join the hash.

Exact equality with a real run has not yet been confirmed on QEMU; `ta_measurement` is the
function to compare with the measurement in evidence from the device.
"""

from __future__ import annotations

import hashlib
import struct
import uuid as _uuid
from dataclasses import dataclass
from pathlib import Path

from foc.errors import MeasurementError

PAGE_SIZE = 4096  # SMALL_PAGE_SIZE

#: What the host-native build "measures" (docs/confidential-protocol.md, native-insecure-v1): a fixed
#: value, because nothing is measured there. Accepted only where native evidence is allowed.
NATIVE_INSECURE_MEASUREMENT = hashlib.sha256(b"FOC native-insecure-v1: not a TEE, nothing measured").digest()
SHDR_MAGIC = 0x4F545348
SHDR_TA = 0
SHDR_BOOTSTRAP_TA = 1
SHDR_ENCRYPTED_TA = 2
SHDR_SUBKEY = 3
_SHDR = struct.Struct("<IIIIHH")  # magic img_type img_size algo hash_size sig_size
_BOOTSTRAP_SIZE = 20  # uuid[16] ta_version u32
_SUBKEY_NAME_SIZE_OFFSET = 16  # struct shdr_subkey: uuid[16], name_size u32, ...

PT_LOAD = 1
PT_DYNAMIC = 2
PF_X = 1
PF_W = 2
PF_R = 4
DT_NULL = 0
DT_NEEDED = 1


@dataclass(frozen=True)
class SignedTa:
    """The parts of a signed `.ta` that matter here."""

    img_type: int
    algo: int
    signed_hash: bytes
    elf: bytes


def _round_down(value: int) -> int:
    return value - value % PAGE_SIZE


def _round_up(value: int) -> int:
    return -(-value // PAGE_SIZE) * PAGE_SIZE


def parse_signed_ta(data: bytes) -> SignedTa:
    """Split a signed `.ta` (OP-TEE's `struct shdr` format) and return its ELF image.

    Checks the header's SHA-256 over header, subheaders and ELF (as the REE FS TA store does) so
    that a corrupted file is reported rather than measured.
    """
    if len(data) < _SHDR.size:
        raise MeasurementError("not a signed TA: shorter than the signed header")
    offs = 0
    magic, img_type, img_size, algo, hash_size, sig_size = _SHDR.unpack_from(data, offs)
    if magic != SHDR_MAGIC:
        raise MeasurementError(f"not a signed TA: magic 0x{magic:08x}, expected 0x{SHDR_MAGIC:08x}")
    shdr_start = offs
    offs += _SHDR.size + hash_size + sig_size
    while img_type == SHDR_SUBKEY:
        if offs + _SUBKEY_NAME_SIZE_OFFSET + 4 > len(data):
            raise MeasurementError("signed TA: subkey header is truncated")
        (name_size,) = struct.unpack_from("<I", data, offs + _SUBKEY_NAME_SIZE_OFFSET)
        offs += img_size + name_size
        if offs + _SHDR.size > len(data):
            raise MeasurementError("signed TA: the header after the subkey is truncated")
        shdr_start = offs
        magic, img_type, img_size, algo, hash_size, sig_size = _SHDR.unpack_from(data, offs)
        if magic != SHDR_MAGIC:
            raise MeasurementError("signed TA: bad magic in the header after the subkey")
        offs += _SHDR.size + hash_size + sig_size
    if img_type == SHDR_ENCRYPTED_TA:
        raise MeasurementError(
            "the TA is encrypted; its measurement needs the plaintext ELF",
            hint="measure the unencrypted build of the same TA",
        )
    if img_type not in (SHDR_TA, SHDR_BOOTSTRAP_TA):
        raise MeasurementError(f"signed TA has unknown image type {img_type}")
    signed_hash = data[shdr_start + _SHDR.size : shdr_start + _SHDR.size + hash_size]
    digest = hashlib.sha256(data[shdr_start : shdr_start + _SHDR.size])
    if img_type == SHDR_BOOTSTRAP_TA:
        digest.update(data[offs : offs + _BOOTSTRAP_SIZE])
        offs += _BOOTSTRAP_SIZE
    if offs + img_size != len(data):
        raise MeasurementError(
            f"signed TA size mismatch: header says {img_size} ELF bytes at offset {offs}, file has "
            f"{len(data)} bytes"
        )
    elf = data[offs:]
    digest.update(elf)
    if hash_size == 32 and digest.digest() != signed_hash:
        raise MeasurementError("signed TA is corrupt: its content does not match the signed hash")
    return SignedTa(img_type, algo, bytes(signed_hash), bytes(elf))


@dataclass
class _Segment:
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    flags: int
    align: int
    remapped_writeable: bool = False


def _load_segments(elf: bytes) -> tuple[list[_Segment], list[tuple[int, int]]]:
    """PT_LOAD segments in header order and the (file offset, size) of PT_DYNAMIC."""
    if len(elf) < 52 or elf[:4] != b"\x7fELF":
        raise MeasurementError("the TA image is not an ELF file")
    if elf[5] != 1:
        raise MeasurementError("the TA ELF is not little-endian")
    if elf[4] == 2:  # ELFCLASS64
        phoff, phentsize, phnum = (
            struct.unpack_from("<Q", elf, 32)[0],
            *struct.unpack_from("<HH", elf, 54),
        )
        fmt, fields = "<IIQQQQQQ", ("type", "flags", "offset", "vaddr", "paddr", "filesz", "memsz", "align")
    elif elf[4] == 1:  # ELFCLASS32
        phoff, phentsize, phnum = (
            struct.unpack_from("<I", elf, 28)[0],
            *struct.unpack_from("<HH", elf, 42),
        )
        fmt, fields = "<IIIIIIII", ("type", "offset", "vaddr", "paddr", "filesz", "memsz", "flags", "align")
    else:
        raise MeasurementError(f"unknown ELF class {elf[4]}")
    if phentsize != struct.calcsize(fmt):
        raise MeasurementError(f"unexpected ELF program header size {phentsize}")
    if phoff + phnum * phentsize > PAGE_SIZE:
        raise MeasurementError("program headers beyond the first page: OP-TEE's ldelf refuses this TA")
    segments: list[_Segment] = []
    dynamic: list[tuple[int, int]] = []
    for i in range(phnum):
        ph = dict(zip(fields, struct.unpack_from(fmt, elf, phoff + i * phentsize), strict=True))
        if ph["type"] == PT_LOAD:
            if ph["memsz"] < ph["filesz"]:
                raise MeasurementError(f"segment {i}: memsz smaller than filesz")
            segments.append(
                _Segment(ph["offset"], ph["vaddr"], ph["filesz"], ph["memsz"], ph["flags"], ph["align"])
            )
        elif ph["type"] == PT_DYNAMIC:
            dynamic.append((ph["offset"], ph["filesz"]))
    if not segments:
        raise MeasurementError("the TA ELF has no PT_LOAD segment")
    if elf[4] == 2:
        for offset, size in dynamic:
            for pos in range(offset, min(offset + size, len(elf)) - 15, 16):
                tag = struct.unpack_from("<q", elf, pos)[0]
                if tag == DT_NULL:
                    break
                if tag == DT_NEEDED:
                    raise MeasurementError(
                        "the TA links shared libraries (DT_NEEDED); their pages would be part of the "
                        "runtime measurement, which is not supported"
                    )
    return segments, dynamic


def _adjust(segments: list[_Segment]) -> list[_Segment]:
    """ldelf's adjust_segments: merge page-overlapping segments, page-align the others."""
    align = segments[0].align
    for seg in segments:
        if seg.align < PAGE_SIZE or seg.align != align:
            raise MeasurementError("PT_LOAD alignments differ or are below the page size")
        if seg.offset % PAGE_SIZE != seg.vaddr % PAGE_SIZE:
            raise MeasurementError("a PT_LOAD segment's offset and address differ within a page")
    mask = align - 1
    out = [segments[0]]
    for seg in segments[1:]:
        prev = out[-1]
        if _round_down(seg.vaddr) < prev.vaddr + prev.memsz:
            if prev.memsz != prev.filesz or (seg.vaddr & mask) != (seg.offset & mask):
                raise MeasurementError("overlapping PT_LOAD segments that ldelf cannot merge")
            prev.filesz = seg.vaddr + seg.filesz - prev.vaddr
            prev.memsz = seg.vaddr + seg.memsz - prev.vaddr
            prev.flags |= seg.flags
            continue
        if (seg.offset & mask) and _round_down(seg.offset) < prev.offset + prev.filesz:
            if not seg.flags & PF_W:
                raise MeasurementError("a read-only segment shares a file page with the previous one")
            seg.remapped_writeable = True
        seg.filesz += seg.vaddr - _round_down(seg.vaddr)
        seg.memsz += seg.vaddr - _round_down(seg.vaddr)
        seg.vaddr = _round_down(seg.vaddr)
        seg.offset = _round_down(seg.offset)
        out.append(seg)
    return out


def _file_pages(elf: bytes, offset: int, size: int) -> bytes:
    """What map_bin puts in memory: file bytes [offset, offset+size), zero-filled to whole pages."""
    content = elf[offset : offset + size]
    return content + bytes(_round_up(size) - len(content))


def read_only_regions(elf: bytes) -> list[bytes]:
    """The contents of the TA's read-only regions after loading, in the order ldelf maps them."""
    segments = _adjust(_load_segments(elf)[0])
    if segments[0].offset < PAGE_SIZE:
        raise MeasurementError(
            "the first PT_LOAD segment starts in the ELF header page; ldelf only allows that for "
            "libraries, not for a TA"
        )
    regions = [_file_pages(elf, 0, PAGE_SIZE)]  # init_elf's ELF header page
    max_offs = 0
    for seg in segments:
        if seg.remapped_writeable:
            continue  # read-write copy: excluded from the hash
        offset, vaddr, filesz, memsz = seg.offset, seg.vaddr, seg.filesz, seg.memsz
        if offset < max_offs:  # populate_segments' first-page overlap handling
            if vaddr + filesz < PAGE_SIZE:
                continue  # covered by the header page, or zero-extended read-write memory
            vaddr += PAGE_SIZE
            filesz -= PAGE_SIZE
            memsz -= PAGE_SIZE
            offset += PAGE_SIZE
        if not seg.flags & PF_R:
            raise MeasurementError("a PT_LOAD segment is not readable; ldelf refuses this TA")
        if not seg.flags & PF_W:
            if filesz != memsz:
                raise MeasurementError("a read-only segment has filesz != memsz; ldelf refuses this TA")
            regions.append(_file_pages(elf, offset, filesz))
        max_offs += filesz
    return regions


def elf_measurement(elf: bytes) -> bytes:
    """SHA-256 over the TA's read-only regions, ordered as attestation.c's hash_regions orders them."""
    regions = sorted(read_only_regions(elf), key=lambda r: (len(r), r))
    digest = hashlib.sha256()
    for region in regions:
        digest.update(region)
    return digest.digest()


def ta_measurement(ta: bytes | str | Path) -> bytes:
    """The expected `PTA_ATTESTATION_HASH_TA_MEMORY` measurement of a signed `.ta` (path or bytes)."""
    data = Path(ta).read_bytes() if isinstance(ta, str | Path) else bytes(ta)
    return elf_measurement(parse_signed_ta(data).elf)


_ELF64_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")  # e_ident ... e_shstrndx
_ELF64_SECTION = struct.Struct("<IIQQQQIIQQ")  # sh_name sh_type sh_flags sh_addr sh_offset sh_size ...


def ta_uuid(ta: bytes | str | Path) -> _uuid.UUID:
    """The uuid a signed `.ta` (path or bytes) declares: the TEE_UUID at the start of its `.ta_head`
    section (OP-TEE's `struct ta_head`, the uuid ldelf checks against the one it was asked to load).

    Raises MeasurementError when the file is not a signed 64-bit little-endian TA with a `.ta_head`.
    """
    data = Path(ta).read_bytes() if isinstance(ta, str | Path) else bytes(ta)
    elf = parse_signed_ta(data).elf
    try:
        header = _ELF64_HEADER.unpack_from(elf, 0)
        if header[0][:4] != b"\x7fELF" or header[0][4] != 2 or header[0][5] != 1:
            raise MeasurementError("the TA's image is not a 64-bit little-endian ELF")
        shoff, shentsize, shnum, shstrndx = header[6], header[11], header[12], header[13]
        if shentsize != _ELF64_SECTION.size or shstrndx >= shnum:
            raise MeasurementError("the TA's ELF has no usable section headers")
        sections = [_ELF64_SECTION.unpack_from(elf, shoff + i * shentsize) for i in range(shnum)]
        names = sections[shstrndx]
        for section in sections:
            start = names[4] + section[0]
            name = elf[start : elf.index(b"\0", start)]
            if name == b".ta_head":
                offset, size = section[4], section[5]
                if size < 16 or offset + 16 > len(elf):
                    break
                time_low, time_mid, time_hi = struct.unpack_from("<IHH", elf, offset)
                node = elf[offset + 8 : offset + 16]
                return _uuid.UUID(bytes=struct.pack(">IHH", time_low, time_mid, time_hi) + node)
    except (struct.error, ValueError, IndexError):
        raise MeasurementError("the TA's ELF section headers are malformed") from None
    raise MeasurementError("the TA has no .ta_head section: it names no uuid")
