"""The Fabric network the tier runs against, from FOC_FABRIC_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRED = (
    "FOC_FABRIC_GATEWAY",
    "FOC_FABRIC_MSP_DIR",
    "FOC_FABRIC_MSPID",
    "FOC_FABRIC_TLS_ROOT",
    "FOC_FABRIC_CHANNEL",
    "FOC_FABRIC_CHAINCODE",
)


@dataclass(frozen=True)
class FabricNetwork:
    """Where the configured network's gateway is and who we are on it."""

    gateway: str
    msp_dir: Path
    mspid: str
    tls_root: Path
    channel: str
    chaincode: str
    server_name: str | None


def configured_network() -> FabricNetwork | None:
    """The network from the environment; None if no variable is set; pytest.fail if only some are."""
    values = {name: os.environ.get(name, "") for name in REQUIRED}
    missing = [name for name, value in values.items() if not value]
    if len(missing) == len(REQUIRED):
        return None
    if missing:
        pytest.fail(f"the Fabric network tier is half configured: set {', '.join(missing)} too")
    return FabricNetwork(
        gateway=values["FOC_FABRIC_GATEWAY"],
        msp_dir=Path(values["FOC_FABRIC_MSP_DIR"]),
        mspid=values["FOC_FABRIC_MSPID"],
        tls_root=Path(values["FOC_FABRIC_TLS_ROOT"]),
        channel=values["FOC_FABRIC_CHANNEL"],
        chaincode=values["FOC_FABRIC_CHAINCODE"],
        server_name=os.environ.get("FOC_FABRIC_SERVER_NAME") or None,
    )
