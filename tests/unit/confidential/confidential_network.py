"""The confidential test network: constants and the `Network` handle (shared by conftest and tests).

Kept out of conftest.py so tests import it by a unique module name (several conftest.py files exist).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from reference_enclave import ReferenceEnclave

from foc.admin.definitions import ChaincodeDefinition
from foc.admin.devices import DeviceStore
from foc.client.confidential import ConfidentialClient, ConfidentialResult, PendingRequest
from foc.confidential.formats import EnclaveConfig
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer, TxResult
from foc.registry.ercc import RegistryQuery

CHANNEL = "dev"
CHAINCODE = "coffee"
MEASUREMENT = bytes.fromhex("5e" * 32)
ENDPOINT = "device-1:7052"


@dataclass
class Network:
    """A dev ledger with `ercc` and the confidential chaincode, the FOC home, one enclave slot."""

    home: Path
    ledger: DevLedger
    peer: DevPeer
    definition: ChaincodeDefinition
    devices: DeviceStore
    enclave: ReferenceEnclave

    def config(self, **changes: object) -> EnclaveConfig:
        fields: dict[str, object] = dict(
            chaincode_id=CHAINCODE,
            chaincode_version=self.definition.version,
            channel_id=CHANNEL,
            host_endpoint=ENDPOINT,
        )
        fields.update(changes)
        return EnclaveConfig(**fields)  # type: ignore[arg-type]

    def register(self, credentials: bytes) -> TxResult:
        return self.peer.invoke("ercc", ["registerEnclave", base64.b64encode(credentials)])

    def registry(self) -> RegistryQuery:
        return RegistryQuery(lambda args: self.peer.query("ercc", args).response)

    def client(self, **kwargs: object) -> ConfidentialClient:
        return ConfidentialClient(self.definition, self.registry(), **kwargs)  # type: ignore[arg-type]

    def execute(self, client: ConfidentialClient, *args: str) -> tuple[PendingRequest, bytes]:
        pending = client.encrypt_request(list(args))
        result = self.peer.query(CHAINCODE, ["__invoke", pending.request])
        assert result.response.endorsed, result.response.message
        return pending, result.response.payload

    def endorse(self, request: bytes, response: bytes) -> TxResult:
        return self.peer.invoke(CHAINCODE, ["__endorse", request, response])

    def submit(self, client: ConfidentialClient, *args: str) -> ConfidentialResult:
        pending, response = self.execute(client, *args)
        result = client.open_response(pending, response)
        if result.ok:
            committed = self.endorse(pending.request, response)
            assert committed.committed, committed.response.message
        return result
