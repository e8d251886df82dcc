"""The wrapper<->proxy channel with TLS (self-signed certificate for 127.0.0.1)."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from proxy_fakes import FakeTaBackend

from foc.deploy.health import proxy_health
from foc.deploy.rpi3.identity import PROXY_SERVER_NAME, BoardIdentity
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


# -- on a LAN (rpi3): plaintext refused unless allowed, the board's pinned certificate, mutual TLS ---


@pytest.mark.parametrize("listen", ["0.0.0.0:0", "192.0.2.7:50051", "[::]:0"])
def test_plaintext_on_a_non_loopback_address_is_refused_unless_allowed(listen: str) -> None:
    with pytest.raises(ConfigError, match="refusing to serve plaintext") as info:
        ProxyConfig(listen=listen, tee="native")
    assert "--tls-cert" in (info.value.hint or "") and "--allow-plaintext" in (info.value.hint or "")
    assert ProxyConfig(listen=listen, tee="native", allow_plaintext=True).tls_cert is None


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "localhost:50051", "[::1]:0"])
def test_plaintext_on_the_loopback_needs_no_flag(listen: str) -> None:
    assert ProxyConfig(listen=listen, tee="native").tls_cert is None


def test_proxy_main_refuses_plaintext_on_a_lan_address(capsys: pytest.CaptureFixture[str]) -> None:
    from foc.proxy.__main__ import main

    assert main(["--listen", "0.0.0.0:0", "--tee", "native", "--native-lib", "/nonexistent.so"]) == 3
    assert "refusing to serve plaintext" in capsys.readouterr().err


def _board_tls(tmp_path):
    """The board identity's proxy certificate (pinned) and key, as `foc-deploy rpi3 up` makes them."""
    identity = BoardIdentity.of("unit-board", home=tmp_path / "home")
    cert_pem, key_pem = identity.make_proxy_tls()
    key = tmp_path / "proxy.key"
    key.write_bytes(key_pem)
    return identity, identity.proxy_cert, key, PROXY_SERVER_NAME


def test_the_board_certificate_is_pinned_by_name_and_content(tmp_path) -> None:
    identity, cert, key, name = _board_tls(tmp_path)
    config = ProxyConfig(listen="127.0.0.1:0", tee="native", pool_size=1, tls_cert=cert, tls_key=key)
    with ProxyServer(config, FakeTaBackend()) as server:
        with ProxyClient(server.address, tls_ca=str(cert), tls_server_name=name) as c:
            assert c.health().serving
        assert proxy_health(server.address, timeout=3, tls_ca=cert, server_name=name) is not None
        assert proxy_health(server.address, timeout=3, tls_ca=cert, server_name="someone-else") is None
        other = _other_board_cert(tmp_path, "other-board")  # another board's certificate: not this proxy
        assert proxy_health(server.address, timeout=3, tls_ca=other, server_name=name) is None
        assert proxy_health(server.address, timeout=3) is None  # plaintext client


def _other_board_cert(tmp_path, name):
    identity = BoardIdentity.of(name, home=tmp_path / "home")
    identity.make_proxy_tls()
    return identity.proxy_cert


@contextlib.contextmanager
def _mutual_tls_proxy(tmp_path, identity) -> Iterator[ProxyServer]:
    """A proxy with the board's certificate that requires a client certificate from its client CA."""
    client_ca = tmp_path / "client-ca.crt"
    client_ca.write_bytes(identity.make_client_tls())
    config = ProxyConfig(
        listen="127.0.0.1:0",
        tee="native",
        pool_size=1,
        tls_cert=identity.proxy_cert,
        tls_key=tmp_path / "proxy.key",
        tls_client_ca=client_ca,
    )
    with ProxyServer(config, FakeTaBackend()) as server:
        yield server


def test_mutual_tls_accepts_only_certified_clients(tmp_path) -> None:
    identity, cert, _key, name = _board_tls(tmp_path)
    with _mutual_tls_proxy(tmp_path, identity) as server:
        ok = proxy_health(
            server.address,
            timeout=3,
            tls_ca=cert,
            server_name=name,
            client=(identity.client_key, identity.client_cert),
        )
        assert ok is not None and ok.serving
        assert (
            proxy_health(server.address, timeout=3, tls_ca=cert, server_name=name) is None
        )  # no client cert
        stranger = BoardIdentity.of("stranger", home=tmp_path / "home2")
        stranger.make_client_tls()  # a certificate from another CA
        assert (
            proxy_health(
                server.address,
                timeout=3,
                tls_ca=cert,
                server_name=name,
                client=(stranger.client_key, stranger.client_cert),
            )
            is None
        )


def test_mutual_tls_needs_the_servers_own_certificate(tmp_path) -> None:
    (tmp_path / "ca.crt").write_text("pem")
    with pytest.raises(ConfigError, match="mutual TLS"):
        ProxyConfig(listen="127.0.0.1:0", tee="native", tls_client_ca=tmp_path / "ca.crt")


def test_the_wrappers_client_presents_its_certificate_to_a_mutual_tls_proxy(tmp_path) -> None:
    """Issue 10: mutual TLS as an option, end to end from the wrapper's configuration to the proxy."""
    from foc.wrapper.config import load_config
    from foc.wrapper.plaintext import default_client_factory

    identity, cert, _key, name = _board_tls(tmp_path)
    with _mutual_tls_proxy(tmp_path, identity) as server:
        env = {
            "FOC_PROXY_ADDRESS": server.address,
            "FOC_PROXY_TLS_CA": str(cert),
            "FOC_PROXY_TLS_NAME": name,
            "FOC_PROXY_TLS_CERT": str(identity.client_cert),
            "FOC_PROXY_TLS_KEY": str(identity.client_key),
        }
        wrapper = load_config(env=env, path=tmp_path / "none.toml")
        assert wrapper.tls_client == (identity.client_key, identity.client_cert)
        client = default_client_factory(wrapper)
        try:
            r = client.invoke("copy", ["a", "b"], transaction_id="t", get_state={"a": b"1"}.get)
            assert r.ok and r.writes[0].value == b"1"
        finally:
            client.close()  # type: ignore[attr-defined]
        without = {k: v for k, v in env.items() if k not in ("FOC_PROXY_TLS_CERT", "FOC_PROXY_TLS_KEY")}
        client = default_client_factory(load_config(env=without, path=tmp_path / "none.toml"))
        try:
            with pytest.raises(ProxyUnavailable):
                client.health(timeout=2)  # type: ignore[attr-defined]
        finally:
            client.close()  # type: ignore[attr-defined]


def test_a_client_certificate_needs_tls_and_readable_files(tmp_path) -> None:
    identity, cert, _key, _name = _board_tls(tmp_path)
    identity.make_client_tls()
    with pytest.raises(ConfigError, match="needs TLS"):
        ProxyClient("127.0.0.1:1", tls_client=(identity.client_key, identity.client_cert))
    with pytest.raises(ConfigError, match="client key"):
        ProxyClient("127.0.0.1:1", tls_ca=cert, tls_client=(tmp_path / "missing.key", identity.client_cert))
