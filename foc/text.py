"""The one output-escaping rule for strings FOC did not write itself.

Key names, function names, chaincode ids, MSP ids, host endpoints and error messages from a TA, a
proxy or a peer come from untrusted parties. Printed raw, a crafted one could forge lines of output
(a newline and a fake "verified" line), move the cursor or recolour the terminal (ANSI escape
sequences), reorder text (Unicode bidi controls) or make a key named ``-x`` look like the delete
of ``x``. Everything the CLI prints and every log line therefore goes through `shown`:

* a backslash becomes ``\\\\``; newline, carriage return and tab become ``\\n``, ``\\r``, ``\\t``;
* every other control or non-printable character (Unicode categories Cc, Cf, Cs, Co, Cn, Zl, Zp:
  C0/C1 controls including ESC, bidi overrides, unassigned code points) becomes ``\\xNN``,
  ``\\uNNNN`` or ``\\UNNNNNNNN``;
* bytes that are not UTF-8 become ``\\xNN``;

so one record is always one line and the escaped text maps back to exactly one original.
`shown_key` also quotes a key that could be mistaken for list syntax (a leading ``-``, a comma,
spaces, quotes, or anything that needed escaping). `EscapingFormatter` applies the rule to log
messages.
"""

from __future__ import annotations

import logging
import unicodedata

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape_char(ch: str) -> str:
    if "\udc80" <= ch <= "\udcff":  # a byte that was not UTF-8 (surrogateescape), or a lone surrogate
        return f"\\x{ord(ch) - 0xDC00:02x}"
    named = _NAMED.get(ch)
    if named is not None:
        return named
    if unicodedata.category(ch) not in _HIDDEN:
        return ch
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(value: str | bytes) -> str:
    """`value` as one line of terminal-safe text (see the module docstring for the rule)."""
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", errors="surrogateescape")
    if value.isprintable() and "\\" not in value:
        return value
    return "".join(_escape_char(c) for c in value)


def shown_key(key: str | bytes) -> str:
    """A state key for a list: `shown`, and double-quoted when it could be read as list syntax."""
    text = shown(key)
    raw = key if isinstance(key, str) else None
    needs_quotes = not text or text != raw or text.startswith("-") or any(c in text for c in " ,\"'=")
    return '"' + text.replace('"', '\\"') + '"' if needs_quotes else text


class EscapingFormatter(logging.Formatter):
    """A `logging.Formatter` whose messages (with their arguments) follow `shown`: one record, one line."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's API
        record.message = shown(record.message)
        return super().formatMessage(record)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int | str = logging.INFO, fmt: str = LOG_FORMAT) -> None:
    """`logging.basicConfig` for FOC's daemons, with `EscapingFormatter` on the root handler."""
    logging.basicConfig(level=level)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(EscapingFormatter(fmt))
