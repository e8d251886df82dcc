"""foc/tee/abi.py mirrors every #define of ta/include/foc_ta.h."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from foc.tee import abi

HEADER = Path(__file__).resolve().parents[3] / "ta" / "include" / "foc_ta.h"


def _defines() -> dict[str, str]:
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # drop comments
    text = text.replace("\\\n", " ")  # join continuation lines
    out = {}
    for m in re.finditer(r"^#define\s+(\w+)\s+(.+?)\s*$", text, flags=re.M):
        out[m.group(1)] = m.group(2)
    return out


def test_every_define_is_mirrored_with_the_same_value() -> None:
    defines = _defines()
    assert len(defines) > 30, "the header parser found too few #defines"
    for name, raw in defines.items():
        if name == "FOC_TA_H":
            continue
        assert hasattr(abi, name), f"foc.tee.abi lacks {name}"
        mirrored = getattr(abi, name)
        if name == "FOC_TA_UUID_STR":
            assert mirrored == raw.strip('"')
        elif name == "FOC_TA_UUID":
            nums = [int(x, 16) for x in re.findall(r"0x([0-9a-fA-F]+)", raw)]
            expected = uuid.UUID(
                bytes=nums[0].to_bytes(4, "big")
                + nums[1].to_bytes(2, "big")
                + nums[2].to_bytes(2, "big")
                + bytes(nums[3:])
            )
            assert mirrored == expected
        else:
            value = int(raw.rstrip("uUlL"), 0)
            assert mirrored == value, f"{name}: header {value}, abi.py {mirrored}"


def test_error_codes_match_the_proto_enum() -> None:
    from foc.protocol import invocation_pb2 as pb

    for code in abi.TaErrorCode:
        assert pb.ErrorCode.Value(code.name) == code.value
