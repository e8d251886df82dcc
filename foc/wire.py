"""The byte encoding shared by the TA ABI and the confidential formats (ta/include/foc_ta.h).

Unsigned little-endian integers; `bytes` = u32 length + data. A `Reader` checks every length
against what is left (and against the caller's limit) before it copies, and a decoder must
consume its buffer exactly. Errors name the message and the field, never the data.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

_U32 = struct.Struct("<I")


def blob(data: bytes) -> bytes:
    """`data` with its u32 length prefix."""
    return _U32.pack(len(data)) + bytes(data)


class Writer:
    """Builds an encoded message: `Writer().u32(x).blob(b).done()`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> Writer:
        self._parts.append(struct.pack("<B", value))
        return self

    def u32(self, value: int) -> Writer:
        self._parts.append(_U32.pack(value))
        return self

    def blob(self, value: bytes) -> Writer:
        self._parts.append(blob(value))
        return self

    def text(self, value: str) -> Writer:
        return self.blob(value.encode("utf-8"))

    def done(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Bounded, exact-consumption reader over `data`; `what` names the message in errors and
    `error` builds the exception type of the caller's layer from a message."""

    def __init__(self, data: bytes, what: str, error: Callable[[str], Exception]) -> None:
        self._data = memoryview(bytes(data))
        self._pos = 0
        self.what = what
        self._error = error

    def fail(self, problem: str) -> Exception:
        """The exception for `problem` in this message (raise it)."""
        return self._error(f"malformed {self.what}: {problem}")

    def _take(self, n: int, field: str) -> bytes:
        left = len(self._data) - self._pos
        if n > left:
            raise self.fail(f"truncated at {field} (needs {n} bytes, {left} left)")
        out = bytes(self._data[self._pos : self._pos + n])
        self._pos += n
        return out

    def u8(self, field: str) -> int:
        return self._take(1, field)[0]

    def flag(self, field: str) -> bool:
        value = self.u8(field)
        if value not in (0, 1):
            raise self.fail(f"{field} must be 0 or 1, got {value}")
        return value == 1

    def u32(self, field: str) -> int:
        return int(_U32.unpack(self._take(4, field))[0])

    def magic(self, expected: int) -> None:
        got = self.u32("magic")
        if got != expected:
            raise self.fail(f"wrong magic 0x{got:08x} (expected 0x{expected:08x})")

    def blob(self, field: str, *, max_len: int | None = None, size: int | None = None) -> bytes:
        n = self.u32(f"{field} length")
        if size is not None and n != size:
            raise self.fail(f"{field} must be {size} bytes, got {n}")
        if max_len is not None and n > max_len:
            raise self.fail(f"{field} is {n} bytes, more than the limit of {max_len}")
        return self._take(n, field)

    def text(self, field: str, *, max_len: int, allow_empty: bool = False) -> str:
        raw = self.blob(field, max_len=max_len)
        if not raw and not allow_empty:
            raise self.fail(f"{field} is empty")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{field} is not UTF-8") from exc

    def count(self, field: str, max_count: int) -> int:
        n = self.u32(field)
        if n > max_count:
            raise self.fail(f"{field} is {n}, more than the limit of {max_count}")
        return n

    def end(self) -> None:
        if self._pos != len(self._data):
            raise self.fail(f"{len(self._data) - self._pos} trailing byte(s)")
