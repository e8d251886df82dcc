"""Client SDK: talk to FOC chaincode on a ledger back end.

* `gateway.GatewayClient` - the peer's Fabric Gateway service (Evaluate, Endorse, Submit,
  CommitStatus) over one gRPC channel, TLS optional; `gateway.GatewayContract` wraps it as a
  `gateway.Contract` (invoke / query), the interface a scenario is written against so the
  embedded dev ledger and Fabric are interchangeable.
* `identity.Identity` - an MSP identity (msp directory: signcerts + keystore) that signs, low-S.
"""

from foc.client.gateway import Contract, GatewayClient, GatewayContract, SubmitResult
from foc.client.identity import Identity

__all__ = ["Contract", "GatewayClient", "GatewayContract", "Identity", "SubmitResult"]
