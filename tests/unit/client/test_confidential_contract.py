"""ConfidentialContract over a Contract back end (the dev ledger behind a recording, tampering
Contract), with the TEST-ONLY reference enclave: verify before trusting, refuse tampered or foreign
responses, and commit nothing unless the verified result is a success."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).parent))

from client_network import CHAINCODE, MEASUREMENT, ClientNetwork, make_network  # noqa: E402
from reference_enclave import ReferenceEnclave  # noqa: E402

from foc.admin.devices import DeviceStore  # noqa: E402
from foc.client.confidential import (  # noqa: E402
    ConfidentialChaincodeError,
    ConfidentialClient,
    ConfidentialContract,
    ConfidentialResult,
    ContractRegistry,
)
from foc.client.devledger import DevLedgerContract  # noqa: E402
from foc.confidential.formats import ConfidentialResponse, EncryptedResponse, SignedMessage  # noqa: E402
from foc.confidential.suite import EC_P256, EcP256Suite  # noqa: E402
from foc.errors import (  # noqa: E402
    AttestationError,
    ChaincodeError,
    ConfidentialityError,
    ConfigError,
    EndorsementFailure,
    MvccConflict,
    VerificationError,
)


@pytest.fixture(scope="module")
def device_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def network(tmp_path: Path, device_key: rsa.RSAPrivateKey) -> Iterator[ClientNetwork]:
    net = make_network(tmp_path, device_key)
    try:
        yield net
    finally:
        net.net.close()


@pytest.fixture
def registered(network: ClientNetwork) -> ClientNetwork:
    network.register()
    return network


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def test_invoke_commits_only_ciphertext_and_query_commits_nothing(registered: ClientNetwork) -> None:
    contract = registered.contract(devices=DeviceStore(registered.home))
    assert contract.invoke("create", ["alice", "7340010"]) == b"OK"
    assert contract.invoke("add", ["alice", "5"]) == b"7340015"
    height = registered.net.ledger.height
    assert contract.query("get", ["alice"]) == b"7340015"
    assert registered.net.ledger.height == height, "a query committed something"
    assert registered.recorder.calls == [
        ("query", "__invoke"),
        ("invoke", "__endorse"),
        ("query", "__invoke"),
        ("invoke", "__endorse"),
        ("query", "__invoke"),
    ]
    values = registered.values()
    assert values["alice"].startswith(b"FCS1") and b"7340015" not in values["alice"]
    assert {k for k in values if k != "alice"} == {k for k in values if k.startswith("~foc/request/")}
    assert contract.last_enclave_id == hashlib.sha256(registered.slot.enclave.enclave_point).hexdigest()
    assert registered.net.ledger.verify().ok


def test_chaincode_refusal_is_typed_with_the_tas_code_and_commits_nothing(registered: ClientNetwork) -> None:
    contract = registered.contract()
    contract.invoke("create", ["alice", "1"])
    height = registered.net.ledger.height
    with pytest.raises(ConfidentialChaincodeError) as caught:
        contract.invoke("create", ["alice", "2"])
    error = caught.value
    assert (error.code, error.reason, error.status) == ("EXISTS", "the key already exists", 500)
    assert error.chaincode_message == "EXISTS: the key already exists"
    assert isinstance(error, ChaincodeError) and isinstance(error, EndorsementFailure)
    assert error.exit_code == 9
    with pytest.raises(ConfidentialChaincodeError) as missing:
        contract.query("get", ["bob"])
    assert missing.value.code == "NOT_FOUND"
    assert registered.recorder.submitted == ["__endorse"], "a refused invocation was submitted"
    assert registered.net.ledger.height == height


@pytest.mark.parametrize(
    ("where", "error", "reason"),
    [
        ("signature", VerificationError, "enclave response: signature does not verify"),
        ("encrypted_response", VerificationError, "enclave response: signature does not verify"),
        ("write_value", VerificationError, "enclave response: signature does not verify"),
        ("request_hash", VerificationError, "enclave response: signature does not verify"),
        ("envelope", ConfidentialityError, "malformed confidential response"),
    ],
)
def test_tampered_response_is_refused_before_decryption_and_nothing_is_submitted(
    registered: ClientNetwork,
    where: str,
    error: type[ConfidentialityError],
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each tampering is refused by the named check, and the response key is never used: an
    AES-GCM failure (ConfidentialityError "failed authentication") would not pass for one."""
    contract = registered.contract()
    contract.invoke("create", ["alice", "1"])
    before = registered.values()

    def tamper(payload: bytes) -> bytes:
        envelope = ConfidentialResponse.decode(payload)
        if where == "signature":
            return ConfidentialResponse(envelope.signed_message, flip(envelope.signature, 5)).encode()
        if where == "envelope":
            return payload[:-1]
        message = SignedMessage.decode(envelope.signed_message)
        if where == "encrypted_response":
            message = SignedMessage(
                message.enclave_id,
                message.request_hash,
                message.reads,
                message.writes,
                flip(message.encrypted_response, 20),
            )
        elif where == "request_hash":
            message = SignedMessage(
                message.enclave_id,
                flip(message.request_hash, 0),
                message.reads,
                message.writes,
                message.encrypted_response,
            )
        else:
            write = message.writes[0]
            forged = type(write)(write.key, write.is_delete, flip(write.stored_value, 30))
            message = SignedMessage(
                message.enclave_id, message.request_hash, message.reads, (forged,), message.encrypted_response
            )
        return ConfidentialResponse(message.encode(), envelope.signature).encode()

    registered.recorder.tamper = tamper
    decrypted: list[str] = []
    unseal = EcP256Suite.unseal

    def spy(self: EcP256Suite, *args: object, **kwargs: object) -> bytes:
        decrypted.append(str(kwargs.get("what")))
        return unseal(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(EcP256Suite, "unseal", spy)
    with pytest.raises(ConfidentialityError, match=reason) as caught:
        contract.invoke("add", ["alice", "1"])
    assert type(caught.value) is error, repr(caught.value)
    assert decrypted == [], "the response was decrypted before it was verified"
    assert registered.recorder.submitted == ["__endorse"], "a tampered response was submitted"
    assert registered.values() == before
    registered.recorder.tamper = None
    assert contract.query("get", ["alice"]) == b"1"
    assert decrypted == ["response"]  # the spy does see a decryption


def test_a_signed_response_that_fails_decryption_is_a_distinct_error(registered: ClientNetwork) -> None:
    """The control for the test above: a response that passes every check but does not decrypt
    under the response key fails in AES-GCM, with its own message, and is not submitted."""
    contract = registered.contract()
    enclave = registered.slot.enclave

    def resign_with_garbage(payload: bytes) -> bytes:
        message = ConfidentialResponse.decode(payload).message()
        garbage = EncryptedResponse(b"\x00" * 12, b"\x00" * 32).encode()
        resigned = SignedMessage(
            message.enclave_id, message.request_hash, message.reads, message.writes, garbage
        ).encode()
        return ConfidentialResponse(resigned, EC_P256.sign(enclave.signing_key, resigned)).encode()

    registered.recorder.tamper = resign_with_garbage
    with pytest.raises(ConfidentialityError, match="response failed authentication") as caught:
        contract.invoke("create", ["alice", "1"])
    assert not isinstance(caught.value, VerificationError)
    assert registered.recorder.submitted == []


def test_a_rogue_enclave_holding_the_chaincode_key_is_not_trusted(registered: ClientNetwork) -> None:
    # The normal world runs a second enclave with the very same chaincode secrets, never
    # registered: it can decrypt the request and produce a perfectly decryptable answer.
    rogue = ReferenceEnclave(registered.device_key, MEASUREMENT, registered.secrets)
    rogue.create(registered.config())
    registered.slot.enclave = rogue
    contract = registered.contract()
    with pytest.raises(VerificationError, match="not registered"):
        contract.query("get", ["alice"])
    with pytest.raises(VerificationError, match="not registered"):
        contract.invoke("create", ["alice", "1"])
    assert registered.recorder.submitted == []
    assert registered.values() == {}


def test_a_replayed_response_for_another_request_is_refused(registered: ClientNetwork) -> None:
    contract = registered.contract()
    contract.invoke("create", ["alice", "1"])
    old: list[bytes] = []
    registered.recorder.tamper = lambda payload: old.append(payload) or payload
    contract.query("get", ["alice"])
    registered.recorder.tamper = lambda payload: old[0]
    with pytest.raises(VerificationError, match="different request"):
        contract.invoke("add", ["alice", "5"])
    assert registered.recorder.submitted == ["__endorse"]


def test_the_client_re_verifies_attestation_when_given_devices(registered: ClientNetwork) -> None:
    # The registry admitted the enclave; then the administrator un-enrolled its device.
    assert registered.contract(devices=DeviceStore(registered.home)).query("create", ["x", "1"]) == b"OK"
    DeviceStore(registered.home).remove("device-1")
    assert registered.contract().query("create", ["x", "1"]) == b"OK"  # relies on the registry
    with pytest.raises(AttestationError, match="no device is enrolled"):
        registered.contract(devices=DeviceStore(registered.home)).query("create", ["x", "1"])
    assert registered.recorder.submitted == []


def test_a_read_changed_between_invoke_and_endorse_is_an_mvcc_conflict_and_commits_nothing(
    registered: ClientNetwork,
) -> None:
    """Issue 8, kind 3 (deterministic form): another `add` commits between a client's `__invoke`
    and its `__endorse`. The stale read `__endorse` finds is MvccConflict (exit 10), the same
    outcome as a conflict at commit, so clients and load generators can count and retry it."""
    contract = registered.contract()
    contract.invoke("create", ["alice", "1"])
    other = registered.contract()
    # Between __invoke and __endorse, another client changes the value the enclave read.
    registered.recorder.before_endorse = lambda: (
        setattr(registered.recorder, "before_endorse", None),
        other.invoke("add", ["alice", "100"]),
    )
    with pytest.raises(MvccConflict, match="read value of alice changed") as caught:
        contract.invoke("add", ["alice", "5"])
    assert caught.value.exit_code == 10 and not isinstance(caught.value, EndorsementFailure)
    assert contract.query("get", ["alice"]) == b"101"
    # Retried from scratch, the same call now commits on top of the other client's write.
    contract.invoke("add", ["alice", "5"])
    assert contract.query("get", ["alice"]) == b"106"


def test_other_validation_refusals_stay_endorsement_failures(registered: ClientNetwork) -> None:
    """A replayed `__endorse` is refused by validation: not a conflict (retrying cannot help)."""
    contract = registered.contract()
    contract.invoke("create", ["alice", "1"])
    request, response = registered.recorder.last_endorse
    with pytest.raises(EndorsementFailure, match="VALIDATION: this request was already committed") as caught:
        registered.recorder.inner.invoke("__endorse", [request, response])
    assert not isinstance(caught.value, MvccConflict)


def test_without_a_definition_or_an_enclave_the_errors_say_what_to_run(
    tmp_path: Path, device_key: rsa.RSAPrivateKey
) -> None:
    undefined = make_network(tmp_path / "a", device_key, define=False)
    with pytest.raises(ConfigError, match="no definition") as caught:
        undefined.contract().invoke("create", ["alice", "1"])
    assert "foc chaincode define" in str(caught.value)
    unregistered = make_network(tmp_path / "b", device_key)
    with pytest.raises(ConfigError, match="no enclave is registered") as caught:
        unregistered.contract().query("get", ["alice"])
    assert "foc enclave create" in str(caught.value) and "foc enclave register" in str(caught.value)
    assert unregistered.recorder.calls == []
    wrong_channel = ConfidentialContract(
        unregistered.recorder,
        chaincode_id=CHAINCODE,
        channel="other",
        registry=unregistered.net.contract("ercc"),
        definitions=unregistered.contract()._definitions,
    )
    with pytest.raises(ConfigError, match="defined on channel 'dev'"):
        wrong_channel.query("get", ["alice"])
    undefined.net.close()
    unregistered.net.close()


def test_refusals_before_the_enclave_answers_stay_unauthenticated_endorsement_failures(
    registered: ClientNetwork,
) -> None:
    # The enclave refuses to run (here: the request names another chaincode on its sealed config).
    registered.slot.enclave.config = type(registered.config())("other", MEASUREMENT.hex(), "dev", "e:1")
    with pytest.raises(EndorsementFailure) as caught:
        registered.contract().query("get", ["alice"])
    assert not isinstance(caught.value, ConfidentialChaincodeError)
    assert caught.value.chaincode_message.startswith("BAD_REQUEST: ")


def test_the_registry_may_be_a_registry_reader(registered: ClientNetwork) -> None:
    from foc.client.confidential import ContractRegistry
    from foc.registry.ercc import RegistryQuery

    reader = ContractRegistry(registered.net.contract("ercc"))
    assert isinstance(reader, RegistryQuery)
    contract = ConfidentialContract(
        registered.recorder,
        chaincode_id=CHAINCODE,
        channel="dev",
        registry=reader,
        definitions=registered.contract()._definitions,
    )
    assert contract.invoke("create", ["carol", "7"]) == b"OK"
    plain: DevLedgerContract = registered.recorder.inner
    assert plain.last_block == registered.net.ledger.height - 1


def test_native_insecure_evidence_is_accepted_only_where_it_is_allowed(
    tmp_path: Path, device_key: rsa.RSAPrivateKey
) -> None:
    """The host-native build's evidence (native-insecure-v1) proves nothing: a client that re-verifies
    attestation refuses it unless it allows it itself, whatever the registry accepted."""
    net = make_network(tmp_path, device_key, allow_insecure_native=True)  # a registry that allows it
    try:
        net.slot.enclave.evidence_kind = "native-insecure-v1"
        net.register()
        assert net.contract().query("create", ["x", "1"]) == b"OK"  # trusts the registry
        with pytest.raises(AttestationError, match="host-native build"):
            net.contract(devices=DeviceStore(net.home)).query("create", ["x", "1"])
        enrolled = list(DeviceStore(net.home).devices())  # devices as a list, not a store
        allowed = net.contract(devices=enrolled, allow_insecure_native=True)
        assert allowed.query("create", ["x", "1"]) == b"OK"
        client = ConfidentialClient(  # the client on its own: refuses by default too
            allowed.definition(), ContractRegistry(net.net.contract("ercc")), devices=enrolled
        )
        pending = client.encrypt_request(["create", "x", "1"])
        response = net.recorder.query("__invoke", [pending.request])
        with pytest.raises(AttestationError, match="host-native build"):
            client.open_response(pending, response)
    finally:
        net.net.close()


def test_the_enclave_error_text_is_parsed_into_code_and_reason() -> None:
    def value(payload: bytes) -> ConfidentialChaincodeError:
        with pytest.raises(ConfidentialChaincodeError) as caught:
            ConfidentialResult(500, payload, None).value()  # type: ignore[arg-type]
        return caught.value

    exists = value(b"EXISTS: person: alice")
    assert (exists.code, exists.reason, exists.status) == ("EXISTS", "person: alice", 500)
    assert exists.message == exists.chaincode_message == str(exists) == "EXISTS: person: alice"
    assert (value(b"lower: case").code, value(b"lower: case").reason) == ("CHAINCODE", "lower: case")
    broken = value(b"\xff\xfe: not utf-8")
    assert broken.code == "CHAINCODE" and "\ufffd" in broken.reason
    assert ConfidentialChaincodeError("X", "y").status == 500


def test_one_registry_question_of_each_kind_per_call_and_transient_data_only_inside_the_request(
    registered: ClientNetwork,
) -> None:
    asked: list[str] = []
    ercc = registered.net.contract("ercc")

    class Counting:
        def query(self, function, args, *, transient=None):  # type: ignore[no-untyped-def]
            asked.append(function)
            return ercc.query(function, args, transient=transient)

        def invoke(self, function, args, *, transient=None):  # type: ignore[no-untyped-def]
            raise AssertionError("the client never writes to the registry")

    contract = registered.contract()
    contract._registry = ContractRegistry(Counting())  # type: ignore[arg-type]
    assert contract.last_enclave_id is None
    secret = {"note": b"only for the chaincode"}
    assert contract.invoke("create", ["alice", "1"], transient=secret) == b"OK"
    assert sorted(asked) == ["queryChaincodeEncryptionKey", "queryEnclave"]
    assert contract.query("get", ["alice"], transient=secret) == b"1"
    # the chaincode sees the transient data (encrypted inside the request); the back end never does
    assert contract.query("transient", ["note"], transient=secret) == b"only for the chaincode"
    assert contract.invoke("transient", ["note"], transient=secret) == b"only for the chaincode"
    assert len(registered.recorder.transients) == 6
    assert not any(registered.recorder.transients)
