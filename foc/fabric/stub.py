"""`FabricStub`: the `ChaincodeStub` protocol spoken over a peer's chaincode stream.

Each call is one shim request (GET_STATE, PUT_STATE, ...) carrying this transaction's txid and
channel, answered by the peer with RESPONSE or ERROR. The stream guarantees at most one
outstanding request per transaction (the peer silently drops a second one), so a stub may be
called from several threads of one chaincode without breaking the protocol; calls then queue.

Range queries page through the peer's results (the peer sends at most 100 per QueryResponse):
QUERY_STATE_NEXT while `has_more`, then QUERY_STATE_CLOSE. Iterators still open when the
transaction ends are closed before the chaincode's reply is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from google.protobuf.message import DecodeError

from foc.chaincode.stub import (
    ERROR,
    Response,
    StateEntry,
    check_key,
    check_value,
    decode_text_args,
)
from foc.errors import PeerProtocolError, PeerRequestError
from foc.fabric.proposal import TransactionContext
from foc.fabric.protos import ChaincodeMessage, chaincode, proposal_response, queryresult, shim
from foc.protocol import keys

log = logging.getLogger(__name__)

Msg: Any = ChaincodeMessage

# The peer reads an empty start key as "no range"; the shims substitute the smallest simple key.
_EMPTY_START_KEY = keys.EMPTY_START_SUBSTITUTE


class ShimRequester(Protocol):
    """What a stub needs from the stream: send one request for a transaction and await the answer."""

    def request(self, channel_id: str, tx_id: str, msg_type: int, payload: bytes) -> bytes:
        """Send `msg_type` with `payload`; return the RESPONSE payload or raise `PeerRequestError`."""
        ...


class StateRangeIterator(Iterator[StateEntry]):
    """Entries of one range query, fetched page by page from the peer.

    Lifecycle: created by `FabricStub.get_state_by_range` (first page already fetched) ->
    iterated -> closed (QUERY_STATE_CLOSE) automatically when exhausted, explicitly with `close()`
    or `with`, or by the stub when the transaction ends.
    """

    def __init__(self, stub: FabricStub, first_page: shim.QueryResponse) -> None:
        self._stub = stub
        self._page = first_page
        self._index = 0
        self._closed = False

    @property
    def query_id(self) -> str:
        """The peer's id for this query."""
        return self._page.id

    @property
    def closed(self) -> bool:
        """True once QUERY_STATE_CLOSE was sent (or the query was abandoned)."""
        return self._closed

    def __iter__(self) -> StateRangeIterator:
        return self

    def __next__(self) -> StateEntry:
        while self._index >= len(self._page.results):
            if self._closed or not self._page.has_more:
                self.close()
                raise StopIteration
            self._page = self._stub._query_page(Msg.QUERY_STATE_NEXT, shim.QueryStateNext(id=self._page.id))
            self._index = 0
        result = self._page.results[self._index]
        self._index += 1
        try:
            kv = queryresult.KV.FromString(result.resultBytes)
        except DecodeError as exc:
            raise PeerProtocolError("the peer sent a range result that is not a queryresult.KV") from exc
        return StateEntry(kv.key, bytes(kv.value))

    def close(self) -> None:
        """Tell the peer to release the query (QUERY_STATE_CLOSE). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stub._forget_query(self)
        self._stub._query_page(Msg.QUERY_STATE_CLOSE, shim.QueryStateClose(id=self._page.id))

    def __enter__(self) -> StateRangeIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FabricStub:
    """One transaction's view of the ledger through the peer (implements `ChaincodeStub`)."""

    def __init__(
        self,
        requester: ShimRequester,
        channel_id: str,
        tx_id: str,
        chaincode_input: chaincode.ChaincodeInput,
        context: TransactionContext,
    ) -> None:
        self._requester = requester
        self._channel_id = channel_id
        self._tx_id = tx_id
        self._args = [bytes(a) for a in chaincode_input.args]
        self._decorations = {k: bytes(v) for k, v in chaincode_input.decorations.items()}
        self._is_init = chaincode_input.is_init
        self._context = context
        self._open_queries: list[StateRangeIterator] = []

    # -- transaction facts -------------------------------------------------------------------
    @property
    def tx_id(self) -> str:
        """The transaction id."""
        return self._tx_id

    @property
    def channel_id(self) -> str:
        """The channel this transaction runs on."""
        return self._channel_id

    @property
    def tx_timestamp(self) -> datetime | None:
        """The client's timestamp from the proposal's ChannelHeader (the peer sets no other)."""
        return self._context.timestamp

    @property
    def creator_msp_id(self) -> str:
        """The MSP id of the submitter."""
        return self._context.creator_msp_id

    @property
    def binding(self) -> bytes:
        """sha256(nonce || creator || epoch): ties data to this proposal."""
        return self._context.binding

    @property
    def decorations(self) -> Mapping[str, bytes]:
        """Values added by the peer's decorator plugins."""
        return dict(self._decorations)

    @property
    def is_init(self) -> bool:
        """True if the peer marked this invocation as the definition's init."""
        return self._is_init

    def get_args(self) -> list[bytes]:
        """All invocation arguments, the function name first."""
        return list(self._args)

    def get_function_and_parameters(self) -> tuple[str, list[str]]:
        """The function name and the remaining arguments as UTF-8 text."""
        return decode_text_args(self._args)

    def get_creator(self) -> bytes:
        """The submitter's serialized identity (msp.SerializedIdentity bytes)."""
        return self._context.creator

    def get_transient(self) -> Mapping[str, bytes]:
        """The proposal's transient map (never written to the ledger)."""
        return self._context.transient

    def get_signed_proposal(self) -> bytes:
        """The SignedProposal as the peer sent it (serialized)."""
        return self._context.signed_proposal

    # -- state ----------------------------------------------------------------------------------
    def _request(self, msg_type: int, message: object) -> bytes:
        return self._requester.request(
            self._channel_id,
            self._tx_id,
            msg_type,
            message.SerializeToString(),  # type: ignore[attr-defined]
        )

    def get_state(self, key: str) -> bytes | None:
        """The committed value of `key`, or None if it does not exist."""
        check_key(key)
        value = self._request(Msg.GET_STATE, shim.GetState(key=key))
        return value if value else None

    def put_state(self, key: str, value: bytes) -> None:
        """Buffer a write of `value` to `key` in the transaction's write set."""
        check_key(key)
        check_value(value)
        self._request(Msg.PUT_STATE, shim.PutState(key=key, value=bytes(value)))

    def del_state(self, key: str) -> None:
        """Buffer a deletion of `key`."""
        check_key(key)
        self._request(Msg.DEL_STATE, shim.DelState(key=key))

    def get_state_by_range(self, start: str, end: str) -> StateRangeIterator:
        """Committed entries with start <= key < end (end "" = unbounded), in key order.

        The bounds are simple keys, or those of a partial composite key query (sent as Fabric's
        Go shim's GetStateByPartialCompositeKey sends them: the same GET_STATE_BY_RANGE).
        """
        keys.check_range(start, end)
        first = self._query_page(
            Msg.GET_STATE_BY_RANGE,
            shim.GetStateByRange(startKey=start or _EMPTY_START_KEY, endKey=end),
        )
        iterator = StateRangeIterator(self, first)
        self._open_queries.append(iterator)
        return iterator

    def _query_page(self, msg_type: int, message: object) -> shim.QueryResponse:
        payload = self._request(msg_type, message)
        try:
            return shim.QueryResponse.FromString(payload)
        except DecodeError as exc:
            raise PeerProtocolError("the peer's answer to a range query is not a QueryResponse") from exc

    def _forget_query(self, iterator: StateRangeIterator) -> None:
        if iterator in self._open_queries:
            self._open_queries.remove(iterator)

    def close_open_queries(self) -> None:
        """Close range queries the chaincode left open (called when the transaction ends)."""
        for iterator in list(self._open_queries):
            try:
                iterator.close()
            except Exception as exc:  # the stream may be gone; the peer frees its queries anyway
                log.debug("could not close range query for tx %s: %s", self._tx_id[:12], type(exc).__name__)

    # -- other chaincodes ----------------------------------------------------------------------
    def invoke_chaincode(self, name: str, args: Sequence[bytes], channel: str = "") -> Response:
        """Call chaincode `name` (on `channel`, default this one) within this transaction.

        As in Fabric's Go shim, a failure of the call (the peer's ERROR, or the callee's ERROR)
        comes back as a status-500 `Response` carrying the peer's text, not as an exception.
        """
        if not name:
            raise PeerProtocolError("invoke_chaincode needs a chaincode name")
        target = f"{name}/{channel}" if channel else name
        spec = chaincode.ChaincodeSpec(
            chaincode_id=chaincode.ChaincodeID(name=target),
            input=chaincode.ChaincodeInput(args=[bytes(a) for a in args]),
        )
        try:
            payload = self._request(Msg.INVOKE_CHAINCODE, spec)
        except PeerRequestError as exc:
            return Response(ERROR, exc.peer_message or exc.message)
        try:
            inner = Msg.FromString(payload)
        except DecodeError as exc:
            raise PeerProtocolError(
                "the peer's answer to INVOKE_CHAINCODE is not a ChaincodeMessage"
            ) from exc
        if inner.type == Msg.COMPLETED:
            try:
                result = proposal_response.Response.FromString(inner.payload)
            except DecodeError as exc:
                raise PeerProtocolError("the called chaincode's result is not a peer.Response") from exc
            return Response(result.status, result.message, bytes(result.payload))
        if inner.type == Msg.ERROR:
            return Response(ERROR, inner.payload.decode("utf-8", errors="replace"))
        raise PeerProtocolError(
            f"the peer answered INVOKE_CHAINCODE with message type {inner.type}, not COMPLETED or ERROR"
        )
