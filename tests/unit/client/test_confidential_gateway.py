"""ConfidentialContract over the Fabric Gateway client: the real CaaS shim serves the confidential
chaincode (FPC's __invoke / __endorse, the TEST-ONLY reference enclave playing the TA) and the
`ercc` registry, each behind a fake gateway (tests/unit/gateway/fake_gateway.py hosts one
chaincode per gateway; a real peer's gateway serves both on one endpoint). The confidential
chaincode's `__endorse` queries `ercc` with INVOKE_CHAINCODE, answered by the registry over the
registry peer's committed state."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fabric_protos.peer import proposal_response_pb2

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "gateway"))
sys.path.insert(0, str(HERE.parent / "fabric"))

from client_network import EnclaveSlot  # noqa: E402
from fake_gateway import FakeGateway  # noqa: E402
from reference_enclave import ChaincodeSecrets, ReferenceEnclave  # noqa: E402

from foc.client.confidential import ConfidentialChaincodeError, ConfidentialContract  # noqa: E402
from foc.client.gateway import GatewayClient, GatewayContract  # noqa: E402
from foc.client.identity import Identity  # noqa: E402
from foc.confidential.chaincode import ConfidentialChaincode  # noqa: E402
from foc.confidential.definitions import DefinitionStore, define_chaincode  # noqa: E402
from foc.confidential.devices import DeviceStore, enroll_device  # noqa: E402
from foc.confidential.formats import EnclaveConfig, StoredValue  # noqa: E402
from foc.confidential.registry import EnclaveRegistry  # noqa: E402
from foc.errors import EndorsementFailure, VerificationError  # noqa: E402
from foc.fabric.server import ChaincodeServer  # noqa: E402
from foc.wrapper.memory import MemoryStub  # noqa: E402

CHANNEL = "mychannel"
MEASUREMENT = bytes.fromhex("3c" * 32)
COFFEE_PACKAGE = "coffee_1.0:" + "cd" * 32
ERCC_PACKAGE = "ercc_1.0:" + "ef" * 32


@dataclass
class Fabric:
    home: Path
    coffee: FakeGateway
    ercc: FakeGateway
    coffee_client: GatewayClient
    ercc_client: GatewayClient
    slot: EnclaveSlot

    def contract(self) -> ConfidentialContract:
        return ConfidentialContract(
            GatewayContract(self.coffee_client, CHANNEL, "coffee"),
            chaincode_id="coffee",
            channel=CHANNEL,
            registry=GatewayContract(self.ercc_client, CHANNEL, "ercc"),
            definitions=DefinitionStore(self.home),
            devices=DeviceStore(self.home),
        )


@pytest.fixture
def fabric(tmp_path: Path) -> Iterator[Fabric]:
    home = tmp_path / "home"
    device_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    define_chaincode("coffee", MEASUREMENT.hex(), CHANNEL, home=home)
    enroll_device("device-1", device_key.public_key(), home=home)
    definitions, devices = DefinitionStore(home), DeviceStore(home)
    slot = EnclaveSlot(ReferenceEnclave(device_key, MEASUREMENT, ChaincodeSecrets()))
    registry = EnclaveRegistry(definitions, devices)
    identity = Identity.generate_for_tests("Org1MSP", "User1")
    with (
        ChaincodeServer(registry, ERCC_PACKAGE, request_timeout=20) as ercc_server,
        ChaincodeServer(
            ConfidentialChaincode("coffee", slot, definitions), COFFEE_PACKAGE, request_timeout=20
        ) as coffee_server,
        FakeGateway(
            f"127.0.0.1:{ercc_server.port}", ERCC_PACKAGE, channel_id=CHANNEL, chaincode_name="ercc"
        ) as ercc_gw,
        FakeGateway(
            f"127.0.0.1:{coffee_server.port}", COFFEE_PACKAGE, channel_id=CHANNEL, chaincode_name="coffee"
        ) as coffee_gw,
        GatewayClient(ercc_gw.address, identity, timeout=20, commit_timeout=20) as ercc_client,
        GatewayClient(coffee_gw.address, identity, timeout=20, commit_timeout=20) as coffee_client,
    ):

        def ercc_call(args: list[bytes]) -> proposal_response_pb2.Response:
            # INVOKE_CHAINCODE from coffee's __endorse: the registry over ercc's committed state.
            stub = MemoryStub(args, state=dict(ercc_gw.peer.state), channel_id=CHANNEL)
            answer = registry.invoke(stub)
            return proposal_response_pb2.Response(
                status=answer.status, message=answer.message, payload=answer.payload
            )

        coffee_gw.peer.chaincodes["ercc"] = ercc_call
        yield Fabric(home, coffee_gw, ercc_gw, coffee_client, ercc_client, slot)


def register(fabric: Fabric) -> None:
    credentials = fabric.slot.enclave.create(
        EnclaveConfig("coffee", MEASUREMENT.hex(), CHANNEL, "device-1:7052")
    )
    registry = GatewayContract(fabric.ercc_client, CHANNEL, "ercc")
    assert registry.invoke("registerEnclave", [base64.b64encode(credentials)]) == b"OK"


def test_confidential_round_trip_through_the_gateway(fabric: Fabric) -> None:
    register(fabric)
    coffee = fabric.contract()
    assert coffee.invoke("create", ["alice", "10"]) == b"OK"
    assert coffee.invoke("add", ["alice", "5"]) == b"15"
    assert coffee.query("get", ["alice"]) == b"15"
    with pytest.raises(ConfidentialChaincodeError) as caught:
        coffee.invoke("create", ["alice", "1"])
    assert caught.value.code == "EXISTS"
    with pytest.raises(ConfidentialChaincodeError) as caught:
        coffee.query("get", ["bob"])
    assert caught.value.code == "NOT_FOUND"
    # Only the two successful __endorse transactions were ordered; the peer holds ciphertext.
    assert [code for _, code in fabric.coffee.blocks] == ["VALID", "VALID"]
    state = fabric.coffee.peer.state
    StoredValue.decode(state["alice"])
    assert b"15" not in state["alice"] and b"10" not in state["alice"]
    assert sorted(k for k in state if k != "alice") == sorted(
        k for k in state if k.startswith("~foc/request/")
    )


def test_a_rogue_enclave_is_refused_before_anything_is_submitted(fabric: Fabric) -> None:
    register(fabric)
    rogue = ReferenceEnclave(fabric.slot.enclave.device_key, MEASUREMENT, fabric.slot.enclave.secrets)
    rogue.create(EnclaveConfig("coffee", MEASUREMENT.hex(), CHANNEL, "device-1:7052"))
    fabric.slot.enclave = rogue
    with pytest.raises(VerificationError, match="not registered"):
        fabric.contract().invoke("create", ["alice", "1"])
    assert fabric.coffee.blocks == [] and "alice" not in fabric.coffee.peer.state


def test_endorse_with_a_forged_response_is_refused_by_the_chaincode(fabric: Fabric) -> None:
    # A client that skips verification cannot get a foreign response committed either:
    # the peer-side __endorse validates it again.
    register(fabric)
    rogue = ReferenceEnclave(fabric.slot.enclave.device_key, MEASUREMENT, fabric.slot.enclave.secrets)
    rogue.create(EnclaveConfig("coffee", MEASUREMENT.hex(), CHANNEL, "device-1:7052"))
    coffee = fabric.contract()
    pending_request = b""

    class Capture:
        def invoke(self, request: bytes, get_state):  # type: ignore[no-untyped-def]
            nonlocal pending_request
            pending_request = request
            return rogue.invoke(request, get_state)

    fabric.slot.enclave = Capture()  # type: ignore[assignment]
    with pytest.raises(VerificationError):
        coffee.invoke("create", ["alice", "1"])
    forged = rogue.invoke(pending_request, lambda key: None)
    with pytest.raises(EndorsementFailure, match="not registered"):
        GatewayContract(fabric.coffee_client, CHANNEL, "coffee").invoke(
            "__endorse", [pending_request, forged]
        )
    assert fabric.coffee.blocks == []
