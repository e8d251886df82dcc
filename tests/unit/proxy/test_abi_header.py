"""foc/tee/abi.py and the generated foc/protocol/limits.py mirror every #define of ta/include/foc_ta.h.

One parser reads the header: `foc.protocol.codegen.header_defines`, which also generates limits.py
(its --check, run by scripts/test and tests/unit/test_protocol_codegen.py, keeps that file fresh).
"""

from __future__ import annotations

import re
import uuid

from foc.protocol import codegen, limits
from foc.tee import abi


def test_every_define_is_mirrored_with_the_same_value() -> None:
    defines = codegen.header_defines()
    assert len(defines) > 30, "the header parser found too few #defines"
    for name, (raw, _) in defines.items():
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
            value = codegen.header_int(raw)
            assert mirrored == value, f"{name}: header {value}, abi.py {mirrored}"


def test_the_limits_are_the_generated_ones_not_a_copy() -> None:
    """abi.py defines no limit of its own: each FOC_MAX_* is the object from foc.protocol.limits."""
    names = [n for n in codegen.header_defines() if n.startswith("FOC_MAX_")]
    assert len(names) >= 12
    for name in [*names, "FOC_CONF_STATE_OVERHEAD"]:
        assert getattr(abi, name) == getattr(limits, name)
    source = (codegen.REPO_ROOT / "foc" / "tee" / "abi.py").read_text()
    assert not re.search(r"^FOC_MAX_\w+\s*=", source, flags=re.M), "abi.py assigns a limit itself"


def test_per_mode_state_value_limits() -> None:
    """docs/limits.md: a confidential state answer carries the stored value, 40 bytes more."""
    assert limits.PLAINTEXT.state_value == 65536 == limits.FOC_MAX_VALUE
    assert limits.CONFIDENTIAL.state_value == 65536 + 40
    assert limits.CONFIDENTIAL.value == limits.PLAINTEXT.value  # the plaintext bound is the same


def test_header_parser_ignores_defines_in_comments_and_joins_continuations(tmp_path) -> None:
    header = tmp_path / "h.h"
    header.write_text(
        "/* a block comment\n#define NOT_A_DEFINE 1\n */\n"
        "#define FOC_MAX_X 12 /* twelve */\n"
        "#define FOC_U \\\n  { 1, 2 }\n"
        "#define GUARD\n"
    )
    assert codegen.header_defines(header) == {
        "FOC_MAX_X": ("12", "twelve"),
        "FOC_U": ("{ 1, 2 }", ""),
        "GUARD": ("", ""),
    }


def test_error_codes_match_the_proto_enum() -> None:
    from foc.protocol import invocation_pb2 as pb

    for code in abi.TaErrorCode:
        assert pb.ErrorCode.Value(code.name) == code.value
