"""Crypto suite and strict message decoding."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from foc.confidential.formats import (
    MAX_ARGS,
    MAX_REQUEST,
    MAX_VALUE,
    AttestedData,
    ConfidentialRequest,
    ConfidentialResponse,
    Credentials,
    EnclaveConfig,
    Evidence,
    ReadRecord,
    RequestPlaintext,
    SignedMessage,
    StoredValue,
    WriteRecord,
)
from foc.confidential.suite import EC_P256, enclave_id, suite_for_chaincode_key
from foc.errors import ConfidentialityError, LimitExceeded, VerificationError

POINT = EC_P256.encode_point(EC_P256.generate_private_key())


def test_raw_signatures_verify_and_convert_from_der() -> None:
    key = EC_P256.generate_private_key()
    raw = EC_P256.sign(key, b"message")
    assert len(raw) == 64
    EC_P256.verify(EC_P256.encode_point(key), b"message", raw, what="test")
    with pytest.raises(VerificationError, match="does not verify"):
        EC_P256.verify(EC_P256.encode_point(key), b"messagf", raw, what="test")
    # A DER signature made directly with `cryptography` verifies once converted to raw r||s.
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(key.sign(b"m2", ec.ECDSA(hashes.SHA256())))
    EC_P256.verify(EC_P256.encode_point(key), b"m2", r.to_bytes(32, "big") + s.to_bytes(32, "big"), what="t")


def test_ecdh_both_sides_derive_the_same_request_key_and_aead_binds_aad() -> None:
    chaincode, ephemeral = EC_P256.generate_private_key(), EC_P256.generate_private_key()
    cc_point, eph_point = EC_P256.encode_point(chaincode), EC_P256.encode_point(ephemeral)
    k1 = EC_P256.request_key(ephemeral, cc_point, ephemeral_point=eph_point, chaincode_point=cc_point)
    k2 = EC_P256.request_key(chaincode, eph_point, ephemeral_point=eph_point, chaincode_point=cc_point)
    assert k1 == k2 and len(k1) == 32
    sealed = EC_P256.seal(k1, b"plain", b"aad")
    assert EC_P256.unseal(k2, sealed.nonce, sealed.ciphertext, b"aad", what="x") == b"plain"
    with pytest.raises(ConfidentialityError, match="failed authentication"):
        EC_P256.unseal(k2, sealed.nonce, sealed.ciphertext, b"aae", what="x")


def test_suite_is_selected_by_key_type() -> None:
    assert suite_for_chaincode_key(POINT) is EC_P256
    with pytest.raises(ConfidentialityError, match="unsupported chaincode key type"):
        suite_for_chaincode_key(b"-----BEGIN RSA PUBLIC KEY-----")
    with pytest.raises(ConfidentialityError, match="not a point on P-256"):
        suite_for_chaincode_key(b"\x04" + b"\x01" * 64)
    assert enclave_id(POINT) == enclave_id(POINT).lower() and len(enclave_id(POINT)) == 64


SAMPLES = [
    RequestPlaintext("dev", "coffee", (b"create", b"alice", b"1"), b"k" * 32),
    ConfidentialRequest(POINT, b"n" * 12, b"c" * 40),
    StoredValue(b"n" * 12, b"c" * 20),
    SignedMessage(
        "ab" * 32,
        b"h" * 32,
        (ReadRecord("alice", True, b"v" * 32),),
        (WriteRecord("bob", False, b"FCS1"),),
        b"r",
    ),
    ConfidentialResponse(b"m", b"s" * 64),
    AttestedData("coffee", "ab" * 32, "dev", "host:1", POINT, POINT),
    Evidence("optee-ta-memory-v1", b"m" * 32, b"s" * 384),
    EnclaveConfig("coffee", "ab" * 32, "dev", "host:1", True),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_and_strictness(message) -> None:  # type: ignore[no-untyped-def]
    encoded = message.encode()
    assert type(message).decode(encoded) == message
    with pytest.raises(ConfidentialityError, match="trailing"):
        type(message).decode(encoded + b"\x00")
    with pytest.raises(ConfidentialityError, match="malformed"):
        type(message).decode(encoded[:-1])


def test_credentials_round_trip_and_reject_garbage_parts() -> None:
    attested, evidence = SAMPLES[5], SAMPLES[6]
    creds = Credentials.build(attested, evidence)  # type: ignore[arg-type]
    assert Credentials.decode(creds.encode()).attested_data == attested
    with pytest.raises(ConfidentialityError, match="malformed attested data"):
        Credentials.decode(Credentials(b"FAD1", evidence.encode()).encode())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"FCR0" + bytes(8), "wrong magic"),
        (
            ConfidentialRequest(POINT[:-1], b"n" * 12, b"c" * 40).encode(),
            "client_ephemeral_pub must be 65 bytes",
        ),
        (ConfidentialRequest(POINT, b"n" * 11, b"c" * 40).encode(), "nonce must be 12 bytes"),
        (ConfidentialRequest(POINT, b"n" * 12, b"c" * 4).encode(), "shorter than the GCM tag"),
    ],
)
def test_request_decoding_rejects_with_the_field_named(data: bytes, reason: str) -> None:
    with pytest.raises(ConfidentialityError, match=reason):
        ConfidentialRequest.decode(data)


def test_limits_are_enforced_before_allocation() -> None:
    too_many = RequestPlaintext("dev", "cc", tuple(b"a" for _ in range(MAX_ARGS + 1)), b"k" * 32)
    with pytest.raises(LimitExceeded, match=r"17 arguments .*limit 16 \(FOC_MAX_ARGS\)"):
        too_many.encode()
    too_big = RequestPlaintext("dev", "cc", (b"f", b"1" * (MAX_VALUE + 1)), b"k" * 32)
    with pytest.raises(LimitExceeded, match=r"limit 65536 \(FOC_MAX_VALUE\)"):
        too_big.encode()
    with pytest.raises(LimitExceeded, match=r"limit 131072 \(FOC_MAX_REQUEST\)"):
        ConfidentialRequest(POINT, b"n" * 12, b"c" * MAX_REQUEST).encode()
    huge_length = b"\x03\x00\x00\x00dev" + b"\xff\xff\xff\x7f"
    with pytest.raises(ConfidentialityError, match="more than the limit"):
        RequestPlaintext.decode(huge_length)


def test_signed_message_rejects_inconsistent_write_and_read_sets() -> None:
    base = dict(enclave_id="ab" * 32, request_hash=b"h" * 32, reads=(), encrypted_response=b"r")
    delete_with_value = SignedMessage(writes=(WriteRecord("k", True, b"x"),), **base).encode()  # type: ignore[arg-type]
    with pytest.raises(ConfidentialityError, match="delete but carries a value"):
        SignedMessage.decode(delete_with_value)
    dup = SignedMessage(
        writes=(WriteRecord("k", False, b"x"), WriteRecord("k", False, b"y")), **base
    ).encode()  # type: ignore[arg-type]
    with pytest.raises(ConfidentialityError, match="repeats an earlier key"):
        SignedMessage.decode(dup)
    upper = SignedMessage(
        enclave_id="AB" * 32, request_hash=b"h" * 32, reads=(), writes=(), encrypted_response=b""
    )
    with pytest.raises(ConfidentialityError, match="lowercase hex"):
        SignedMessage.decode(upper.encode())


def test_zero_signature_halves_are_refused_before_verification() -> None:
    key = EC_P256.generate_private_key()
    good = EC_P256.sign(key, b"m")
    point = EC_P256.encode_point(key)
    for bad in (bytes(32) + good[32:], good[:32] + bytes(32)):
        with pytest.raises(VerificationError, match="signature is invalid"):
            EC_P256.verify(point, b"m", bad, what="t")
    EC_P256.verify(point, b"m", good, what="t")  # control


def test_points_must_be_uncompressed_sec1_and_keys_select_a_suite_by_their_encoding() -> None:
    key = EC_P256.generate_private_key()
    point = EC_P256.encode_point(key)
    assert EC_P256.encode_point(key.public_key()) == point  # a public key encodes the same
    x_only = point[:33]  # 0x04 || X: the right prefix, the wrong length
    with pytest.raises(ConfidentialityError, match="not an uncompressed P-256 point"):
        EC_P256.decode_point(x_only)
    with pytest.raises(ConfidentialityError, match="unsupported chaincode key type"):
        suite_for_chaincode_key(x_only)


def test_an_empty_plaintext_seals_and_opens() -> None:
    key = bytes(range(32))
    sealed = EC_P256.seal(key, b"", b"aad")
    assert len(sealed.ciphertext) == 16  # the tag only
    assert EC_P256.unseal(key, sealed.nonce, sealed.ciphertext, b"aad", what="t") == b""
