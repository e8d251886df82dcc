"""TLS and mutual TLS between the fake peer and the chaincode server."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from certs import Pki
from fake_peer import FakePeer
from kv_chaincode import PACKAGE_ID, KeyValueChaincode

from foc.errors import ConfigError
from foc.fabric.server import ChaincodeServer
from foc.fabric.tls import ServerTls


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki.create()


def _run(server: ChaincodeServer, credentials: grpc.ChannelCredentials) -> FakePeer:
    fake = FakePeer(f"127.0.0.1:{server.port}", PACKAGE_ID, credentials=credentials)
    fake.connect(expect_ready=False)
    return fake


def test_tls_server_serves_a_peer_that_trusts_its_ca(pki: Pki) -> None:
    tls = ServerTls(pki.server.cert, pki.server.key)
    with ChaincodeServer(KeyValueChaincode(), PACKAGE_ID, tls=tls) as server:
        fake = _run(server, grpc.ssl_channel_credentials(root_certificates=pki.ca.cert))
        try:
            assert fake.ready.wait(10)
            reply = fake.invoke("put", "k", "v")
            assert FakePeer.response_of(reply).status == 200
        finally:
            fake.close()


def test_mutual_tls_refuses_a_peer_without_client_certificate(pki: Pki) -> None:
    tls = ServerTls(pki.server.cert, pki.server.key, client_ca=pki.ca.cert)
    with ChaincodeServer(KeyValueChaincode(), PACKAGE_ID, tls=tls) as server:
        anonymous = _run(server, grpc.ssl_channel_credentials(root_certificates=pki.ca.cert))
        try:
            assert anonymous.stream_ended.wait(10)
            assert not anonymous.ready.is_set()
            assert not server.wait_for_stream(1, timeout=0.5)
        finally:
            anonymous.close()
        authenticated = _run(
            server,
            grpc.ssl_channel_credentials(
                root_certificates=pki.ca.cert, private_key=pki.client.key, certificate_chain=pki.client.cert
            ),
        )
        try:
            assert authenticated.ready.wait(10)
            assert FakePeer.response_of(authenticated.invoke("get", "nothing")).status == 404
        finally:
            authenticated.close()


def test_tls_files_are_checked(tmp_path: Path, pki: Pki) -> None:
    cert, key, bogus = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "bogus.pem"
    cert.write_bytes(pki.server.cert)
    key.write_bytes(pki.server.key)
    bogus.write_bytes(b"hello")
    assert ServerTls.from_files(cert, key).mutual is False
    with pytest.raises(ConfigError, match="not PEM"):
        ServerTls.from_files(cert, bogus)
    with pytest.raises(ConfigError, match="cannot read"):
        ServerTls.from_files(cert, key, tmp_path / "missing.pem")
