"""The FOC wrapper on a real Fabric network, through the peer's Fabric Gateway (see conftest)."""

from __future__ import annotations

import uuid

import pytest
from coffee_scenario import coffee_scenario
from network_config import FabricNetwork

from foc.client.gateway import GatewayClient, GatewayContract, PreparedTransaction
from foc.errors import EndorsementFailure, TransactionMvccConflict


def fresh_person() -> str:
    return f"alice-{uuid.uuid4().hex[:12]}"  # the ledger keeps state between runs


def test_coffee_scenario_on_fabric(fabric_client: GatewayClient, network: FabricNetwork) -> None:
    coffee_scenario(GatewayContract(fabric_client, network.channel, network.chaincode), fresh_person())


def test_second_of_two_transactions_endorsed_on_one_version_is_an_mvcc_conflict(
    fabric_client: GatewayClient, network: FabricNetwork
) -> None:
    person = fresh_person()
    fabric_client.submit(network.channel, network.chaincode, "create", [person.encode(), b"0"])

    def endorse_add(amount: bytes) -> PreparedTransaction:
        proposal = fabric_client.propose(network.channel, network.chaincode, "add", [person.encode(), amount])
        return fabric_client.endorse(proposal)

    first, second = endorse_add(b"1"), endorse_add(b"2")
    fabric_client.submit_prepared(first)
    with pytest.raises(TransactionMvccConflict):
        fabric_client.submit_prepared(second)
    query = fabric_client.evaluate(network.channel, network.chaincode, "query", [person.encode()])
    assert query == f"person: {person}, number of consumed coffees: 1".encode()


def test_unknown_function_is_an_endorsement_failure(
    fabric_client: GatewayClient, network: FabricNetwork
) -> None:
    with pytest.raises(EndorsementFailure) as caught:
        fabric_client.evaluate(network.channel, network.chaincode, "drink", [b"x"])
    assert caught.value.status == 500 and caught.value.chaincode_message.startswith("UNKNOWN_FUNCTION: ")
