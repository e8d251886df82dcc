"""The wrapper<->proxy channel with TLS (self-signed certificate for 127.0.0.1)."""

from __future__ import annotations

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from proxy_fakes import FakeTaBackend

from foc.errors import ConfigError, ProxyUnavailable
from foc.proxy.client import ProxyClient
from foc.proxy.config import ProxyConfig
from foc.proxy.server import ProxyServer


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "foc-proxy")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "proxy.crt", tmp_path / "proxy.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_tls_round_trip_and_plaintext_client_is_refused(tmp_path) -> None:
    cert, key = _self_signed(tmp_path)
    config = ProxyConfig(listen="127.0.0.1:0", tee="native", pool_size=1, tls_cert=cert, tls_key=key)
    with ProxyServer(config, FakeTaBackend()) as server:
        with ProxyClient(server.address, tls_ca=str(cert)) as c:
            r = c.invoke("copy", ["a", "b"], transaction_id="t", get_state={"a": b"1"}.get)
            assert r.ok and r.writes[0].value == b"1"
            assert c.health().serving
        with ProxyClient(server.address) as plain, pytest.raises(ProxyUnavailable):
            plain.health(timeout=2)


def test_tls_needs_both_files(tmp_path) -> None:
    cert, _ = _self_signed(tmp_path)
    with pytest.raises(ConfigError, match="both"):
        ProxyConfig(tls_cert=cert)


def test_client_with_a_missing_ca_file_gets_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="CA certificate"):
        ProxyClient("127.0.0.1:1", tls_ca=tmp_path / "missing.pem")
