"""Throw-away X.509 material for the Fabric tests: a CA, a server cert for 127.0.0.1, a client cert."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Pem:
    """A PEM certificate and its PEM private key."""

    cert: bytes
    key: bytes


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    ip: str | None = None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer if issuer else (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(ip)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class Pki:
    """A CA plus a server certificate (IP SAN 127.0.0.1) and a client certificate it signed."""

    ca: Pem
    server: Pem
    client: Pem

    @classmethod
    def create(cls) -> Pki:
        """Fresh keys and certificates (ECDSA P-256)."""
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _issue("foc test CA", ca_key, None, ca=True)
        issuer = (ca_cert.subject, ca_key)
        server_key = ec.generate_private_key(ec.SECP256R1())
        client_key = ec.generate_private_key(ec.SECP256R1())
        pem = serialization.Encoding.PEM
        return cls(
            ca=Pem(ca_cert.public_bytes(pem), _key_pem(ca_key)),
            server=Pem(
                _issue("chaincode", server_key, issuer, ip="127.0.0.1").public_bytes(pem),
                _key_pem(server_key),
            ),
            client=Pem(_issue("peer0", client_key, issuer).public_bytes(pem), _key_pem(client_key)),
        )


def self_signed_identity(common_name: str) -> bytes:
    """A PEM certificate usable as a creator's `id_bytes`."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _issue(common_name, key, None).public_bytes(serialization.Encoding.PEM)
