"""The gRPC side of foc-proxy: service ``invocation.Invocation``.

One ``TransactionInvocation`` stream = one transaction:

    wrapper                          proxy                              TA (pooled session)
    invocation_request  ───────────►  validate, lease a session  ─────► FOC_CMD_INVOKE
                        ◄─────────── get_state_request(key)     ◄───── GET_STATE key
    get_state_response  ───────────►                            ─────► FOC_CMD_RESUME
                        ◄─────────── get_state_by_range_request ◄───── GET_STATE_BY_RANGE start end
    get_state_by_range_response ───►  (sizes checked)           ─────► FOC_CMD_RESUME (range answer)
                        ...
                        ◄─────────── [legacy: put_state_request per write, wait for "OK"]
                        ◄─────────── invocation_response        ◄───── RESPONSE | ERROR

Errors travel as ``InvocationResponse{status=500, error{code, message}}`` for new
transactions. Legacy (FOC) transactions, which have no error field their wrapper reads,
end with gRPC status UNKNOWN, details ``"<CODE>: <message>"`` and trailing metadata
``foc-error-code``. If the stream breaks mid-transaction the TA invocation is aborted
(FOC_CMD_ABORT) and the session goes back to the pool.

The request's creator and transient data (``creator_msp_id``, ``creator_id_bytes``, ``transient``)
reach the TA in the request's context (a FOC2 request). A confidential transaction
(``invocation_request.confidential_request`` set, no function, arguments or transient data in clear)
runs FOC_CMD_CONFIDENTIAL_INVOKE with the transaction's creator beside the request (the TA refuses
a request whose encrypted creator is another identity) and the same relay (the answers are stored
ciphertext), and ends with ``invocation_response.confidential_response``. Range reads need a
transaction id: FOC's legacy protocol has no message for them.

Enclave lifecycle (unary RPCs, on pooled sessions like transactions): CreateEnclave ->
FOC_CMD_ENCLAVE_CREATE, GetCredentials -> FOC_CMD_ENCLAVE_CREDENTIALS; GetDeviceKey reads the
device attestation key once (OP-TEE: a short-lived session to the attestation PTA) and caches it.
KeyTransfer relays one key-distribution step (FOC_CMD_ENCLAVE_JOIN / _KEY_EXPORT / _KEY_IMPORT):
opaque messages, the keys inside sealed to an attested TA.

Several TAs (`foc.proxy.tas`): each request's ``chaincode_uuid`` picks the TA (empty = the default
TA), and with it that TA's session pool and checkout limit; Health lists every TA.

Logs carry the transaction id, outcome code and round trips; never arguments, keys or values.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid as _uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import cast

import grpc

import foc
from foc.errors import FocError, LimitExceeded, TaCrashed, TeeError
from foc.protocol import invocation_pb2 as pb
from foc.protocol import invocation_pb2_grpc as pb_grpc
from foc.protocol import sizes, transport
from foc.protocol.context import Creator
from foc.protocol.legacy import LegacyProtocolError, ProxySide, is_legacy
from foc.protocol.limits import Limits
from foc.protocol.result import InvocationResult, error_code_name, error_code_value
from foc.proxy.config import ProxyConfig, parse_listen
from foc.proxy.pool import PoolBusy, SessionPool
from foc.proxy.tas import ServedTa, TaTable, UnknownTa
from foc.tee import abi
from foc.tee.api import DeviceKeySource, TeeBackend, TeeSession
from foc.tee.device_key import DeviceKey
from foc.tee.invocation import NeedRange, NeedState, RangeEntries, TaInvocation

log = logging.getLogger(__name__)


class _Refusal(Exception):
    """The transaction ends with a structured error (code is a pb.ErrorCode value)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _StreamGone(Exception):
    """The wrapper cancelled the stream or its deadline expired: nobody is listening."""


class _HalfClosed(Exception):
    """The wrapper closed its side of the stream while the proxy expected a message."""


_code_name = error_code_name


class InvocationService(pb_grpc.InvocationServicer):
    """Implements TransactionInvocation and Health over the TAs' session pools.

    `tas` is a `TaTable`, or one SessionPool for a single-TA proxy (then `ta_uuid` names its TA).
    """

    def __init__(
        self,
        tas: TaTable | SessionPool,
        *,
        ta_uuid: _uuid.UUID | None = None,
        tee_name: str,
        checkout_timeout: float = 10.0,
        device_keys: DeviceKeySource | None = None,
    ) -> None:
        if isinstance(tas, SessionPool):
            if ta_uuid is None:
                raise ValueError("a single pool needs the uuid of its TA")
            tas = TaTable([ServedTa(ta_uuid, str(ta_uuid), tas, checkout_timeout)])
        self.tas = tas
        self.ta_uuid = tas.default.uuid
        self.tee_name = tee_name
        self.ta_abi_version = abi.FOC_ABI_VERSION
        self.serving = True
        self._device_keys = device_keys
        self._device_key: DeviceKey | None = None
        self._device_key_lock = threading.Lock()

    # --- Health ---------------------------------------------------------------------------

    @property
    def pool(self) -> SessionPool:
        """The default TA's pool (a single-TA proxy's only pool)."""
        return self.tas.default.pool

    def Health(self, request: pb.HealthRequest, context: grpc.ServicerContext) -> pb.HealthResponse:  # noqa: N802
        each = [(ta, ta.counters()) for ta in self.tas]
        c = self.tas.counters()
        return pb.HealthResponse(
            serving=self.serving and all(counters.sessions_open > 0 for _, counters in each),
            tee=self.tee_name,
            version=foc.__version__ if hasattr(foc, "__version__") else "",
            sessions_open=c.sessions_open,
            sessions_opened_total=c.sessions_opened_total,
            transactions_total=c.transactions_total,
            ta_restarts_total=c.ta_restarts_total,
            ta_abi_version=self.ta_abi_version,
            tas=[
                pb.TaHealth(
                    uuid=ta.uuid.bytes,
                    name=ta.name,
                    is_default=ta is self.tas.default,
                    sessions_open=counters.sessions_open,
                    sessions_opened_total=counters.sessions_opened_total,
                    transactions_total=counters.transactions_total,
                    ta_restarts_total=counters.ta_restarts_total,
                )
                for ta, counters in each
            ],
        )

    # --- enclave lifecycle and device key ---------------------------------------------------

    def CreateEnclave(  # noqa: N802
        self, request: pb.CreateEnclaveRequest, context: grpc.ServicerContext
    ) -> pb.EnclaveCredentialsResponse:
        """FOC_CMD_ENCLAVE_CREATE with the client's enclave_config (EXISTS unless it sets force)."""
        config = bytes(request.enclave_config)
        return self._enclave_command(
            "create", abi.FOC_CMD_ENCLAVE_CREATE, config, request.chaincode_uuid, context, need_input=True
        )

    def GetCredentials(  # noqa: N802
        self, request: pb.GetCredentialsRequest, context: grpc.ServicerContext
    ) -> pb.EnclaveCredentialsResponse:
        """FOC_CMD_ENCLAVE_CREDENTIALS: the stored credentials, or NOT_FOUND before any create."""
        return self._enclave_command(
            "credentials", abi.FOC_CMD_ENCLAVE_CREDENTIALS, b"", request.chaincode_uuid, context
        )

    _TRANSFER_STEPS = {
        pb.JOIN: ("join", abi.FOC_CMD_ENCLAVE_JOIN),
        pb.EXPORT: ("key export", abi.FOC_CMD_KEY_EXPORT),
        pb.IMPORT: ("key import", abi.FOC_CMD_KEY_IMPORT),
    }

    def KeyTransfer(  # noqa: N802
        self, request: pb.KeyTransferRequest, context: grpc.ServicerContext
    ) -> pb.KeyTransferResponse:
        """One key-distribution step in the TA: the messages are opaque here (keys sealed inside)."""
        step = self._TRANSFER_STEPS.get(request.step)
        if step is None:
            return pb.KeyTransferResponse(
                error=pb.Error(code=pb.BAD_REQUEST, message=f"unknown key transfer step {int(request.step)}")
            )
        what, cmd = step
        out, error = self._run_enclave_command(
            what, cmd, bytes(request.message), request.chaincode_uuid, context, need_input=True
        )
        return pb.KeyTransferResponse(message=out, error=error)

    def _enclave_command(
        self,
        what: str,
        cmd: int,
        data: bytes,
        uuid_bytes: bytes,
        context: grpc.ServicerContext,
        *,
        need_input: bool = False,
    ) -> pb.EnclaveCredentialsResponse:
        out, error = self._run_enclave_command(what, cmd, data, uuid_bytes, context, need_input=need_input)
        return pb.EnclaveCredentialsResponse(credentials=out, error=error)

    def _run_enclave_command(
        self,
        what: str,
        cmd: int,
        data: bytes,
        uuid_bytes: bytes,
        context: grpc.ServicerContext,
        *,
        need_input: bool = False,
    ) -> tuple[bytes, pb.Error | None]:
        """One message command of the enclave lifecycle: (its output, None) or (b"", the error)."""
        started = time.monotonic()
        outcome, name = "OK", "-"
        try:
            ta = self._select(uuid_bytes)
            name = ta.name
            if need_input and not data:
                raise _Refusal(pb.BAD_REQUEST, f"the input of enclave {what} is empty")
            if len(data) > abi.FOC_MAX_REQUEST:
                raise _Refusal(
                    pb.LIMIT, f"the input of enclave {what} is {len(data)} bytes, limit {abi.FOC_MAX_REQUEST}"
                )
            msg_type, out = self._on_pooled_session(lambda session: session.invoke(cmd, data), context, ta)
            if msg_type == abi.FOC_MSG_ERROR:
                try:
                    err = abi.decode_error(out)
                except abi.AbiError as exc:
                    raise _Refusal(pb.TEE_FAILURE, f"the TA broke the ABI: {exc.message}") from None
                raise _Refusal(error_code_value(err.code), err.message)
            if msg_type != abi.FOC_MSG_RESPONSE or not out:
                raise _Refusal(
                    pb.TEE_FAILURE,
                    f"the TA answered enclave {what} with message type {msg_type} and {len(out)} bytes",
                )
            return out, None
        except _Refusal as refusal:
            outcome = _code_name(refusal.code)
            return b"", pb.Error(code=cast("pb.ErrorCode", refusal.code), message=refusal.message)
        finally:
            ms = (time.monotonic() - started) * 1000
            log.info("enclave %s ta=%s outcome=%s %.1f ms", what, name, outcome, ms)

    def _on_pooled_session(
        self, call: Callable[[TeeSession], tuple[int, bytes]], context: grpc.ServicerContext, ta: ServedTa
    ) -> tuple[int, bytes]:
        """Run one enclave command on a pooled session, mapping failures to refusals.

        A TA that died earlier (e.g. another client panicked it) leaves every pooled session dead
        until one reports it; the pool then reopens them. Enclave commands are administrative and
        safe to repeat (a create that got as far as sealing its keys answers EXISTS), so one
        TA_CRASHED is retried on a fresh session; a second one is reported.
        """
        for attempt in range(2):
            remaining = context.time_remaining()
            timeout = ta.checkout_timeout if remaining is None else min(remaining, ta.checkout_timeout)
            try:
                with ta.pool.lease(max(timeout, 0.0)) as lease:
                    return call(lease.session)
            except PoolBusy as exc:
                raise _Refusal(pb.BUSY, str(exc)) from None
            except TaCrashed as exc:
                if attempt == 0:
                    log.warning("enclave command met a dead TA session; retrying once on a reopened session")
                    continue
                raise _Refusal(
                    pb.TA_CRASHED, f"the TA crashed ({exc.message}); the proxy reopened its sessions, retry"
                ) from None
            except abi.AbiError as exc:
                raise _Refusal(pb.TEE_FAILURE, f"the TA broke the ABI: {exc.message}") from None
            except TeeError as exc:
                raise _Refusal(pb.TEE_FAILURE, str(exc)) from None
        raise AssertionError("unreachable")

    def GetDeviceKey(  # noqa: N802
        self, request: pb.GetDeviceKeyRequest, context: grpc.ServicerContext
    ) -> pb.DeviceKeyResponse:
        """The device attestation public key (read once, then cached)."""
        try:
            key = self.device_key()
        except TeeError as exc:
            log.warning("cannot read the device attestation key: %s", exc)
            return pb.DeviceKeyResponse(error=pb.Error(code=pb.TEE_FAILURE, message=str(exc)))
        except FocError as exc:
            return pb.DeviceKeyResponse(error=pb.Error(code=pb.TEE_FAILURE, message=str(exc)))
        return pb.DeviceKeyResponse(
            public_key_der=key.public_key_der, tee_algorithm=key.tee_algorithm, kind=key.kind
        )

    def device_key(self) -> DeviceKey:
        """The cached device key; the first call reads it from the backend (raises TeeError)."""
        with self._device_key_lock:
            if self._device_key is None:
                if self._device_keys is None:
                    raise TeeError(f"the {self.tee_name} backend cannot report a device attestation key")
                self._device_key = self._device_keys.device_key()
                log.info("device attestation key read (%s)", self._device_key.kind)
            return self._device_key

    # --- TransactionInvocation --------------------------------------------------------------

    def TransactionInvocation(  # noqa: N802
        self, request_iterator: Iterator[pb.ChaincodeWrapperMessage], context: grpc.ServicerContext
    ) -> Iterator[pb.ChaincodeProxyMessage]:
        started = time.monotonic()
        txid, legacy, outcome, round_trips, mode, name = "", True, "OK", 0, "", "-"
        try:
            first = _receive(request_iterator)
            kind = first.WhichOneof("message_oneof")
            if kind != "invocation_request":
                raise _Refusal(
                    pb.PROTOCOL, f"the first message must be invocation_request, got {kind or 'empty'}"
                )
            req = first.invocation_request
            txid, legacy = req.transaction_id, is_legacy(req)
            ta = self._select(req.chaincode_uuid)
            name = ta.name
            creator = _creator(req)
            if req.confidential_request:
                mode = "confidential"
                request = self._confidential_request(req)
                result = yield from self._run(
                    lambda session: TaInvocation.confidential(session, request, creator),
                    legacy,
                    request_iterator,
                    context,
                    ta,
                )
            else:
                args = self._arguments(req)
                transient = _transient(req, creator, args)
                result = yield from self._run(
                    lambda session: TaInvocation(session, args, creator=creator, transient=transient),
                    legacy,
                    request_iterator,
                    context,
                    ta,
                )
            round_trips = result.round_trips
            yield from self._finish(result, legacy, request_iterator)
        except _Refusal as refusal:
            outcome = _code_name(refusal.code)
            yield from self._refuse(refusal, legacy, context)
        except _HalfClosed:
            outcome = "PROTOCOL"
            yield from self._refuse(
                _Refusal(pb.PROTOCOL, "the wrapper closed the stream before the transaction ended"),
                legacy,
                context,
            )
        except _StreamGone:
            outcome = "CANCELLED"
        finally:
            log.info(
                "tx %s ta=%s mode=%s outcome=%s round_trips=%d %.1f ms",
                txid[:64] or "-",
                name,
                mode or ("legacy" if legacy else "batch"),
                outcome,
                round_trips,
                (time.monotonic() - started) * 1000,
            )

    def _select(self, uuid_bytes: bytes) -> ServedTa:
        """The TA a request names (empty = the default TA); BAD_REQUEST / UNKNOWN_CHAINCODE refusals."""
        try:
            return self.tas.select(uuid_bytes)
        except UnknownTa as exc:
            raise _Refusal(pb.BAD_REQUEST if exc.malformed else pb.UNKNOWN_CHAINCODE, exc.message) from None

    def _confidential_request(self, req: pb.InvocationRequest) -> bytes:
        """The opaque confidential_request, after refusing anything sent in clear beside it."""
        if not req.transaction_id:
            raise _Refusal(
                pb.BAD_REQUEST,
                "a confidential request needs a transaction_id (legacy FOC transactions cannot carry one)",
            )
        if req.function_name or req.arguments or req.binary_arguments or req.transient:
            raise _Refusal(
                pb.BAD_REQUEST,
                "a confidential request carries its function, arguments and transient data encrypted; "
                "function_name, arguments, binary_arguments and transient must be empty",
            )
        try:
            sizes.check_confidential_request(req.confidential_request)
        except LimitExceeded as exc:
            raise _Refusal(pb.LIMIT, exc.reason) from None
        return bytes(req.confidential_request)

    def _arguments(self, req: pb.InvocationRequest) -> list[bytes]:
        if req.arguments and req.binary_arguments:
            raise _Refusal(pb.BAD_REQUEST, "set either arguments (text) or binary_arguments, not both")
        if not req.function_name:
            raise _Refusal(pb.BAD_REQUEST, "function_name is empty")
        rest = list(req.binary_arguments) if req.binary_arguments else [a.encode() for a in req.arguments]
        args = [req.function_name.encode(), *rest]
        try:
            sizes.check_request(args)
        except LimitExceeded as exc:
            raise _Refusal(pb.LIMIT, exc.reason) from None
        return args

    def _run(
        self,
        start: Callable[[TeeSession], TaInvocation],
        legacy: bool,
        request_iterator: Iterator[pb.ChaincodeWrapperMessage],
        context: grpc.ServicerContext,
        ta: ServedTa,
    ) -> Generator[pb.ChaincodeProxyMessage, None, InvocationResult]:
        """Generator: lease a session of `ta`, run it, relay GetState. Returns the TA's result."""
        pool = ta.pool
        remaining = context.time_remaining()
        timeout = ta.checkout_timeout if remaining is None else min(remaining, ta.checkout_timeout)
        try:
            lease = pool.checkout(max(timeout, 0.0))
        except PoolBusy as exc:
            raise _Refusal(pb.BUSY, str(exc)) from None
        except TeeError as exc:
            raise _Refusal(pb.TEE_FAILURE, str(exc)) from None
        inv: TaInvocation | None = None
        crashed = False
        range_bytes = 0
        try:
            inv = start(lease.session)
            step = inv.start()
            while isinstance(step, NeedState | NeedRange):
                if isinstance(step, NeedState):
                    yield pb.ChaincodeProxyMessage(get_state_request=pb.GetStateRequest(key=step.key))
                    answer = _expect(request_iterator, "get_state_response").get_state_response
                    step = inv.answer(_state_value(answer, legacy, inv.limits))
                    continue
                if legacy:
                    raise _Refusal(
                        pb.PROTOCOL, "the chaincode reads a range: FOC's legacy protocol (no transaction id) "
                        "has no message for it",
                    )  # fmt: skip
                request = pb.GetStateByRangeRequest(start_key=step.bounds.start, end_key=step.bounds.end)
                yield pb.ChaincodeProxyMessage(get_state_by_range_request=request)
                ranged = _expect(request_iterator, "get_state_by_range_response").get_state_by_range_response
                entries, range_bytes = _range_entries(ranged, inv.limits, range_bytes)
                try:
                    step = inv.answer_range(entries)
                except abi.KeyNotText:
                    raise
                except abi.AbiError as exc:
                    if not inv.finished:  # refused before it was sent: the wrapper's answer
                        raise _Refusal(pb.PROTOCOL, f"the wrapper's {exc.message}") from None
                    raise
            return step
        except abi.KeyNotText as exc:  # the chaincode's key, not an ABI break: keep the session
            raise _Refusal(pb.BAD_ARGUMENT, exc.message) from None
        except TaCrashed as exc:
            crashed = True
            raise _Refusal(
                pb.TA_CRASHED,
                f"the TA crashed during this transaction ({exc.message}); the proxy reopened its sessions, "
                "retry the transaction",
            ) from None
        except abi.AbiError as exc:
            lease.mark_broken()
            raise _Refusal(pb.TEE_FAILURE, f"the TA broke the ABI: {exc.message}") from None
        except TeeError as exc:
            lease.mark_broken()
            raise _Refusal(pb.TEE_FAILURE, str(exc)) from None
        finally:
            # Runs on every exit, including GeneratorExit when gRPC drops a cancelled stream.
            if inv is not None and not inv.finished and not crashed:
                try:
                    inv.abort()
                except TaCrashed:
                    crashed = True
                except TeeError as exc:
                    log.warning("FOC_CMD_ABORT failed, replacing the session: %s", exc)
                    lease.mark_broken()
            pool.release(lease, crashed=crashed)

    def _finish(
        self, result: InvocationResult, legacy: bool, request_iterator: Iterator[pb.ChaincodeWrapperMessage]
    ) -> Iterator[pb.ChaincodeProxyMessage]:
        """Generator: (legacy: PutState round trips, then) the final InvocationResponse."""
        if result.error is not None:
            raise _Refusal(error_code_value(result.error.code), result.error.message)
        if not legacy:
            yield pb.ChaincodeProxyMessage(invocation_response=result.to_proto())
            return
        try:
            yield from ProxySide.send_writes(result, lambda: _receive(request_iterator))
        except LegacyProtocolError as exc:
            raise _Refusal(error_code_value(exc.code), exc.message) from None
        yield pb.ChaincodeProxyMessage(invocation_response=ProxySide.response(result))

    def _refuse(
        self, refusal: _Refusal, legacy: bool, context: grpc.ServicerContext
    ) -> Iterator[pb.ChaincodeProxyMessage]:
        """Generator: end the transaction with a structured error."""
        name = _code_name(refusal.code)
        if legacy:
            ProxySide.abort(context, name, refusal.message)
        yield pb.ChaincodeProxyMessage(
            invocation_response=InvocationResult.failure(name, refusal.message).to_proto()
        )


def _receive(request_iterator: Iterator[pb.ChaincodeWrapperMessage]) -> pb.ChaincodeWrapperMessage:
    try:
        return next(request_iterator)
    except StopIteration:
        raise _HalfClosed() from None
    except grpc.RpcError:
        raise _StreamGone() from None
    except Exception as exc:  # e.g. an undecodable message: grpc ends the RPC itself
        log.warning("the wrapper stream failed: %s", type(exc).__name__)
        raise _StreamGone() from None


def _expect(request_iterator: Iterator[pb.ChaincodeWrapperMessage], kind: str) -> pb.ChaincodeWrapperMessage:
    """The wrapper's next message, which must be `kind` (the answer the TA waits for)."""
    msg = _receive(request_iterator)
    got = msg.WhichOneof("message_oneof")
    if got != kind:
        raise _Refusal(pb.PROTOCOL, f"expected {kind} while the TA waits for state, got {got or 'empty'}")
    return msg


def _creator(req: pb.InvocationRequest) -> Creator | None:
    """The transaction's creator the wrapper reports (None: none), checked against the limits."""
    if not req.creator_msp_id and not req.creator_id_bytes:
        return None
    if not req.creator_msp_id or not req.creator_id_bytes:
        raise _Refusal(pb.BAD_REQUEST, "a creator needs both creator_msp_id and creator_id_bytes")
    creator = Creator(req.creator_msp_id, bytes(req.creator_id_bytes))
    try:
        sizes.check_context(creator, None)
    except LimitExceeded as exc:
        raise _Refusal(pb.LIMIT, exc.reason) from None
    return creator


def _transient(req: pb.InvocationRequest, creator: Creator | None, args: list[bytes]) -> dict[str, bytes]:
    """The request's transient data (distinct, non-empty keys), checked with the whole request's size."""
    transient: dict[str, bytes] = {}
    for entry in req.transient:
        if not entry.key or entry.key in transient:
            raise _Refusal(pb.BAD_REQUEST, "transient keys must be non-empty and distinct")
        transient[entry.key] = bytes(entry.value)
    try:
        sizes.check_request(args, creator=creator, transient=transient)
    except LimitExceeded as exc:
        raise _Refusal(pb.LIMIT, exc.reason) from None
    return transient


def _range_entries(
    answer: pb.GetStateByRangeResponse, limits: Limits, bytes_so_far: int
) -> tuple[RangeEntries, int]:
    """A range answer's entries and the range bytes used so far, checked against the mode's limits."""
    entries = [(e.key, bytes(e.value)) for e in answer.entries]
    try:
        return entries, sizes.check_range_answer(entries, limits, bytes_so_far)
    except LimitExceeded as exc:
        raise _Refusal(pb.LIMIT, exc.reason) from None


def _state_value(answer: pb.GetStateResponse, legacy: bool, limits: Limits) -> bytes | None:
    """The value a GetState answer carries, checked against the invocation mode's `limits`."""
    if legacy:
        return ProxySide.state_value(answer)
    if answer.value:
        raise _Refusal(
            pb.PROTOCOL, "get_state_response.value is for legacy transactions; use raw_value + found"
        )
    if not answer.found:
        if answer.raw_value:
            raise _Refusal(pb.PROTOCOL, "get_state_response has found=false with a value")
        return None
    try:
        sizes.check_state_value(answer.raw_value, limits)
    except LimitExceeded as exc:
        raise _Refusal(pb.LIMIT, exc.reason) from None
    return answer.raw_value


class ProxyServer:
    """foc-proxy: one SessionPool per TA (`config.tas`) on its TeeBackend, behind a gRPC server.

    `backend` is the TeeBackend of a single-TA proxy, or one backend per TA uuid (every TA of
    `config.tas` needs one). ``start()`` binds and opens the pools; ``stop()`` drains streams, closes
    the sessions and the backends. Also a context manager.
    """

    def __init__(self, config: ProxyConfig, backend: TeeBackend | Mapping[_uuid.UUID, TeeBackend]) -> None:
        self.config = config
        backends = dict(backend) if isinstance(backend, Mapping) else {config.default_ta.uuid: backend}
        missing = [str(ta.uuid) for ta in config.tas if ta.uuid not in backends]
        if missing:
            raise ValueError(f"no backend for TA {', '.join(missing)}")
        self.backends = [backends[ta.uuid] for ta in config.tas]
        self.backend = backends[config.default_ta.uuid]
        self.tas = TaTable(
            [
                ServedTa(ta.uuid, ta.name, SessionPool(backends[ta.uuid], ta.pool_size or config.pool_size),
                         ta.checkout_timeout or config.checkout_timeout)
                for ta in config.tas
            ],
            default=config.default_ta.uuid,
        )  # fmt: skip
        keys = next((b for b in self.backends if isinstance(b, DeviceKeySource)), None)
        self.service = InvocationService(self.tas, tee_name=self.backend.name, device_keys=keys)
        self._server: grpc.Server | None = None
        self.port: int | None = None

    @property
    def pool(self) -> SessionPool:
        """The default TA's pool (a single-TA proxy's only pool)."""
        return self.tas.default.pool

    @property
    def address(self) -> str:
        """HOST:PORT actually bound (after start())."""
        host, _ = parse_listen(self.config.listen)
        return f"{host}:{self.port}"

    def start(self) -> int:
        """Bind, open the session pool and serve. Returns the bound port.

        Raises ListenError when the address is in use by another process (no SO_REUSEPORT: two
        proxies never split one port's connections) or cannot be bound.
        """
        server = transport.server(
            self.config.workers,
            max_message_bytes=transport.PROXY_MESSAGE_BYTES,
            thread_name_prefix="foc-proxy",
        )
        pb_grpc.add_InvocationServicer_to_server(self.service, server)
        creds = None
        if self.config.tls_cert is not None and self.config.tls_key is not None:
            client_ca = self.config.tls_client_ca
            creds = grpc.ssl_server_credentials(
                [(self.config.tls_key.read_bytes(), self.config.tls_cert.read_bytes())],
                root_certificates=client_ca.read_bytes() if client_ca is not None else None,
                require_client_auth=client_ca is not None,  # mutual TLS: only certified wrappers
            )
        port = transport.bind(server, self.config.listen, creds)  # before the pool: fail fast, touch no TA
        try:
            self.tas.start()
            server.start()
        except BaseException:
            server.stop(None)
            self.tas.close()
            raise
        self._server, self.port = server, port
        return port

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let streams finish for ``grace`` seconds, close sessions and context."""
        self.service.serving = False
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        self.tas.close()
        for backend in self.backends:
            backend.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops."""
        return self._server.wait_for_termination(timeout) if self._server else True

    def __enter__(self) -> ProxyServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(grace=1.0)
