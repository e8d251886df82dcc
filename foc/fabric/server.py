"""`ChaincodeServer`: the chaincode-as-a-service gRPC server a Fabric peer dials.

The peer opens `/protos.Chaincode/Connect` (bidirectional stream) and the chaincode speaks first:

    chaincode -> REGISTER(ChaincodeID{name=package id});  peer -> REGISTERED, READY
    peer -> TRANSACTION / INIT (txid, channel, ChaincodeInput, SignedProposal)
        chaincode -> GET_STATE / PUT_STATE / ...   peer -> RESPONSE | ERROR   (one at a time per txid)
    chaincode -> COMPLETED(peer.Response) | ERROR(text)

Each Connect gets a `ChaincodeStream`. Transactions run on worker threads, many at once; answers
are routed by (channel, txid); all writes to the stream go through one queue. When a stream ends,
its waiting requests fail with `PeerStreamClosed` and the server keeps accepting new Connects
(the peer re-dials at the next invoke, or after a restart: the new stream serves at once).

If a peer connects but never answers REGISTER (it refuses a package id it did not launch), the
stream logs after `register_timeout` that the package id is probably not the one the channel
committed, naming the package id and the peer. The stream's message cap is Fabric's default (the
peer sends and accepts at most that, `foc.protocol.transport.FABRIC_MESSAGE_BYTES`); a message the
chaincode would send over it is refused before it is sent (`LimitExceeded`, or a LIMIT error
for the transaction), so one oversized answer never ends the stream for every transaction.
The server binds without SO_REUSEPORT: a second server on a taken address fails with ListenError.

Logs carry message types, txid prefixes and channel names only: never arguments, keys, values,
proposals or transient data. Names from the peer are quoted (%r).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from foc.chaincode.stub import ERROR, Chaincode, Response
from foc.errors import (
    FocError,
    LimitExceeded,
    PeerProtocolError,
    PeerRequestError,
    PeerStreamClosed,
)
from foc.fabric import protos
from foc.fabric.proposal import decode_signed_proposal
from foc.fabric.protos import ChaincodeMessage, proposal_response, shim_grpc
from foc.fabric.stub import FabricStub
from foc.fabric.tls import ServerTls
from foc.protocol import transport

log = logging.getLogger(__name__)

Msg: Any = ChaincodeMessage
TxKey = tuple[str, str]  # (channel_id, txid)

DEFAULT_REQUEST_TIMEOUT_S = 120.0
DEFAULT_MAX_TRANSACTIONS = 64
#: How long a connected peer may take to answer REGISTER before the stream says why it probably won't.
DEFAULT_REGISTER_TIMEOUT_S = 15.0
MAX_MESSAGE_BYTES = transport.FABRIC_MESSAGE_BYTES  # Fabric's default gRPC message limit

# The peer's gRPC client pings the connection; never punish it for that (no GOAWAY on pings).
_SERVER_OPTIONS = [
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_ping_strikes", 0),
]


def _type_name(msg_type: int) -> str:
    try:
        return str(Msg.Type.Name(msg_type))
    except ValueError:
        return f"type {msg_type}"


def _short(txid: str) -> str:
    return txid[:12]


@dataclass
class _PendingRequest:
    done: threading.Event = field(default_factory=threading.Event)
    reply: Any = None  # ChaincodeMessage, or None if the stream closed


@dataclass
class _Transaction:
    request_lock: threading.Lock = field(default_factory=threading.Lock)


class ChaincodeStream:
    """One Connect stream from the peer: handshake, transaction dispatch, request routing.

    Lifecycle: created when the peer connects (REGISTER queued) -> `consume` reads the peer's
    messages on its own thread while gRPC drains `outgoing` -> REGISTERED/READY -> transactions ->
    `close` when either side ends the stream (pending requests fail, in-flight replies dropped).
    """

    def __init__(
        self,
        chaincode: Chaincode,
        package_id: str,
        executor: ThreadPoolExecutor,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        peer: str = "",
        register_timeout: float = DEFAULT_REGISTER_TIMEOUT_S,
    ) -> None:
        self._chaincode = chaincode
        self._package_id = package_id
        self._executor = executor
        self._request_timeout = request_timeout
        self.peer = peer  # gRPC's name of the peer's end, e.g. "ipv4:10.0.0.5:41234"
        self._outbox: queue.Queue[Msg | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: dict[TxKey, _PendingRequest] = {}
        self._transactions: dict[TxKey, _Transaction] = {}
        self._closed = threading.Event()
        self.registered = threading.Event()
        self.ready = threading.Event()
        self.peer_params: Any = None  # ChaincodeAdditionalParams from READY (v3.x), else None
        self._send(
            Msg(
                type=Msg.REGISTER,
                payload=protos.chaincode.ChaincodeID(name=package_id).SerializeToString(),
            )
        )
        self._register_watch = threading.Timer(register_timeout, self._not_registered, (register_timeout,))
        self._register_watch.daemon = True
        self._register_watch.start()

    def _not_registered(self, waited: float) -> None:
        if self.registered.is_set() or self._closed.is_set():
            return
        log.warning(
            "the peer %r connected but has not answered REGISTER in %g s: this server registered "
            "with package id %r, which is probably not the package id the channel committed for "
            "this chaincode (compare --chaincode-id / CHAINCODE_ID with `peer lifecycle chaincode "
            "queryinstalled` and the approved definition)",
            self.peer,
            waited,
            self._package_id,
        )

    @property
    def closed(self) -> bool:
        """True once the stream ended."""
        return self._closed.is_set()

    def in_flight(self) -> int:
        """Number of transactions currently executing on this stream."""
        with self._lock:
            return len(self._transactions)

    # -- writing -----------------------------------------------------------------------------
    def _send(self, msg: Msg) -> bool:
        """Queue `msg` for the peer; False if the stream is closed. Callers check its size first."""
        if self._closed.is_set():
            log.debug("stream closed; dropping outgoing %s", _type_name(msg.type))
            return False
        self._outbox.put(msg)
        return True

    def outgoing(self) -> Iterator[Msg]:
        """Messages for the peer, in order, until the stream closes (drained by gRPC)."""
        while True:
            msg = self._outbox.get()
            if msg is None:
                return
            yield msg

    # -- reading -----------------------------------------------------------------------------
    def consume(self, incoming: Iterator[Msg]) -> None:
        """Handle the peer's messages until its side ends, then close the stream."""
        try:
            for msg in incoming:
                try:
                    self._dispatch(msg)
                except Exception as exc:  # one bad message must not end the stream
                    log.warning(
                        "could not handle %s from the peer: %s", _type_name(msg.type), type(exc).__name__
                    )
        except Exception as exc:  # grpc.RpcError on cancel/disconnect, or a broken message
            log.info(
                "peer stream ended: %s (the peer went away, cancelled, or sent a message over the "
                "%d-byte limit)",
                type(exc).__name__,
                MAX_MESSAGE_BYTES,
            )
        finally:
            if not self.registered.is_set() and not self._closed.is_set():
                log.warning(
                    "the peer %r ended the stream without answering REGISTER: package id %r is "
                    "probably not the one the channel committed for this chaincode",
                    self.peer,
                    self._package_id,
                )
            self.close()

    def close(self) -> None:
        """End the stream: fail waiting requests and stop sending. Idempotent."""
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            self._register_watch.cancel()
            pending = list(self._pending.values())
            self._pending.clear()
            in_flight = len(self._transactions)
        for slot in pending:
            slot.done.set()  # reply None = closed
        self._outbox.put(None)
        log.info("chaincode stream closed (%d transaction(s) in flight cancelled)", in_flight)

    def _dispatch(self, msg: Msg) -> None:
        kind = msg.type
        log.debug("received %s tx=%s channel=%s", _type_name(kind), _short(msg.txid), msg.channel_id)
        if kind == Msg.KEEPALIVE:
            self._send(Msg(type=Msg.KEEPALIVE))  # the peer ignores it; the Go shim echoes too
        elif kind == Msg.REGISTERED:
            self.registered.set()
            self._register_watch.cancel()
        elif kind == Msg.READY:
            self._on_ready(msg)
        elif kind in (Msg.TRANSACTION, Msg.INIT):
            self._on_transaction(msg)
        elif kind in (Msg.RESPONSE, Msg.ERROR):
            if not self._deliver(msg):
                log.warning(
                    "%s for tx %s with no request waiting; ignored", _type_name(kind), _short(msg.txid)
                )
        else:
            self._on_unexpected(msg)

    def _on_ready(self, msg: Msg) -> None:
        if msg.payload:
            try:
                self.peer_params = protos.chaincode.ChaincodeAdditionalParams.FromString(msg.payload)
            except DecodeError:
                log.warning("READY carried parameters that are not ChaincodeAdditionalParams; ignored")
        self.registered.set()
        self._register_watch.cancel()
        self.ready.set()
        log.info("chaincode registered with the peer and ready")

    def _on_unexpected(self, msg: Msg) -> None:
        """A type the peer must not send here: fail the tx it names, keep serving."""
        key = (msg.channel_id, msg.txid)
        if self._deliver(msg):
            return  # the waiting request raises PeerProtocolError
        with self._lock:
            running = key in self._transactions
        if msg.txid and not running:
            self._send(self._error(msg, f"chaincode cannot handle message {_type_name(msg.type)}"))
        log.warning("unexpected %s from the peer (tx %s); ignored", _type_name(msg.type), _short(msg.txid))

    def _deliver(self, msg: Msg) -> bool:
        with self._lock:
            slot = self._pending.pop((msg.channel_id, msg.txid), None)
        if slot is None:
            return False
        slot.reply = msg
        slot.done.set()
        return True

    @staticmethod
    def _error(msg: Msg, text: str) -> Msg:
        return Msg(type=Msg.ERROR, txid=msg.txid, channel_id=msg.channel_id, payload=text.encode())

    # -- transactions ------------------------------------------------------------------------
    def _on_transaction(self, msg: Msg) -> None:
        key = (msg.channel_id, msg.txid)
        if not self.ready.is_set():
            self._send(self._error(msg, "chaincode is not ready (no READY from the peer yet)"))
            return
        with self._lock:
            if key in self._transactions:
                # The peer never reuses a live txid; answering would end the running one.
                log.warning("second %s for running tx %s ignored", _type_name(msg.type), _short(msg.txid))
                return
            self._transactions[key] = _Transaction()
        try:
            self._executor.submit(self._run_transaction, msg)
        except RuntimeError:  # executor shut down: the server is stopping
            with self._lock:
                self._transactions.pop(key, None)
            self._send(self._error(msg, "chaincode server is shutting down"))

    def _run_transaction(self, msg: Msg) -> None:
        key = (msg.channel_id, msg.txid)
        is_init = msg.type == Msg.INIT
        try:
            reply = self._execute(msg, is_init)
        finally:
            with self._lock:
                self._transactions.pop(key, None)
        try:
            transport.check_message(reply, MAX_MESSAGE_BYTES, f"the chaincode's {_type_name(reply.type)}")
        except LimitExceeded as exc:  # sending it would end the stream for every transaction
            log.warning("tx %s: %s; answered LIMIT instead", _short(msg.txid), exc.reason)
            reply = self._error(msg, str(exc))
        self._send(reply)
        log.debug("sent %s for tx %s", _type_name(reply.type), _short(msg.txid))

    def _execute(self, msg: Msg, is_init: bool) -> Msg:
        try:
            chaincode_input = protos.chaincode.ChaincodeInput.FromString(msg.payload)
        except DecodeError:
            log.warning("tx %s: payload is not a ChaincodeInput", _short(msg.txid))
            return self._error(msg, "transaction payload is not a valid ChaincodeInput")
        try:
            context = decode_signed_proposal(msg.proposal if msg.HasField("proposal") else None)
        except PeerProtocolError as exc:
            log.warning("tx %s: malformed proposal", _short(msg.txid))
            return self._error(msg, exc.message)
        stub = FabricStub(self, msg.channel_id, msg.txid, chaincode_input, context)
        try:
            response = self._chaincode.init(stub) if is_init else self._chaincode.invoke(stub)
        except FocError as exc:
            log.info("tx %s: chaincode raised %s", _short(msg.txid), type(exc).__name__)
            return self._error(msg, str(exc))
        except Exception as exc:
            # The exception text may quote arguments or values: keep it out of logs and replies.
            where = exc.__traceback__
            while where is not None and where.tb_next is not None:
                where = where.tb_next
            place = f"{where.tb_frame.f_code.co_filename}:{where.tb_lineno}" if where else "?"
            log.error("tx %s: chaincode failed with %s at %s", _short(msg.txid), type(exc).__name__, place)
            return self._error(msg, f"chaincode failed with {type(exc).__name__}")
        finally:
            stub.close_open_queries()
        if not isinstance(response, Response):
            log.error(
                "tx %s: chaincode returned %s, not a Response", _short(msg.txid), type(response).__name__
            )
            return self._error(msg, "chaincode returned no Response")
        if is_init and response.status >= ERROR:
            return self._error(msg, response.message)  # as the Go shim does for a failed init
        result = proposal_response.Response(
            status=response.status, message=response.message, payload=response.payload
        )
        return Msg(
            type=Msg.COMPLETED,
            txid=msg.txid,
            channel_id=msg.channel_id,
            payload=result.SerializeToString(),
        )

    # -- shim requests (ShimRequester) -------------------------------------------------------
    def request(self, channel_id: str, tx_id: str, msg_type: int, payload: bytes) -> bytes:
        """Send one request for a running transaction and wait for the peer's answer.

        Requests of one transaction are serialized: the peer silently drops a second request
        for a txid that still has one pending.
        """
        key = (channel_id, tx_id)
        with self._lock:
            transaction = self._transactions.get(key)
        if transaction is None:
            raise PeerProtocolError(f"tx {_short(tx_id)} is not running on this stream")
        with transaction.request_lock:
            slot = _PendingRequest()
            with self._lock:
                if self._closed.is_set():
                    raise PeerStreamClosed("the peer closed the chaincode stream during the transaction")
                self._pending[key] = slot
            out = Msg(type=msg_type, txid=tx_id, channel_id=channel_id, payload=payload)
            try:
                transport.check_message(out, MAX_MESSAGE_BYTES, f"the {_type_name(msg_type)} request")
            except LimitExceeded:
                with self._lock:
                    self._pending.pop(key, None)
                raise
            self._send(out)
            if not slot.done.wait(self._request_timeout):
                with self._lock:
                    self._pending.pop(key, None)
                raise PeerRequestError(
                    f"no answer from the peer to {_type_name(msg_type)} within {self._request_timeout:g}s"
                )
        reply = slot.reply
        if reply is None:
            raise PeerStreamClosed("the peer closed the chaincode stream during the transaction")
        if reply.type == Msg.RESPONSE:
            return bytes(reply.payload)
        if reply.type == Msg.ERROR:
            text = reply.payload.decode("utf-8", errors="replace")
            raise PeerRequestError(f"the peer refused {_type_name(msg_type)}: {text}", peer_message=text)
        raise PeerProtocolError(f"the peer answered {_type_name(msg_type)} with {_type_name(reply.type)}")


class _ChaincodeService(shim_grpc.ChaincodeServicer):
    def __init__(self, server: ChaincodeServer) -> None:
        self._server = server

    def Connect(self, request_iterator: Iterator[Msg], context: grpc.ServicerContext) -> Iterator[Msg]:  # noqa: N802
        stream = self._server._open_stream(context.peer())
        context.add_callback(stream.close)
        reader = threading.Thread(
            target=stream.consume, args=(request_iterator,), name="fabric-peer-reader", daemon=True
        )
        reader.start()
        try:
            yield from stream.outgoing()
        finally:
            stream.close()
            self._server._forget_stream(stream)


class ChaincodeServer:
    """The gRPC server for `protos.Chaincode/Connect`, serving one chaincode under one package id.

    Lifecycle: construct -> `start()` (binds; `port` is then known) -> the peer connects, maybe
    many times -> `stop()`. Use as a context manager to always stop. `address` "host:0" picks a
    free port.
    """

    def __init__(
        self,
        chaincode: Chaincode,
        package_id: str,
        address: str = "127.0.0.1:0",
        *,
        tls: ServerTls | None = None,
        max_transactions: int = DEFAULT_MAX_TRANSACTIONS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        register_timeout: float = DEFAULT_REGISTER_TIMEOUT_S,
    ) -> None:
        if not package_id:
            raise FocError(
                "a chaincode server needs the package id (CHAINCODE_ID) to register with the peer",
                hint="run `peer lifecycle chaincode calculatepackageid` or `python -m foc.fabric package`",
            )
        self._chaincode = chaincode
        self.package_id = package_id
        self.address = address
        self._tls = tls
        self._max_transactions = max_transactions
        self._request_timeout = request_timeout
        self._register_timeout = register_timeout
        self._server: grpc.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._streams: list[ChaincodeStream] = []
        self._streams_lock = threading.Lock()
        self._stream_opened = threading.Condition(self._streams_lock)
        self._opened_total = 0
        self.port = 0

    def start(self) -> None:
        """Bind and start serving.

        Raises `ListenError` (a FocError) if another process listens on the address (no
        SO_REUSEPORT: the peer's connections are never split between two servers) or it cannot
        be bound.
        """
        # One gRPC thread per Connect stream; the peer holds one, more during a re-dial.
        server = transport.server(
            16,
            max_message_bytes=MAX_MESSAGE_BYTES,
            thread_name_prefix="fabric-grpc",
            options=_SERVER_OPTIONS,
        )
        shim_grpc.add_ChaincodeServicer_to_server(_ChaincodeService(self), server)
        self.port = transport.bind(server, self.address, self._tls.credentials() if self._tls else None)
        self._executor = ThreadPoolExecutor(self._max_transactions, thread_name_prefix="fabric-tx")
        self._server = server
        self._server.start()
        log.info("chaincode server listening on port %d (tls=%s)", self.port, self._tls is not None)

    def stop(self, grace: float | None = 1.0) -> None:
        """Stop accepting, end open streams and wait for running transactions."""
        with self._streams_lock:
            streams = list(self._streams)
        for stream in streams:
            stream.close()
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def wait(self) -> None:
        """Block until the server stops."""
        if self._server is not None:
            self._server.wait_for_termination()

    def __enter__(self) -> ChaincodeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def streams(self) -> list[ChaincodeStream]:
        """Streams currently open (normally one per connected peer)."""
        with self._streams_lock:
            return list(self._streams)

    def wait_for_stream(self, count: int = 1, timeout: float | None = None) -> bool:
        """Wait until at least `count` Connect streams were opened in total; False on timeout."""
        with self._stream_opened:
            return self._stream_opened.wait_for(lambda: self._opened_total >= count, timeout)

    def _open_stream(self, peer: str = "") -> ChaincodeStream:
        if self._executor is None:
            raise PeerStreamClosed("the chaincode server is not running")
        stream = ChaincodeStream(
            self._chaincode,
            self.package_id,
            self._executor,
            request_timeout=self._request_timeout,
            peer=peer,
            register_timeout=self._register_timeout,
        )
        with self._stream_opened:
            self._streams.append(stream)
            self._opened_total += 1
            self._stream_opened.notify_all()
        log.info("peer %r connected (stream %d)", peer, self._opened_total)
        return stream

    def _forget_stream(self, stream: ChaincodeStream) -> None:
        with self._streams_lock:
            if stream in self._streams:
                self._streams.remove(stream)
