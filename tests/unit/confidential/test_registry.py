"""The enclave registry chaincode: registration checks, each refusal with its reason and no writes."""

from __future__ import annotations

import base64
import json

import pytest
from confidential_network import CHAINCODE, MEASUREMENT, Network
from cryptography.hazmat.primitives.asymmetric import rsa
from reference_enclave import ChaincodeSecrets, ReferenceEnclave

from foc.admin.definitions import define_chaincode
from foc.admin.devices import enroll_device
from foc.confidential.formats import Credentials, Evidence
from foc.confidential.suite import enclave_id
from foc.errors import AttestationError

NOT_ENROLLED = "does not verify under any of the"


def registry_state(network: Network) -> dict[str, bytes]:
    return {k: v for (ns, k), (v, _) in network.ledger.state_dump().items() if ns == "ercc"}


def refused(network: Network, credentials: bytes, reason: str) -> None:
    before = registry_state(network)
    result = network.register(credentials)
    assert not result.committed
    assert reason in result.response.message, result.response.message
    assert registry_state(network) == before


def test_registration_stores_credentials_and_answers_queries(registered: Network) -> None:
    eid = enclave_id(registered.enclave.enclave_point)
    key = registered.peer.query("ercc", ["queryChaincodeEncryptionKey", CHAINCODE]).response
    assert key.endorsed
    assert base64.b64decode(key.payload)[0] == 0x04
    one = registered.peer.query("ercc", ["QueryEnclaveCredentials", CHAINCODE, eid]).response
    assert Credentials.decode(base64.b64decode(one.payload)).attested_data.host_endpoint == "device-1:7052"
    listed = json.loads(
        registered.peer.query("ercc", ["queryListEnclaveCredentials", CHAINCODE]).response.payload
    )
    assert len(listed) == 1
    missing = registered.peer.query("ercc", ["queryChaincodeEncryptionKey", "tea"]).response
    assert missing.status == 404 and "no enclave is registered" in missing.message


def test_unenrolled_device_is_refused(network: Network, same_size_stranger_key: rsa.RSAPrivateKey) -> None:
    """The stranger's key has the enrolled key's size, so only the PSS verification can refuse it
    (a 2048-bit signature would already fail the length filter in front of it)."""
    enrolled = network.devices.get("device-1").public_key
    assert same_size_stranger_key.key_size == enrolled.key_size
    stranger = ReferenceEnclave(same_size_stranger_key, MEASUREMENT)
    refused(network, stranger.create(network.config()), NOT_ENROLLED)


def test_evidence_with_a_chosen_nonce_is_refused(network: Network) -> None:
    credentials = network.enclave.create(network.config(), nonce=b"\x00" * 32)
    refused(network, credentials, "nonce was not SHA-256 of the attested data")


def test_tampered_evidence_signature_is_refused(network: Network) -> None:
    credentials = Credentials.decode(network.enclave.create(network.config()))
    evidence = credentials.evidence
    signature = bytearray(evidence.signature)
    signature[100] ^= 0x80
    tampered = Credentials(
        credentials.attested_data_bytes,
        Evidence(evidence.kind, evidence.measurement, bytes(signature)).encode(),
    )
    refused(network, tampered.encode(), NOT_ENROLLED)


def test_attested_data_swapped_under_valid_evidence_is_refused(network: Network) -> None:
    """The normal world cannot reuse genuine evidence for keys it chose."""
    genuine = Credentials.decode(network.enclave.create(network.config()))
    chosen = Credentials.decode(
        ReferenceEnclave(network.enclave.device_key, MEASUREMENT).create(network.config())
    )
    refused(network, Credentials(chosen.attested_data_bytes, genuine.evidence_bytes).encode(), NOT_ENROLLED)


def test_wrong_measurement_is_refused(network: Network) -> None:
    credentials = network.enclave.create(network.config(), measurement=bytes(32))
    refused(network, credentials, "TA measurement " + "00" * 32 + " does not match")


def test_wrong_chaincode_id_is_refused(network: Network) -> None:
    refused(network, network.enclave.create(network.config(chaincode_id="tea")), "'tea' has no definition")


def test_credentials_for_another_defined_chaincode_do_not_match_its_version(network: Network) -> None:
    define_chaincode("tea", "ab" * 32, "dev", home=network.home)
    refused(network, network.enclave.create(network.config(chaincode_id="tea")), "claim chaincode version")


def test_wrong_version_is_refused(network: Network) -> None:
    refused(
        network,
        network.enclave.create(network.config(chaincode_version="ab" * 32)),
        "claim chaincode version",
    )


def test_wrong_channel_is_refused(network: Network) -> None:
    refused(network, network.enclave.create(network.config(channel_id="prod")), "channel 'prod'")


def test_second_registration_of_the_same_enclave_is_refused(registered: Network) -> None:
    eid = enclave_id(registered.enclave.enclave_point)
    refused(
        registered, registered.enclave.create(registered.config()), f"enclave {eid} is already registered"
    )


def test_second_enclave_on_the_same_device_is_refused(registered: Network) -> None:
    again = ReferenceEnclave(registered.enclave.device_key, MEASUREMENT, registered.enclave.secrets)
    eid = enclave_id(registered.enclave.enclave_point)
    refused(
        registered,
        again.create(registered.config(host_endpoint="device-1:7053")),
        f"device 'device-1' already serves enclave {eid} for chaincode 'coffee' (one enclave per device)",
    )


def test_enclaves_on_two_devices_share_the_chaincode_key(
    registered: Network, other_device_key: rsa.RSAPrivateKey
) -> None:
    enroll_device("device-2", other_device_key.public_key(), home=registered.home)
    same_endpoint = ReferenceEnclave(other_device_key, MEASUREMENT, registered.enclave.secrets)
    eid = enclave_id(registered.enclave.enclave_point)
    refused(
        registered,
        same_endpoint.create(registered.config()),
        f"host endpoint 'device-1:7052' already serves enclave {eid} for chaincode 'coffee' "
        "(one enclave per host endpoint)",
    )
    own_key = ReferenceEnclave(other_device_key, MEASUREMENT, ChaincodeSecrets())
    refused(
        registered, own_key.create(registered.config(host_endpoint="device-2:7052")), "chaincode key differs"
    )
    second = ReferenceEnclave(other_device_key, MEASUREMENT, registered.enclave.secrets)
    assert registered.register(second.create(registered.config(host_endpoint="device-2:7052"))).committed
    listed = json.loads(
        registered.peer.query("ercc", ["queryListEnclaveCredentials", CHAINCODE]).response.payload
    )
    assert len(listed) == 2
    # A client accepts answers from either registered enclave.
    registered.slot.enclave = second  # type: ignore[attr-defined]
    assert registered.submit(registered.client(), "create", "carol", "3").value() == b"OK"


def test_no_enrolled_device_means_no_registration(network: Network) -> None:
    network.devices.remove("device-1")
    refused(network, network.enclave.create(network.config()), "no device is enrolled")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["registerEnclave", "not base64!"], "credentials in base64"),
        (["registerEnclave", base64.b64encode(b"FCD1junk").decode()], "malformed credentials"),
        (["registerEnclave"], "takes 1 argument(s), got 0"),
        (["dropEverything", "x"], "unknown registry function"),
    ],
)
def test_malformed_calls_are_refused_with_a_reason(network: Network, args: list[str], reason: str) -> None:
    result = network.peer.invoke("ercc", args)
    assert not result.committed
    assert reason in result.response.message


def test_native_insecure_evidence_is_refused_unless_allowed(network: Network) -> None:
    credentials = Credentials.decode(network.enclave.create(network.config()))
    evidence = credentials.evidence
    native = Credentials(
        credentials.attested_data_bytes,
        Evidence("native-insecure-v1", evidence.measurement, evidence.signature).encode(),
    )
    refused(network, native.encode(), "host-native build")
    from foc.registry.attestation import verify_credentials

    verified = verify_credentials(
        native, network.definition, network.devices.devices(), allow_insecure_native=True
    )
    assert verified.device.name == "device-1"


def test_verify_credentials_refuses_native_evidence_by_default_and_returns_what_it_checked(
    network: Network,
) -> None:
    from foc.registry.attestation import verify_credentials

    credentials = Credentials.decode(network.enclave.create(network.config()))
    verified = verify_credentials(credentials, network.definition, network.devices.devices())
    assert verified.credentials == credentials and verified.evidence == credentials.evidence
    assert verified.attested == credentials.attested_data and verified.device.name == "device-1"
    evidence = credentials.evidence
    native = Credentials(
        credentials.attested_data_bytes,
        Evidence("native-insecure-v1", evidence.measurement, evidence.signature).encode(),
    )
    with pytest.raises(AttestationError, match="host-native build"):
        verify_credentials(native, network.definition, network.devices.devices())


def test_every_enrolled_key_is_tried_until_one_verifies(
    network: Network, other_device_key: rsa.RSAPrivateKey, same_size_stranger_key: rsa.RSAPrivateKey
) -> None:
    """A device whose key has another size, or whose same-size key does not verify, is skipped: the
    search goes on to the device that signed."""
    enroll_device("a-first-device", other_device_key.public_key(), home=network.home)  # RSA-2048
    enroll_device("b-second-device", same_size_stranger_key.public_key(), home=network.home)  # RSA-3072
    names = [d.name for d in network.devices.devices()]
    assert names.index("a-first-device") < names.index("b-second-device") < names.index("device-1")
    assert network.register(network.enclave.create(network.config())).committed


def test_queries_for_a_chaincode_see_only_its_own_enclaves(network: Network) -> None:
    """Registry keys are `credentials/<chaincode>/<enclave>`: the range for `coffee` must not reach
    `coffee0/...` or `coffeea/...` (ids that sort just after `coffee/`)."""
    for other in ("coffee0", "coffeea"):
        define_chaincode(other, MEASUREMENT.hex(), "dev", home=network.home)
        enclave = ReferenceEnclave(network.enclave.device_key, MEASUREMENT)
        assert network.register(enclave.create(network.config(chaincode_id=other))).committed
    own = network.enclave.create(network.config())
    assert network.register(own).committed
    answer = network.peer.query("ercc", ["queryListEnclaveCredentials", CHAINCODE]).response
    listed = json.loads(answer.payload)
    assert [base64.b64decode(c) for c in listed] == [own]
    key = network.peer.query("ercc", ["queryChaincodeEncryptionKey", CHAINCODE]).response.payload
    assert base64.b64decode(key) == Credentials.decode(own).attested_data.chaincode_pub


def test_registry_answers_that_are_not_strict_base64_are_refused() -> None:
    from foc.chaincode.stub import Response
    from foc.errors import ConfidentialityError
    from foc.registry.ercc import RegistryQuery

    good = base64.b64encode(b"\x04" + bytes(64))
    reader = RegistryQuery(lambda args: Response.success(b"!" + good))
    with pytest.raises(ConfidentialityError, match="not base64"):
        reader.chaincode_encryption_key(CHAINCODE)
    record = {"enclave_id": "e" * 64, "credentials": "!" + good.decode(), "device": "", "organisation": ""}
    record["revoked_by"] = ""
    reader = RegistryQuery(lambda args: Response.success(json.dumps(record).encode()))
    with pytest.raises(ConfidentialityError, match="credentials that are not base64"):
        reader.enclave(CHAINCODE, "e" * 64)


def test_registration_needs_strict_base64(network: Network) -> None:
    credentials = base64.b64encode(network.enclave.create(network.config())).decode()
    result = network.peer.invoke("ercc", ["registerEnclave", "!" + credentials])
    assert not result.committed and "credentials in base64" in result.response.message
    assert network.register(base64.b64decode(credentials)).committed  # control


def test_revocation_is_recorded_refused_twice_and_frees_the_device_for_a_new_enclave(
    registered: Network,
) -> None:
    """revokeEnclave (issue 13): the record keeps the enclave with the revoking transaction, live
    lists drop it, a second revocation is refused, and its device and endpoint may register again."""
    eid = enclave_id(registered.enclave.enclave_point)
    again = registered.enclave.create(registered.config())  # same enclave key: registered already
    refused(registered, again, "already registered")
    replacement = ReferenceEnclave(registered.enclave.device_key, MEASUREMENT, registered.enclave.secrets)
    credentials = replacement.create(registered.config())
    refused(registered, credentials, "one enclave per device")

    before = json.loads(registered.peer.query("ercc", ["queryEnclave", CHAINCODE, eid]).response.payload)
    assert before["revoked_by"] == "" and before["device"]  # organisation "": the definition names none
    revoked = registered.peer.invoke("ercc", ["revokeEnclave", CHAINCODE, eid])
    assert revoked.committed and revoked.response.payload == b"OK", revoked.response.message
    record = json.loads(registered.peer.query("ercc", ["queryEnclave", CHAINCODE, eid]).response.payload)
    assert record == {**before, "revoked_by": revoked.tx_id}  # the rest of the record is kept
    live = registered.peer.query("ercc", ["queryListEnclaveCredentials", CHAINCODE]).response.payload
    assert json.loads(live) == []
    twice = registered.peer.invoke("ercc", ["revokeEnclave", CHAINCODE, eid])
    assert not twice.committed and "already revoked" in twice.response.message
    unknown = registered.peer.invoke("ercc", ["revokeEnclave", CHAINCODE, "00" * 32])
    assert not unknown.committed and "not registered" in unknown.response.message

    assert registered.register(credentials).committed  # the device's slot was freed
    everything = json.loads(registered.peer.query("ercc", ["queryListEnclaves", CHAINCODE]).response.payload)
    assert sorted(r["revoked_by"] != "" for r in everything) == [False, True]


class _DictStub:
    """The part of the ChaincodeStub interface `revokeEnclave` uses, with no transaction id."""

    tx_id = ""
    channel_id = "dev"

    def __init__(self, args: list[bytes], state: dict[str, bytes]) -> None:
        self.args, self.state = args, state

    def get_args(self) -> list[bytes]:
        return self.args

    def get_state(self, key: str) -> bytes | None:
        return self.state.get(key)

    def put_state(self, key: str, value: bytes) -> None:
        self.state[key] = value


def test_a_revocation_without_a_transaction_id_still_revokes(registered: Network) -> None:
    """A stub that has no transaction id (not a peer's) must not leave `revoked_by` empty, which
    would read as live."""
    from foc.admin.definitions import DefinitionStore
    from foc.registry.ercc import EnclaveRegistry

    eid = enclave_id(registered.enclave.enclave_point)
    state = {
        key: registered.peer.query("ercc", [function, CHAINCODE, eid]).response.payload
        for key, function in (
            (f"credentials/{CHAINCODE}/{eid}", "queryEnclaveCredentials"),
            (f"enclave/{CHAINCODE}/{eid}", "queryEnclave"),
        )
    }
    state[f"credentials/{CHAINCODE}/{eid}"] = base64.b64decode(state[f"credentials/{CHAINCODE}/{eid}"])
    before = json.loads(state[f"enclave/{CHAINCODE}/{eid}"])
    registry = EnclaveRegistry(DefinitionStore(registered.home), registered.devices)
    stub = _DictStub([b"revokeEnclave", CHAINCODE.encode(), eid.encode()], state)
    answer = registry.invoke(stub)  # type: ignore[arg-type]
    assert answer.status == 200 and answer.payload == b"OK", answer.message
    record = json.loads(state[f"enclave/{CHAINCODE}/{eid}"])
    assert record == {**before, "revoked_by": "revoked"}
    assert registry.enclave(stub, CHAINCODE, eid).revoked  # type: ignore[arg-type]


def test_an_enclave_record_is_read_back_exactly_and_a_malformed_one_is_refused(registered: Network) -> None:
    """queryEnclave's record has exactly the five fields, all strings; the reader refuses any other
    shape (a record without `revoked_by` must not read as a live enclave)."""
    from foc.errors import ConfidentialityError
    from foc.registry.ercc import RECORD_FIELDS, RegisteredEnclave

    eid = enclave_id(registered.enclave.enclave_point)
    record = registered.registry().enclave(CHAINCODE, eid)
    as_json = record.to_json()
    assert sorted(as_json) == sorted(RECORD_FIELDS) and as_json["device"] == record.device != ""
    assert RegisteredEnclave.from_json(json.loads(json.dumps(as_json))) == record
    for name in RECORD_FIELDS:
        missing = {k: v for k, v in as_json.items() if k != name}
        with pytest.raises(ConfidentialityError, match="not a JSON object of the fields"):
            RegisteredEnclave.from_json(missing)
        with pytest.raises(ConfidentialityError, match="not a string"):
            RegisteredEnclave.from_json({**as_json, name: None})
    with pytest.raises(ConfidentialityError, match="not a JSON object of the fields"):
        RegisteredEnclave.from_json({**as_json, "extra": ""})
    with pytest.raises(ConfidentialityError, match="not a JSON object"):
        RegisteredEnclave.from_json([as_json])


def test_credentials_registered_without_a_record_read_as_a_live_enclave_of_no_organisation(
    registered: Network,
) -> None:
    """A registry state written before enclave records existed holds only the credentials: the
    enclave reads as live, with no device or organisation."""
    from foc.admin.definitions import DefinitionStore
    from foc.registry.ercc import EnclaveRegistry

    eid = enclave_id(registered.enclave.enclave_point)
    raw = base64.b64decode(
        registered.peer.query("ercc", ["queryEnclaveCredentials", CHAINCODE, eid]).response.payload
    )
    stub = _DictStub([], {f"credentials/{CHAINCODE}/{eid}": raw})
    record = EnclaveRegistry(DefinitionStore(registered.home), registered.devices).enclave(
        stub,  # type: ignore[arg-type]
        CHAINCODE,
        eid,
    )
    assert (record.enclave_id, record.credentials.encode(), record.device, record.organisation) == (
        eid,
        raw,
        "",
        "",
    )
    assert not record.revoked
