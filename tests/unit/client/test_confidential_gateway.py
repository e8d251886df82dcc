"""ConfidentialContract over the Fabric Gateway client, one gateway endpoint for all chaincodes as
on a real peer: the real CaaS shim serves the confidential chaincode `coffee` (FPC's __invoke /
__endorse, the TEST-ONLY reference enclave playing the TA), the `ercc` registry and FOC's
plaintext wrapper `foc` (fake proxy), all behind one fake gateway
(tests/unit/gateway/fake_gateway.py). `coffee`'s `__endorse` asks `ercc` with INVOKE_CHAINCODE,
which the gateway's peer routes to the registry's own CaaS stream over its committed state."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "gateway"))
sys.path.insert(0, str(HERE.parent / "fabric"))
sys.path.insert(0, str(HERE.parent / "wrapper"))

from client_network import EnclaveSlot  # noqa: E402
from fake_gateway import FakeGateway  # noqa: E402
from fake_proxy import FakeProxyClient  # noqa: E402
from reference_enclave import ChaincodeSecrets, ReferenceEnclave  # noqa: E402

from foc.admin.definitions import DefinitionStore, define_chaincode  # noqa: E402
from foc.admin.devices import DeviceStore, enroll_device  # noqa: E402
from foc.client.confidential import ConfidentialChaincodeError, ConfidentialContract  # noqa: E402
from foc.client.gateway import GatewayClient, GatewayContract  # noqa: E402
from foc.client.identity import Identity  # noqa: E402
from foc.confidential.formats import EnclaveConfig, StoredValue  # noqa: E402
from foc.errors import EndorsementFailure, GatewayError, VerificationError  # noqa: E402
from foc.fabric.server import ChaincodeServer  # noqa: E402
from foc.registry.ercc import EnclaveRegistry  # noqa: E402
from foc.wrapper.confidential import ConfidentialChaincode  # noqa: E402
from foc.wrapper.plaintext import FocWrapper  # noqa: E402

CHANNEL = "mychannel"
MEASUREMENT = bytes.fromhex("3c" * 32)
COFFEE_PACKAGE = "coffee_1.0:" + "cd" * 32
ERCC_PACKAGE = "ercc_1.0:" + "ef" * 32
WRAPPER_PACKAGE = "foc_1.0:" + "ab" * 32


class CrashableRegistry(EnclaveRegistry):
    """The real registry chaincode, which can be made to crash (an unexpected exception: its CaaS
    server then answers the peer with ERROR, as any chaincode's shim does)."""

    crash = False

    def invoke(self, stub):  # type: ignore[no-untyped-def]
        if self.crash:
            raise RuntimeError("registry bug")
        return super().invoke(stub)


@dataclass
class Fabric:
    home: Path
    gateway: FakeGateway
    client: GatewayClient
    slot: EnclaveSlot
    registry: CrashableRegistry

    def contract(self) -> ConfidentialContract:
        return ConfidentialContract(
            GatewayContract(self.client, CHANNEL, "coffee"),
            chaincode_id="coffee",
            channel=CHANNEL,
            registry=GatewayContract(self.client, CHANNEL, "ercc"),
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
    identity = Identity.generate_for_tests("Org1MSP", "User1")
    registry = CrashableRegistry(definitions, devices)
    with (
        ChaincodeServer(registry, ERCC_PACKAGE, request_timeout=20) as ercc,
        ChaincodeServer(
            ConfidentialChaincode("coffee", slot, definitions), COFFEE_PACKAGE, request_timeout=20
        ) as coffee,
        ChaincodeServer(FocWrapper(client=FakeProxyClient()), WRAPPER_PACKAGE, request_timeout=20) as foc,
        FakeGateway(
            channel_id=CHANNEL,
            chaincodes={
                "coffee": (f"127.0.0.1:{coffee.port}", COFFEE_PACKAGE),
                "ercc": (f"127.0.0.1:{ercc.port}", ERCC_PACKAGE),
                "foc": (f"127.0.0.1:{foc.port}", WRAPPER_PACKAGE),
            },
        ) as gateway,
        GatewayClient(gateway.address, identity, timeout=20, commit_timeout=20) as client,
    ):
        yield Fabric(home, gateway, client, slot, registry)


def register(fabric: Fabric) -> None:
    credentials = fabric.slot.enclave.create(
        EnclaveConfig("coffee", MEASUREMENT.hex(), CHANNEL, "device-1:7052")
    )
    registry = GatewayContract(fabric.client, CHANNEL, "ercc")
    assert registry.invoke("registerEnclave", [base64.b64encode(credentials)]) == b"OK"


def test_confidential_round_trip_through_the_gateway(fabric: Fabric) -> None:
    register(fabric)
    coffee = fabric.contract()
    assert coffee.invoke("create", ["alice", "7340010"]) == b"OK"
    assert coffee.invoke("add", ["alice", "5"]) == b"7340015"
    assert coffee.query("get", ["alice"]) == b"7340015"
    with pytest.raises(ConfidentialChaincodeError) as caught:
        coffee.invoke("create", ["alice", "1"])
    assert caught.value.code == "EXISTS"
    with pytest.raises(ConfidentialChaincodeError) as caught:
        coffee.query("get", ["bob"])
    assert caught.value.code == "NOT_FOUND"
    # Block 1 registered the enclave (ercc); then only the two successful __endorse transactions
    # were ordered, each validated by asking ercc over INVOKE_CHAINCODE; the peer holds ciphertext.
    assert [code for _, code in fabric.gateway.blocks] == ["VALID", "VALID", "VALID"]
    asked = [function for callee, function in fabric.gateway.chaincode_calls if callee == "ercc"]
    assert len(asked) >= 2 and set(asked) <= {
        "queryEnclave",
        "queryEnclaveCredentials",
        "queryListEnclaveCredentials",
        "queryChaincodeEncryptionKey",
    }, fabric.gateway.chaincode_calls
    assert any(key.startswith("credentials/") for key in fabric.gateway.peers["ercc"].state)
    assert not any(key.startswith("credentials/") for key in fabric.gateway.peers["coffee"].state)
    state = fabric.gateway.peers["coffee"].state
    StoredValue.decode(state["alice"])
    assert b"7340015" not in state["alice"] and b"7340010" not in state["alice"]
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
    assert len(fabric.gateway.blocks) == 1  # the registration only
    assert "alice" not in fabric.gateway.peers["coffee"].state


def test_endorse_with_a_forged_response_is_refused_by_the_chaincode(fabric: Fabric) -> None:
    # A client that skips verification cannot get a foreign response committed either:
    # the peer-side __endorse validates it again.
    register(fabric)
    rogue = ReferenceEnclave(fabric.slot.enclave.device_key, MEASUREMENT, fabric.slot.enclave.secrets)
    rogue.create(EnclaveConfig("coffee", MEASUREMENT.hex(), CHANNEL, "device-1:7052"))
    coffee = fabric.contract()
    pending_request = b""
    pending_context: dict = {}

    class Capture:
        def invoke(self, request: bytes, get_state, **context):  # type: ignore[no-untyped-def]
            nonlocal pending_request
            pending_request = request
            pending_context.update(context)
            return rogue.invoke(request, get_state, **context)

    fabric.slot.enclave = Capture()  # type: ignore[assignment]
    with pytest.raises(VerificationError):
        coffee.invoke("create", ["alice", "1"])
    forged = rogue.invoke(pending_request, lambda key: None, creator=pending_context["creator"])
    with pytest.raises(EndorsementFailure, match="not registered"):
        GatewayContract(fabric.client, CHANNEL, "coffee").invoke("__endorse", [pending_request, forged])
    assert len(fabric.gateway.blocks) == 1  # the registration only
    assert "alice" not in fabric.gateway.peers["coffee"].state


def test_the_plaintext_wrapper_answers_on_the_same_endpoint(fabric: Fabric) -> None:
    wrapper = GatewayContract(fabric.client, CHANNEL, "foc")
    assert wrapper.invoke("create", ["bob", "2"]) == b"OK"
    assert wrapper.query("query", ["bob"]) == b"person: bob, number of consumed coffees: 2"
    # Each chaincode has its own namespace: the wrapper's write is not in coffee's or ercc's state.
    assert fabric.gateway.peers["foc"].state == {"bob": b"2"}
    assert "bob" not in fabric.gateway.peers["coffee"].state
    assert "bob" not in fabric.gateway.peers["ercc"].state
    with pytest.raises(GatewayError, match="has been successfully defined"):
        GatewayContract(fabric.client, CHANNEL, "nosuch").query("query", ["bob"])


def test_a_registry_that_fails_inside_endorse_refuses_the_commit_with_its_reason(fabric: Fabric) -> None:
    """`__endorse` asks `ercc` over INVOKE_CHAINCODE; when `ercc` crashes, a real peer hands the
    callee's ERROR back inside the RESPONSE. FOC must treat it as "no registered enclave", refuse
    the transaction with the callee's text, and commit nothing."""
    register(fabric)
    coffee = fabric.contract()
    assert coffee.invoke("create", ["alice", "1"]) == b"OK"  # control: the registry answers

    class CrashBeforeEndorse:
        """The coffee contract; the registry crashes once the client has verified the answer."""

        def __init__(self, inner: GatewayContract) -> None:
            self.inner = inner
            self.creator = inner.creator  # the identity requests name (ConfidentialContract.creator)

        def query(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return self.inner.query(*args, **kwargs)

        def invoke(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            fabric.registry.crash = True
            return self.inner.invoke(*args, **kwargs)

    crashing = fabric.contract()
    crashing.contract = CrashBeforeEndorse(crashing.contract)  # type: ignore[assignment]
    blocks = len(fabric.gateway.blocks)
    with pytest.raises(EndorsementFailure) as caught:
        crashing.invoke("add", ["alice", "1"])
    message = caught.value.chaincode_message
    assert "is not registered" in message and "chaincode failed with RuntimeError" in message, message
    assert len(fabric.gateway.blocks) == blocks  # nothing was ordered
    assert ("ercc", "queryEnclave") in fabric.gateway.chaincode_calls
    fabric.registry.crash = False
    assert coffee.query("get", ["alice"]) == b"1"
