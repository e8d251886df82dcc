"""The gRPC side of foc-proxy: service ``invocation.Invocation``.

One ``TransactionInvocation`` stream = one transaction:

    wrapper                          proxy                              TA (pooled session)
    invocation_request  ───────────►  validate, lease a session  ─────► FOC_CMD_INVOKE
                        ◄─────────── get_state_request(key)     ◄───── GET_STATE key
    get_state_response  ───────────►                            ─────► FOC_CMD_RESUME
                        ...
                        ◄─────────── [legacy: put_state_request per write, wait for "OK"]
                        ◄─────────── invocation_response        ◄───── RESPONSE | ERROR

Errors travel as ``InvocationResponse{status=500, error{code, message}}`` for new
transactions. Legacy (FOC) transactions, which have no error field their wrapper reads,
end with gRPC status UNKNOWN, details ``"<CODE>: <message>"`` and trailing metadata
``foc-error-code``. If the stream breaks mid-transaction the TA invocation is aborted
(FOC_CMD_ABORT) and the session goes back to the pool.

A confidential transaction (``invocation_request.confidential_request`` set, no function or
arguments in clear) runs FOC_CMD_CONFIDENTIAL_INVOKE with the same GetState relay (the answers
are stored ciphertext) and ends with ``invocation_response.confidential_response``.

Enclave lifecycle (unary RPCs, on pooled sessions like transactions): CreateEnclave ->
FOC_CMD_ENCLAVE_CREATE, GetCredentials -> FOC_CMD_ENCLAVE_CREDENTIALS; GetDeviceKey reads the
device attestation key once (OP-TEE: a short-lived session to the attestation PTA) and caches it.
KeyTransfer relays one key-distribution step (FOC_CMD_ENCLAVE_JOIN / _KEY_EXPORT / _KEY_IMPORT):
opaque messages, the keys inside sealed to an attested TA.

Logs carry the transaction id, outcome code and round trips; never arguments, keys or values.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid as _uuid
from collections.abc import Callable, Generator, Iterator
from typing import cast

import grpc

import foc
from foc.errors import FocError, LimitExceeded, TaCrashed, TeeError
from foc.protocol import invocation_pb2 as pb
from foc.protocol import invocation_pb2_grpc as pb_grpc
from foc.protocol import sizes, transport
from foc.protocol.legacy import LegacyProtocolError, ProxySide, is_legacy
from foc.protocol.limits import Limits
from foc.protocol.result import InvocationResult, error_code_name, error_code_value
from foc.proxy.config import ProxyConfig, parse_listen
from foc.proxy.pool import PoolBusy, SessionPool
from foc.tee import abi
from foc.tee.api import DeviceKeySource, TeeBackend, TeeSession
from foc.tee.device_key import DeviceKey
from foc.tee.invocation import NeedState, TaInvocation

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
    """Implements TransactionInvocation and Health over a SessionPool."""

    def __init__(
        self,
        pool: SessionPool,
        *,
        ta_uuid: _uuid.UUID,
        tee_name: str,
        checkout_timeout: float = 10.0,
        device_keys: DeviceKeySource | None = None,
    ) -> None:
        self.pool = pool
        self.ta_uuid = ta_uuid
        self.tee_name = tee_name
        self.checkout_timeout = checkout_timeout
        self.ta_abi_version = abi.FOC_ABI_VERSION
        self.serving = True
        self._device_keys = device_keys
        self._device_key: DeviceKey | None = None
        self._device_key_lock = threading.Lock()

    # --- Health ---------------------------------------------------------------------------

    def Health(self, request: pb.HealthRequest, context: grpc.ServicerContext) -> pb.HealthResponse:  # noqa: N802
        c = self.pool.counters()
        return pb.HealthResponse(
            serving=self.serving and c.sessions_open > 0,
            tee=self.tee_name,
            version=foc.__version__ if hasattr(foc, "__version__") else "",
            sessions_open=c.sessions_open,
            sessions_opened_total=c.sessions_opened_total,
            transactions_total=c.transactions_total,
            ta_restarts_total=c.ta_restarts_total,
            ta_abi_version=self.ta_abi_version,
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
        outcome = "OK"
        try:
            self._check_uuid(uuid_bytes)
            if need_input and not data:
                raise _Refusal(pb.BAD_REQUEST, f"the input of enclave {what} is empty")
            if len(data) > abi.FOC_MAX_REQUEST:
                raise _Refusal(
                    pb.LIMIT, f"the input of enclave {what} is {len(data)} bytes, limit {abi.FOC_MAX_REQUEST}"
                )
            msg_type, out = self._on_pooled_session(lambda session: session.invoke(cmd, data), context)
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
            log.info("enclave %s outcome=%s %.1f ms", what, outcome, (time.monotonic() - started) * 1000)

    def _on_pooled_session(
        self, call: Callable[[TeeSession], tuple[int, bytes]], context: grpc.ServicerContext
    ) -> tuple[int, bytes]:
        """Run one enclave command on a pooled session, mapping failures to refusals.

        A TA that died earlier (e.g. another client panicked it) leaves every pooled session dead
        until one reports it; the pool then reopens them. Enclave commands are administrative and
        safe to repeat (a create that got as far as sealing its keys answers EXISTS), so one
        TA_CRASHED is retried on a fresh session; a second one is reported.
        """
        for attempt in range(2):
            remaining = context.time_remaining()
            timeout = self.checkout_timeout if remaining is None else min(remaining, self.checkout_timeout)
            try:
                with self.pool.lease(max(timeout, 0.0)) as lease:
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
        txid, legacy, outcome, round_trips, mode = "", True, "OK", 0, ""
        try:
            first = _receive(request_iterator)
            kind = first.WhichOneof("message_oneof")
            if kind != "invocation_request":
                raise _Refusal(
                    pb.PROTOCOL, f"the first message must be invocation_request, got {kind or 'empty'}"
                )
            req = first.invocation_request
            txid, legacy = req.transaction_id, is_legacy(req)
            if req.confidential_request:
                mode = "confidential"
                request = self._confidential_request(req)
                result = yield from self._run(
                    lambda session: TaInvocation.confidential(session, request),
                    legacy,
                    request_iterator,
                    context,
                )
            else:
                args = self._arguments(req)
                result = yield from self._run(
                    lambda session: TaInvocation(session, args), legacy, request_iterator, context
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
                "tx %s mode=%s outcome=%s round_trips=%d %.1f ms",
                txid[:64] or "-",
                mode or ("legacy" if legacy else "batch"),
                outcome,
                round_trips,
                (time.monotonic() - started) * 1000,
            )

    def _check_uuid(self, uuid_bytes: bytes) -> None:
        if len(uuid_bytes) not in (0, 16):
            raise _Refusal(pb.BAD_REQUEST, f"chaincode_uuid must be 16 bytes or empty, got {len(uuid_bytes)}")
        if uuid_bytes and uuid_bytes != self.ta_uuid.bytes:
            raise _Refusal(
                pb.UNKNOWN_CHAINCODE,
                f"this proxy serves TA {self.ta_uuid}, not {_uuid.UUID(bytes=bytes(uuid_bytes))}",
            )

    def _confidential_request(self, req: pb.InvocationRequest) -> bytes:
        """The opaque confidential_request, after refusing anything sent in clear beside it."""
        self._check_uuid(req.chaincode_uuid)
        if not req.transaction_id:
            raise _Refusal(
                pb.BAD_REQUEST,
                "a confidential request needs a transaction_id (legacy FOC transactions cannot carry one)",
            )
        if req.function_name or req.arguments or req.binary_arguments:
            raise _Refusal(
                pb.BAD_REQUEST,
                "a confidential request carries its function and arguments encrypted; "
                "function_name, arguments and binary_arguments must be empty",
            )
        try:
            sizes.check_confidential_request(req.confidential_request)
        except LimitExceeded as exc:
            raise _Refusal(pb.LIMIT, exc.reason) from None
        return bytes(req.confidential_request)

    def _arguments(self, req: pb.InvocationRequest) -> list[bytes]:
        self._check_uuid(req.chaincode_uuid)
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
    ) -> Generator[pb.ChaincodeProxyMessage, None, InvocationResult]:
        """Generator: lease a session, run the TA, relay GetState. Returns the TA's result."""
        remaining = context.time_remaining()
        timeout = self.checkout_timeout if remaining is None else min(remaining, self.checkout_timeout)
        try:
            lease = self.pool.checkout(max(timeout, 0.0))
        except PoolBusy as exc:
            raise _Refusal(pb.BUSY, str(exc)) from None
        except TeeError as exc:
            raise _Refusal(pb.TEE_FAILURE, str(exc)) from None
        inv: TaInvocation | None = None
        crashed = False
        try:
            inv = start(lease.session)
            step = inv.start()
            while isinstance(step, NeedState):
                yield pb.ChaincodeProxyMessage(get_state_request=pb.GetStateRequest(key=step.key))
                msg = _receive(request_iterator)
                kind = msg.WhichOneof("message_oneof")
                if kind != "get_state_response":
                    raise _Refusal(
                        pb.PROTOCOL,
                        f"expected get_state_response while the TA waits for state, got {kind or 'empty'}",
                    )
                step = inv.answer(_state_value(msg.get_state_response, legacy, inv.limits))
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
            self.pool.release(lease, crashed=crashed)

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
    """foc-proxy: a SessionPool on a TeeBackend behind a gRPC server.

    ``start()`` opens the pool and binds; ``stop()`` drains streams, closes the sessions and
    the backend. Also a context manager.
    """

    def __init__(self, config: ProxyConfig, backend: TeeBackend) -> None:
        self.config = config
        self.backend = backend
        self.pool = SessionPool(backend, config.pool_size)
        self.service = InvocationService(
            self.pool,
            ta_uuid=config.ta_uuid,
            tee_name=backend.name,
            checkout_timeout=config.checkout_timeout,
            device_keys=backend if isinstance(backend, DeviceKeySource) else None,
        )
        self._server: grpc.Server | None = None
        self.port: int | None = None

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
            self.pool.start()
            server.start()
        except BaseException:
            server.stop(None)
            self.pool.close()
            raise
        self._server, self.port = server, port
        return port

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let streams finish for ``grace`` seconds, close sessions and context."""
        self.service.serving = False
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        self.pool.close()
        self.backend.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops."""
        return self._server.wait_for_termination(timeout) if self._server else True

    def __enter__(self) -> ProxyServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(grace=1.0)
