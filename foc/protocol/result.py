"""The typed wrapper <-> proxy contract: one `InvocationResult` on both sides of the gRPC stream.

The TA's output is decoded into an `InvocationResult` by the proxy (`foc.tee.abi`,
`foc.tee.invocation`), carried as `invocation.InvocationResponse` (`to_proto` / `from_proto`, the only
two conversions) and handed to the wrapper by `foc.proxy.client.ProxyClient` as the same type.

Field meanings follow invocation.proto's `InvocationResponse`: `status` is Fabric's (200 success,
500 failure), `error` is set iff the transaction failed (`code` is an `ErrorCode` name such as
``EXISTS``, ``LIMIT`` or ``TA_CRASHED``), `reads` are the distinct keys the chaincode read (first-read
order), `ranges` the ranges it read (`KeyRange`, first-read order), `writes` the write batch (last
write per key), `confidential_response` the enclave's signed, encrypted answer (confidential mode
only). Keys are text: Fabric state keys are strings (composite keys start with U+0000).
"""

from __future__ import annotations

from dataclasses import dataclass

from foc.errors import ChaincodeError, LimitExceeded
from foc.protocol import invocation_pb2 as pb

OK = 200
FAILED = 500

#: Trailing-metadata key carrying the ErrorCode name when a legacy (FOC) transaction fails.
ERROR_METADATA_KEY = "foc-error-code"


def error_code_name(code: int) -> str:
    """The invocation.proto `ErrorCode` name of `code` (codes 1..99 mirror FOC_ERR_* of foc_ta.h)."""
    try:
        return str(pb.ErrorCode.Name(code))
    except ValueError:
        return f"UNKNOWN({code})"


def error_code_value(name: str) -> int:
    """The `ErrorCode` number of `name`; INTERNAL for a name this version does not know."""
    try:
        return int(pb.ErrorCode.Value(name))
    except ValueError:
        return int(pb.INTERNAL)


@dataclass(frozen=True)
class StateWrite:
    """One entry of the write batch: the last write to `key` (`value` is empty for a delete)."""

    key: str
    value: bytes = b""
    is_delete: bool = False


@dataclass(frozen=True)
class KeyRange:
    """A range the chaincode read: start <= key < end (end "" = no upper bound)."""

    start: str
    end: str


@dataclass(frozen=True)
class InvocationError:
    """A structured error: `code` is the ErrorCode name (e.g. ``"EXISTS"``, ``"TA_CRASHED"``)."""

    code: str
    message: str


@dataclass(frozen=True)
class InvocationResult:
    """How one transaction ended, on either side of the wrapper <-> proxy stream."""

    status: int
    payload: bytes = b""
    reads: tuple[str, ...] = ()
    writes: tuple[StateWrite, ...] = ()
    error: InvocationError | None = None
    #: confidential mode: the enclave's signed, encrypted confidential_response
    confidential_response: bytes = b""
    #: TA invocations this transaction took (1 + distinct reads); known on the proxy side only
    round_trips: int = 0
    #: the ranges the chaincode read (first-read order)
    ranges: tuple[KeyRange, ...] = ()

    @classmethod
    def failure(cls, code: str, message: str, *, round_trips: int = 0) -> InvocationResult:
        """A failed transaction (status 500) with a structured error."""
        return cls(FAILED, error=InvocationError(code, message), round_trips=round_trips)

    @property
    def ok(self) -> bool:
        """True when the chaincode succeeded (status 200, no error)."""
        return self.error is None and self.status == OK

    def raise_for_error(self) -> InvocationResult:
        """Raise ChaincodeError (LimitExceeded for LIMIT) if the transaction failed; else return self."""
        if self.error is not None:
            if self.error.code == "LIMIT":
                raise LimitExceeded(self.error.message)
            raise ChaincodeError(self.error.code, self.error.message)
        if self.status != OK:
            raise ChaincodeError("ERROR_UNSPECIFIED", f"status {self.status}")
        return self

    def to_proto(self) -> pb.InvocationResponse:
        """The `InvocationResponse` message for this result (the proxy's side)."""
        out = pb.InvocationResponse(
            status=self.status,
            payload=self.payload,
            confidential_response=self.confidential_response,
            reads=[pb.KeyRead(key=k) for k in self.reads],
            writes=[pb.KeyWrite(key=w.key, value=w.value, is_delete=w.is_delete) for w in self.writes],
            ranges=[pb.RangeRead(start_key=r.start, end_key=r.end) for r in self.ranges],
        )
        if self.error is not None:
            out.error.code = error_code_value(self.error.code)  # type: ignore[assignment]
            out.error.message = self.error.message
        return out

    @classmethod
    def from_proto(cls, resp: pb.InvocationResponse) -> InvocationResult:
        """The result an `InvocationResponse` carries (the wrapper's side)."""
        error = None
        if resp.HasField("error"):
            error = InvocationError(error_code_name(resp.error.code), resp.error.message)
        return cls(
            status=resp.status,
            payload=resp.payload,
            reads=tuple(r.key for r in resp.reads),
            writes=tuple(StateWrite(w.key, w.value, w.is_delete) for w in resp.writes),
            error=error,
            confidential_response=resp.confidential_response,
            ranges=tuple(KeyRange(r.start_key, r.end_key) for r in resp.ranges),
        )
