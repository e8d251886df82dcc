"""The confidential chaincode on a real Fabric network (docs/fabric.md walkthrough, steps 1-8 done).

Runs when the network tier is configured (conftest) and FOC_FABRIC_CONFIDENTIAL names the
confidential chaincode (`coffee`); FOC_FABRIC_REGISTRY is the registry's name (default `ercc`).
The definition and the enrolled devices come from $FOC_HOME, as for `foc invoke --gateway`.
An enclave of the host-native build (`foc-proxy --tee native`: NOT a TEE) is accepted only with
FOC_FABRIC_ALLOW_INSECURE_NATIVE=1, the tier's form of the CLI's `--allow-insecure-native`;
without it such a network fails with that hint.
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
from foc.errors import AttestationError


def test_confidential_coffee_scenario_on_fabric(fabric_client: GatewayClient, network: FabricNetwork) -> None:
    name = os.environ.get("FOC_FABRIC_CONFIDENTIAL", "")
    if not name:
        pytest.skip("set FOC_FABRIC_CONFIDENTIAL=coffee after docs/fabric.md steps 1-8 to run this")
    registry = os.environ.get("FOC_FABRIC_REGISTRY") or "ercc"
    allow_native = os.environ.get("FOC_FABRIC_ALLOW_INSECURE_NATIVE") == "1"
    contract = ConfidentialContract(
        GatewayContract(fabric_client, network.channel, name),
        chaincode_id=name,
        channel=network.channel,
        registry=GatewayContract(fabric_client, network.channel, registry),
        definitions=DefinitionStore(),
        devices=DeviceStore(),
        allow_insecure_native=allow_native,
    )
    try:
        coffee_scenario(contract, f"carol-{uuid.uuid4().hex[:12]}")  # the ledger keeps state between runs
    except AttestationError as exc:
        if "native-insecure" in str(exc) and not allow_native:
            pytest.fail(
                "the confidential chaincode's enclave is the host-native build (NOT a TEE); to run this "
                "tier against it anyway set FOC_FABRIC_ALLOW_INSECURE_NATIVE=1 (and serve ercc with "
                "--allow-insecure-native), or serve the chaincode from OP-TEE",
                pytrace=False,
            )
        raise
    assert contract.last_enclave_id
