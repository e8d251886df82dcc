"""Two organisations on a Fabric channel endorse one confidential chaincode (issue 13, docs/fabric.md
"Several organisations"): each organisation's peer runs its own chaincode server (`foc serve`) in
front of its own device's enclave, and the client (`foc.connect(gateway=..., organisations=[...])`)
reaches each through the one gateway with `target_organizations`. The real CaaS shim serves both
`coffee` servers and `ercc`; the fake gateway (tests/unit/gateway/fake_gateway.py) routes Evaluate
to the named organisation's peer over the channel's one world state. The two enclaves are TEST-ONLY
reference enclaves that share the chaincode keys, as after the TAs' attested key transfer (the
transfer itself is tested on the TA: ta/native/tests/test_confidential.c, tests/native/test_keydist.py,
tests/qemu/test_keydist_optee.py)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "gateway"))
sys.path.insert(0, str(HERE.parent / "fabric"))

from client_network import EnclaveSlot  # noqa: E402
from fake_gateway import FakeGateway  # noqa: E402
from reference_enclave import ChaincodeSecrets, ReferenceEnclave  # noqa: E402

from foc import connect  # noqa: E402
from foc.admin.definitions import DefinedDevice, DefinitionStore, define_chaincode  # noqa: E402
from foc.admin.devices import DeviceStore, enroll_device  # noqa: E402
from foc.client.confidential import ConfidentialContract, ContractRegistry  # noqa: E402
from foc.client.identity import Identity  # noqa: E402
from foc.client.network import Network  # noqa: E402
from foc.confidential.formats import (  # noqa: E402
    ConfidentialResponse,
    EnclaveConfig,
    SignedMessage,
    StoredValue,
)
from foc.errors import EndorsementPolicyFailure, VerificationError  # noqa: E402
from foc.fabric.server import ChaincodeServer  # noqa: E402
from foc.protocol.context import creator_hash  # noqa: E402
from foc.registry.ercc import REGISTRY_NAME, EnclaveRegistry  # noqa: E402
from foc.registry.validation import verify_endorsements  # noqa: E402
from foc.wrapper.confidential import ConfidentialChaincode  # noqa: E402

CHANNEL = "mychannel"
MEASUREMENT = bytes.fromhex("5e" * 32)
ORGS = ("Org1MSP", "Org2MSP")
COFFEE_PACKAGE = {org: f"coffee_1.0:{i + 1:02d}" + "cd" * 31 for i, org in enumerate(ORGS)}
ERCC_PACKAGE = "ercc_1.0:" + "ef" * 32


@dataclass
class TwoOrgs:
    home: Path
    gateway: FakeGateway
    net: Network
    enclaves: dict[str, ReferenceEnclave]


@pytest.fixture
def fabric(tmp_path: Path) -> Iterator[TwoOrgs]:
    home = tmp_path / "home"
    keys = {org: rsa.generate_private_key(public_exponent=65537, key_size=2048) for org in ORGS}
    enrolled = {org: enroll_device(f"device-{org}", keys[org].public_key(), home=home) for org in ORGS}
    definition = define_chaincode(
        "coffee", MEASUREMENT.hex(), CHANNEL, home=home,
        devices=tuple(DefinedDevice(enrolled[org].fingerprint, org) for org in ORGS),
        endorsement_policy="AND('Org1MSP', 'Org2MSP')",
    )  # fmt: skip
    definitions, devices = DefinitionStore(home), DeviceStore(home)
    shared = ChaincodeSecrets()  # both TAs hold the chaincode keys (after the key transfer)
    enclaves = {org: ReferenceEnclave(keys[org], MEASUREMENT, shared) for org in ORGS}
    credentials = {
        org: enclaves[org].create(
            EnclaveConfig(
                "coffee", MEASUREMENT.hex(), CHANNEL, f"peer0.{org}:7052", key_policy=definition.key_policy()
            )
        )
        for org in ORGS
    }
    identity = Identity.generate_for_tests("Org1MSP", "User1")
    servers = {org: ConfidentialChaincode("coffee", EnclaveSlot(enclaves[org]), definitions) for org in ORGS}
    with (
        ChaincodeServer(EnclaveRegistry(definitions, devices), ERCC_PACKAGE, request_timeout=20) as ercc,
        ChaincodeServer(servers["Org1MSP"], COFFEE_PACKAGE["Org1MSP"], request_timeout=20) as coffee1,
        ChaincodeServer(servers["Org2MSP"], COFFEE_PACKAGE["Org2MSP"], request_timeout=20) as coffee2,
        FakeGateway(
            channel_id=CHANNEL,
            msp_ids=ORGS,
            chaincodes={
                "coffee": (f"127.0.0.1:{coffee1.port}", COFFEE_PACKAGE["Org1MSP"]),
                "ercc": (f"127.0.0.1:{ercc.port}", ERCC_PACKAGE),
            },
            organisations={"Org2MSP": {"coffee": (f"127.0.0.1:{coffee2.port}", COFFEE_PACKAGE["Org2MSP"])}},
        ) as gateway,
        connect(
            gateway=gateway.address, identity=identity, channel=CHANNEL, home=home, organisations=ORGS
        ) as net,
    ):
        for org in ORGS:
            net.register_enclave("coffee", credentials=credentials[org])
        yield TwoOrgs(home, gateway, net, enclaves)


def _invokes_at(gateway: FakeGateway, org: str) -> int:
    peer = gateway.org_peers[org]["coffee"] if org in gateway.org_peers else gateway.peers["coffee"]
    done = (peer.Msg.COMPLETED, peer.Msg.ERROR)  # one per transaction the chaincode ran there
    return sum(1 for m in list(peer.received) if m.type in done)


def test_both_organisations_peers_endorse_through_the_gateway(fabric: TwoOrgs) -> None:
    net, gateway = fabric.net, fabric.gateway
    assert sorted(r.organisation for r in net.enclaves("coffee")) == list(ORGS)
    before = {org: _invokes_at(gateway, org) for org in ORGS}
    coffee = net.contract("coffee")
    assert coffee.invoke("create", ["alice", "7340010"]) == b"OK"
    assert coffee.invoke("add", ["alice", "1"]) == b"7340011"
    # each invoke ran __invoke at both organisations' peers (their own enclaves), then __endorse
    assert _invokes_at(gateway, "Org2MSP") - before["Org2MSP"] == 2
    assert _invokes_at(gateway, "Org1MSP") - before["Org1MSP"] == 4
    before = {org: _invokes_at(gateway, org) for org in ORGS}
    for _ in ORGS:  # queries alternate between the organisations' enclaves
        assert coffee.query("get", ["alice"]) == b"7340011"
    assert {org: _invokes_at(gateway, org) - before[org] for org in ORGS} == {org: 1 for org in ORGS}


def test_a_stale_peer_makes_the_enclaves_disagree_and_a_revoked_one_cannot_endorse(fabric: TwoOrgs) -> None:
    net, gateway = fabric.net, fabric.gateway
    coffee = net.contract("coffee")
    assert coffee.invoke("create", ["bob", "3"]) == b"OK"
    # Org2's peer stops following the channel: its world state is a copy from now on.
    org2 = gateway.org_peers["Org2MSP"]["coffee"]
    org2.state, org2.versions = dict(org2.state), dict(org2.versions)
    assert coffee.invoke("add", ["bob", "1"]) == b"4"  # both still saw the same bob
    blocks = len(gateway.blocks)
    with pytest.raises(VerificationError, match="endorsing enclaves disagree"):
        coffee.invoke("add", ["bob", "1"])  # Org2's enclave read the old bob
    assert len(gateway.blocks) == blocks  # nothing was submitted
    # back in sync; then Org2's enclave is revoked: AND('Org1MSP', 'Org2MSP') cannot be met
    org2.state, org2.versions = gateway.peers["coffee"].state, gateway.peers["coffee"].versions
    assert coffee.invoke("add", ["bob", "1"]) == b"5"
    revoked = next(r for r in net.enclaves("coffee") if r.organisation == "Org2MSP")
    net.revoke_enclave("coffee", revoked.enclave_id)
    with pytest.raises(EndorsementPolicyFailure, match="not satisfied"):
        coffee.invoke("add", ["bob", "1"])
    assert coffee.query("get", ["bob"]) == b"5"  # Org1's enclave still answers (Org2's is skipped)


def test_enclaves_that_disagree_only_on_a_range_or_the_creator_are_refused(fabric: TwoOrgs) -> None:
    """The agreement check compares the signed creator hash and the range reads too (issue 12's
    FSR2 fields), not only reads and writes: one enclave answered a range from other state; one
    signed another creator (an enclave that lies, played by re-signing with its key)."""
    net = fabric.net
    org1, org2 = (fabric.enclaves[org] for org in ORGS)
    coffee = net.contract("coffee")
    assert isinstance(coffee, ConfidentialContract)
    request = coffee._prepare("range", ["a", "z"])[1].request
    creator = coffee.creator()
    definition = DefinitionStore(fabric.home).get("coffee")
    registry = ContractRegistry(net.contract(REGISTRY_NAME, plaintext=True))
    nonce = b"\x07" * 12
    stored = StoredValue(
        nonce, AESGCM(org2.secrets.state_key).encrypt(nonce, b"1", b"FOC/v1/state" + b"b")
    ).encode()

    def run(enclave: ReferenceEnclave, entries: list[tuple[str, bytes]]) -> bytes:
        return enclave.invoke(
            request, lambda key: None, creator=creator, get_state_by_range=lambda start, end: entries
        )

    first, same = run(org1, []), run(org2, [])
    assert len(verify_endorsements([first, same], request, definition, registry)) == 2  # control: agree
    other_range = run(org2, [("b", stored)])
    envelope = ConfidentialResponse.decode(same)
    message = SignedMessage.decode(envelope.signed_message)
    assert message.creator_hash == creator_hash(creator) != creator_hash(None)
    lying = dataclasses.replace(message, creator_hash=creator_hash(None)).encode()
    r, s = decode_dss_signature(org2.signing_key.sign(lying, ec.ECDSA(hashes.SHA256())))
    other_creator = ConfidentialResponse(lying, r.to_bytes(32, "big") + s.to_bytes(32, "big")).encode()
    for odd in (other_range, other_creator):
        for pair in ([first, odd], [odd, first]):
            with pytest.raises(VerificationError, match="endorsing enclaves disagree"):
                verify_endorsements(pair, request, definition, registry)


def test_validation_refuses_endorsements_that_do_not_satisfy_the_policy(fabric: TwoOrgs) -> None:
    """The endorsement policy is checked at validation too (`verify_endorsements`, what `__endorse`
    runs), not only by the client that collects: one organisation's enclave alone cannot satisfy
    AND('Org1MSP', 'Org2MSP'); the refusal names the organisations that did endorse (an enclave
    whose record has no organisation, registered before records existed, as "no organisation")."""
    net = fabric.net
    org1, org2 = (fabric.enclaves[org] for org in ORGS)
    coffee = net.contract("coffee")
    assert isinstance(coffee, ConfidentialContract)
    request = coffee._prepare("whoami", [])[1].request
    creator = coffee.creator()
    definition = DefinitionStore(fabric.home).get("coffee")
    registry = ContractRegistry(net.contract(REGISTRY_NAME, plaintext=True))
    first = org1.invoke(request, lambda key: None, creator=creator)
    second = org2.invoke(request, lambda key: None, creator=creator)
    assert len(verify_endorsements([first, second], request, definition, registry)) == 2  # control
    for alone, org in ((first, "Org1MSP"), (second, "Org2MSP")):
        with pytest.raises(VerificationError) as refused:
            verify_endorsements([alone], request, definition, registry)
        assert refused.value.args[0] == (
            "endorsement policy AND('Org1MSP', 'Org2MSP') of chaincode 'coffee' is not satisfied by the "
            f"enclaves of {org}"
        )

    class NoOrganisation:
        def enclave(self, chaincode_id: str, enclave_id: str):  # type: ignore[no-untyped-def]
            return dataclasses.replace(registry.enclave(chaincode_id, enclave_id), organisation="")

    with pytest.raises(VerificationError) as refused:
        verify_endorsements([first, second], request, definition, NoOrganisation())  # type: ignore[arg-type]
    assert refused.value.args[0].endswith("is not satisfied by the enclaves of no organisation")
