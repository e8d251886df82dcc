"""The confidential chaincode on a real Fabric network (docs/fabric.md walkthrough, steps 1-8 done).

Runs when the network tier is configured (conftest) and FOC_FABRIC_CONFIDENTIAL names the
confidential chaincode (`coffee`); FOC_FABRIC_REGISTRY is the registry's name (default `ercc`).
The definition and the enrolled devices come from $FOC_HOME, as for `foc invoke --gateway`.
Without a real network this is not verified here: the same flow is rehearsed against the fake
gateway in tests/unit/gateway/test_walkthrough.py.
"""

from __future__ import annotations

import os
import uuid

import pytest
from coffee_scenario import coffee_scenario
from network_config import FabricNetwork

from foc.admin.definitions import DefinitionStore
from foc.admin.devices import DeviceStore
from foc.client.confidential import ConfidentialContract
from foc.client.gateway import GatewayClient, GatewayContract


def test_confidential_coffee_scenario_on_fabric(fabric_client: GatewayClient, network: FabricNetwork) -> None:
    name = os.environ.get("FOC_FABRIC_CONFIDENTIAL", "")
    if not name:
        pytest.skip("set FOC_FABRIC_CONFIDENTIAL=coffee after docs/fabric.md steps 1-8 to run this")
    registry = os.environ.get("FOC_FABRIC_REGISTRY") or "ercc"
    contract = ConfidentialContract(
        GatewayContract(fabric_client, network.channel, name),
        chaincode_id=name,
        channel=network.channel,
        registry=GatewayContract(fabric_client, network.channel, registry),
        definitions=DefinitionStore(),
        devices=DeviceStore(),
    )
    coffee_scenario(contract, f"carol-{uuid.uuid4().hex[:12]}")  # the ledger keeps state between runs
    assert contract.last_enclave_id
