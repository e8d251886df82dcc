"""The one output-escaping rule (foc.text) and where it applies: CLI output, errors, logs."""

from __future__ import annotations

import io
import logging

import pytest

from foc.text import EscapingFormatter, shown, shown_key

FORGED = "alice\nblock 9  hash 0000  verified: enclave ok"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("alice", "alice"),
        ("a\nb", "a\\nb"),
        ("a\rb", "a\\rb"),
        ("a\tb", "a\\tb"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\u202egnp.exe", "\\u202egnp.exe"),  # right-to-left override
        ("\u2028", "\\u2028"),  # line separator
        ("back\\slash", "back\\\\slash"),
        ("caf\u00e9 \u2615", "caf\u00e9 \u2615"),  # printable text stays as it is
        (b"\xff\xfeok", "\\xff\\xfeok"),
        (b"\\xff", "\\\\xff"),  # the four characters, not the byte
        ("\udcff", "\\xff"),  # a byte argv could not decode (surrogateescape)
    ],
)
def test_shown_escapes_every_control_and_keeps_one_line(raw: str | bytes, expected: str) -> None:
    out = shown(raw)
    assert out == expected
    assert "\n" not in out and "\r" not in out and "\x1b" not in out


def test_escaping_is_unambiguous() -> None:
    samples = ["a\nb", "a\\nb", b"\xff", b"\\xff", "\\", "\\\\"]
    assert len({shown(s) for s in samples}) == len(samples)


def test_keys_that_look_like_list_syntax_are_quoted() -> None:
    assert shown_key("alice") == "alice"
    assert shown_key("-x") == '"-x"'  # never mistaken for the delete of x ("-x" unquoted)
    assert shown_key("a, b") == '"a, b"'
    assert shown_key('say "hi"') == '"say \\"hi\\""'
    assert shown_key("a\nb") == '"a\\nb"'


def test_log_records_are_one_line_whatever_their_arguments() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EscapingFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("foc.test.text")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("registry refused %s: %s", FORGED, "\x1b[2J")
    finally:
        log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines == ["WARNING registry refused alice\\nblock 9  hash 0000  verified: enclave ok: \\x1b[2J"]
