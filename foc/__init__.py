"""FOC: confidential Hyperledger Fabric chaincode in OP-TEE (ARM TrustZone).

    import foc

    with foc.connect(ledger="dev.sqlite", target="qemu") as net:
        net.contract("coffee").invoke("add", ["alice", "1"])

`connect` returns a `foc.client.network.Network`. It is imported on first use, so the device
runtime (`foc.proxy`, `foc.tee`), which imports this package too, stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from foc.client.network import Network, connect

__all__ = ["Network", "connect", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("connect", "Network"):
        from foc.client import network

        return getattr(network, name)
    raise AttributeError(f"module 'foc' has no attribute {name!r}")
