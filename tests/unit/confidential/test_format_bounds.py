"""Every size and limit of the decoders that the client and the validator run on untrusted bytes,
at its boundary: the largest (or exact) size is accepted, one byte more or less is refused by that
field's check, with the data really present (so a missing check cannot hide behind truncation).
The key-distribution decoders (no unit test reached them before) also round-trip field for field
and refuse every truncation and a trailing byte; the parts nested in them are decoded too."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from foc import wire
from foc.confidential import formats as f
from foc.confidential.suite import HASH_SIZE, NONCE_SIZE, POINT_SIZE, SIGNATURE_SIZE, TAG_SIZE
from foc.errors import ConfidentialityError

EID = "ab" * 32
POINT = b"\x04" + bytes(64)


def stored(nonce: int = NONCE_SIZE, ct: int = TAG_SIZE) -> bytes:
    return wire.Writer().u32(f.MAGIC_STATE).blob(bytes(nonce)).blob(bytes(ct)).done()


def encrypted(nonce: int = NONCE_SIZE, ct: int = TAG_SIZE) -> bytes:
    return wire.Writer().blob(bytes(nonce)).blob(bytes(ct)).done()


def plaintext(payload: int) -> bytes:
    return wire.Writer().u32(200).blob(bytes(payload)).done()


def signed(
    eid: str = EID,
    request_hash: int = HASH_SIZE,
    reads: tuple[tuple[str, int, int], ...] = (),
    writes: tuple[tuple[str, int, bytes], ...] = (),
    response: int = 40,
    creator_hash: int = HASH_SIZE,
    ranges: tuple[tuple[str, str, int], ...] = (),
) -> bytes:
    w = wire.Writer().u32(f.MAGIC_SIGNED_RWSET).text(eid).blob(bytes(request_hash)).blob(bytes(creator_hash))
    w.u32(len(reads))
    for key, found, hash_size in reads:
        w.text(key).u8(found).blob(bytes(hash_size))
    w.u32(len(ranges))
    for start, end, hash_size in ranges:
        w.text(start).text(end).blob(bytes(hash_size))
    w.u32(len(writes))
    for key, is_delete, value in writes:
        w.text(key).u8(is_delete).blob(value)
    return w.blob(bytes(response)).done()


def response(message: bytes = b"m", signature: int = SIGNATURE_SIZE) -> bytes:
    return wire.Writer().blob(message).blob(bytes(signature)).done()


def attested(
    enclave: int = POINT_SIZE, chaincode: int = POINT_SIZE, channel: str = "dev", policy: int = HASH_SIZE
) -> bytes:
    w = wire.Writer().u32(f.MAGIC_ATTESTED_DATA).text("cc").text("v").text(channel).text("h:1")
    w = w.blob(b"\x04" + bytes(enclave - 1)).blob(b"\x04" + bytes(chaincode - 1))
    return w.blob(bytes(policy)).done()


def evidence(kind: int = 8, measurement: int = HASH_SIZE, signature: int = 384) -> bytes:
    return (
        wire.Writer()
        .u32(f.MAGIC_EVIDENCE)
        .text("k" * kind)
        .blob(bytes(measurement))
        .blob(b"\x01" * signature)
        .done()
    )


def signed_of_exactly(total: int) -> bytes:
    """A valid signed message of exactly `total` bytes (writes filled with stored values)."""
    base = len(signed())
    per_write = lambda key, value: 4 + len(key) + 1 + 4 + value  # noqa: E731
    writes, left, i = [], total - base, 0
    while left > 0:
        key = f"k{i:02d}"
        value = min(f.MAX_STORED_VALUE, left - per_write(key, 0))
        assert value > 0, "cannot pad to this size"
        writes.append((key, 0, b"\x01" * value))
        left -= per_write(key, value)
        i += 1
    out = signed(writes=tuple(writes))
    assert len(out) == total
    return out


Decoder = Callable[[bytes], object]
SV, RP, ER = f.StoredValue.decode, f.ResponsePlaintext.decode, f.EncryptedResponse.decode
SM, CR = f.SignedMessage.decode, f.ConfidentialResponse.decode
AD, EV = f.AttestedData.decode, f.Evidence.decode

ACCEPTED: list[tuple[str, Decoder, bytes]] = [
    ("stored value: GCM tag only", SV, stored(ct=TAG_SIZE)),
    ("stored value: largest", SV, stored(ct=f.MAX_VALUE + TAG_SIZE)),
    ("response plaintext: largest payload", RP, plaintext(f.MAX_PAYLOAD)),
    ("encrypted response: tag only", ER, encrypted(ct=TAG_SIZE)),
    ("encrypted response: largest", ER, encrypted(ct=f.MAX_PAYLOAD + 8 + TAG_SIZE)),
    ("signed message: largest", SM, signed_of_exactly(f.MAX_SIGNED_MESSAGE)),
    ("signed message: a delete carries no value", SM, signed(writes=(("k", 1, b""),))),
    (
        "signed message: largest written value and key",
        SM,
        signed(writes=(("k" * f.MAX_KEY, 0, b"\x01" * f.MAX_STORED_VALUE),)),
    ),
    ("signed message: largest response", SM, signed(response=f.MAX_ENCRYPTED_RESPONSE)),
    ("confidential response", CR, response()),
    (
        "confidential response: largest message",
        CR,
        response(b"\x00" * f.MAX_SIGNED_MESSAGE),
    ),
    ("signed message: a read of a composite key", SM, signed(reads=(("\x00bid\x00alice\x00", 1, 32),))),
    (
        "signed message: the longest range bounds",
        SM,
        signed(ranges=(("a" * f.MAX_KEY, "b" * f.MAX_KEY, 32),)),
    ),
    ("signed message: a range with no end", SM, signed(ranges=(("a", "", 32),))),
    ("signed message: two ranges", SM, signed(ranges=(("a", "b", 32), ("a", "c", 32)))),
    ("attested data", AD, attested()),
    ("evidence: largest kind and signature", EV, evidence(f.MAX_EVIDENCE_KIND, signature=512)),
]

REFUSED: list[tuple[str, Decoder, bytes, str]] = [
    ("stored value: short nonce", SV, stored(nonce=NONCE_SIZE - 1), "nonce must be 12"),
    ("stored value: long nonce", SV, stored(nonce=NONCE_SIZE + 1), "nonce must be 12"),
    ("stored value: under the tag", SV, stored(ct=TAG_SIZE - 1), "shorter than the GCM tag"),
    (
        "stored value: too long",
        SV,
        stored(ct=f.MAX_VALUE + TAG_SIZE + 1),
        "more than the limit",
    ),
    (
        "response plaintext: too long",
        RP,
        plaintext(f.MAX_PAYLOAD + 1),
        "more than the limit",
    ),
    ("encrypted response: short nonce", ER, encrypted(nonce=11), "nonce must be 12"),
    ("encrypted response: long nonce", ER, encrypted(nonce=13), "nonce must be 12"),
    ("encrypted response: under the tag", ER, encrypted(ct=15), "shorter than the GCM tag"),
    (
        "encrypted response: too long",
        ER,
        encrypted(ct=f.MAX_PAYLOAD + 8 + TAG_SIZE + 1),
        "more than the limit",
    ),
    ("signed message: too long", SM, signed_of_exactly(f.MAX_SIGNED_MESSAGE + 1), "larger"),
    ("signed message: short enclave id", SM, signed(eid="ab" * 31 + "a"), "64 lowercase hex"),
    ("signed message: long enclave id", SM, signed(eid="ab" * 32 + "a"), "more than the limit"),
    ("signed message: not hex", SM, signed(eid="X" * 64), "64 lowercase hex"),
    ("signed message: short hash", SM, signed(request_hash=31), "request_hash must be 32"),
    ("signed message: long hash", SM, signed(request_hash=33), "request_hash must be 32"),
    ("signed message: short creator hash", SM, signed(creator_hash=31), "creator_hash must be 32"),
    ("signed message: long creator hash", SM, signed(creator_hash=33), "creator_hash must be 32"),
    ("signed message: short range hash", SM, signed(ranges=(("a", "b", 31),)), "must be 32"),
    ("signed message: short value hash", SM, signed(reads=(("k", 1, 31),)), "must be 32"),
    ("signed message: long value hash", SM, signed(reads=(("k", 1, 33),)), "must be 32"),
    ("signed message: repeated read", SM, signed(reads=(("k", 1, 32),) * 2), "repeats"),
    (
        "signed message: a repeated range right after itself",
        SM,
        signed(ranges=(("a", "b", 32), ("a", "b", 32))),
        "range 1 repeats an earlier range",
    ),
    (
        "signed message: a repeated range after another",
        SM,
        signed(ranges=(("a", "b", 32), ("a", "c", 32), ("a", "b", 32))),
        "range 2 repeats an earlier range",
    ),
    (
        "signed message: range start too long",
        SM,
        signed(ranges=(("a" * (f.MAX_KEY + 1), "", 32),)),
        "range 0 start is 257 bytes, more than the limit of 256",
    ),
    (
        "signed message: range end too long",
        SM,
        signed(ranges=(("a", "b" * (f.MAX_KEY + 1), 32),)),
        "range 0 end is 257 bytes, more than the limit of 256",
    ),
    (
        "signed message: a malformed composite key",
        SM,
        signed(reads=(("\x00bid", 1, 32),)),
        "read 0 key starts with NUL but is not a composite key",
    ),
    ("signed message: NUL in a key", SM, signed(reads=(("a\x00b", 1, 32),)), "contains NUL"),
    (
        "signed message: key too long",
        SM,
        signed(reads=(("k" * (f.MAX_KEY + 1), 1, 32),)),
        "more than the limit",
    ),
    (
        "signed message: written value too long",
        SM,
        signed(writes=(("k", 0, b"\x01" * (f.MAX_STORED_VALUE + 1)),)),
        "more than the limit",
    ),
    ("signed message: empty write", SM, signed(writes=(("k", 0, b""),)), "empty stored value"),
    (
        "signed message: response too long",
        SM,
        signed(response=f.MAX_ENCRYPTED_RESPONSE + 1),
        "more than the limit",
    ),
    (
        "confidential response: message too long",
        CR,
        response(b"\x00" * (f.MAX_SIGNED_MESSAGE + 1)),
        "more than the limit",
    ),
    ("confidential response: short signature", CR, response(signature=63), "must be 64"),
    ("confidential response: long signature", CR, response(signature=65), "must be 64"),
    ("attested data: short enclave key", AD, attested(enclave=64), "must be 65"),
    ("attested data: long enclave key", AD, attested(enclave=66), "must be 65"),
    ("attested data: short chaincode key", AD, attested(chaincode=64), "must be 65"),
    ("attested data: long chaincode key", AD, attested(chaincode=66), "must be 65"),
    ("attested data: empty channel", AD, attested(channel=""), "channel_id is empty"),
    ("attested data: short key policy digest", AD, attested(policy=31), "must be 32"),
    ("attested data: long key policy digest", AD, attested(policy=33), "must be 32"),
    ("evidence: kind too long", EV, evidence(kind=f.MAX_EVIDENCE_KIND + 1), "more than the limit"),
    ("evidence: short measurement", EV, evidence(measurement=31), "must be 32"),
    ("evidence: long measurement", EV, evidence(measurement=33), "must be 32"),
    ("evidence: signature too long", EV, evidence(signature=513), "more than the limit"),
]


# -- key distribution (docs/confidential-protocol.md, "Key distribution"): `KeyPolicy`, `JoinData`,
# `KeyRequest` (a joining enclave's answer) and `KeyPackage` (a sending enclave's answer)

POINT_A = b"\x04" + b"\xaa" * (POINT_SIZE - 1)
POINT_B = b"\x04" + b"\xbb" * (POINT_SIZE - 1)
DIGEST = bytes(range(HASH_SIZE))

JOIN = f.JoinData("coffee", "ab" * 32, "dev", "host:7051", POINT_A, POINT_B, DIGEST)
EVIDENCE = f.Evidence(f.EVIDENCE_KIND_TA_MEMORY, b"\x11" * HASH_SIZE, b"\x22" * 384)
ATTESTED = f.AttestedData("coffee", "ab" * 32, "dev", "host:7051", POINT_B, POINT_A, DIGEST)
CREDENTIALS = f.Credentials.build(ATTESTED, EVIDENCE).encode()


def pair(magic: int, a: bytes, b: bytes) -> bytes:
    return wire.Writer().u32(magic).blob(a).blob(b).done()


def key_request(join: bytes = JOIN.encode(), evidence: bytes = EVIDENCE.encode()) -> bytes:
    return pair(f.MAGIC_KEY_REQUEST, join, evidence)


def key_package(
    credentials: bytes = CREDENTIALS, nonce: bytes = b"\x33" * NONCE_SIZE, sealed: bytes = b"\x44" * 100
) -> bytes:
    return wire.Writer().u32(f.MAGIC_KEY_PACKAGE).blob(credentials).blob(nonce).blob(sealed).done()


def padded(statement: bytes, total: int) -> bytes:
    """`statement` followed by zero bytes up to `total` bytes (its own decoder refuses the excess)."""
    return statement + bytes(total - len(statement))


def test_key_policy_round_trips_its_devices_and_refuses_a_short_or_long_id() -> None:
    ids = (b"\x01" * HASH_SIZE, b"\x02" * HASH_SIZE)
    policy = f.KeyPolicy(ids)
    assert f.KeyPolicy.decode(policy.encode()).device_ids == ids
    assert f.KeyPolicy.decode(f.EMPTY_KEY_POLICY.encode()) == f.EMPTY_KEY_POLICY
    for size in (HASH_SIZE - 1, HASH_SIZE + 1):
        data = wire.Writer().u32(f.MAGIC_KEY_POLICY).u32(1).blob(b"\x01" * size).done()
        with pytest.raises(
            ConfidentialityError, match=f"malformed key policy: device 0 must be 32 bytes, got {size}"
        ):
            f.KeyPolicy.decode(data)


def test_join_data_round_trips_every_field() -> None:
    decoded = f.JoinData.decode(JOIN.encode())
    assert decoded == JOIN
    assert (decoded.enclave_pub, decoded.transfer_pub, decoded.key_policy_digest) == (
        POINT_A,
        POINT_B,
        DIGEST,
    )
    with pytest.raises(ConfidentialityError, match="malformed join data: wrong magic"):
        f.JoinData.decode(ATTESTED.encode())  # an attested data statement is not join data


def test_key_request_decodes_both_parts_verbatim() -> None:
    request = f.KeyRequest.decode(key_request())
    assert request.join_data_bytes == JOIN.encode() and request.evidence_bytes == EVIDENCE.encode()
    assert request.join_data == JOIN and request.evidence == EVIDENCE
    assert f.KeyRequest.decode(f.KeyRequest(JOIN.encode(), EVIDENCE.encode()).encode()) == request


def test_key_package_decodes_every_field_and_its_credentials() -> None:
    package = f.KeyPackage.decode(key_package())
    assert package == f.KeyPackage(CREDENTIALS, b"\x33" * NONCE_SIZE, b"\x44" * 100)
    assert f.KeyPackage.decode(package.encode()) == package
    assert f.Credentials.decode(package.sender_credentials).attested_data == ATTESTED


KR, KG = f.KeyRequest.decode, f.KeyPackage.decode
BIGGEST_CREDENTIALS = f.Credentials(
    padded(ATTESTED.encode(), f.MAX_STATEMENT), padded(EVIDENCE.encode(), f.MAX_STATEMENT)
)

ACCEPTED += [
    ("key package: sealed keys of the GCM tag only", KG, key_package(sealed=b"\x44" * TAG_SIZE)),
    ("key package: largest sealed keys", KG, key_package(sealed=b"\x44" * 4096)),
]

REFUSED += [
    (
        "key request: wrong magic",
        KR,
        pair(f.MAGIC_KEY_PACKAGE, JOIN.encode(), EVIDENCE.encode()),
        "wrong magic",
    ),
    (
        "key request: join data too long",
        KR,
        key_request(join=padded(JOIN.encode(), f.MAX_STATEMENT + 1)),
        "malformed key request: join_data is 4097 bytes, more than the limit of 4096",
    ),
    (
        "key request: evidence too long",
        KR,
        key_request(evidence=padded(EVIDENCE.encode(), f.MAX_STATEMENT + 1)),
        "malformed key request: evidence is 4097 bytes, more than the limit of 4096",
    ),
    ("key request: malformed join data", KR, key_request(join=JOIN.encode()[:-1]), "malformed join data"),
    (
        "key request: join data that is attested data",
        KR,
        key_request(join=ATTESTED.encode()),
        "malformed join data",
    ),
    (
        "key request: malformed evidence",
        KR,
        key_request(evidence=EVIDENCE.encode() + b"\x00"),
        "malformed evidence",
    ),
    (
        "key package: wrong magic",
        KG,
        wire.Writer().u32(f.MAGIC_KEY_REQUEST).done() + key_package()[4:],
        "malformed key package: wrong magic",
    ),
    (
        "key package: credentials too long",
        KG,
        key_package(credentials=BIGGEST_CREDENTIALS.encode() + b"\x00"),
        f"sender_credentials is {f.MAX_CREDENTIALS + 1} bytes, more than the limit of {f.MAX_CREDENTIALS}",
    ),
    ("key package: malformed credentials", KG, key_package(credentials=CREDENTIALS[:-1]), "malformed"),
    (
        "key package: credentials with malformed evidence",
        KG,
        key_package(credentials=f.Credentials(ATTESTED.encode(), b"FEV1").encode()),
        "malformed evidence",
    ),
    (
        "key package: short nonce",
        KG,
        key_package(nonce=bytes(NONCE_SIZE - 1)),
        "nonce must be 12 bytes, got 11",
    ),
    (
        "key package: long nonce",
        KG,
        key_package(nonce=bytes(NONCE_SIZE + 1)),
        "nonce must be 12 bytes, got 13",
    ),
    (
        "key package: sealed keys under the GCM tag",
        KG,
        key_package(sealed=bytes(TAG_SIZE - 1)),
        "malformed key package: sealed keys are shorter than the GCM tag",
    ),
    (
        "key package: sealed keys too long",
        KG,
        key_package(sealed=bytes(4097)),
        "malformed key package: sealed is 4097 bytes, more than the limit of 4096",
    ),
]


def test_the_biggest_credentials_pass_the_bound_and_are_decoded() -> None:
    assert len(BIGGEST_CREDENTIALS.encode()) == f.MAX_CREDENTIALS
    with pytest.raises(ConfidentialityError, match="malformed attested data: 3820 trailing"):  # not the bound
        KG(key_package(credentials=BIGGEST_CREDENTIALS.encode()))


@pytest.mark.parametrize(
    ("decode", "data"),
    [
        (f.KeyPolicy.decode, f.KeyPolicy((b"\x01" * HASH_SIZE,)).encode()),
        (f.JoinData.decode, JOIN.encode()),
        (KR, key_request()),
        (KG, key_package()),
    ],
    ids=["key policy", "join data", "key request", "key package"],
)
def test_every_truncation_and_a_trailing_byte_are_refused(decode: Decoder, data: bytes) -> None:
    decode(data)
    for cut in range(len(data)):
        with pytest.raises(ConfidentialityError, match="malformed"):
            decode(data[:cut])
    with pytest.raises(ConfidentialityError, match="trailing byte"):
        decode(data + b"\x00")


def test_a_key_policy_holds_at_most_the_trusted_device_limit_and_is_built_from_any_id_form() -> None:
    ids = [bytes([i]) * HASH_SIZE for i in range(1, f.MAX_TRUSTED_DEVICES + 2)]
    largest = f.KeyPolicy(tuple(ids[: f.MAX_TRUSTED_DEVICES]))
    assert f.KeyPolicy.decode(largest.encode()) == largest
    with pytest.raises(ConfidentialityError, match=f"at most {f.MAX_TRUSTED_DEVICES} devices"):
        f.KeyPolicy(tuple(ids))
    # bytes and hex fingerprints, in any order, repeated: one sorted set
    policy = f.KeyPolicy.of([ids[1], ids[0].hex(), bytearray(ids[1])])
    assert policy.device_ids == (ids[0], ids[1])


@pytest.mark.parametrize(("case", "decode", "data"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_the_largest_or_exact_size_is_accepted(case: str, decode: Decoder, data: bytes) -> None:
    decode(data)


@pytest.mark.parametrize(("case", "decode", "data", "reason"), REFUSED, ids=[c[0] for c in REFUSED])
def test_one_byte_off_is_refused_by_its_check(case: str, decode: Decoder, data: bytes, reason: str) -> None:
    with pytest.raises(ConfidentialityError, match=reason):
        decode(data)


def test_the_encoders_accept_their_largest_payload() -> None:
    assert len(f.ResponsePlaintext(200, bytes(f.MAX_PAYLOAD)).encode()) == 8 + f.MAX_PAYLOAD
