"""Every size and limit of the decoders that the client and the validator run on untrusted bytes,
at its boundary: the largest (or exact) size is accepted, one byte more or less is refused by that
field's check, with the data really present (so a missing check cannot hide behind truncation)."""

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


@pytest.mark.parametrize(("case", "decode", "data"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_the_largest_or_exact_size_is_accepted(case: str, decode: Decoder, data: bytes) -> None:
    decode(data)


@pytest.mark.parametrize(("case", "decode", "data", "reason"), REFUSED, ids=[c[0] for c in REFUSED])
def test_one_byte_off_is_refused_by_its_check(case: str, decode: Decoder, data: bytes, reason: str) -> None:
    with pytest.raises(ConfidentialityError, match=reason):
        decode(data)


def test_the_encoders_accept_their_largest_payload() -> None:
    assert len(f.ResponsePlaintext(200, bytes(f.MAX_PAYLOAD)).encode()) == 8 + f.MAX_PAYLOAD
