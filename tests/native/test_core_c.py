"""The C side of the native tier: the C unit-test program (plain and ASan+UBSan), a short
libFuzzer smoke run, and the build wrapper's error path."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest

from foc.deploy import native_build
from foc.errors import BuildError, FocError

pytestmark = pytest.mark.native


@pytest.mark.parametrize("sanitize", [False, True], ids=["plain", "asan-ubsan"])
def test_c_unit_tests_pass(sanitize: bool) -> None:
    program = native_build.build_native_tests(sanitize=sanitize)
    proc = subprocess.run([str(program)], capture_output=True, text=True, timeout=300, check=False)
    summary = proc.stdout.strip().splitlines()[-1]
    passed, failed = int(summary.split()[0]), int(summary.split()[2])
    assert proc.returncode == 0 and failed == 0, proc.stdout + proc.stderr
    assert passed > 250


def _optee_mbedtls_tree() -> Path:
    """The mbedTLS sources the image's TA is compiled from (the optee_os step's export, named by the
    last qemu image record); skips, with the reason, when no image was built or the cache lost them."""
    from foc.sdk.project import dev_kit

    try:
        _, mbedtls = dev_kit("qemu")
    except FocError as e:
        pytest.skip(f"P256=mbedtls variant: no OP-TEE OS mbedTLS tree in the build cache ({e})")
    if not (mbedtls / "library" / "ecp.c").is_file():
        pytest.skip(f"P256=mbedtls variant: the last qemu image's mbedTLS tree left the cache ({mbedtls})")
    return mbedtls


def test_c_tests_pass_with_the_tas_mbedtls_p256() -> None:
    """`make -C ta/native check P256=mbedtls`: the C tests (core and confidential, plain and ASan+UBSan)
    with P-256 from the TA's own mbedTLS build (ta/mbedtls/foc_p256.c on OP-TEE's mbedTLS sources),
    what the guest-native build of `foc bench` runs, instead of OpenSSL."""
    mbedtls = _optee_mbedtls_tree()
    for sanitize in (False, True):
        core = native_build.build_native_tests(sanitize=sanitize, mbedtls_dir=mbedtls)
        symbols = subprocess.run(["nm", str(core)], capture_output=True, text=True, check=True).stdout
        assert " T foc_mbedtls_ecp_mul\n" in symbols, "the P-256 code linked is not the TA's mbedTLS build"
        for program, least in ((core, 250), (core.with_name("foc_confidential_tests"), 400)):
            proc = subprocess.run([str(program)], capture_output=True, text=True, timeout=300, check=False)
            summary = proc.stdout.strip().splitlines()[-1]
            m = re.search(r"(\d+) passed, (\d+) failed$", summary)
            assert proc.returncode == 0 and m and m.group(2) == "0", proc.stdout + proc.stderr
            assert int(m.group(1)) > least


def _seed(op: int, chunk: bytes) -> bytes:
    return bytes([op]) + struct.pack("<H", len(chunk)) + chunk


def test_fuzz_smoke(tmp_path: Path) -> None:
    fuzzer = native_build.build_native_fuzzer()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "create").write_bytes(_seed(3, b"create\0peter\x005") + _seed(4, b"\x00"))
    (corpus / "add").write_bytes(_seed(3, b"add\0peter\x001") + _seed(4, b"\x0141"))
    (corpus / "short").write_bytes(_seed(5, b"\x08\x00") + _seed(3, b"query\0x") + _seed(4, b"\x011"))
    # issue 12's entry points: FOC2 context (creator, transient), range and partial composite key reads
    # answered plain (op 9) and sealed (op 11), composite writes, a confidential range read (op 7)
    context = _seed(10, b"\x07\x02probe_creator") + _seed(10, b"\x07\x01probe_transient\0k")
    (corpus / "context").write_bytes(context)
    (corpus / "range").write_bytes(_seed(3, b"probe_range\0a\0z\0n") + _seed(9, b"b\0c\0d"))
    (corpus / "partial").write_bytes(
        _seed(3, b"probe_put_composite\0bid\0x\0v") + _seed(3, b"probe_partial\0bid") + _seed(9, b"\0x\0")
    )
    (corpus / "sealed").write_bytes(_seed(7, b"probe_range\0a\0z") + _seed(11, b"\x00b\0c"))
    proc = subprocess.run(
        [str(fuzzer), "-max_total_time=4", "-max_len=4096", "-seed=1", str(corpus)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done" in proc.stderr


def test_build_failure_raises_build_error_with_compiler_output(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "broken.c").write_text("int f(void) { return undeclared_symbol; }\n")
    (tmp_path / "Makefile").write_text("lib:\n\t$(CC) -c broken.c -o $(O)/broken.o\n")
    monkeypatch.setattr(native_build, "NATIVE_SOURCE_DIR", tmp_path)
    monkeypatch.setenv("FOC_CACHE", str(tmp_path / "cache"))
    with pytest.raises(BuildError) as info:
        native_build.build_native_core()
    assert "undeclared_symbol" in str(info.value)
