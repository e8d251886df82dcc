"""One transaction on one TA session: INVOKE, answer GET_STATE / GET_STATE_BY_RANGE with RESUME, until done.

The TA re-executes the chaincode deterministically on every RESUME, so each distinct key or range
read costs one round trip; writes only leave the TA in the final write set.

Two ways to drive it:
  * ``run_invocation(session, args, get_state)`` with callbacks (simple callers, benches);
  * ``TaInvocation`` step by step (the gRPC server, which must relay each GetState or
    GetStateByRange to the wrapper and wait for its answer between steps).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from foc.errors import LimitExceeded, TeeError
from foc.protocol import sizes
from foc.protocol.context import Creator, Transient
from foc.protocol.result import OK, InvocationResult, KeyRange
from foc.tee import abi
from foc.tee.api import TeeSession

#: Hard bound on round trips in one invocation. The TA itself stops at FOC_MAX_READS distinct
#: keys and FOC_MAX_RANGES distinct ranges; a TA that keeps asking beyond that is misbehaving.
MAX_ROUND_TRIPS = abi.FOC_MAX_READS + abi.FOC_MAX_RANGES + 1

#: A range's entries: (key, value) pairs, ascending in byte order.
RangeEntries = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class NeedState:
    """The TA needs the value of `key` before it can go on."""

    key: str


@dataclass(frozen=True)
class NeedRange:
    """The TA needs the entries of `bounds` (start <= key < end) before it can go on."""

    bounds: KeyRange


Step = NeedState | NeedRange | InvocationResult


class TaInvocation:
    """The state of one invocation on a session (INVOKE -> [GET_STATE|GET_STATE_BY_RANGE/RESUME]* ->
    RESPONSE|ERROR).

    `creator` and `transient` are the request's context (a FOC2 request; the chaincode reads them
    with foc_get_creator / foc_get_transient). ``TaInvocation.confidential(session, request, creator)``
    runs FOC_CMD_CONFIDENTIAL_INVOKE instead (`creator`: the transaction's, as the peer reports it),
    with the same cycle, ending in FOC_MSG_CONFIDENTIAL_RESPONSE or FOC_MSG_ERROR.
    The end is a `foc.protocol.result.InvocationResult`, the type the proxy sends to the wrapper.
    Raises abi.AbiError if the TA breaks the ABI (the invocation is then over) and abi.KeyNotText if
    it asks for a key that is not UTF-8 (still pending: the caller aborts it). `limits` are the
    mode's (`abi.PLAINTEXT` or `abi.CONFIDENTIAL`: what a state answer or range entry may carry).
    """

    def __init__(
        self,
        session: TeeSession,
        args: Sequence[bytes],
        *,
        creator: Creator | None = None,
        transient: Transient | None = None,
    ) -> None:
        # raises AbiError before touching the TEE
        self._setup(session, abi.Command.INVOKE, abi.PLAINTEXT,
                    abi.encode_request(list(args), creator=creator, transient=transient))  # fmt: skip

    def _setup(self, session: TeeSession, command: int, limits: abi.Limits, request: bytes) -> None:
        self._session = session
        self._command = command
        self.limits = limits
        self._request = request
        self._pending: str | KeyRange | None = None
        self._round_trips = 0
        self.finished = False

    @classmethod
    def confidential(
        cls, session: TeeSession, request: bytes, creator: Creator | None = None
    ) -> TaInvocation:
        """An invocation of an (opaque, encrypted) confidential_request; the TA checks its content
        (and that its creator is `creator`, the transaction's)."""
        inv = cls.__new__(cls)
        inv._setup(
            session,
            abi.Command.CONFIDENTIAL_INVOKE,
            abi.CONFIDENTIAL,
            abi.encode_confidential_invocation(request, creator),
        )
        return inv

    def start(self) -> Step:
        """Send FOC_CMD_INVOKE (or FOC_CMD_CONFIDENTIAL_INVOKE)."""
        if self._round_trips or self.finished:
            raise TeeError("invocation already started")
        return self._step(self._command, self._request)

    def answer(self, value: bytes | None) -> Step:
        """Answer the pending GET_STATE (None = absent) with FOC_CMD_RESUME."""
        if not isinstance(self._pending, str) or self.finished:
            raise TeeError("no GET_STATE is pending on this invocation")
        return self._resume(abi.encode_state_answer(value, self.limits))

    def answer_range(self, entries: RangeEntries) -> Step:
        """Answer the pending GET_STATE_BY_RANGE with its entries (ascending) with FOC_CMD_RESUME.

        AbiError (nothing sent, the range stays pending) for entries the TA would refuse.
        """
        if not isinstance(self._pending, KeyRange) or self.finished:
            raise TeeError("no GET_STATE_BY_RANGE is pending on this invocation")
        return self._resume(abi.encode_range_answer(entries, self._pending, self.limits))

    def _resume(self, answer: bytes) -> Step:
        if self._round_trips >= MAX_ROUND_TRIPS:
            self.finished = True
            raise abi.AbiError(f"the TA asked for state more than {MAX_ROUND_TRIPS} times")
        self._pending = None
        return self._step(abi.Command.RESUME, answer)

    @property
    def round_trips(self) -> int:
        """TA calls so far (INVOKE and each RESUME)."""
        return self._round_trips

    @property
    def pending_key(self) -> str | None:
        """The key of the outstanding GET_STATE, if any."""
        return self._pending if isinstance(self._pending, str) else None

    @property
    def pending_range(self) -> KeyRange | None:
        """The range of the outstanding GET_STATE_BY_RANGE, if any."""
        return self._pending if isinstance(self._pending, KeyRange) else None

    def abort(self) -> None:
        """Drop the in-flight invocation inside the TA (FOC_CMD_ABORT). Raises TeeError."""
        self.finished = True
        self._pending = None
        self._session.invoke(abi.Command.ABORT)

    def _step(self, cmd: int, data: bytes) -> Step:
        self._round_trips += 1
        try:
            msg_type, out = self._session.invoke(cmd, data)
        except Exception:
            self.finished = True
            raise
        if msg_type == abi.FOC_MSG_GET_STATE:
            try:
                key = abi.decode_get_state(out)
            except abi.AbiError:
                self.finished = True
                raise
            # Not finished: the TA waits for an answer, so the caller aborts it (FOC_CMD_ABORT).
            self._pending = abi.key_text(key, "get_state")
            return NeedState(self._pending)
        if msg_type == abi.FOC_MSG_GET_STATE_BY_RANGE:
            try:
                bounds = abi.decode_get_state_by_range(out)
            except abi.KeyNotText:
                raise  # pending, as for a key: the caller aborts it
            except abi.AbiError:
                self.finished = True
                raise
            self._pending = bounds
            return NeedRange(bounds)
        self.finished = True
        trips = self._round_trips
        if msg_type == abi.FOC_MSG_CONFIDENTIAL_RESPONSE and self._command == abi.Command.CONFIDENTIAL_INVOKE:
            if not out:
                raise abi.AbiError("the TA sent an empty confidential response")
            return InvocationResult(OK, confidential_response=out, round_trips=trips)
        if msg_type == abi.FOC_MSG_RESPONSE and self._command == abi.Command.INVOKE:
            return abi.decode_response(out, round_trips=trips)
        if msg_type == abi.FOC_MSG_ERROR:
            error = abi.decode_error(out)
            return InvocationResult.failure(error.code, error.message, round_trips=trips)
        raise abi.AbiError(f"the TA answered with unknown message type {msg_type}")


def run_invocation(
    session: TeeSession,
    args: Sequence[bytes],
    get_state: Callable[[str], bytes | None],
    get_state_by_range: Callable[[str, str], RangeEntries] | None = None,
    *,
    creator: Creator | None = None,
    transient: Transient | None = None,
) -> InvocationResult:
    """Run one invocation to its end, answering each GET_STATE with ``get_state(key)`` and each
    GET_STATE_BY_RANGE with ``get_state_by_range(start, end)`` (none given: no entries)."""
    inv = TaInvocation(session, args, creator=creator, transient=transient)
    return drive(inv, get_state, get_state_by_range)


def run_confidential_invocation(
    session: TeeSession,
    request: bytes,
    get_state: Callable[[str], bytes | None],
    get_state_by_range: Callable[[str, str], RangeEntries] | None = None,
    *,
    creator: Creator | None = None,
) -> InvocationResult:
    """`run_invocation` for a confidential_request (FOC_CMD_CONFIDENTIAL_INVOKE, `creator`: the
    transaction's); the result carries the confidential_response or the TA's error."""
    return drive(TaInvocation.confidential(session, request, creator), get_state, get_state_by_range)


def drive(
    inv: TaInvocation,
    get_state: Callable[[str], bytes | None],
    get_state_by_range: Callable[[str, str], RangeEntries] | None = None,
) -> InvocationResult:
    """Run a not yet started `inv` to its end with callbacks (see `run_invocation`); aborts it in
    the TA if a callback raises. Range answers over the mode's limits (FOC_MAX_RANGE_ENTRIES,
    FOC_MAX_RANGE_BYTES over the invocation, ...) end it with a LIMIT failure, as foc-proxy does."""
    step = inv.start()
    range_bytes = 0
    while not isinstance(step, InvocationResult):
        try:
            if isinstance(step, NeedState):
                step = inv.answer(get_state(step.key))
            else:
                entries = get_state_by_range(step.bounds.start, step.bounds.end) if get_state_by_range else []
                try:
                    range_bytes = sizes.check_range_answer(entries, inv.limits, range_bytes)
                except LimitExceeded as exc:
                    inv.abort()
                    return InvocationResult.failure("LIMIT", exc.reason, round_trips=inv.round_trips)
                step = inv.answer_range(entries)
        except BaseException:
            # the caller's ledger failed: leave the session clean for the next transaction
            if not inv.finished:
                with contextlib.suppress(TeeError):
                    inv.abort()
            raise
    return step
