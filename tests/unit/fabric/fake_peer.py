"""A fake Fabric peer that dials a chaincode server the way a real peer (v2.5 / v3.x) does.

What it reproduces (see /work/shared/notes/fabric-chaincode-protocol.md):
* opens `/protos.Chaincode/Connect`, waits for REGISTER; a wrong package id gets no answer at all;
* REGISTERED, then READY with ChaincodeAdditionalParams (v3) or an empty payload (v2.5);
* TRANSACTION / INIT with a real SignedProposal (creator, transient map, channel header);
* GET/PUT/DEL state against a dict, with a per-transaction write set committed on an endorsed
  COMPLETED (reads see committed state only), or, with `auto_commit=False`, left for the caller
  to validate and `commit_writes` (the fake gateway does, with MVCC versions: every GET_STATE
  records the version it read in `FakeTransaction.reads`); range queries in pages of 100 with query ids,
  QUERY_STATE_NEXT and QUERY_STATE_CLOSE; INVOKE_CHAINCODE to registered Python callables,
  answered as Fabric's handler does: RESPONSE whose payload is the callee's ChaincodeMessage,
  COMPLETED(peer.Response) or the callee's ERROR (a callable returns either), and a top-level
  ERROR when the callee does not exist;
* ERROR "no ledger context" for requests naming no live transaction;
* the silent drop of a second request for a txid that already has one pending (logged in
  `dropped` so tests can assert on it);
* KEEPALIVE in both directions, disconnect and re-dial, raw messages and raw bytes for
  malformed-input tests;
* chaincode-as-client (a peer-launched chaincode, `listen()`): the peer's chaincode listener,
  `/protos.ChaincodeSupport/Register`, with the same handshake and transactions once the chaincode
  has dialed in (mutual TLS as a peer with TLS requires it).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.ledger.queryresult import kv_query_result_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2, proposal_pb2, proposal_response_pb2
from google.protobuf import timestamp_pb2

from foc.fabric.tls import ServerTls
from foc.protocol import transport

Msg = chaincode_shim_pb2.ChaincodeMessage
log = logging.getLogger("fake_peer")

PAGE_SIZE = 100  # QueryResponseGenerator.MaxResultLimit in the peer
V3_READY_PARAMS = chaincode_pb2.ChaincodeAdditionalParams(
    use_write_batch=True,
    max_size_write_batch=1000,
    use_get_multiple_keys=True,
    max_size_get_multiple_keys=1000,
)

Version = tuple[int, int]  # (block number, tx number) of the write that produced a value
# An INVOKE_CHAINCODE target: the callee's peer.Response (the peer received COMPLETED), or the
# callee's own ChaincodeMessage (COMPLETED or ERROR) as the peer received it from the callee.
InvokedChaincode = Callable[[list[bytes]], "proposal_response_pb2.Response | Msg"]


def make_signed_proposal(
    channel_id: str,
    tx_id: str,
    args: Sequence[bytes],
    *,
    msp_id: str,
    id_bytes: bytes,
    transient: Mapping[str, bytes] | None = None,
    nonce: bytes = b"nonce-0123456789",
    epoch: int = 0,
    seconds: int = 1_700_000_000,
    header_type: int = common_pb2.HeaderType.ENDORSER_TRANSACTION,
) -> proposal_pb2.SignedProposal:
    """A SignedProposal shaped like the peer CLI's (the signature is not checked by a chaincode)."""
    creator = identities_pb2.SerializedIdentity(mspid=msp_id, id_bytes=id_bytes).SerializeToString()
    channel_header = common_pb2.ChannelHeader(
        type=header_type,
        channel_id=channel_id,
        tx_id=tx_id,
        epoch=epoch,
        timestamp=timestamp_pb2.Timestamp(seconds=seconds),
    )
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=common_pb2.SignatureHeader(creator=creator, nonce=nonce).SerializeToString(),
    )
    spec = chaincode_pb2.ChaincodeInvocationSpec(
        chaincode_spec=chaincode_pb2.ChaincodeSpec(input=chaincode_pb2.ChaincodeInput(args=list(args)))
    )
    payload = proposal_pb2.ChaincodeProposalPayload(
        input=spec.SerializeToString(), TransientMap=dict(transient or {})
    )
    proposal = proposal_pb2.Proposal(header=header.SerializeToString(), payload=payload.SerializeToString())
    return proposal_pb2.SignedProposal(proposal_bytes=proposal.SerializeToString(), signature=b"sig")


@dataclass
class FakeTransaction:
    """One transaction the fake peer sent, alive until COMPLETED or ERROR arrives."""

    channel_id: str
    tx_id: str
    done: threading.Event = field(default_factory=threading.Event)
    reply: Msg | None = None
    writes: dict[str, bytes | None] = field(default_factory=dict)
    reads: dict[str, Version | None] = field(default_factory=dict)  # key -> version read (None: absent)
    queries: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)

    def wait(self, timeout: float = 10.0) -> Msg:
        """The chaincode's final message; AssertionError if none arrives in `timeout`."""
        if not self.done.wait(timeout):
            raise AssertionError(f"no COMPLETED/ERROR for tx {self.tx_id} within {timeout}s")
        assert self.reply is not None
        return self.reply


def _serialize(message: Msg | bytes) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


class FakePeer:
    """Dials a chaincode server and drives it like a Fabric peer. Use `connect()` / `disconnect()`."""

    Msg = Msg

    def __init__(
        self,
        address: str,
        package_id: str,
        *,
        state: dict[str, bytes] | None = None,
        ready_params: chaincode_pb2.ChaincodeAdditionalParams | None = V3_READY_PARAMS,
        credentials: grpc.ChannelCredentials | None = None,
        chaincodes: Mapping[str, InvokedChaincode] | None = None,
        request_delay: float = 0.0,
        namespace: str = "foc",
        msp_id: str = "Org1MSP",
        id_bytes: bytes = b"-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n",
        auto_commit: bool = True,
    ) -> None:
        self.address = address
        self.package_id = package_id
        self.state: dict[str, bytes] = dict(state or {})
        self.ready_params = ready_params
        self.credentials = credentials
        self.chaincodes = dict(chaincodes or {})
        self.request_delay = request_delay  # widens the window in which overlapping requests show
        self.namespace = namespace
        self.msp_id = msp_id
        self.id_bytes = id_bytes
        self.auto_commit = auto_commit
        self.versions: dict[str, Version] = {}  # only maintained by commit_writes
        self.error_on_get: dict[str, str] = {}  # key -> ERROR text the peer answers GET_STATE with
        # What tests assert on:
        self.received: list[Msg] = []
        self.dropped: list[tuple[str, str, int]] = []  # (channel, txid, type) silently dropped
        self.rejected_names: list[str] = []
        self.closed_queries: list[str] = []
        self.keepalives = 0
        self.unanswered: list[Msg] = []  # COMPLETED/ERROR for txids the peer did not know
        self.max_pending_seen = 0
        self._lock = threading.Lock()
        self._transactions: dict[tuple[str, str], FakeTransaction] = {}
        self._pending: set[tuple[str, str]] = set()
        self._query_ids = itertools.count(1)
        self._workers = ThreadPoolExecutor(32, thread_name_prefix="fake-peer")
        self._channel: grpc.Channel | None = None
        self._call: grpc.Future | None = None
        self._outbox: queue.Queue[Msg | bytes | None] | None = None
        self._reader: threading.Thread | None = None
        self.ready = threading.Event()
        self.stream_ended = threading.Event()
        self.registered_name: str | None = None
        self._listener: grpc.Server | None = None  # listen(): the chaincode dials the peer
        self._register_context: grpc.ServicerContext | None = None
        self.registrations = 0  # Register streams the chaincode opened (listen mode)

    # -- connection --------------------------------------------------------------------------
    def listen(self, address: str = "127.0.0.1:0", *, tls: ServerTls | None = None) -> str:
        """Chaincode-as-client: serve `/protos.ChaincodeSupport/Register` (the peer's
        `chaincodeListenAddress`) and return the address a chaincode dials (chaincode.json's
        `peer_address`). From then on `connect()` waits for the chaincode to register."""
        server = transport.server(
            4, max_message_bytes=transport.FABRIC_MESSAGE_BYTES, thread_name_prefix="fake-peer-listener"
        )
        handler = grpc.method_handlers_generic_handler(
            "protos.ChaincodeSupport",
            {
                "Register": grpc.stream_stream_rpc_method_handler(
                    self._register, request_deserializer=Msg.FromString, response_serializer=_serialize
                )
            },
        )
        server.add_generic_rpc_handlers((handler,))
        port = transport.bind(server, address, None if tls is None else tls.credentials())
        server.start()
        self._listener = server
        self.address = f"{address.rpartition(':')[0]}:{port}"
        return self.address

    def _register(
        self, request_iterator: Iterator[Msg], context: grpc.ServicerContext
    ) -> Iterator[Msg | bytes]:
        """One Register stream from the chaincode: the same peer side as a dialed Connect."""
        outbox: queue.Queue[Msg | bytes | None] = queue.Queue()
        with self._lock:
            self.registrations += 1
            self._outbox = outbox
            self._register_context = context
        self.ready.clear()
        self.stream_ended.clear()
        self._reader = threading.Thread(target=self._read, args=(request_iterator,), daemon=True)
        self._reader.start()
        while True:
            item = outbox.get()
            if item is None:
                return
            yield item

    def connect(self, timeout: float = 10.0, expect_ready: bool = True) -> None:
        """Open Connect and run the handshake; with `expect_ready`, wait for READY to be sent.
        In listen mode: wait for the chaincode to dial in and register."""
        if self._listener is not None:
            if expect_ready and not self.ready.wait(timeout):
                raise AssertionError("the peer-launched chaincode did not register in time")
            return
        self.ready.clear()
        self.stream_ended.clear()
        if self.credentials is None:
            self._channel = grpc.insecure_channel(self.address)
        else:
            self._channel = grpc.secure_channel(self.address, self.credentials)
        connect = self._channel.stream_stream(
            "/protos.Chaincode/Connect",
            request_serializer=_serialize,
            response_deserializer=Msg.FromString,
        )
        outbox: queue.Queue[Msg | bytes | None] = queue.Queue()
        self._outbox = outbox

        def outgoing() -> Iterator[Msg | bytes]:
            while True:
                item = outbox.get()
                if item is None:
                    return
                yield item

        self._call = connect(outgoing())
        self._reader = threading.Thread(target=self._read, args=(self._call,), daemon=True)
        self._reader.start()
        if expect_ready and not self.ready.wait(timeout):
            raise AssertionError("the chaincode did not complete the handshake")

    def disconnect(self) -> None:
        """Drop the stream (like a peer restart): cancel the call and close the channel."""
        if self._outbox is not None:
            self._outbox.put(None)
        if self._register_context is not None:
            self._register_context.cancel()
            self._register_context = None
        if self._call is not None:
            self._call.cancel()
        if self._reader is not None:
            self._reader.join(10)
        if self._channel is not None:
            self._channel.close()
        self._call = self._channel = self._reader = self._outbox = None

    def close(self) -> None:
        """Disconnect and stop the fake's workers (and its chaincode listener)."""
        self.disconnect()
        if self._listener is not None:
            self._listener.stop(0.5).wait()
            self._listener = None
        self._workers.shutdown(wait=True, cancel_futures=True)

    def send(self, message: Msg | bytes) -> None:
        """Send a message (or raw bytes, which need not parse) to the chaincode."""
        assert self._outbox is not None, "not connected"
        self._outbox.put(message)

    # -- transactions ------------------------------------------------------------------------
    def start(
        self,
        *args: bytes | str,
        channel_id: str = "mychannel",
        tx_id: str | None = None,
        transient: Mapping[str, bytes] | None = None,
        init: bool = False,
        payload: bytes | None = None,
        proposal: proposal_pb2.SignedProposal | None = None,
    ) -> FakeTransaction:
        """Send TRANSACTION (or INIT) and return the live transaction; `wait()` on it for the reply."""
        raw_args = [a.encode() if isinstance(a, str) else a for a in args]
        tx_id = tx_id or uuid.uuid4().hex
        tx = FakeTransaction(channel_id, tx_id)
        with self._lock:
            self._transactions[(channel_id, tx_id)] = tx
        if proposal is None:
            proposal = make_signed_proposal(
                channel_id, tx_id, raw_args, msp_id=self.msp_id, id_bytes=self.id_bytes, transient=transient
            )
        if payload is None:
            payload = chaincode_pb2.ChaincodeInput(args=raw_args, is_init=init).SerializeToString()
        self.send(
            Msg(
                type=Msg.INIT if init else Msg.TRANSACTION,
                txid=tx_id,
                channel_id=channel_id,
                payload=payload,
                proposal=proposal,
            )
        )
        return tx

    def invoke(self, *args: bytes | str, timeout: float = 10.0, **kwargs: object) -> Msg:
        """Run one transaction to its end and return COMPLETED or ERROR."""
        return self.start(*args, **kwargs).wait(timeout)  # type: ignore[arg-type]

    @staticmethod
    def response_of(reply: Msg) -> proposal_response_pb2.Response:
        """Decode COMPLETED's peer.Response (AssertionError for anything else)."""
        assert reply.type == Msg.COMPLETED, (
            f"expected COMPLETED, got {Msg.Type.Name(reply.type)}: {reply.payload!r}"
        )
        return proposal_response_pb2.Response.FromString(reply.payload)

    def commit_writes(self, writes: Mapping[str, bytes | None], version: Version) -> None:
        """Apply a validated write set (None = delete); written keys get `version`."""
        with self._lock:
            self._apply(writes, version)

    def version_of(self, key: str) -> Version | None:
        """The committed version of `key`: None if absent, (0, 0) if seeded without one."""
        with self._lock:
            return self.versions.get(key, (0, 0)) if key in self.state else None

    def _apply(self, writes: Mapping[str, bytes | None], version: Version | None) -> None:
        # caller holds self._lock
        for k, v in writes.items():
            if v is None:
                self.state.pop(k, None)
                self.versions.pop(k, None)
            else:
                self.state[k] = v
                if version is not None:
                    self.versions[k] = version

    # -- the peer's side of the stream ---------------------------------------------------------
    def _read(self, call: Iterator[Msg]) -> None:
        registered = False
        try:
            for msg in call:
                with self._lock:
                    self.received.append(msg)
                if not registered and msg.type == Msg.REGISTER:
                    registered = self._on_register(msg)
                else:
                    self._on_message(msg)
        except grpc.RpcError:
            pass
        finally:
            self.stream_ended.set()

    def _on_register(self, msg: Msg) -> bool:
        if msg.type != Msg.REGISTER:
            log.info("fake peer: %s before REGISTER ignored", Msg.Type.Name(msg.type))
            return False
        name = chaincode_pb2.ChaincodeID.FromString(msg.payload).name
        self.registered_name = name
        if name != self.package_id:
            # "peer will not accept external chaincode connection <name>": no reply at all.
            self.rejected_names.append(name)
            return False
        self.send(Msg(type=Msg.REGISTERED))
        ready_payload = self.ready_params.SerializeToString() if self.ready_params is not None else b""
        self.send(Msg(type=Msg.READY, payload=ready_payload))
        self.ready.set()
        return True

    def receive(self, msg: Msg) -> None:
        """Handle `msg` as if the chaincode had sent it (to test the fake's own peer rules)."""
        self._on_message(msg)

    def _on_message(self, msg: Msg) -> None:
        key = (msg.channel_id, msg.txid)
        if msg.type == Msg.KEEPALIVE:
            with self._lock:
                self.keepalives += 1
            return
        if msg.type in (Msg.COMPLETED, Msg.ERROR):
            with self._lock:
                tx = self._transactions.pop(key, None)
                if tx is None:
                    self.unanswered.append(msg)
                    return
                if msg.type == Msg.COMPLETED:
                    response = proposal_response_pb2.Response.FromString(msg.payload)
                    if response.status < 400 and self.auto_commit:
                        self._apply(tx.writes, None)
            tx.reply = msg
            tx.done.set()
            return
        # A shim request: the peer's registerTxid drops a second one for a pending txid.
        with self._lock:
            if key in self._pending:
                self.dropped.append((msg.channel_id, msg.txid, msg.type))
                log.info("fake peer: Another request pending for this CC: %s", msg.txid)
                return
            self._pending.add(key)
            self.max_pending_seen = max(self.max_pending_seen, len(self._pending))
        self._workers.submit(self._answer, msg)

    def _answer(self, msg: Msg) -> None:
        key = (msg.channel_id, msg.txid)
        if self.request_delay:
            time.sleep(self.request_delay)
        try:
            reply = self._handle_request(msg)
        except Exception as exc:  # a fake bug must show up as an ERROR, not a hang
            reply = self._error(msg, f"fake peer failed: {exc!r}")
        with self._lock:
            self._pending.discard(key)  # the peer deregisters before its async send completes
        self.send(reply)

    @staticmethod
    def _error(msg: Msg, text: str) -> Msg:
        return Msg(type=Msg.ERROR, txid=msg.txid, channel_id=msg.channel_id, payload=text.encode())

    @staticmethod
    def _response(msg: Msg, payload: bytes = b"") -> Msg:
        return Msg(type=Msg.RESPONSE, txid=msg.txid, channel_id=msg.channel_id, payload=payload)

    def _page(self, tx: FakeTransaction, query_id: str) -> bytes:
        remaining = tx.queries[query_id]
        page, tx.queries[query_id] = remaining[:PAGE_SIZE], remaining[PAGE_SIZE:]
        results = [
            chaincode_shim_pb2.QueryResultBytes(
                resultBytes=kv_query_result_pb2.KV(
                    namespace=self.namespace, key=k, value=v
                ).SerializeToString()
            )
            for k, v in page
        ]
        has_more = bool(tx.queries[query_id])
        return chaincode_shim_pb2.QueryResponse(
            results=results, has_more=has_more, id=query_id
        ).SerializeToString()

    def _handle_request(self, msg: Msg) -> Msg:
        with self._lock:
            tx = self._transactions.get((msg.channel_id, msg.txid))
        if tx is None:
            return self._error(msg, "no ledger context")
        kind = msg.type
        if kind == Msg.GET_STATE:
            key = chaincode_shim_pb2.GetState.FromString(msg.payload).key
            if key in self.error_on_get:
                return self._error(msg, self.error_on_get[key])
            with self._lock:
                tx.reads.setdefault(key, self.versions.get(key, (0, 0)) if key in self.state else None)
                return self._response(msg, self.state.get(key, b""))
        if kind == Msg.PUT_STATE:
            put = chaincode_shim_pb2.PutState.FromString(msg.payload)
            # As the real peer: an empty value is recorded as a delete (rwsetutil: IsDelete = len == 0).
            tx.writes[put.key] = bytes(put.value) or None
            return self._response(msg)
        if kind == Msg.DEL_STATE:
            tx.writes[chaincode_shim_pb2.DelState.FromString(msg.payload).key] = None
            return self._response(msg)
        if kind == Msg.GET_STATE_BY_RANGE:
            query = chaincode_shim_pb2.GetStateByRange.FromString(msg.payload)
            with self._lock:
                entries = sorted(
                    (k, v)
                    for k, v in self.state.items()
                    if k >= query.startKey and (not query.endKey or k < query.endKey)
                )
            query_id = f"query-{next(self._query_ids)}"
            tx.queries[query_id] = entries
            return self._response(msg, self._page(tx, query_id))
        if kind == Msg.QUERY_STATE_NEXT:
            query_id = chaincode_shim_pb2.QueryStateNext.FromString(msg.payload).id
            if query_id not in tx.queries:
                return self._error(msg, f"query iterator not found: {query_id}")
            return self._response(msg, self._page(tx, query_id))
        if kind == Msg.QUERY_STATE_CLOSE:
            query_id = chaincode_shim_pb2.QueryStateClose.FromString(msg.payload).id
            tx.queries.pop(query_id, None)
            with self._lock:
                self.closed_queries.append(query_id)
            return self._response(
                msg, chaincode_shim_pb2.QueryResponse(has_more=False, id=query_id).SerializeToString()
            )
        if kind == Msg.INVOKE_CHAINCODE:
            spec = chaincode_pb2.ChaincodeSpec.FromString(msg.payload)
            target = self.chaincodes.get(spec.chaincode_id.name)
            if target is None:
                return self._error(msg, f"chaincode {spec.chaincode_id.name} not found")
            result = target([bytes(a) for a in spec.input.args])
            if isinstance(result, Msg):  # the callee's own reply, COMPLETED or ERROR, passed on as is
                inner = Msg(
                    type=result.type, txid=msg.txid, channel_id=msg.channel_id, payload=result.payload
                )
            else:
                inner = Msg(
                    type=Msg.COMPLETED,
                    txid=msg.txid,
                    channel_id=msg.channel_id,
                    payload=result.SerializeToString(),
                )
            return self._response(msg, inner.SerializeToString())
        return self._error(msg, f"fake peer does not support {Msg.Type.Name(kind)}")
