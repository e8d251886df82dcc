"""How FOC's peer-side chaincodes report a failure, and how a client reads it back.

A failed response carries ``"<CODE>: <message>"`` with status 500 (Fabric's meaning: not endorsed):
the TA's structured codes (EXISTS, NOT_FOUND, LIMIT, ...; a refusal by the enclave of a confidential
request such as BAD_REQUEST), and FOC's own:

  PROXY_UNAVAILABLE     the device's proxy could not be reached or dropped the transaction
  INVALID_INVOCATION    the invocation itself is malformed (no function, function not UTF-8, ...)
  CONFIG                the chaincode's configuration is missing or inconsistent
  MVCC_READ_CONFLICT    a value the enclave read changed before `__endorse` (Fabric's name for it)
  VALIDATION            `__endorse` refused the enclave's response (signature, registration, replay)

`error_response` builds such a response from a typed `foc.errors` exception; `error_from_response`
turns one back into the typed exception, so the CLI's exit codes do not depend on the back end.
Codes and messages come from the peer side: they are not authenticated (a confidential client
trusts only what an enclave signed).
"""

from __future__ import annotations

from foc.chaincode.stub import Response
from foc.errors import (
    ChaincodeError,
    ConfidentialityError,
    ConfigError,
    FocError,
    LimitExceeded,
    MvccConflict,
    ProxyUnavailable,
    UsageError,
    VerificationError,
)

PROXY_UNAVAILABLE = "PROXY_UNAVAILABLE"
INVALID_INVOCATION = "INVALID_INVOCATION"
CONFIG = "CONFIG"
STALE_READ = "MVCC_READ_CONFLICT"
VALIDATION = "VALIDATION"
PROTOCOL = "PROTOCOL"

_TYPED: dict[str, type[FocError]] = {
    "LIMIT": LimitExceeded,  # over a limit of the TA's, whichever hop found it (docs/limits.md)
    PROXY_UNAVAILABLE: ProxyUnavailable,
    INVALID_INVOCATION: UsageError,
    CONFIG: ConfigError,
    STALE_READ: MvccConflict,
    VALIDATION: VerificationError,
}


def error_response(exc: FocError) -> Response:
    """The status-500 response that reports `exc` as ``"<CODE>: <message>"``."""
    if isinstance(exc, ChaincodeError):
        return Response.error(f"{exc.code}: {exc.reason}")
    if isinstance(exc, MvccConflict):
        return Response.error(f"{STALE_READ}: {exc}")
    if isinstance(exc, ProxyUnavailable):
        return Response.error(f"{PROXY_UNAVAILABLE}: {exc}")
    if isinstance(exc, UsageError):
        return Response.error(f"{INVALID_INVOCATION}: {exc}")
    if isinstance(exc, ConfigError):
        return Response.error(f"{CONFIG}: {exc}")
    if isinstance(exc, ConfidentialityError):
        return Response.error(f"{VALIDATION}: {exc}")
    return Response.error(f"INTERNAL: {exc}")


def error_code(message: str) -> str | None:
    """The ``CODE`` of a ``"<CODE>: <message>"`` text, or None if it has none."""
    code, sep, _ = message.partition(": ")
    if sep and code.replace("_", "").isalnum() and code.isupper():
        return code
    return None


def error_from_response(response: Response) -> FocError:
    """The typed error for a failed response (``"<CODE>: <message>"``)."""
    code = error_code(response.message)
    if code is None:
        return ChaincodeError("INTERNAL", response.message or f"status {response.status}")
    message = response.message.partition(": ")[2]
    typed = _TYPED.get(code)
    return typed(message) if typed is not None else ChaincodeError(code, message)
