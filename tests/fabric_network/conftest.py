"""The Fabric network tier: the coffee scenario through a real peer's Fabric Gateway.

Runs only when a network is configured; there is none on CI, so there it is skipped with a reason
that names the variables. Setting some of them but not all is a mistake and fails loudly.

    FOC_FABRIC_GATEWAY      host:port of a peer's gateway (test-network: localhost:7051)
    FOC_FABRIC_MSP_DIR      the client's msp directory (signcerts/ + keystore/)
    FOC_FABRIC_MSPID        its MSP id (Org1MSP)
    FOC_FABRIC_TLS_ROOT     the peer's TLS CA certificate (PEM file)
    FOC_FABRIC_CHANNEL      channel name (mychannel)
    FOC_FABRIC_CHAINCODE    the FOC wrapper's chaincode name (foc)
    FOC_FABRIC_SERVER_NAME  optional: TLS server name if it differs from the gateway host
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "unit" / "gateway"))  # coffee_scenario

from network_config import REQUIRED, FabricNetwork, configured_network  # noqa: E402

from foc.client.gateway import GatewayClient  # noqa: E402
from foc.client.identity import Identity  # noqa: E402


@pytest.fixture(scope="session")
def network() -> FabricNetwork:
    found = configured_network()
    if found is None:
        pytest.skip(f"no Fabric network configured: set {', '.join(REQUIRED)} (see docs/gateway.md)")
    return found


@pytest.fixture(scope="session")
def fabric_client(network: FabricNetwork) -> Iterator[GatewayClient]:
    identity = Identity.from_msp_dir(network.msp_dir, network.mspid)
    with GatewayClient(
        network.gateway,
        identity,
        tls_root_cert=network.tls_root,
        server_name=network.server_name,
        timeout=60,
        commit_timeout=120,
    ) as client:
        yield client
