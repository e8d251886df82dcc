"""The committed gRPC/protobuf code must match invocation.proto."""

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

    fake_root = tmp_path / "repo"
    (fake_root / "foc" / "protocol").mkdir(parents=True)
    src = REPO / "foc" / "protocol"
    for name in ("invocation.proto", "invocation_pb2.py", "invocation_pb2_grpc.py"):
        (fake_root / "foc" / "protocol" / name).write_bytes((src / name).read_bytes())
    stale = fake_root / "foc" / "protocol" / "invocation_pb2.py"
    stale.write_bytes(stale.read_bytes() + b"\n# edited by hand\n")
    monkeypatch.setattr(codegen, "REPO_ROOT", fake_root)
    monkeypatch.setattr(codegen, "PROTOCOL_DIR", fake_root / "foc" / "protocol")
    assert codegen.main(["--check"]) == 1
    assert codegen.main([]) == 0  # regenerates the copy ...
    assert codegen.main(["--check"]) == 0  # ... which is then fresh
