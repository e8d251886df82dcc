"""The confidential-mode crypto suite (docs/confidential-protocol.md, "Suite").

One suite today, `EcP256Suite`: ECDH P-256 + HKDF-SHA256 + AES-256-GCM, ECDSA P-256 over
SHA-256 with raw ``r||s`` signatures on the wire, SEC1 uncompressed points. A suite is selected by
the type of the chaincode public key (`suite_for_chaincode_key`), so an FPC-compatible RSA-OAEP
suite can be added beside it later without touching the message formats.

Everything here is a thin, typed layer over `cryptography`; no primitive is implemented locally.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from foc.errors import ConfidentialityError, VerificationError

POINT_SIZE = 65  # SEC1 uncompressed P-256 point: 0x04 || X || Y
SIGNATURE_SIZE = 64  # raw r || s
KEY_SIZE = 32  # AES-256 and HKDF output
NONCE_SIZE = 12  # AES-GCM nonce
TAG_SIZE = 16  # AES-GCM tag, appended to the ciphertext
HASH_SIZE = 32  # SHA-256

REQUEST_LABEL = b"FOC/v2/request"  # v2: the request carries its creator and transient data
STATE_LABEL = b"FOC/v1/state"


def sha256(data: bytes) -> bytes:
    """SHA-256 of `data`."""
    return hashlib.sha256(data).digest()


@dataclass(frozen=True)
class Sealed:
    """An AES-GCM output: the random nonce and ciphertext || tag."""

    nonce: bytes
    ciphertext: bytes


class EcP256Suite:
    """ECDH P-256 / HKDF-SHA256 / AES-256-GCM / ECDSA P-256 (the contract's default suite)."""

    name = "ec-p256-v1"
    curve = ec.SECP256R1()

    # -- keys ---------------------------------------------------------------------------

    def generate_private_key(self) -> ec.EllipticCurvePrivateKey:
        """A fresh P-256 key pair (ephemeral ECDH keys, test enclave keys)."""
        return ec.generate_private_key(self.curve)

    def encode_point(self, key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> bytes:
        """The 65-byte SEC1 uncompressed encoding of a public key."""
        public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
        if not isinstance(public.curve, ec.SECP256R1):
            raise ConfidentialityError(f"expected a P-256 key, got curve {public.curve.name}")
        return public.public_bytes(
            encoding=serialization.Encoding.X962,
            format=serialization.PublicFormat.UncompressedPoint,
        )

    def decode_point(self, point: bytes, *, what: str = "public key") -> ec.EllipticCurvePublicKey:
        """Parse and validate (on-curve) a SEC1 uncompressed P-256 point."""
        if len(point) != POINT_SIZE or point[0] != 0x04:
            raise ConfidentialityError(
                f"{what} is not an uncompressed P-256 point (need {POINT_SIZE} bytes starting 0x04)"
            )
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(self.curve, bytes(point))
        except ValueError as exc:
            raise ConfidentialityError(f"{what} is not a point on P-256") from exc

    # -- key agreement and AEAD ---------------------------------------------------------

    def request_key(
        self,
        private_key: ec.EllipticCurvePrivateKey,
        peer_point: bytes,
        *,
        ephemeral_point: bytes,
        chaincode_point: bytes,
    ) -> bytes:
        """K_req = HKDF-SHA256(ECDH X coordinate, salt "", info = label || ephemeral || chaincode)."""
        shared = private_key.exchange(ec.ECDH(), self.decode_point(peer_point))
        return HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_SIZE,
            salt=None,  # RFC 5869: absent salt = HashLen zero bytes, identical to salt ""
            info=REQUEST_LABEL + ephemeral_point + chaincode_point,
        ).derive(shared)

    def seal(self, key: bytes, plaintext: bytes, aad: bytes) -> Sealed:
        """AES-256-GCM with a fresh random 12-byte nonce; tag appended to the ciphertext."""
        _check_key(key)
        nonce = os.urandom(NONCE_SIZE)
        return Sealed(nonce, AESGCM(key).encrypt(nonce, plaintext, aad))

    def unseal(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, *, what: str) -> bytes:
        """Decrypt and authenticate; `what` names the message in the error."""
        _check_key(key)
        if len(nonce) != NONCE_SIZE:
            raise ConfidentialityError(f"{what}: nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
        if len(ciphertext) < TAG_SIZE:
            raise ConfidentialityError(f"{what}: ciphertext is shorter than the {TAG_SIZE}-byte tag")
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag as exc:
            raise ConfidentialityError(f"{what} failed authentication (altered, or wrong key)") from exc

    # -- signatures -----------------------------------------------------------------------

    def sign(self, private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
        """ECDSA P-256 with SHA-256 over `message`, as raw r || s (64 bytes)."""
        r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, public_point: bytes, message: bytes, signature: bytes, *, what: str) -> None:
        """Raise VerificationError unless `signature` (raw r || s) is valid for `message`."""
        if len(signature) != SIGNATURE_SIZE:
            raise VerificationError(f"{what}: signature must be {SIGNATURE_SIZE} bytes (raw r||s)")
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if r == 0 or s == 0:
            raise VerificationError(f"{what}: signature is invalid")
        public = self.decode_point(public_point, what=f"{what} key")
        try:
            public.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise VerificationError(f"{what}: signature does not verify") from exc


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ConfidentialityError(f"an AES-256 key must be {KEY_SIZE} bytes, got {len(key)}")


EC_P256 = EcP256Suite()


def suite_for_chaincode_key(chaincode_key: bytes) -> EcP256Suite:
    """The suite a chaincode public key belongs to (its type selects the suite).

    An uncompressed P-256 point selects `EcP256Suite`. Anything else is refused with a reason;
    an RSA-OAEP (FPC-compatible) suite would be recognised here by its encoding.
    """
    if len(chaincode_key) == POINT_SIZE and chaincode_key[:1] == b"\x04":
        EC_P256.decode_point(chaincode_key, what="chaincode public key")
        return EC_P256
    raise ConfidentialityError(
        f"unsupported chaincode key type ({len(chaincode_key)} bytes): only the EC P-256 suite "
        "(65-byte uncompressed point) is implemented"
    )


def enclave_id(enclave_point: bytes) -> str:
    """`enclave_id` = lowercase hex of SHA-256(enclave public key point)."""
    return sha256(enclave_point).hex()
