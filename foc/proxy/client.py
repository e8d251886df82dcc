"""ProxyClient: what the wrapper uses to run transactions on foc-proxy.

One long-lived gRPC channel (one HTTP/2 connection, optionally TLS) carries every
transaction as its own ``TransactionInvocation`` stream, so many transactions run
concurrently from many threads on one client. When the proxy restarts, the channel reconnects
within about a second and a call waits for it briefly (`foc.protocol.transport`), so the first
transaction after the proxy is back succeeds.

Error contract:
  * transport failures (proxy down, connection reset, deadline exceeded, stream dropped)
    raise ``foc.errors.ProxyUnavailable``;
  * structured errors (chaincode refusals such as EXISTS, and proxy-side ones such as
    TA_CRASHED, BUSY, PROTOCOL) are **returned** in ``InvocationResult.error``; call
    ``result.raise_for_error()`` to turn them into ``foc.errors.ChaincodeError``;
  * a request or a state answer over the TA's limits (`foc.protocol.sizes`, per mode) is a
    ``LIMIT`` error found here, before anything is sent, and returned like the proxy's own;
    a gRPC RESOURCE_EXHAUSTED (a message over a transport cap) is a ``LIMIT`` error too, never
    "unavailable" (the unary RPCs raise ``foc.errors.LimitExceeded``);
  * an exception raised by the caller's ``get_state``/``get_state_by_range``/``put_state`` cancels
    the stream (the proxy aborts the TA invocation) and propagates unchanged.

A range read of the chaincode (``get_state_by_range_request``) is answered with
``get_state_by_range(start, end)``: every entry of the range, ascending; over the TA's limits
(FOC_MAX_RANGE_ENTRIES, FOC_MAX_RANGE_BYTES, ...) it is a ``LIMIT`` error found here.

Example::

    with ProxyClient("127.0.0.1:50051") as proxy:
        result = proxy.invoke("create", ["peter", "0"], transaction_id="tx1",
                              get_state=ledger.get)
        result.raise_for_error()
        ledger.apply(result.writes)
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc

from foc.errors import ChaincodeError, ConfigError, FocError, LimitExceeded, ProxyUnavailable, UsageError
from foc.protocol import invocation_pb2 as pb
from foc.protocol import invocation_pb2_grpc as pb_grpc
from foc.protocol import sizes, transport
from foc.protocol.args import encode_arg, encode_args
from foc.protocol.context import Creator, Transient
from foc.protocol.legacy import LegacyProtocolError, WrapperSide
from foc.protocol.limits import CONFIDENTIAL, PLAINTEXT, Limits
from foc.protocol.result import InvocationResult

DEFAULT_TIMEOUT = 30.0
#: Enclave administration (create, credentials, device key) may generate keys in OP-TEE: the
#: attestation PTA's first RSA-3072 key takes tens of seconds under QEMU's emulation.
ADMIN_TIMEOUT = 180.0


GetState = Callable[[str], bytes | None]
#: (start, end) -> every entry of the range, ascending: (key, value) pairs
GetStateByRange = Callable[[str, str], Sequence[tuple[str, bytes]]]
PutState = Callable[[str, bytes], None]

_END = object()
#: how long past a stream's deadline the client stops waiting for it and cancels it (`_within`), seconds
WATCHDOG_GRACE_S = 2.0
T = TypeVar("T")


def _read_client_pair(pair: tuple[str | Path, str | Path]) -> tuple[bytes, bytes]:
    """(key PEM, certificate chain PEM) read from their files; ConfigError names the one that failed."""
    out = []
    for what, path in zip(("key", "certificate"), pair, strict=True):
        try:
            out.append(Path(path).read_bytes())
        except OSError as exc:
            raise ConfigError(f"cannot read the proxy client {what} {path}: {exc.strerror}") from None
    return out[0], out[1]


class ProxyClient:
    """A connection to foc-proxy shared by all transactions (thread-safe)."""

    def __init__(
        self,
        address: str,
        *,
        tls_ca: str | Path | bytes | None = None,
        tls_server_name: str | None = None,
        tls_client: tuple[str | Path, str | Path] | None = None,
        default_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """``address`` is HOST:PORT. With ``tls_ca`` (PEM file path, or PEM bytes) the channel uses TLS.

        ``tls_client`` = (key, certificate chain) PEM file paths: the client certificate a proxy that
        requires mutual TLS (`foc-proxy --tls-client-ca`) checks. ConfigError: a file cannot be read,
        or a client certificate without ``tls_ca``.
        """
        self.address = address
        self.default_timeout = default_timeout
        keepalive = [("grpc.keepalive_time_ms", 30_000)]
        options = transport.channel_options(transport.PROXY_MESSAGE_BYTES, keepalive)
        if tls_ca is not None:
            if isinstance(tls_ca, bytes):
                ca = tls_ca
            else:
                try:
                    ca = Path(tls_ca).read_bytes()
                except OSError as exc:
                    raise ConfigError(
                        f"cannot read the proxy CA certificate {tls_ca}: {exc.strerror}"
                    ) from None
            if tls_server_name:
                options.append(("grpc.ssl_target_name_override", tls_server_name))
            key, chain = _read_client_pair(tls_client) if tls_client else (None, None)
            credentials = grpc.ssl_channel_credentials(ca, key, chain)
            self._channel = grpc.secure_channel(address, credentials, options=options)
        elif tls_client is not None:
            raise ConfigError(
                "a client certificate for the proxy needs TLS: give the proxy's CA certificate as well"
            )
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = pb_grpc.InvocationStub(self._channel)
        self._readiness = transport.ChannelReadiness(self._probe)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def _probe(self, timeout: float) -> object:
        """After a lost connection: Health, held by gRPC until the channel is connected again. An
        overdue probe lets the call go ahead: it is bounded itself."""
        try:
            return _bounded(self._stub.Health, pb.HealthRequest(), timeout, wait_for_ready=True)
        except _Overdue:
            return None

    def _failed(self, exc: grpc.RpcError) -> FocError:
        """The FOC error for a failed call; an UNAVAILABLE one makes the next calls wait briefly."""
        if transport.is_unavailable(exc):
            self._readiness.lost()
        return _rpc_error(self.address, exc)

    def _deadline(self, timeout: float) -> float:
        """Wait briefly for the channel (see the module docstring); the time left of `timeout`."""
        deadline = time.monotonic() + timeout
        self._readiness.wait(deadline)
        return max(deadline - time.monotonic(), 0.0)

    def __enter__(self) -> ProxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self, timeout: float = 5.0) -> pb.HealthResponse:
        """The proxy's Health answer (counters, backend). Raises ProxyUnavailable."""
        return self._unary(self._stub.Health, pb.HealthRequest(), timeout)

    def invoke(
        self,
        function: str,
        args: Sequence[str | bytes] = (),
        *,
        get_state: GetState,
        put_state: PutState | None = None,
        get_state_by_range: GetStateByRange | None = None,
        transaction_id: str = "",
        channel_id: str = "",
        chaincode_uuid: bytes = b"",
        creator: Creator | None = None,
        transient: Transient | None = None,
        timeout: float | None = None,
    ) -> InvocationResult:
        """Run one transaction.

        ``args`` exclude the function name; all ``str`` goes as text ``arguments``, any
        ``bytes`` sends all as ``binary_arguments``. ``get_state(key)`` returns the value or
        None; ``get_state_by_range(start, end)`` the entries of a range (without it a range read
        fails the transaction). An empty ``transaction_id`` selects FOC's legacy mode, where writes
        arrive as ``put_state(key, value)`` calls (required then) instead of ``result.writes``.
        ``creator`` and ``transient`` are the transaction's (the chaincode's foc_get_creator and
        foc_get_transient). A request over the TA's limits is refused here (a LIMIT result), before
        anything is sent.
        """
        legacy = not transaction_id
        if legacy and put_state is None:
            raise ValueError("legacy transactions (empty transaction_id) need a put_state callback")
        try:
            raw = [encode_arg(function, "function name"), *encode_args(args)]
            sizes.check_request(raw, creator=creator, transient=transient)
        except LimitExceeded as exc:
            return InvocationResult.failure("LIMIT", exc.reason)
        request = pb.InvocationRequest(
            chaincode_uuid=chaincode_uuid,
            function_name=function,
            transaction_id=transaction_id,
            channel_id=channel_id,
            transient=[pb.TransientEntry(key=k, value=bytes(v)) for k, v in (transient or {}).items()],
        )
        _set_creator(request, creator)
        if any(isinstance(a, bytes | bytearray) for a in args):
            request.binary_arguments.extend(raw[1:])
        else:
            request.arguments.extend(args)  # type: ignore[arg-type]
        return self._transaction(request, get_state, put_state, timeout, PLAINTEXT, get_state_by_range)

    def invoke_confidential(
        self,
        request: bytes,
        *,
        get_state: GetState,
        get_state_by_range: GetStateByRange | None = None,
        transaction_id: str,
        channel_id: str = "",
        chaincode_uuid: bytes = b"",
        creator: Creator | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """Run one confidential request (FOC_CMD_CONFIDENTIAL_INVOKE); return the confidential_response.

        ``get_state(key)`` returns the *stored* (encrypted) value or None, ``get_state_by_range``
        the stored entries of a range. ``creator`` is the transaction's creator as the peer reports
        it: the TA refuses a request whose encrypted creator is another identity. Refusals by the TA
        (malformed or tampered request, wrong channel/chaincode/creator, no enclave) and by the proxy
        raise ``ChaincodeError`` with the structured code; chaincode errors (e.g. EXISTS) are inside
        the encrypted response. Transport failures raise ``ProxyUnavailable``.
        """
        if not transaction_id:
            raise ValueError("a confidential request needs a transaction_id")
        sizes.check_confidential_request(request)
        message = pb.InvocationRequest(
            chaincode_uuid=chaincode_uuid,
            transaction_id=transaction_id,
            channel_id=channel_id,
            confidential_request=request,
        )
        _set_creator(message, creator)
        result = self._transaction(
            message, get_state, None, timeout, CONFIDENTIAL, get_state_by_range
        ).raise_for_error()
        if not result.confidential_response:
            raise ProxyUnavailable(
                f"proxy {self.address} answered a confidential request without a confidential_response",
                hint="is the proxy older than the client? (foc-proxy with confidential mode is needed)",
            )
        return result.confidential_response

    def create_enclave(
        self, config: bytes, *, chaincode_uuid: bytes = b"", timeout: float | None = None
    ) -> bytes:
        """FOC_CMD_ENCLAVE_CREATE with ``config`` (enclave_config); return the credentials.

        Raises ChaincodeError (code EXISTS if an enclave exists and the config does not set force).
        """
        answer = self._unary(
            self._stub.CreateEnclave,
            pb.CreateEnclaveRequest(chaincode_uuid=chaincode_uuid, enclave_config=config),
            timeout,
        )
        return _credentials(answer)

    def key_transfer(
        self, step: str, message: bytes, *, chaincode_uuid: bytes = b"", timeout: float | None = None
    ) -> bytes:
        """One key-distribution step in the TA (``step`` = "join", "export" or "import"); its answer.

        join: enclave_config -> key_request; export: key_export -> key_package; import: key_import
        -> the new enclave's credentials (docs/confidential-protocol.md, "Key distribution").
        Raises ChaincodeError with the TA's code (UNTRUSTED: the other enclave's evidence or key
        policy was refused; SEQUENCE: import without a pending join; EXISTS).
        """
        steps = {"join": pb.JOIN, "export": pb.EXPORT, "import": pb.IMPORT}
        if step not in steps:
            raise UsageError(f"unknown key transfer step {step!r} (join, export or import)")
        answer = self._unary(
            self._stub.KeyTransfer,
            pb.KeyTransferRequest(chaincode_uuid=chaincode_uuid, step=steps[step], message=message),
            timeout,
        )
        if answer.HasField("error"):
            raise ChaincodeError(pb.ErrorCode.Name(answer.error.code), answer.error.message)
        if not answer.message:
            raise ProxyUnavailable(f"proxy {self.address} answered the key transfer with nothing")
        return answer.message

    def credentials(self, *, chaincode_uuid: bytes = b"", timeout: float | None = None) -> bytes:
        """The enclave's stored credentials; ChaincodeError NOT_FOUND if none was created."""
        answer = self._unary(
            self._stub.GetCredentials, pb.GetCredentialsRequest(chaincode_uuid=chaincode_uuid), timeout
        )
        return _credentials(answer)

    def device_key_info(self, *, timeout: float | None = None) -> pb.DeviceKeyResponse:
        """The proxy's whole GetDeviceKey answer (DER key, PTA algorithm, kind); raises on error."""
        answer = self._unary(self._stub.GetDeviceKey, pb.GetDeviceKeyRequest(), timeout)
        if answer.HasField("error"):
            raise ChaincodeError(pb.ErrorCode.Name(answer.error.code), answer.error.message)
        if not answer.public_key_der:
            raise ProxyUnavailable(f"proxy {self.address} sent an empty device key")
        return answer

    def device_key(self, *, timeout: float | None = None) -> bytes:
        """The device attestation public key as PEM (SubjectPublicKeyInfo).

        Check ``device_key_info().kind``: ``native-insecure`` is a published test key, not a device.
        """
        from foc.tee.device_key import DeviceKey

        info = self.device_key_info(timeout=timeout)
        return DeviceKey(info.public_key_der, info.tee_algorithm, info.kind).pem()

    def _unary(self, method: Callable[..., T], request: object, timeout: float | None) -> T:
        transport.check_message(request, transport.PROXY_MESSAGE_BYTES, "the request to the proxy")
        budget = max(self.default_timeout, ADMIN_TIMEOUT) if timeout is None else timeout
        left = self._deadline(budget)
        try:
            return _bounded(method, request, left)
        except _Overdue:
            self._readiness.lost()
            raise ProxyUnavailable(
                f"proxy {self.address} did not answer within the call's {budget:.1f} s deadline",
                hint="is the proxy (or the device) overloaded or hung? `foc-deploy TARGET status`",
            ) from None
        except grpc.RpcError as exc:
            raise self._failed(exc) from None

    def _transaction(
        self,
        request: pb.InvocationRequest,
        get_state: GetState,
        put_state: PutState | None,
        timeout: float | None,
        limits: Limits,
        get_state_by_range: GetStateByRange | None = None,
    ) -> InvocationResult:
        """One TransactionInvocation stream; `limits` are the mode's (what a state answer may carry)."""
        legacy = not request.transaction_id
        first = pb.ChaincodeWrapperMessage(invocation_request=request)
        try:
            transport.check_message(first, transport.PROXY_MESSAGE_BYTES, "the invocation request")
        except LimitExceeded as exc:
            return InvocationResult.failure("LIMIT", exc.reason)
        outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        outbox.put(first)

        def requests() -> Iterator[pb.ChaincodeWrapperMessage]:
            while (msg := outbox.get()) is not _END:
                yield msg  # type: ignore[misc]

        budget = self._deadline(self.default_timeout if timeout is None else timeout)
        call = self._stub.TransactionInvocation(requests(), timeout=budget)
        finished = threading.Event()
        range_bytes = 0
        try:
            for msg in _within(call, budget + WATCHDOG_GRACE_S, self.address):
                kind = msg.WhichOneof("type")
                if kind == "get_state_request":
                    value = get_state(msg.get_state_request.key)
                    if value is not None:
                        sizes.check_state_value(value, limits)  # the stream is cancelled below
                    if legacy:
                        answer = WrapperSide.state_answer(value)
                    else:
                        answer = pb.GetStateResponse(raw_value=value or b"", found=value is not None)
                    outbox.put(pb.ChaincodeWrapperMessage(get_state_response=answer))
                elif kind == "get_state_by_range_request":
                    asked = msg.get_state_by_range_request
                    if get_state_by_range is None:
                        why = "the chaincode reads a range and this caller cannot answer range reads"
                        return InvocationResult.failure("PROTOCOL", why)
                    entries = list(get_state_by_range(asked.start_key, asked.end_key))
                    range_bytes = sizes.check_range_answer(entries, limits, range_bytes)  # cancelled below
                    ranged = pb.GetStateByRangeResponse(
                        entries=[pb.StateEntry(key=k, value=bytes(v)) for k, v in entries]
                    )
                    outbox.put(pb.ChaincodeWrapperMessage(get_state_by_range_response=ranged))
                elif kind == "put_state_request":
                    if put_state is None:
                        raise ProxyUnavailable(
                            "the proxy sent a PutStateRequest for a non-legacy transaction"
                        )
                    write, ack = WrapperSide.write(msg.put_state_request)
                    put_state(write.key, write.value)
                    outbox.put(pb.ChaincodeWrapperMessage(put_state_response=ack))
                elif kind == "invocation_response":
                    finished.set()
                    resp = msg.invocation_response
                    return WrapperSide.result(resp) if legacy else InvocationResult.from_proto(resp)
                else:
                    raise ProxyUnavailable(f"the proxy sent an unexpected message ({kind or 'empty'})")
            raise ProxyUnavailable(f"proxy {self.address} ended the transaction stream without a response")
        except LegacyProtocolError as exc:
            return InvocationResult.failure(exc.code, exc.message)
        except LimitExceeded as exc:  # a state or range answer over the mode's limits: nothing more is sent
            return InvocationResult.failure("LIMIT", exc.reason)
        except _Overdue as exc:
            self._readiness.lost()
            raise ProxyUnavailable(
                f"proxy {self.address} did not finish the transaction within its {budget:.1f} s deadline",
                hint="is the proxy (or the device) overloaded or hung? `foc-deploy TARGET status`",
            ) from exc
        except grpc.RpcError as exc:
            structured = WrapperSide.structured_error(exc) if legacy else None
            if structured is not None:
                return InvocationResult(status=500, error=structured)
            error = self._failed(exc)
            if isinstance(error, LimitExceeded):
                return InvocationResult.failure("LIMIT", error.reason)
            raise error from None
        finally:
            outbox.put(_END)
            if not finished.is_set():
                call.cancel()


class _Overdue(Exception):
    """The stream gave nothing (no message, no status) until well past its deadline."""


def _within(call: Iterator[T], limit_s: float, address: str) -> Iterator[T]:
    """The messages of the response stream `call`, each awaited for at most what is left of `limit_s`.

    gRPC Python can leave a stream's reader waiting forever: `__next__` waits without a timeout until
    the receive operation completes, and under load, after the proxy had gone, that completion never
    came even once the call was cancelled (grpc/grpc#20562 describes the unbounded wait; seen twice in
    this suite, py-spy showed the reader in `_MultiThreadedRendezvous._next`). So a daemon thread reads
    the stream into a queue and this generator waits on the queue with a deadline; on `_Overdue` the
    caller cancels the call and a reader that never wakes is left behind (a daemon thread). Errors from
    the stream (grpc.RpcError) are raised here as they are.
    """
    box: queue.SimpleQueue[object] = queue.SimpleQueue()

    def read() -> None:
        try:
            for message in call:
                box.put(message)
            box.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box.put(_Raised(exc))

    threading.Thread(target=read, name=f"foc-proxy-stream {address}", daemon=True).start()
    until = time.monotonic() + limit_s
    while True:
        try:
            item = box.get(timeout=max(until - time.monotonic(), 0.0))
        except queue.Empty:
            raise _Overdue() from None
        if item is _END:
            return
        if isinstance(item, _Raised):
            raise item.exc
        yield item  # type: ignore[misc]


def _bounded(method: Any, request: object, timeout: float, **kwargs: Any) -> Any:
    """A unary call awaited for at most `timeout` + WATCHDOG_GRACE_S (see `_within` for why gRPC's own
    deadline is not trusted to end the wait); `_Overdue` after cancelling it."""
    future = method.future(request, timeout=timeout, **kwargs)
    try:
        return future.result(timeout=timeout + WATCHDOG_GRACE_S)
    except grpc.FutureTimeoutError:
        future.cancel()
        raise _Overdue() from None


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _set_creator(request: pb.InvocationRequest, creator: Creator | None) -> None:
    if creator is not None:
        request.creator_msp_id = creator.msp_id
        request.creator_id_bytes = creator.certificate


def _credentials(answer: pb.EnclaveCredentialsResponse) -> bytes:
    if answer.HasField("error"):
        raise ChaincodeError(pb.ErrorCode.Name(answer.error.code), answer.error.message)
    if not answer.credentials:
        raise ProxyUnavailable("the proxy answered an enclave command with neither credentials nor an error")
    return answer.credentials


def _rpc_error(address: str, exc: grpc.RpcError) -> FocError:
    """A failed gRPC call as FOC's error: LimitExceeded for RESOURCE_EXHAUSTED, else ProxyUnavailable."""
    limit = transport.limit_error(exc, f"the path to proxy {address}")
    return limit if limit is not None else _unavailable(address, exc)


def _unavailable(address: str, exc: grpc.RpcError) -> ProxyUnavailable:
    code = exc.code() if hasattr(exc, "code") else None
    name = code.name if code is not None else "UNKNOWN"
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return ProxyUnavailable(
        f"proxy {address} failed the transaction: {name}: {details}",
        hint="is foc-proxy running and reachable? (foc-proxy --listen HOST:PORT)",
    )
