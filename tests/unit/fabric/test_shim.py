"""The Fabric shim against the fake peer: handshake, state calls, ranges, concurrency, failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2, proposal_pb2, proposal_response_pb2
from fake_peer import FakePeer, make_signed_proposal
from kv_chaincode import PACKAGE_ID, KeyValueChaincode

from foc.errors import PeerStreamClosed
from foc.fabric.server import ChaincodeServer

Msg = chaincode_shim_pb2.ChaincodeMessage


def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll `predicate` until true or `timeout` (a liveness guard, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _ok(reply: Msg) -> bytes:
    response = FakePeer.response_of(reply)
    assert response.status == 200, response.message
    return response.payload


# -- handshake ----------------------------------------------------------------------------------
def test_register_names_the_package_id_and_ready_params_are_parsed(
    server: ChaincodeServer, peer: FakePeer
) -> None:
    assert peer.registered_name == PACKAGE_ID
    stream = server.streams[0]
    assert stream.ready.wait(5)
    assert stream.peer_params is not None and stream.peer_params.max_size_write_batch == 1000


def test_ready_without_parameters_like_fabric_2_5(server: ChaincodeServer) -> None:
    fake = FakePeer(f"127.0.0.1:{server.port}", PACKAGE_ID, ready_params=None)
    try:
        fake.connect()
        assert server.streams[0].ready.wait(5)
        assert server.streams[0].peer_params is None
        assert _ok(fake.invoke("put", "k", "v")) == b""
    finally:
        fake.close()


def test_wrong_package_id_gets_no_answer_from_the_peer(chaincode: KeyValueChaincode) -> None:
    with ChaincodeServer(chaincode, "other:" + "00" * 32) as srv:
        fake = FakePeer(f"127.0.0.1:{srv.port}", PACKAGE_ID)
        try:
            fake.connect(expect_ready=False)
            assert srv.wait_for_stream(1, timeout=5)
            assert eventually(lambda: fake.rejected_names)
            assert fake.rejected_names == ["other:" + "00" * 32]
            assert not srv.streams[0].ready.is_set()
        finally:
            fake.close()


def test_transaction_before_ready_is_refused_with_error(server: ChaincodeServer) -> None:
    fake = FakePeer(f"127.0.0.1:{server.port}", "not-the-id")  # never answers REGISTER
    try:
        fake.connect(expect_ready=False)
        reply = fake.start("get", "k").wait()
        assert reply.type == Msg.ERROR and b"not ready" in reply.payload
    finally:
        fake.close()


# -- state ----------------------------------------------------------------------------------------
def test_put_get_del_round_trip(peer: FakePeer) -> None:
    assert _ok(peer.invoke("put", "alice", "10")) == b""
    assert peer.state == {"alice": b"10"}
    assert _ok(peer.invoke("get", "alice")) == b"10"
    missing = FakePeer.response_of(peer.invoke("get", "bob"))
    assert (missing.status, missing.message) == (404, "not found")
    assert _ok(peer.invoke("del", "alice")) == b""
    assert peer.state == {}


def test_writes_of_a_refused_transaction_are_not_committed(peer: FakePeer) -> None:
    reply = peer.invoke("unknown-function", "x")
    assert FakePeer.response_of(reply).status == 400
    assert peer.state == {}


def test_range_over_250_keys_pages_and_closes(peer: FakePeer) -> None:
    peer.state.update({f"k{i:03d}": str(i).encode() for i in range(250)})
    peer.state["z-outside"] = b"x"
    payload = _ok(peer.invoke("range", "k", "l"))
    lines = payload.decode().split("\n")
    assert lines == [f"k{i:03d}={i}" for i in range(250)]
    nexts = [m for m in peer.received if m.type == Msg.QUERY_STATE_NEXT]
    assert len(nexts) == 2  # 100 + 100 + 50
    assert len(peer.closed_queries) == 1


def test_empty_range_bounds_cover_everything(peer: FakePeer) -> None:
    peer.state.update({"a": b"1", "b": b"2"})
    assert _ok(peer.invoke("range", "", "")) == b"a=1\nb=2"
    request = next(m for m in peer.received if m.type == Msg.GET_STATE_BY_RANGE)
    assert chaincode_shim_pb2.GetStateByRange.FromString(request.payload).startKey == "\x01"


def test_range_abandoned_by_the_chaincode_is_closed_before_completion(peer: FakePeer) -> None:
    peer.state.update({f"k{i:03d}": b"v" for i in range(150)})
    assert len(_ok(peer.invoke("range", "k", "", "3")).split(b"\n")) == 3
    types = [m.type for m in peer.received if m.type in (Msg.QUERY_STATE_CLOSE, Msg.COMPLETED)]
    assert types == [Msg.QUERY_STATE_CLOSE, Msg.COMPLETED]


# -- proposal ----------------------------------------------------------------------------------------
def test_creator_transient_and_header_facts_come_from_the_signed_proposal(peer: FakePeer) -> None:
    creator = identities_pb2.SerializedIdentity.FromString(_ok(peer.invoke("creator")))
    assert (creator.mspid, creator.id_bytes) == ("Org1MSP", peer.id_bytes)
    assert _ok(peer.invoke("transient", "key", transient={"key": b"\x00secret"})) == b"\x00secret"
    facts = _ok(peer.invoke("facts", channel_id="ch2", tx_id="tx-facts")).decode()
    assert facts == "tx-facts|ch2|Org1MSP|2023-11-14T22:13:20+00:00"


def test_proposal_with_a_non_endorser_header_type_is_refused(peer: FakePeer) -> None:
    proposal = make_signed_proposal(
        "mychannel", "t", [b"creator"], msp_id="m", id_bytes=b"c", header_type=common_pb2.HeaderType.MESSAGE
    )
    reply = peer.invoke("creator", proposal=proposal)
    assert reply.type == Msg.ERROR and b"channel header has type" in reply.payload


# -- other chaincodes ------------------------------------------------------------------------------
def test_invoke_chaincode_returns_the_callee_response(server: ChaincodeServer) -> None:
    def registry(args: list[bytes]) -> proposal_response_pb2.Response:
        return proposal_response_pb2.Response(status=200, payload=b"|".join(args))

    fake = FakePeer(f"127.0.0.1:{server.port}", PACKAGE_ID, chaincodes={"registry": registry})
    try:
        fake.connect()
        assert _ok(fake.invoke("call", "registry", "lookup", "e1")) == b"lookup|e1"
        spec = chaincode_pb2.ChaincodeSpec.FromString(
            next(m for m in fake.received if m.type == Msg.INVOKE_CHAINCODE).payload
        )
        assert spec.chaincode_id.name == "registry"
        missing = FakePeer.response_of(fake.invoke("call", "nope"))
        assert (missing.status, missing.message) == (500, "chaincode nope not found")
    finally:
        fake.close()


def test_a_callees_error_reaches_the_calling_chaincode_as_a_500_response(server: ChaincodeServer) -> None:
    """A real peer answers INVOKE_CHAINCODE with RESPONSE(ChaincodeMessage ERROR) when the callee
    failed (e.g. its shim sent ERROR): the caller's shim must give the chaincode a status-500
    Response with the callee's text, as Fabric's Go shim does, and the transaction goes on."""

    def crashed(args: list[bytes]) -> Msg:
        return Msg(type=Msg.ERROR, payload=b"chaincode failed with RuntimeError")

    fake = FakePeer(f"127.0.0.1:{server.port}", PACKAGE_ID, chaincodes={"registry": crashed})
    try:
        fake.connect()
        reply = fake.invoke("call", "registry", "lookup", "e1")
        assert reply.type == Msg.COMPLETED, reply  # the calling chaincode itself did not fail
        response = FakePeer.response_of(reply)
        assert (response.status, response.message) == (500, "chaincode failed with RuntimeError")
    finally:
        fake.close()


# -- failures ---------------------------------------------------------------------------------------
def test_peer_error_reply_surfaces_as_the_transaction_error(peer: FakePeer) -> None:
    peer.error_on_get["k"] = "GET_STATE failed: ledger is closed"
    reply = peer.invoke("get", "k")
    assert reply.type == Msg.ERROR
    assert b"ledger is closed" in reply.payload
    assert _ok(peer.invoke("put", "k2", "v")) == b""  # the stream still works


def test_chaincode_exception_becomes_error_without_its_text(peer: FakePeer) -> None:
    reply = peer.invoke("boom", "top-secret-argument")
    assert reply.type == Msg.ERROR
    assert reply.payload == b"chaincode failed with RuntimeError"


def test_init_failure_is_sent_as_error_like_the_go_shim(peer: FakePeer, chaincode: KeyValueChaincode) -> None:
    assert _ok(peer.invoke("init", init=True)) == b"initialised"
    reply = peer.invoke("fail", init=True)
    assert (reply.type, reply.payload) == (Msg.ERROR, b"init refused")
    assert chaincode.init_calls == 2


@pytest.mark.parametrize(
    ("payload", "proposal_bytes", "expected"),
    [
        (b"\xff\xff\xff", None, b"not a valid ChaincodeInput"),
        (None, b"\xff\xff\xff", b"not a valid Proposal"),
    ],
)
def test_malformed_transaction_gets_error_and_server_keeps_serving(
    peer: FakePeer, payload: bytes | None, proposal_bytes: bytes | None, expected: bytes
) -> None:
    proposal = proposal_pb2.SignedProposal(proposal_bytes=proposal_bytes) if proposal_bytes else None
    reply = peer.invoke("get", "k", payload=payload, proposal=proposal)
    assert reply.type == Msg.ERROR and expected in reply.payload
    assert _ok(peer.invoke("put", "k", "v")) == b""


def test_unknown_message_type_gets_error_for_that_tx_and_serving_continues(peer: FakePeer) -> None:
    peer.send(Msg(type=99, txid="weird-tx", channel_id="mychannel", payload=b"\x01"))
    peer.send(Msg(type=Msg.REGISTER, txid="weird-tx-2", channel_id="mychannel"))
    assert _ok(peer.invoke("put", "k", "v")) == b""
    errors = {m.txid: m.payload for m in peer.unanswered if m.type == Msg.ERROR}
    assert b"type 99" in errors["weird-tx"]
    assert b"REGISTER" in errors["weird-tx-2"]


def test_reply_for_no_pending_request_is_ignored(peer: FakePeer) -> None:
    peer.send(Msg(type=Msg.RESPONSE, txid="nobody", channel_id="mychannel", payload=b"x"))
    assert _ok(peer.invoke("put", "k", "v")) == b""


def test_garbage_bytes_end_the_stream_and_the_peer_can_redial(
    server: ChaincodeServer, peer: FakePeer
) -> None:
    peer.send(b"\xff\xff\xff\xff")  # not a ChaincodeMessage at all: gRPC cannot decode it
    assert peer.stream_ended.wait(10)
    peer.disconnect()
    peer.connect()
    assert _ok(peer.invoke("put", "k", "v")) == b""
    assert server.wait_for_stream(2, timeout=5)


# -- concurrency ---------------------------------------------------------------------------------------
def test_twenty_transactions_in_flight_on_one_stream(peer: FakePeer, server: ChaincodeServer) -> None:
    # `rendezvous` waits at a 20-party barrier: every reply proves all 20 were in flight at once.
    txs = [peer.start("rendezvous", f"key{i}", tx_id=f"tx-{i}") for i in range(20)]
    replies = [tx.wait(40) for tx in txs]
    assert [_ok(r) for r in replies] == [f"tx-{i}".encode() for i in range(20)]
    assert peer.state == {f"key{i}": b"+" for i in range(20)}
    assert peer.dropped == []
    assert len(server.streams) == 1


def test_shim_never_has_two_requests_outstanding_for_one_txid(peer: FakePeer) -> None:
    peer.request_delay = 0.02  # keep each request pending long enough for an overlap to show
    peer.state.update({f"p{i}": str(i).encode() for i in range(8)})
    assert _ok(peer.invoke("parallel", *[f"p{i}" for i in range(8)])) == b"0,1,2,3,4,5,6,7"
    assert peer.dropped == []


def test_fake_peer_drops_a_second_request_for_a_pending_txid(
    peer: FakePeer, chaincode: KeyValueChaincode
) -> None:
    """The fake itself reproduces the peer's silent drop (so the previous test can fail)."""
    peer.request_delay = 0.5  # the first request is still pending when the second arrives
    tx = peer.start("hold", tx_id="held")
    assert chaincode.held.wait(10)
    get = chaincode_shim_pb2.GetState(key="a").SerializeToString()
    for _ in range(2):
        peer.receive(Msg(type=Msg.GET_STATE, txid="held", channel_id="mychannel", payload=get))
    assert ("mychannel", "held", Msg.GET_STATE) in peer.dropped
    peer.disconnect()  # ends the stuck transaction
    assert tx.reply is None


# -- disconnect / re-dial -------------------------------------------------------------------------------
def test_disconnect_cancels_in_flight_and_the_peer_redials(
    server: ChaincodeServer, peer: FakePeer, chaincode: KeyValueChaincode
) -> None:
    tx = peer.start("hold")  # in flight when the peer goes away
    assert chaincode.held.wait(10)
    first = server.streams[0]
    assert first.in_flight() == 1
    peer.disconnect()
    assert eventually(lambda: first.closed)
    assert first.closed
    chaincode.release.set()  # the held transaction's next request fails: its stream is gone
    assert eventually(lambda: chaincode.hold_errors)
    assert [type(e) for e in chaincode.hold_errors] == [PeerStreamClosed]
    assert tx.reply is None
    peer.connect()  # the next invoke re-dials
    assert _ok(peer.invoke("put", "after", "redial")) == b""
    assert peer.state == {"after": b"redial"}
    assert server.wait_for_stream(2, timeout=5)


def test_keepalive_is_echoed(peer: FakePeer) -> None:
    peer.send(Msg(type=Msg.KEEPALIVE))
    assert _ok(peer.invoke("put", "k", "v")) == b""
    assert eventually(lambda: peer.keepalives)
    assert peer.keepalives == 1


# -- logging ---------------------------------------------------------------------------------------------
def test_nothing_sensitive_is_logged(peer: FakePeer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = ["SECRET-KEY-1", "SECRET-VALUE-2", "SECRET-TRANSIENT-3", "SECRET-ARG-4"]
    peer.state["SECRET-KEY-1"] = b"SECRET-VALUE-2"
    peer.invoke("get", "SECRET-KEY-1", transient={"t": b"SECRET-TRANSIENT-3"})
    peer.invoke("put", "SECRET-KEY-1", "SECRET-VALUE-2")
    peer.invoke("range", "SECRET", "")
    peer.invoke("boom", "SECRET-ARG-4")
    peer.invoke("get", "SECRET-KEY-1", payload=b"\xff\xff")
    peer.error_on_get["SECRET-KEY-1"] = "boom"
    peer.invoke("get", "SECRET-KEY-1")
    text = "\n".join(r.getMessage() + str(r.args) + (r.exc_text or "") for r in caplog.records)
    assert caplog.records, "expected the shim to log something at DEBUG"
    for secret in secrets:
        assert secret not in text
    assert peer.id_bytes.decode() not in text
