"""End to end on the dev ledger with the TEST-ONLY reference enclave: create -> register -> invoke
-> verify -> validate -> commit -> query, and every tampering case rejected with nothing written."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from confidential_network import CHAINCODE, CHANNEL, MEASUREMENT, Network
from cryptography.hazmat.primitives.asymmetric import rsa
from reference_enclave import ChaincodeSecrets, ReferenceEnclave

from foc.admin.definitions import define_chaincode
from foc.admin.devices import EnrolledDevice
from foc.confidential.formats import ConfidentialResponse, Credentials, SignedMessage
from foc.confidential.suite import EC_P256, enclave_id
from foc.errors import AttestationError, ChaincodeError, ConfidentialityError, VerificationError
from foc.ledger.rwset import KeyWrite, ReadWriteSet
from foc.registry.ercc import RegisteredEnclave
from foc.registry.validation import request_marker_key

SECRET_VALUE = "espresso-secret-8c1f"
# Numbers long enough that the ledger file's hex transaction ids never hold one by chance.
SECRET_BOB = "42420000008817"
SECRET_RESULT_ADD = "42420000008859"


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def state(network: Network) -> dict[str, bytes]:
    return {k: v for (ns, k), (v, _) in network.ledger.state_dump().items() if ns == CHAINCODE}


def tamper_ledger(network: Network, writes: dict[str, bytes]) -> None:
    """What a malicious peer admin could do: write raw bytes into the chaincode's state."""
    rwset = ReadWriteSet(writes=tuple(KeyWrite(CHAINCODE, k, v) for k, v in writes.items()))
    network.ledger.commit(f"tamper-{len(network.ledger.state_dump())}", CHAINCODE, rwset)


def test_round_trip_create_register_invoke_validate_commit_query(registered: Network) -> None:
    client = registered.client()
    assert registered.submit(client, "create", "alice", "7340010").value() == b"OK"
    assert registered.submit(client, "add", "alice", "5").value() == b"7340015"
    pending, response = registered.execute(client, "get", "alice")
    assert client.open_response(pending, response).value() == b"7340015"

    stored = state(registered)
    assert set(stored) == {"alice"} | {k for k in stored if k.startswith("~foc/request/")}
    assert stored["alice"].startswith(b"FCS1")
    assert b"7340015" not in stored["alice"]
    assert registered.ledger.verify().ok


def test_client_re_verifies_attestation_when_given_devices(
    registered: Network, other_device_key: rsa.RSAPrivateKey
) -> None:
    """With `devices`, the client checks the signing enclave's evidence itself, not only the
    registry's word: against a device list that does not hold the signing device it refuses
    (before decrypting), while the registry-only client and the right device list accept."""
    assert registered.submit(registered.client(), "create", "bob", "1").value() == b"OK"
    enrolled = list(registered.devices.devices())
    assert registered.submit(registered.client(devices=enrolled), "add", "bob", "1").value() == b"2"
    stranger = [EnrolledDevice("device-2", other_device_key.public_key())]
    client = registered.client(devices=stranger)
    pending, response = registered.execute(client, "get", "bob")
    with pytest.raises(AttestationError, match="does not verify under any of the 1 enrolled"):
        client.open_response(pending, response)
    with pytest.raises(AttestationError, match="no device is enrolled"):
        registered.client(devices=[]).open_response(pending, response)


def test_chaincode_errors_arrive_encrypted_and_signed_with_no_writes(registered: Network) -> None:
    client = registered.client()
    registered.submit(client, "create", "alice", "1")
    pending, response = registered.execute(client, "create", "alice", "2")
    result = client.open_response(pending, response)
    assert result.status == 500
    with pytest.raises(ChaincodeError) as err:
        result.value()
    assert err.value.code == "EXISTS"
    assert result.signed.writes == ()


def test_an_enclave_refusal_of_a_tampered_request_is_an_unendorsed_invoke_with_its_reason(
    registered: Network,
) -> None:
    """What this checks is FOC's side: `__invoke` turns the enclave's refusal into an unendorsed
    response that carries the reason. The refusal itself comes from the reference enclave (test
    code); the TA's own: tests/native/test_confidential.py::test_tampered_request_is_refused_before_running
    and tests/qemu/test_confidential_ta.py::test_bad_client_input_is_a_structured_error_not_a_panic."""
    client = registered.client()
    pending = client.encrypt_request(["create", "alice", "1"])
    result = registered.peer.query(CHAINCODE, ["__invoke", flip(pending.request, len(pending.request) - 3)])
    assert not result.response.endorsed
    assert "failed authentication" in result.response.message


def test_endorse_with_another_request_is_refused(registered: Network) -> None:
    client = registered.client()
    pending, response = registered.execute(client, "create", "alice", "1")
    other = client.encrypt_request(["create", "alice", "1"])
    result = registered.endorse(other.request, response)
    assert not result.committed
    assert "different request" in result.response.message
    assert state(registered) == {}
    with pytest.raises(VerificationError, match="different request"):
        client.open_response(other, response)


@pytest.mark.parametrize("where", ["signed_message", "signature"])
def test_bit_flip_in_response_or_signature_is_refused(registered: Network, where: str) -> None:
    client = registered.client()
    pending, response = registered.execute(client, "create", "alice", "1")
    envelope = ConfidentialResponse.decode(response)
    if where == "signature":
        tampered = ConfidentialResponse(envelope.signed_message, flip(envelope.signature, 10)).encode()
    else:
        # Flip a bit inside the encrypted response (last bytes of the signed message).
        tampered = ConfidentialResponse(flip(envelope.signed_message, -5), envelope.signature).encode()
    with pytest.raises(VerificationError, match="signature does not verify"):
        client.open_response(pending, tampered)
    result = registered.endorse(pending.request, tampered)
    assert not result.committed
    assert "signature does not verify" in result.response.message
    assert state(registered) == {}


def test_an_enclave_refusal_of_a_tampered_state_value_is_an_unendorsed_invoke_naming_the_key(
    registered: Network,
) -> None:
    """FOC's side: a ledger value tampered by the peer operator reaches the enclave as stored, and
    the enclave's INCONSISTENT refusal comes back unendorsed with the key. The detection here is the
    reference enclave's; the TA's own: test_tampered_state_value_is_inconsistent in
    tests/native/test_confidential.py (and the swapped-value cases there and on OP-TEE)."""
    client = registered.client()
    registered.submit(client, "create", "alice", "1")
    before = state(registered)
    tamper_ledger(registered, {"alice": flip(before["alice"], len(before["alice"]) - 1)})
    pending = client.encrypt_request(["add", "alice", "1"])
    result = registered.peer.query(CHAINCODE, ["__invoke", pending.request])
    assert not result.response.endorsed
    assert "state value for alice failed authentication" in result.response.message


def test_state_values_swapped_between_keys_reach_the_enclave_and_are_refused_per_key(
    registered: Network,
) -> None:
    """FOC relays each key's stored bytes unchanged and reports the enclave's per-key refusal. The
    binding of a value to its key name is checked by the TA in
    tests/native/test_confidential.py::test_value_copied_to_another_key_fails_authentication_naming_the_key
    and on OP-TEE in tests/qemu/test_confidential_ta.py::test_confidential_invocation_round_trips_on_optee."""
    client = registered.client()
    registered.submit(client, "create", "alice", "1")
    registered.submit(client, "create", "bob", "2")
    stored = state(registered)
    tamper_ledger(registered, {"alice": stored["bob"], "bob": stored["alice"]})
    for key in ("alice", "bob"):
        pending = client.encrypt_request(["get", key])
        result = registered.peer.query(CHAINCODE, ["__invoke", pending.request])
        assert not result.response.endorsed
        assert f"state value for {key} failed authentication" in result.response.message


def test_replayed_response_after_the_read_state_changed_is_refused(registered: Network) -> None:
    client = registered.client()
    registered.submit(client, "create", "alice", "1")
    pending, stale = registered.execute(client, "add", "alice", "100")
    registered.submit(client, "add", "alice", "1")  # alice changes after `stale` was executed
    snapshot = state(registered)
    result = registered.endorse(pending.request, stale)
    assert not result.committed
    assert "read value of alice changed since execution" in result.response.message
    assert state(registered) == snapshot


def test_a_committed_request_cannot_be_committed_again(registered: Network) -> None:
    client = registered.client()
    pending, response = registered.execute(client, "put", "counter", "7")  # a blind write: no reads
    assert registered.endorse(pending.request, response).committed
    snapshot = state(registered)
    assert request_marker_key(pending.request_hash) in snapshot
    again = registered.endorse(pending.request, response)
    assert not again.committed
    assert "already committed" in again.response.message
    assert state(registered) == snapshot


def test_response_from_an_unregistered_enclave_is_refused(registered: Network, device_key) -> None:  # type: ignore[no-untyped-def]
    rogue = ReferenceEnclave(device_key, MEASUREMENT, registered.enclave.secrets)  # same keys, new signer
    rogue.create(registered.config())
    registered.slot.enclave = rogue  # type: ignore[attr-defined]
    client = registered.client()
    pending, response = registered.execute(client, "create", "alice", "1")
    with pytest.raises(VerificationError, match="not registered"):
        client.open_response(pending, response)
    result = registered.endorse(pending.request, response)
    assert not result.committed and "not registered" in result.response.message


def test_response_signed_with_a_forged_enclave_id_is_refused(registered: Network) -> None:
    client = registered.client()
    pending, response = registered.execute(client, "create", "alice", "1")
    envelope = ConfidentialResponse.decode(response)
    message = SignedMessage.decode(envelope.signed_message)
    forged = SignedMessage(
        "0" * 64, message.request_hash, message.reads, message.writes, message.encrypted_response
    ).encode()
    with pytest.raises(VerificationError, match="not registered"):
        client.open_response(pending, ConfidentialResponse(forged, envelope.signature).encode())


def test_invoke_with_wrong_argument_shape_is_a_clear_error(registered: Network) -> None:
    result = registered.peer.invoke(CHAINCODE, ["create", "alice", "1"])
    assert not result.committed
    assert "__invoke(request)" in result.response.message


def test_malformed_response_is_a_typed_error(registered: Network) -> None:
    client = registered.client()
    pending = client.encrypt_request(["get", "alice"])
    with pytest.raises(ConfidentialityError, match="malformed confidential response"):
        client.open_response(pending, b"\x00\x01")


def test_ledger_and_logs_hold_no_plaintext(
    registered: Network, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Keys stay cleartext by design (as in FPC); values, non-key arguments and results must not."""
    caplog.set_level(logging.DEBUG)
    client = registered.client()
    registered.submit(client, "create", "alice", SECRET_VALUE)
    registered.submit(client, "create", "bob", SECRET_BOB)
    assert registered.submit(client, "add", "bob", "42").value() == SECRET_RESULT_ADD.encode()
    registered.submit(client, "get", "alice")
    registered.ledger.close()
    secrets = [SECRET_VALUE, SECRET_RESULT_ADD, SECRET_BOB]
    files = [p for p in tmp_path.iterdir() if p.name.startswith("ledger.sqlite")]
    assert files
    blob = b"".join(p.read_bytes() for p in files)
    assert b"alice" in blob  # the scan does see the ledger's contents
    for secret in secrets:
        for form in (secret.encode(), base64.b64encode(secret.encode()), secret.encode().hex().encode()):
            assert form not in blob, f"plaintext {secret!r} found in the ledger files"
        assert secret not in caplog.text
    registered.ledger = type(registered.ledger)(tmp_path / "ledger.sqlite", channel=CHANNEL)


# -- checks of verify_response / validate_and_apply / open_response: each test below fails when
# -- its check is removed, and runs the same flow once without the attack as a positive control.


def test_response_of_an_enclave_registered_under_an_older_definition_is_refused(registered: Network) -> None:
    """The administrator moved the chaincode to a new TA build (new version = measurement). The
    enclave registered for the old build is still in the registry; its answers must no longer count."""
    client = registered.client()
    pending, response = registered.execute(client, "put", "counter", "7")
    assert client.open_response(pending, response).value() == b"OK"  # control: old definition
    newer = define_chaincode(CHAINCODE, "ab" * 32, CHANNEL, home=registered.home)
    current = registered.client()
    current.definition = newer
    with pytest.raises(VerificationError, match="registered, but not for the current definition") as caught:
        current.open_response(pending, response)
    assert "claim chaincode version" in str(caught.value)
    refused = registered.endorse(pending.request, response)  # __endorse reads the new definition
    assert not refused.committed
    assert "not for the current definition" in refused.response.message
    assert state(registered) == {}


def test_a_signed_write_under_the_reserved_prefix_is_refused_at_validation(registered: Network) -> None:
    """A TA without its own `~foc/` check (or a compromised one) signs a write of a replay marker:
    the validator refuses it, so no enclave can pre-commit markers that block other requests."""
    unchecked = ReferenceEnclave(
        registered.enclave.device_key, MEASUREMENT, registered.enclave.secrets, reserved_prefix_check=False
    )
    unchecked.signing_key = registered.enclave.signing_key  # the registered enclave, minus its check
    unchecked.config = registered.enclave.config
    registered.slot.enclave = unchecked  # type: ignore[attr-defined]
    client = registered.client()
    victim = client.encrypt_request(["put", "counter", "1"])
    marker = request_marker_key(victim.request_hash)
    pending, response = registered.execute(client, "put", marker, "x")
    assert client.open_response(pending, response).value() == b"OK"  # signed by a registered enclave
    refused = registered.endorse(pending.request, response)
    assert not refused.committed
    assert "reserved key prefix '~foc/'" in refused.response.message
    assert state(registered) == {}
    pending, response = registered.execute(client, "put", "counter", "2")  # control
    assert registered.endorse(pending.request, response).committed
    # the honest reference enclave, like the TA, refuses the write itself (signed 500, no writes)
    registered.slot.enclave = registered.enclave  # type: ignore[attr-defined]
    pending, response = registered.execute(client, "put", marker, "x")
    result = client.open_response(pending, response)
    assert result.status == 500 and result.signed.writes == ()


def test_registry_credentials_of_another_enclave_under_the_claimed_id_are_refused(
    registered: Network,
) -> None:
    """The registry's entry for the registered enclave A was overwritten (the peer operator owns the
    registry's storage) with the genuine credentials of an unregistered enclave B, which then signs
    as A. The validator and the client must notice that the credentials' key is not A's."""
    client = registered.client()
    pending, response = registered.execute(client, "put", "counter", "1")
    assert client.open_response(pending, response).ok  # control: the honest registry entry
    rogue = ReferenceEnclave(registered.enclave.device_key, MEASUREMENT, registered.enclave.secrets)
    rogue_credentials = rogue.create(registered.config())
    victim_id = enclave_id(registered.enclave.enclave_point)
    registry_key = f"credentials/{CHAINCODE}/{victim_id}"
    record = RegisteredEnclave(victim_id, Credentials.decode(rogue_credentials))  # and its record
    record_json = json.dumps(record.to_json()).encode()
    rwset = ReadWriteSet(
        writes=(
            KeyWrite("ercc", registry_key, rogue_credentials),
            KeyWrite("ercc", f"enclave/{CHAINCODE}/{victim_id}", record_json),
        )
    )
    registered.ledger.commit("tamper-ercc", "ercc", rwset)
    registered.slot.enclave = rogue  # type: ignore[attr-defined]
    pending, genuine = registered.execute(client, "put", "counter", "2")
    envelope = ConfidentialResponse.decode(genuine)
    message = SignedMessage.decode(envelope.signed_message)
    as_victim = SignedMessage(
        victim_id, message.request_hash, message.reads, message.writes, message.encrypted_response
    ).encode()
    forged = ConfidentialResponse(as_victim, EC_P256.sign(rogue.signing_key, as_victim)).encode()
    with pytest.raises(VerificationError, match=f"credentials for enclave {victim_id} carry a different key"):
        client.open_response(pending, forged)
    refused = registered.endorse(pending.request, forged)
    assert not refused.committed and "carry a different key" in refused.response.message
    assert "counter" not in state(registered)


class _KeySwappingRegistry:
    """A registry reader whose chaincode-key answer was replaced (a lying peer or registry)."""

    def __init__(self, inner, chaincode_key: bytes) -> None:  # type: ignore[no-untyped-def]
        self._inner = inner
        self._key = chaincode_key

    def chaincode_encryption_key(self, chaincode_id: str) -> bytes:
        return self._key

    def enclave(self, chaincode_id: str, enclave_id: str):  # type: ignore[no-untyped-def]
        return self._inner.enclave(chaincode_id, enclave_id)


def test_an_answer_to_a_request_encrypted_to_an_unattested_chaincode_key_is_refused(
    registered: Network,
) -> None:
    """The client encrypted to a key the registry handed it; it accepts an answer only from an
    enclave whose attested data hold that very key. Here a registered enclave also holds a second,
    unattested chaincode key (the one the lying registry gave out): its answer is signed and
    decryptable, and still refused, because whoever holds that key was never attested."""
    client = registered.client()
    pending, response = registered.execute(client, "put", "counter", "1")
    assert client.open_response(pending, response).ok  # control: the attested key
    unattested = ChaincodeSecrets(state_key=registered.enclave.secrets.state_key)
    registered.enclave.secrets = unattested  # same signing key (registered), other chaincode key
    swapped = registered.client()
    swapped._registry = _KeySwappingRegistry(  # type: ignore[attr-defined]
        registered.registry(), EC_P256.encode_point(unattested.chaincode_key)
    )
    pending, response = registered.execute(swapped, "put", "counter", "2")
    with pytest.raises(VerificationError, match="holds a different chaincode key"):
        swapped.open_response(pending, response)


def _resigned(network: Network, response: bytes, **changes: object) -> bytes:
    """The response with fields of its signed message replaced, signed again by the registered enclave."""
    message = ConfidentialResponse.decode(response).message()
    fields = {f: getattr(message, f) for f in ("enclave_id", "request_hash", "reads", "writes")}
    fields["encrypted_response"] = message.encrypted_response
    fields.update(changes)
    encoded = SignedMessage(**fields).encode()  # type: ignore[arg-type]
    return ConfidentialResponse(encoded, EC_P256.sign(network.enclave.signing_key, encoded)).encode()


def test_a_signed_write_that_is_not_a_stored_value_is_refused_and_deletes_commit(registered: Network) -> None:
    """Validation parses every written value as a stored_value (the TA always writes FCS1) and
    applies deletes as deletes; a registered enclave that signs anything else is refused."""
    client = registered.client()
    registered.submit(client, "put", "counter", "1")
    pending, response = registered.execute(client, "put", "counter", "2")
    (write,) = ConfidentialResponse.decode(response).message().writes
    garbage = _resigned(registered, response, writes=(type(write)(write.key, False, b"not FCS1"),))
    refused = registered.endorse(pending.request, garbage)
    assert not refused.committed and "malformed stored state value" in refused.response.message
    assert client.open_response(pending, garbage).ok  # the client does not parse writes; the validator does
    assert registered.endorse(pending.request, response).committed  # control: the genuine write
    deleted = registered.submit(client, "del", "counter")
    assert deleted.ok and deleted.signed.writes[0].is_delete
    assert "counter" not in state(registered)


def test_validation_asks_the_registry_chaincode_ercc_by_default(registered: Network) -> None:
    from foc.chaincode.memory import MemoryStub
    from foc.registry.validation import validate_and_apply

    client = registered.client()
    pending, response = registered.execute(client, "put", "counter", "1")
    asked: list[str] = []
    stub = MemoryStub([], channel_id=CHANNEL, tx_id="tx-1")

    def invoke_chaincode(name: str, args, channel: str = ""):  # type: ignore[no-untyped-def]
        asked.append(name)
        return registered.peer.query(name, list(args)).response

    stub.invoke_chaincode = invoke_chaincode  # type: ignore[method-assign]
    validate_and_apply(stub, registered.definition, pending.request, response)
    assert asked and set(asked) == {"ercc"}


@pytest.mark.parametrize(
    ("change", "args"),
    [
        ("a key added inside the range (phantom)", ("create", "b2", "5")),
        ("a value inside the range changed", ("add", "b1", "1")),
        ("a key inside the range deleted", ("del", "b1")),
    ],
)
def test_a_range_read_that_changed_since_execution_is_a_conflict_at_validation(
    registered: Network, change: str, args: tuple[str, ...]
) -> None:
    """Validation re-reads every range the enclave read (issue 12): any key added, changed or
    removed in it since execution makes the transaction a read conflict with nothing written; the
    same range untouched commits (control), and a change outside the range does not matter."""
    client = registered.client()
    for key in ("a0", "b1", "c9"):
        registered.submit(client, "create", key, "1")
    pending, response = registered.execute(client, "range", "b", "c", "out")
    registered.submit(client, "create", "c0", "1")  # outside [b, c): not a conflict
    assert registered.endorse(pending.request, response).committed  # control
    assert client.open_response(pending, response).value() == b"b1=1;"

    pending, response = registered.execute(client, "range", "b", "c", "out")
    registered.submit(client, *args)
    snapshot = state(registered)
    result = registered.endorse(pending.request, response)
    assert not result.committed, change
    assert "a range the enclave read changed since execution" in result.response.message
    assert state(registered) == snapshot


def test_a_range_of_exactly_the_entry_limit_validates(registered: Network) -> None:
    """A range read may hold FOC_MAX_RANGE_ENTRIES (64) entries: validation re-reads one more than
    the limit to see a range over it, and a range at the limit commits."""
    client = registered.client()
    for i in range(64):
        registered.submit(client, "put", f"r{i:02d}", "1")
    pending, response = registered.execute(client, "range", "r", "s", "count")
    assert client.open_response(pending, response).value().count(b";") == 64
    assert registered.endorse(pending.request, response).committed
    assert "count" in state(registered)
