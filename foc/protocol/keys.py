"""Fabric's state keys as FOC accepts them on every hop: simple keys, composite keys, range bounds.

The same rules as the TA's (ta/include/foc_ta.h, `foc_check_key` in ta/core/foc_stub.c) and as
Fabric's shims (fabric-chaincode-go `shim/stub.go`: CreateCompositeKey, SplitCompositeKey,
GetStateByPartialCompositeKey, validateSimpleKeys):

* a *simple* key is non-empty UTF-8 text that does not start with U+0000 (FOC's TA also refuses a
  NUL anywhere in it; `check_key` here leaves that to the ABI codec, as Fabric allows it);
* a *composite* key is U+0000, the object type, U+0000, then each attribute followed by U+0000;
  every part is UTF-8 without U+0000 and U+10FFFF (U+10FFFF is the upper bound of a partial
  composite key query, so it may never occur inside one);
* a range's bounds are simple keys (or empty), or the bounds of a partial composite key query:
  a composite key prefix P and P + U+10FFFF.

Errors are `foc.errors.UsageError` naming the rule, never quoting the key (keys can be arguments).
"""

from __future__ import annotations

from collections.abc import Sequence

from foc.errors import UsageError

#: Fabric's composite key namespace and separator (U+0000).
COMPOSITE_NAMESPACE = "\x00"
#: U+10FFFF: the upper bound of a partial composite key range; never inside a part.
MAX_RUNE = "\U0010ffff"
#: What Fabric's shims send for an empty range start: the smallest simple key (composite keys,
#: which start with U+0000, are never in a simple range).
EMPTY_START_SUBSTITUTE = "\x01"


def is_composite(key: str) -> bool:
    """True when `key` is in Fabric's composite key namespace (starts with U+0000)."""
    return key.startswith(COMPOSITE_NAMESPACE)


def _check_part(part: str) -> None:
    if not isinstance(part, str):
        raise UsageError(f"a composite key part must be text, not {type(part).__name__}")
    if "\x00" in part or MAX_RUNE in part:
        raise UsageError("a composite key part must not contain U+0000 or U+10FFFF")
    try:
        part.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("a composite key part must be valid UTF-8") from None


def create_composite_key(object_type: str, attributes: Sequence[str] = ()) -> str:
    """Fabric's CreateCompositeKey: "\\x00" type "\\x00" (attribute "\\x00")*. UsageError for a bad part."""
    _check_part(object_type)
    for attribute in attributes:
        _check_part(attribute)
    return COMPOSITE_NAMESPACE + "".join(p + "\x00" for p in (object_type, *attributes))


def split_composite_key(key: str) -> tuple[str, list[str]]:
    """Fabric's SplitCompositeKey: (object type, attributes). UsageError if `key` is not composite."""
    check_composite_key(key)
    parts = key[1:-1].split("\x00")
    return parts[0], parts[1:]


def check_composite_key(key: str) -> None:
    """Refuse anything but a well-formed composite key (UsageError)."""
    if not is_composite(key) or len(key) < 2 or not key.endswith("\x00") or MAX_RUNE in key:
        raise UsageError(
            "a key starting with U+0000 must be a composite key: U+0000, the object type, U+0000, "
            "then each attribute followed by U+0000 (no U+10FFFF)"
        )
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("a composite key must be valid UTF-8") from None


def partial_key_range(object_type: str, attributes: Sequence[str] = ()) -> tuple[str, str]:
    """The (start, end) of Fabric's GetStateByPartialCompositeKey: (P, P + U+10FFFF)."""
    prefix = create_composite_key(object_type, attributes)
    return prefix, prefix + MAX_RUNE


def check_range(start: str, end: str) -> None:
    """Refuse range bounds Fabric's shims would not send (UsageError).

    Either both are simple keys (or empty: no bound), or they are the bounds of a partial composite
    key query (`partial_key_range`).
    """
    if is_composite(start) or is_composite(end):
        check_composite_key(start)
        if end != start + MAX_RUNE:
            raise UsageError(
                "a range over composite keys must be a partial composite key query "
                "(start = a composite key prefix, end = start + U+10FFFF)"
            )
        return
    for bound in (start, end):
        if not isinstance(bound, str):
            raise UsageError(f"a range bound must be text, not {type(bound).__name__}")
        try:
            bound.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError("a range bound must be valid UTF-8") from None


def in_range(key: str, start: str, end: str) -> bool:
    """start <= key < end in UTF-8 byte order (end "" = no upper bound), as Fabric compares keys."""
    kb = key.encode("utf-8")
    return kb >= start.encode("utf-8") and (not end or kb < end.encode("utf-8"))
