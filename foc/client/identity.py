"""An MSP signing identity: the X.509 certificate and private key a Fabric client signs with.

Fabric identifies a client by `msp.SerializedIdentity{mspid, id_bytes=PEM certificate}` and
accepts ECDSA signatures over SHA-256 only in *low-S* form (s <= n/2; the peer's BCCSP rejects
the other, equally valid, half). `Identity.sign` always returns a low-S DER signature.

An msp directory (what `cryptogen`, `fabric-ca-client enroll` and the test-network write):

    <msp>/signcerts/<name>.pem     the certificate (exactly one)
    <msp>/keystore/priv_sk         its private key (cryptogen), or <ski>_sk (Fabric CA)

The private key never leaves this object: not in `repr`, logs or error messages.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import NameOID

from foc.errors import ConfigError
from foc.fabric.protos import identities

# Order of the P-256 group; Fabric wants s <= n/2.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_HALF_ORDER = P256_ORDER >> 1


def to_low_s(signature: bytes) -> bytes:
    """Return the DER ECDSA (P-256) signature with s replaced by n - s when s > n/2."""
    r, s = decode_dss_signature(signature)
    if s > P256_HALF_ORDER:
        s = P256_ORDER - s
    return encode_dss_signature(r, s)


def _load_certificate(data: bytes, where: Path | str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise ConfigError(f"{where} is not a PEM X.509 certificate") from exc


def _load_private_key(data: bytes, where: Path | str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:  # encrypted
        raise ConfigError(
            f"the private key {where} is encrypted", hint="Fabric msp keystores hold unencrypted keys"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{where} is not a PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"the private key {where} is not an ECDSA P-256 key (the only kind supported)")
    return key


def _public_numbers(key: ec.EllipticCurvePublicKey | object) -> object:
    return key.public_numbers() if isinstance(key, ec.EllipticCurvePublicKey) else None


class Identity:
    """A Fabric client identity: MSP id, PEM certificate and the matching ECDSA P-256 key."""

    __slots__ = ("_certificate", "_key", "certificate_pem", "mspid")

    def __init__(self, mspid: str, certificate_pem: bytes, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not mspid:
            raise ConfigError("an identity needs its MSP id (e.g. Org1MSP)")
        certificate = _load_certificate(certificate_pem, "the identity's certificate")
        if _public_numbers(certificate.public_key()) != private_key.public_key().public_numbers():
            raise ConfigError("the private key does not belong to the certificate")
        self.mspid = mspid
        self.certificate_pem = certificate_pem
        self._certificate = certificate
        self._key = private_key

    def __repr__(self) -> str:
        subject = self._certificate.subject.rfc4514_string()
        return f"Identity(mspid={self.mspid!r}, subject={subject!r})"

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def from_pem(cls, mspid: str, certificate_pem: bytes, private_key_pem: bytes) -> Identity:
        """An identity from PEM bytes (certificate, unencrypted PKCS#8 or SEC1 key)."""
        return cls(mspid, certificate_pem, _load_private_key(private_key_pem, "the given key"))

    @classmethod
    def from_msp_dir(cls, path: Path | str, mspid: str) -> Identity:
        """Load `signcerts/*.pem` and the matching key in `keystore/` of an msp directory.

        The key is the single file in `keystore/`, else the `*_sk` file whose public key matches
        the certificate. `ConfigError` names the directory or file that is missing or wrong.
        """
        msp = Path(path)
        if not msp.is_dir():
            raise ConfigError(f"the msp directory {msp} does not exist")
        signcerts, keystore = msp / "signcerts", msp / "keystore"
        if not signcerts.is_dir():
            raise ConfigError(
                f"{signcerts} is missing", hint="an msp directory holds signcerts/ and keystore/"
            )
        certs = sorted(p for p in signcerts.iterdir() if p.is_file() and p.suffix in (".pem", ".crt"))
        if not certs:
            raise ConfigError(f"no certificate (*.pem) in {signcerts}")
        if len(certs) > 1:
            names = ", ".join(p.name for p in certs)
            raise ConfigError(
                f"more than one certificate in {signcerts} ({names}); keep the one to sign with"
            )
        cert_pem = certs[0].read_bytes()
        certificate = _load_certificate(cert_pem, certs[0])
        if not keystore.is_dir():
            raise ConfigError(
                f"{keystore} is missing", hint="an msp directory holds signcerts/ and keystore/"
            )
        files = sorted(p for p in keystore.iterdir() if p.is_file())
        candidates = files if len(files) == 1 else [p for p in files if p.name.endswith("_sk")]
        if not candidates:
            raise ConfigError(f"no private key in {keystore} (expected one file, or *_sk files)")
        wanted = _public_numbers(certificate.public_key())
        for candidate in candidates:
            key = _load_private_key(candidate.read_bytes(), candidate)
            if key.public_key().public_numbers() == wanted:
                return cls(mspid, cert_pem, key)
        raise ConfigError(f"no private key in {keystore} belongs to the certificate {certs[0]}")

    @classmethod
    def generate_for_tests(cls, mspid: str = "Org1MSP", common_name: str = "User1") -> Identity:
        """A fresh key and a self-signed certificate. For tests only: no Fabric CA issued it."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, mspid),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        return cls(mspid, certificate.public_bytes(serialization.Encoding.PEM), key)

    # -- use ---------------------------------------------------------------------------------
    def serialized(self) -> bytes:
        """`msp.SerializedIdentity{mspid, id_bytes=PEM certificate}` bytes: the Fabric creator."""
        return bytes(
            identities.SerializedIdentity(mspid=self.mspid, id_bytes=self.certificate_pem).SerializeToString()
        )

    def sign(self, data: bytes) -> bytes:
        """ECDSA P-256 / SHA-256 signature of `data`, DER-encoded, low-S as Fabric requires."""
        return to_low_s(self._key.sign(data, ec.ECDSA(hashes.SHA256())))

    def private_key_pem(self) -> bytes:
        """The key as unencrypted PKCS#8 PEM (to write a test msp directory; never log it)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
