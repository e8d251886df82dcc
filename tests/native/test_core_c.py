"""The C side of the native tier: the C unit-test program (plain and ASan+UBSan), a short
libFuzzer smoke run, and the build wrapper's error path."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from foc.deploy import native_build
from foc.errors import BuildError

pytestmark = pytest.mark.native


@pytest.mark.parametrize("sanitize", [False, True], ids=["plain", "asan-ubsan"])
def test_c_unit_tests_pass(sanitize: bool) -> None:
    program = native_build.build_native_tests(sanitize=sanitize)
    proc = subprocess.run([str(program)], capture_output=True, text=True, timeout=300, check=False)
    summary = proc.stdout.strip().splitlines()[-1]
    passed, failed = int(summary.split()[0]), int(summary.split()[2])
    assert proc.returncode == 0 and failed == 0, proc.stdout + proc.stderr
    assert passed > 250


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
