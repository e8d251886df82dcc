"""The ccaas package: layout, JSON booleans, reproducible bytes, package id, CLI."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from certs import Pki

from foc.errors import UsageError
from foc.fabric.__main__ import main
from foc.fabric.package import ConnectionInfo, build_package, package_id, read_package_id, write_package


def _members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        out = {}
        for member in tar.getmembers():
            assert member.isfile() and member.uid == 0 and member.mtime == 0
            handle = tar.extractfile(member)
            assert handle is not None
            out[member.name] = handle.read()
        return out


def _unpack(data: bytes) -> tuple[list[str], dict, dict]:
    outer = _members(data)
    inner = _members(outer["code.tar.gz"])
    assert list(inner) == ["connection.json"]
    return list(outer), json.loads(outer["metadata.json"]), json.loads(inner["connection.json"])


def test_layout_metadata_and_plain_connection() -> None:
    names, metadata, connection = _unpack(build_package("foc_1.0", ConnectionInfo("127.0.0.1:9999")))
    assert names == ["metadata.json", "code.tar.gz"]
    assert metadata == {"type": "ccaas", "label": "foc_1.0"}
    assert connection == {
        "address": "127.0.0.1:9999",
        "dial_timeout": "10s",
        "tls_required": False,
        "client_auth_required": False,
    }


def test_tls_fields_are_real_json_booleans_and_pem() -> None:
    pki = Pki.create()
    info = ConnectionInfo(
        "cc.example:9999",
        tls_required=True,
        client_auth_required=True,
        root_cert=pki.ca.cert.decode(),
        client_cert=pki.client.cert.decode(),
        client_key=pki.client.key.decode(),
    )
    data = build_package("foc_1.0", info)
    _, _, connection = _unpack(data)
    assert connection["tls_required"] is True and connection["client_auth_required"] is True
    assert connection["root_cert"] == pki.ca.cert.decode()
    assert b'"tls_required": true' in _members(_members(data)["code.tar.gz"])["connection.json"]


def test_same_inputs_same_bytes_and_id(tmp_path: Path) -> None:
    info = ConnectionInfo("127.0.0.1:9999")
    first = write_package(tmp_path / "a.tar.gz", "foc_1.0", info)
    second = write_package(tmp_path / "b.tar.gz", "foc_1.0", info)
    assert first == second
    digest = hashlib.sha256((tmp_path / "a.tar.gz").read_bytes()).hexdigest()
    assert first == f"foc_1.0:{digest}"
    assert read_package_id(tmp_path / "a.tar.gz") == first
    assert package_id("foc_1.0", build_package("foc_1.0", ConnectionInfo("127.0.0.1:9998"))) != first


@pytest.mark.parametrize(
    ("label", "info", "message"),
    [
        ("", ConnectionInfo("h:1"), "label"),
        ("_bad", ConnectionInfo("h:1"), "label"),
        ("has space", ConnectionInfo("h:1"), "label"),
        ("ok", ConnectionInfo("no-port"), "host:port"),
        ("ok", ConnectionInfo("h:1", dial_timeout="10"), "Go duration"),
        ("ok", ConnectionInfo("h:1", tls_required=True), "root_cert"),
        ("ok", ConnectionInfo("h:1", client_auth_required=True), "needs TLS"),
    ],
)
def test_bad_inputs_are_refused_clearly(label: str, info: ConnectionInfo, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build_package(label, info)


def test_not_a_package_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(UsageError, match="not a chaincode package"):
        read_package_id(junk)


def test_cli_package_prints_the_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = Pki.create()
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.ca.cert)
    out = tmp_path / "foc.tar.gz"
    args = ["package", "--label", "foc_1.0", "--address", "127.0.0.1:9999", "--tls-root-cert", str(ca)]
    assert main([*args, "-o", str(out)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == read_package_id(out)
    _, _, connection = _unpack(out.read_bytes())
    assert connection["tls_required"] is True and connection["client_auth_required"] is False


def test_cli_errors_exit_with_the_usage_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.tar.gz")
    assert main(["package", "--label", "bad label", "--address", "h:1", "-o", out]) == 2
    assert "package label" in capsys.readouterr().err
    assert main(["serve", "--address", "127.0.0.1:0"]) == 2
    assert "CHAINCODE_ID" in capsys.readouterr().err
