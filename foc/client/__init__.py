"""Client SDK: talk to FOC chaincode on a ledger back end.

* `network.Network` (from `foc.connect(...)`) - one object for a FOC network: the back end (dev
  ledger or Fabric gateway), FOC home, the device's proxy, the hosted chaincodes; hands out
  contracts and administers devices, definitions and enclaves.
* `contract.Contract` - the interface a scenario is written against (invoke / query), implemented by
  `devledger.DevLedgerContract`, `gateway.GatewayContract` and `confidential.ConfidentialContract`.
* `gateway.GatewayClient` - the peer's Fabric Gateway service; `identity.Identity` - an MSP identity.
"""

from foc.client.contract import Contract
from foc.client.gateway import GatewayClient, GatewayContract, SubmitResult
from foc.client.identity import Identity

__all__ = ["Contract", "GatewayClient", "GatewayContract", "Identity", "SubmitResult"]
