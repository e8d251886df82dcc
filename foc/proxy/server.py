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

Logs carry the transaction id, outcome code and round trips; never arguments, keys or values.
"""

from __future__ import annotations

import logging
import time
import uuid as _uuid
from collections.abc import Generator, Iterator
from concurrent import futures

import grpc

import foc
from foc.errors import TaCrashed, TeeError
from foc.protocol import invocation_pb2 as pb
from foc.protocol import invocation_pb2_grpc as pb_grpc
from foc.proxy.config import ProxyConfig, parse_listen
from foc.proxy.pool import PoolBusy, SessionPool
from foc.tee import abi
from foc.tee.api import TeeBackend
from foc.tee.invocation import InvocationResult, NeedState, TaInvocation

log = logging.getLogger(__name__)

ERROR_METADATA_KEY = "foc-error-code"
LEGACY_ACK = "OK"


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


def _code_name(code: int) -> str:
    try:
        return pb.ErrorCode.Name(code)
    except ValueError:
        return f"UNKNOWN({code})"


class InvocationService(pb_grpc.InvocationServicer):
    """Implements TransactionInvocation and Health over a SessionPool."""

    def __init__(
        self, pool: SessionPool, *, ta_uuid: _uuid.UUID, tee_name: str, checkout_timeout: float = 10.0
    ) -> None:
        self.pool = pool
        self.ta_uuid = ta_uuid
        self.tee_name = tee_name
        self.checkout_timeout = checkout_timeout
        self.ta_abi_version = abi.FOC_ABI_VERSION
        self.serving = True

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

    # --- TransactionInvocation --------------------------------------------------------------

    def TransactionInvocation(  # noqa: N802
        self, request_iterator: Iterator[pb.ChaincodeWrapperMessage], context: grpc.ServicerContext
    ) -> Iterator[pb.ChaincodeProxyMessage]:
        started = time.monotonic()
        txid, legacy, outcome, round_trips = "", True, "OK", 0
        try:
            first = _receive(request_iterator)
            kind = first.WhichOneof("message_oneof")
            if kind != "invocation_request":
                raise _Refusal(
                    pb.PROTOCOL, f"the first message must be invocation_request, got {kind or 'empty'}"
                )
            req = first.invocation_request
            txid, legacy = req.transaction_id, not req.transaction_id
            args = self._arguments(req)
            result = yield from self._run(args, legacy, request_iterator, context)
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
                "legacy" if legacy else "batch",
                outcome,
                round_trips,
                (time.monotonic() - started) * 1000,
            )

    def _arguments(self, req: pb.InvocationRequest) -> list[bytes]:
        uuid_bytes = req.chaincode_uuid
        if len(uuid_bytes) not in (0, 16):
            raise _Refusal(pb.BAD_REQUEST, f"chaincode_uuid must be 16 bytes or empty, got {len(uuid_bytes)}")
        if uuid_bytes and uuid_bytes != self.ta_uuid.bytes:
            raise _Refusal(
                pb.UNKNOWN_CHAINCODE,
                f"this proxy serves TA {self.ta_uuid}, not {_uuid.UUID(bytes=bytes(uuid_bytes))}",
            )
        if req.confidential_request:
            raise _Refusal(pb.BAD_REQUEST, "confidential requests are not supported by this proxy yet")
        if req.arguments and req.binary_arguments:
            raise _Refusal(pb.BAD_REQUEST, "set either arguments (text) or binary_arguments, not both")
        if not req.function_name:
            raise _Refusal(pb.BAD_REQUEST, "function_name is empty")
        rest = list(req.binary_arguments) if req.binary_arguments else [a.encode() for a in req.arguments]
        args = [req.function_name.encode(), *rest]
        try:
            abi.encode_request(args)
        except abi.AbiError as exc:
            raise _Refusal(pb.LIMIT, str(exc)) from None
        return args

    def _run(
        self,
        args: list[bytes],
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
            inv = TaInvocation(lease.session, args)
            step = inv.start()
            while isinstance(step, NeedState):
                yield pb.ChaincodeProxyMessage(get_state_request=pb.GetStateRequest(key=_key_text(step.key)))
                msg = _receive(request_iterator)
                kind = msg.WhichOneof("message_oneof")
                if kind != "get_state_response":
                    raise _Refusal(
                        pb.PROTOCOL,
                        f"expected get_state_response while the TA waits for state, got {kind or 'empty'}",
                    )
                step = inv.answer(_state_value(msg.get_state_response, legacy))
            return step
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
        """Generator: legacy PutState round trips, then the final InvocationResponse."""
        if result.error is not None:
            raise _Refusal(result.error.code, result.error.message)
        resp = result.response
        assert resp is not None
        if legacy:
            for w in resp.writes:
                value = b"" if w.is_delete else w.value
                try:
                    text = value.decode()
                except UnicodeDecodeError:
                    raise _Refusal(
                        pb.BAD_ARGUMENT,
                        "a written value is not UTF-8 text; legacy FOC transactions carry text only",
                    ) from None
                yield pb.ChaincodeProxyMessage(
                    put_state_request=pb.PutStateRequest(key=_key_text(w.key), value=text)
                )
                msg = _receive(request_iterator)
                kind = msg.WhichOneof("message_oneof")
                if kind != "put_state_response":
                    raise _Refusal(pb.PROTOCOL, f"expected put_state_response, got {kind or 'empty'}")
                if msg.put_state_response.acknowledgement != LEGACY_ACK:
                    raise _Refusal(pb.PROTOCOL, 'the wrapper did not acknowledge a PutState with "OK"')
        out = pb.InvocationResponse(
            status=resp.status,
            payload=resp.payload,
            reads=[pb.KeyRead(key=_key_text(k)) for k in resp.reads],
        )
        if legacy:
            out.execution_response = resp.payload.decode("utf-8", errors="replace")
        else:
            out.writes.extend(
                pb.KeyWrite(key=_key_text(w.key), value=w.value, is_delete=w.is_delete) for w in resp.writes
            )
        yield pb.ChaincodeProxyMessage(invocation_response=out)

    def _refuse(
        self, refusal: _Refusal, legacy: bool, context: grpc.ServicerContext
    ) -> Iterator[pb.ChaincodeProxyMessage]:
        """Generator: end the transaction with a structured error."""
        name = _code_name(refusal.code)
        if legacy:
            context.set_trailing_metadata(((ERROR_METADATA_KEY, name),))
            context.abort(grpc.StatusCode.UNKNOWN, f"{name}: {refusal.message}")
        yield pb.ChaincodeProxyMessage(
            invocation_response=pb.InvocationResponse(
                status=500, error=pb.Error(code=refusal.code, message=refusal.message)
            )
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


def _key_text(key: bytes) -> str:
    try:
        return key.decode()
    except UnicodeDecodeError:
        raise _Refusal(pb.BAD_ARGUMENT, "a state key is not UTF-8 text (Fabric keys are strings)") from None


def _state_value(answer: pb.GetStateResponse, legacy: bool) -> bytes | None:
    if legacy:
        # FOC: "" means the key does not exist
        return answer.value.encode() if answer.value else None
    if answer.value:
        raise _Refusal(
            pb.PROTOCOL, "get_state_response.value is for legacy transactions; use raw_value + found"
        )
    if not answer.found:
        if answer.raw_value:
            raise _Refusal(pb.PROTOCOL, "get_state_response has found=false with a value")
        return None
    if len(answer.raw_value) > abi.FOC_MAX_VALUE:
        raise _Refusal(pb.LIMIT, f"a state value is {len(answer.raw_value)} bytes, limit {abi.FOC_MAX_VALUE}")
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
            self.pool, ta_uuid=config.ta_uuid, tee_name=backend.name, checkout_timeout=config.checkout_timeout
        )
        self._server: grpc.Server | None = None
        self.port: int | None = None

    @property
    def address(self) -> str:
        """HOST:PORT actually bound (after start())."""
        host, _ = parse_listen(self.config.listen)
        return f"{host}:{self.port}"

    def start(self) -> int:
        """Open the session pool, bind and serve. Returns the bound port."""
        self.pool.start()
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.config.workers, thread_name_prefix="foc-proxy"),
            options=[
                ("grpc.max_receive_message_length", 4 * abi.FOC_MAX_REQUEST),
                ("grpc.max_send_message_length", 2 * abi.FOC_MAX_OUTPUT),
                ("grpc.so_reuseport", 0),
            ],
        )
        pb_grpc.add_InvocationServicer_to_server(self.service, server)
        if self.config.tls_cert is not None and self.config.tls_key is not None:
            creds = grpc.ssl_server_credentials(
                [(self.config.tls_key.read_bytes(), self.config.tls_cert.read_bytes())]
            )
            port = server.add_secure_port(self.config.listen, creds)
        else:
            port = server.add_insecure_port(self.config.listen)
        if not port:
            self.pool.close()
            raise OSError(f"cannot listen on {self.config.listen}")
        server.start()
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
