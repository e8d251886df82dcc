"""The same coffee scenario on both back ends: the embedded dev ledger and Fabric (fake gateway)."""

from __future__ import annotations

from pathlib import Path

from coffee_scenario import coffee_scenario
from fake_gateway import CHAINCODE, CHANNEL, FakeGateway
from fake_proxy import FakeProxyClient

from foc.client.contract import Contract
from foc.client.devledger import DevLedgerContract
from foc.client.gateway import GatewayClient, GatewayContract
from foc.client.identity import Identity
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.wrapper.plaintext import FocWrapper


def test_coffee_on_the_dev_ledger(tmp_path: Path, identity: Identity) -> None:
    with DevLedger(tmp_path / "dev.sqlite") as ledger:
        peer = DevPeer(ledger, {CHAINCODE: FocWrapper(client=FakeProxyClient())})
        contract: Contract = DevLedgerContract(peer, CHAINCODE, creator=identity.serialized())
        coffee_scenario(contract, "alice")
        values = {key: value for key, (value, _) in ledger.state_dump().items()}
        assert values == {(CHAINCODE, "alice"): b"3"}


def test_coffee_through_the_fabric_gateway(client: GatewayClient, fake_gateway: FakeGateway) -> None:
    contract: Contract = GatewayContract(client, CHANNEL, CHAINCODE)
    coffee_scenario(contract, "alice")
    # Only the two successful invokes were ordered, each in its own VALID block.
    assert [code for _, code in fake_gateway.blocks] == ["VALID", "VALID"]
    assert fake_gateway.peer.state == {"alice": b"3"}
    assert fake_gateway.peer.version_of("alice") == (2, 0)
