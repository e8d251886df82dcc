"""Regenerate the committed gRPC/protobuf code from invocation.proto.

    python -m foc.protocol.codegen          # rewrite the generated files
    python -m foc.protocol.codegen --check  # exit 1 if they are stale (used by the tests)

Needs grpcio-tools (the `dev` extra); the generated code only needs grpcio + protobuf.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

PROTOCOL_DIR = Path(__file__).resolve().parent
REPO_ROOT = PROTOCOL_DIR.parent.parent
PROTOS = ["invocation.proto"]


def generate(out_dir: Path) -> list[Path]:
    """Run protoc for every proto into `out_dir` (mirroring the foc/protocol layout)."""
    import grpc_tools
    from grpc_tools import protoc  # imported lazily: a dev-only dependency

    include = Path(grpc_tools.__file__).parent / "_proto"
    produced: list[Path] = []
    for proto in PROTOS:
        rel = (PROTOCOL_DIR / proto).relative_to(REPO_ROOT)
        rc = protoc.main(
            [
                "protoc",
                f"-I{REPO_ROOT}",
                f"-I{include}",
                f"--python_out={out_dir}",
                f"--pyi_out={out_dir}",
                f"--grpc_python_out={out_dir}",
                str(rel),
            ]
        )
        if rc != 0:
            raise SystemExit(f"protoc failed for {proto} (exit {rc})")
        stem = rel.with_suffix("")
        produced += [Path(f"{stem}_pb2.py"), Path(f"{stem}_pb2.pyi"), Path(f"{stem}_pb2_grpc.py")]
    return produced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are stale")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        produced = generate(Path(tmp))
        stale = []
        for rel in produced:
            new = (Path(tmp) / rel).read_bytes()
            target = REPO_ROOT / rel
            if not target.exists() or target.read_bytes() != new:
                stale.append(rel)
                if not args.check:
                    target.write_bytes(new)
    if args.check and stale:
        print("stale generated files: " + ", ".join(map(str, stale)), file=sys.stderr)
        print("run: python -m foc.protocol.codegen", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
