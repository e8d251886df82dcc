"""Regenerate the committed code: gRPC/protobuf from invocation.proto, the limits from the TA header.

    python -m foc.protocol.codegen          # rewrite the generated files
    python -m foc.protocol.codegen --check  # exit 1 if they are stale (used by the tests)

Two sources of truth, each turned into committed Python:
  * ``invocation.proto`` -> ``invocation_pb2*.py(i)`` (needs grpcio-tools, the `dev` extra);
  * ``ta/include/foc_ta.h`` -> ``limits.py``: every ``FOC_MAX_*`` bound and the confidential
    ciphertext overhead, with the per-mode limits derived from them (`header_defines` is the one
    parser of the header; tests/unit/proxy/test_abi_header.py uses it too).
The generated code only needs grpcio + protobuf (and the limits nothing at all).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

PROTOCOL_DIR = Path(__file__).resolve().parent
REPO_ROOT = PROTOCOL_DIR.parent.parent
PROTOS = ["invocation.proto"]
TA_HEADER = Path("ta") / "include" / "foc_ta.h"
LIMITS_MODULE = Path("foc") / "protocol" / "limits.py"
#: The header's #defines that limits.py exports besides every FOC_MAX_*, each with the comment used
#: when its #define line has none (the header explains it in a block above).
LIMIT_EXTRAS = {"FOC_CONF_STATE_OVERHEAD": "stored_value = plaintext + this (magic, nonce, lengths, GCM tag)"}


def header_defines(header: Path | None = None) -> dict[str, tuple[str, str]]:
    """Every ``#define NAME VALUE`` of the TA header: NAME -> (VALUE, the comment on its line).

    Block comments are dropped from values and continuation lines joined; the comment kept is the
    ``/* ... */`` on the define's own line (stripped), or "" if there is none.
    """
    text = (header or REPO_ROOT / TA_HEADER).read_text()
    # drop comments that span lines (a #define quoted in one is no #define), join continuations
    text = re.sub(r"/\*.*?\*/", lambda m: " " if "\n" in m.group(0) else m.group(0), text, flags=re.S)
    text = text.replace("\\\n", " ")
    out: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        m = re.match(r"^#define\s+(\w+)(?:\s+(.*))?$", line)
        if not m:
            continue
        rest = m.group(2) or ""
        comment = " ".join(c.strip() for c in re.findall(r"/\*(.*?)\*/", rest))
        value = re.sub(r"/\*.*?\*/", "", rest).strip()
        out[m.group(1)] = (value, comment)
    return out


def header_int(raw: str) -> int:
    """A numeric #define value (``131072``, ``0x7f``, ``0x31434f46u``) as an int."""
    return int(raw.rstrip("uUlL"), 0)


def _limits_source(header: Path) -> str:
    defines = header_defines(header)
    names = [n for n in defines if n.startswith("FOC_MAX_")] + list(LIMIT_EXTRAS)
    missing = [n for n in names if n not in defines]
    if missing:
        raise SystemExit(f"{header}: no #define for {', '.join(missing)}")
    lines = [LIMITS_HEADER.format(header=TA_HEADER.as_posix())]
    for name in names:
        raw, comment = defines[name]
        comment = comment or LIMIT_EXTRAS.get(name, "")
        lines.append(f"{name} = {header_int(raw)}" + (f"  # {comment}" if comment else ""))
    lines.append(LIMITS_BODY)
    return "\n".join(lines)


LIMITS_HEADER = '''"""The TA\'s limits, per mode: generated from {header}, do not edit.

Regenerate with `python -m foc.protocol.codegen` (its --check runs in scripts/test). The header is
the single source of truth (docs/limits.md explains each bound). Every hop that checks a size
imports it from here: the TA ABI codec (foc.tee.abi), the proxy, the proxy client, the wrapper,
the confidential formats, the CaaS shim and the gateway client (the last ones through
foc.protocol.sizes and foc.protocol.transport).
"""

from __future__ import annotations

from dataclasses import dataclass
'''

LIMITS_BODY = '''

@dataclass(frozen=True)
class Limits:
    """The bounds one mode of invocation puts on what crosses the wrapper <-> proxy <-> TA path.

    Sizes are in bytes. `state_value` is what a GetState answer (or a range entry) may carry (the
    stored value); in confidential mode that is the ciphertext, FOC_CONF_STATE_OVERHEAD bytes more
    than the plaintext bound `value`.
    """

    mode: str
    args: int = FOC_MAX_ARGS
    function: int = FOC_MAX_FUNCTION
    key: int = FOC_MAX_KEY
    value: int = FOC_MAX_VALUE
    request: int = FOC_MAX_REQUEST
    payload: int = FOC_MAX_PAYLOAD
    reads: int = FOC_MAX_READS
    writes: int = FOC_MAX_WRITES
    cache_bytes: int = FOC_MAX_CACHE_BYTES
    write_bytes: int = FOC_MAX_WRITE_BYTES
    output: int = FOC_MAX_OUTPUT
    identifier: int = FOC_MAX_IDENTIFIER
    msp_id: int = FOC_MAX_MSP_ID
    certificate: int = FOC_MAX_CERTIFICATE
    transient: int = FOC_MAX_TRANSIENT
    ranges: int = FOC_MAX_RANGES
    range_entries: int = FOC_MAX_RANGE_ENTRIES
    range_bytes: int = FOC_MAX_RANGE_BYTES
    state_value: int = FOC_MAX_VALUE
    #: the header's name for `state_value`, as the errors quote it
    state_value_name: str = "FOC_MAX_VALUE"


#: FOC_CMD_INVOKE: arguments, state values and writes are plaintext.
PLAINTEXT = Limits("plaintext")
#: FOC_CMD_CONFIDENTIAL_INVOKE: a GetState answer carries a stored_value (ciphertext).
CONFIDENTIAL = Limits(
    "confidential",
    state_value=FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD,
    state_value_name="FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD",
)
'''


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


def generate_limits(out_dir: Path) -> list[Path]:
    """Write limits.py from the TA header into `out_dir` (mirroring the repository layout)."""
    target = out_dir / LIMITS_MODULE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_limits_source(REPO_ROOT / TA_HEADER))
    return [LIMITS_MODULE]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are stale")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        produced = generate(Path(tmp)) + generate_limits(Path(tmp))
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
