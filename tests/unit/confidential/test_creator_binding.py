"""The caller's identity is bound to a confidential transaction (issue 12): the enclave signs the hash of
the creator named inside the encrypted request, and validation before commit refuses the response
unless the `__endorse` transaction's creator is that identity. So one identity's signed result cannot
be committed by another (who could otherwise commit, say, a bid read or placed as someone else).
The TA's own check (the request's creator = the peer's) is tested on the native core
(ta/native/tests/test_confidential.c) and in tests/native/test_auction.py.
"""

from __future__ import annotations

from confidential_network import CHAINCODE, Network

from foc.chaincode.stub import parse_creator
from foc.client.identity import Identity

ALICE = Identity.generate_for_tests("Org1MSP", "alice").serialized()
BOB = Identity.generate_for_tests("Org1MSP", "bob").serialized()


def _executed_as(network: Network, creator: bytes, *args: str) -> tuple[bytes, bytes]:
    pending = network.client().encrypt_request(list(args), creator=parse_creator(creator))
    result = network.peer.query(CHAINCODE, ["__invoke", pending.request], creator=creator)
    assert result.response.status == 200, result.response.message
    return pending.request, result.response.payload


def test_a_response_is_committed_only_by_the_identity_it_was_run_for(registered: Network) -> None:
    request, response = _executed_as(registered, ALICE, "put", "bid", "130")
    height = registered.ledger.height
    stolen = registered.peer.invoke(CHAINCODE, ["__endorse", request, response], creator=BOB)
    assert stolen.response.status == 500 and not stolen.committed
    assert "another creator" in stolen.response.message, stolen.response.message
    assert registered.ledger.height == height
    anonymous = registered.peer.invoke(CHAINCODE, ["__endorse", request, response])
    assert anonymous.response.status == 500 and "another creator" in anonymous.response.message
    # control: the identity the enclave ran it for commits it
    assert registered.peer.invoke(CHAINCODE, ["__endorse", request, response], creator=ALICE).committed


def test_the_enclave_refuses_a_request_naming_another_creator_than_the_transactions(
    registered: Network,
) -> None:
    pending = registered.client().encrypt_request(["whoami"], creator=parse_creator(ALICE))
    result = registered.peer.query(CHAINCODE, ["__invoke", pending.request], creator=BOB)
    assert result.response.status == 500
    assert "creator is not the transaction's creator" in result.response.message
    ok = registered.peer.query(CHAINCODE, ["__invoke", pending.request], creator=ALICE)
    assert registered.client().open_response(pending, ok.response.payload).value() == b"Org1MSP"
