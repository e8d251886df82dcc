"""One transaction on one TA session: INVOKE, answer GET_STATE with RESUME, until done.

The TA re-executes the chaincode deterministically on every RESUME, so each distinct key
read costs one round trip; writes only leave the TA in the final write set.

Two ways to drive it:
  * ``run_invocation(session, args, get_state)`` with a callback (simple callers, benches);
  * ``TaInvocation`` step by step (the gRPC server, which must relay each GetState to the
    wrapper and wait for its answer between steps).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from foc.errors import LimitExceeded, TeeError
from foc.protocol import sizes
from foc.protocol.result import OK, InvocationResult
from foc.tee import abi
from foc.tee.api import TeeSession

#: Hard bound on GET_STATE round trips in one invocation. The TA itself stops at
#: FOC_MAX_READS distinct keys; a TA that keeps asking beyond that is misbehaving.
MAX_ROUND_TRIPS = abi.FOC_MAX_READS + 1


@dataclass(frozen=True)
class NeedState:
    """The TA needs the value of `key` before it can go on."""

    key: str


Step = NeedState | InvocationResult


class TaInvocation:
    """The state of one invocation on a session (INVOKE -> [GET_STATE/RESUME]* -> RESPONSE|ERROR).

    ``TaInvocation.confidential(session, request)`` runs FOC_CMD_CONFIDENTIAL_INVOKE instead, with
    the same GET_STATE/RESUME cycle, ending in FOC_MSG_CONFIDENTIAL_RESPONSE or FOC_MSG_ERROR.
    The end is a `foc.protocol.result.InvocationResult`, the type the proxy sends to the wrapper.
    Raises abi.AbiError if the TA breaks the ABI (the invocation is then over) and abi.KeyNotText if
    it asks for a key that is not UTF-8 (still pending: the caller aborts it). `limits` are the
    mode's (`abi.PLAINTEXT` or `abi.CONFIDENTIAL`: what a state answer may carry).
    """

    def __init__(self, session: TeeSession, args: Sequence[bytes]) -> None:
        self._session = session
        self._command: int = abi.Command.INVOKE
        self.limits: abi.Limits = abi.PLAINTEXT
        self._request = abi.encode_request(list(args))  # raises AbiError before touching the TEE
        self._pending: str | None = None
        self._round_trips = 0
        self.finished = False

    @classmethod
    def confidential(cls, session: TeeSession, request: bytes) -> TaInvocation:
        """An invocation of an (opaque, encrypted) confidential_request; the TA checks its content."""
        if not request:
            raise abi.AbiError("confidential request: empty")
        try:
            sizes.check_confidential_request(request)
        except LimitExceeded as exc:
            raise abi.AbiError(exc.reason) from None
        inv = cls.__new__(cls)
        inv._session = session
        inv._command = abi.Command.CONFIDENTIAL_INVOKE
        inv.limits = abi.CONFIDENTIAL
        inv._request = bytes(request)
        inv._pending = None
        inv._round_trips = 0
        inv.finished = False
        return inv

    def start(self) -> Step:
        """Send FOC_CMD_INVOKE (or FOC_CMD_CONFIDENTIAL_INVOKE)."""
        if self._round_trips or self.finished:
            raise TeeError("invocation already started")
        return self._step(self._command, self._request)

    def answer(self, value: bytes | None) -> Step:
        """Answer the pending GET_STATE (None = absent) with FOC_CMD_RESUME."""
        if self._pending is None or self.finished:
            raise TeeError("no GET_STATE is pending on this invocation")
        if self._round_trips >= MAX_ROUND_TRIPS:
            self.finished = True
            raise abi.AbiError(f"the TA asked for state more than {MAX_ROUND_TRIPS} times")
        self._pending = None
        return self._step(abi.Command.RESUME, abi.encode_state_answer(value, self.limits))

    @property
    def pending_key(self) -> str | None:
        """The key of the outstanding GET_STATE, if any."""
        return self._pending

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
    session: TeeSession, args: Sequence[bytes], get_state: Callable[[str], bytes | None]
) -> InvocationResult:
    """Run one invocation to its end, answering each GET_STATE with ``get_state(key)``."""
    inv = TaInvocation(session, args)
    step = inv.start()
    while isinstance(step, NeedState):
        try:
            value = get_state(step.key)
        except BaseException:
            # the caller's ledger failed: leave the session clean for the next transaction
            with contextlib.suppress(TeeError):
                inv.abort()
            raise
        step = inv.answer(value)
    return step
