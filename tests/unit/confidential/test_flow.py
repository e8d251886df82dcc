"""End to end on the dev ledger with the TEST-ONLY reference enclave: create -> register -> invoke
-> verify -> validate -> commit -> query, and every tampering case rejected with nothing written."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from confidential_network import CHAINCODE, CHANNEL, MEASUREMENT, Network
from reference_enclave import ReferenceEnclave

from foc.confidential.formats import ConfidentialResponse, SignedMessage
from foc.errors import ChaincodeError, ConfidentialityError, VerificationError
from foc.ledger.rwset import KeyWrite, ReadWriteSet
from foc.registry.validation import request_marker_key

SECRET_VALUE = "espresso-secret-8c1f"
SECRET_RESULT_ADD = "424242"


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


def test_client_re_verifies_attestation_when_given_devices(registered: Network) -> None:
    client = registered.client(devices=list(registered.devices.devices()))
    assert registered.submit(client, "create", "bob", "1").value() == b"OK"


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


def test_bit_flip_in_request_is_refused_by_the_enclave(registered: Network) -> None:
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


def test_bit_flip_in_a_state_value_is_detected_by_the_enclave(registered: Network) -> None:
    client = registered.client()
    registered.submit(client, "create", "alice", "1")
    before = state(registered)
    tamper_ledger(registered, {"alice": flip(before["alice"], len(before["alice"]) - 1)})
    pending = client.encrypt_request(["add", "alice", "1"])
    result = registered.peer.query(CHAINCODE, ["__invoke", pending.request])
    assert not result.response.endorsed
    assert "state value for alice failed authentication" in result.response.message


def test_state_value_swapped_between_keys_fails_authentication(registered: Network) -> None:
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
    registered.submit(client, "create", "bob", "424200")
    assert registered.submit(client, "add", "bob", "42").value() == SECRET_RESULT_ADD.encode()
    registered.submit(client, "get", "alice")
    registered.ledger.close()
    secrets = [SECRET_VALUE, SECRET_RESULT_ADD, "424200"]
    files = [p for p in tmp_path.iterdir() if p.name.startswith("ledger.sqlite")]
    assert files
    blob = b"".join(p.read_bytes() for p in files)
    assert b"alice" in blob  # the scan does see the ledger's contents
    for secret in secrets:
        for form in (secret.encode(), base64.b64encode(secret.encode()), secret.encode().hex().encode()):
            assert form not in blob, f"plaintext {secret!r} found in the ledger files"
        assert secret not in caplog.text
    registered.ledger = type(registered.ledger)(tmp_path / "ledger.sqlite", channel=CHANNEL)
