"""Chaincode arguments as the bytes Fabric carries (`ChaincodeInput.args` is `repeated bytes`).

Every layer that accepts text or bytes for a function name or an argument (SDK, dev ledger, proxy
client) encodes it here, so text that cannot be UTF-8 encoded is the same `UsageError` everywhere
rather than a `UnicodeEncodeError` from deep inside one of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from foc.errors import UsageError

Arg = bytes | str


def encode_arg(value: Arg, what: str = "argument") -> bytes:
    """`value` as bytes: text UTF-8 encoded, bytes unchanged.

    Raises UsageError naming `what` for text that cannot be UTF-8 encoded (a lone surrogate, e.g.
    from a file name decoded with surrogateescape): pass such a value as bytes.
    """
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(
                f"{what} is not valid text (it holds a lone surrogate)",
                hint="pass values that are not UTF-8 as bytes",
            ) from None
    return bytes(value)


def encode_args(args: Sequence[Arg]) -> list[bytes]:
    """Each argument as bytes (`encode_arg`; the error names the argument's index)."""
    return [encode_arg(a, f"argument {i}") for i, a in enumerate(args)]
