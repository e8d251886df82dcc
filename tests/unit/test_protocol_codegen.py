"""The committed generated code must match its sources: invocation.proto and the TA header's limits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_generated_protocol_code_is_fresh() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "foc.protocol.codegen", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"generated code is stale:\n{proc.stderr}"


def test_codegen_check_detects_a_stale_file(tmp_path, monkeypatch) -> None:
    """--check must fail when a generated file differs (checked on a copy, never the repo)."""
    from foc.protocol import codegen

    fake_root = _copy_of_the_sources(tmp_path, monkeypatch)
    stale = fake_root / "foc" / "protocol" / "invocation_pb2.py"
    stale.write_bytes(stale.read_bytes() + b"\n# edited by hand\n")
    assert codegen.main(["--check"]) == 1
    assert codegen.main([]) == 0  # regenerates the copy ...
    assert codegen.main(["--check"]) == 0  # ... which is then fresh


def test_a_limit_changed_in_the_ta_header_makes_limits_py_stale(tmp_path, monkeypatch) -> None:
    """The limits have one definition: change it in the header and every hop's copy must follow."""
    from foc.protocol import codegen

    fake_root = _copy_of_the_sources(tmp_path, monkeypatch)
    header = fake_root / "ta" / "include" / "foc_ta.h"
    header.write_text(header.read_text().replace("#define FOC_MAX_VALUE 65536", "#define FOC_MAX_VALUE 4096"))
    assert codegen.main(["--check"]) == 1
    assert codegen.main([]) == 0
    generated = (fake_root / "foc" / "protocol" / "limits.py").read_text()
    assert "FOC_MAX_VALUE = 4096" in generated
    namespace: dict[str, object] = {}
    exec(compile(generated, "limits.py", "exec"), namespace)
    assert namespace["CONFIDENTIAL"].state_value == 4096 + 40  # type: ignore[attr-defined]


def _copy_of_the_sources(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A copy of the generator's inputs and outputs; codegen pointed at it (never at the repo)."""
    from foc.protocol import codegen

    fake_root = tmp_path / "repo"
    (fake_root / "foc" / "protocol").mkdir(parents=True)
    (fake_root / "ta" / "include").mkdir(parents=True)
    src = REPO / "foc" / "protocol"
    for name in (
        "invocation.proto",
        "invocation_pb2.py",
        "invocation_pb2.pyi",
        "invocation_pb2_grpc.py",
        "limits.py",
    ):
        (fake_root / "foc" / "protocol" / name).write_bytes((src / name).read_bytes())
    (fake_root / "ta" / "include" / "foc_ta.h").write_bytes(
        (REPO / "ta" / "include" / "foc_ta.h").read_bytes()
    )
    monkeypatch.setattr(codegen, "REPO_ROOT", fake_root)
    monkeypatch.setattr(codegen, "PROTOCOL_DIR", fake_root / "foc" / "protocol")
    return fake_root
