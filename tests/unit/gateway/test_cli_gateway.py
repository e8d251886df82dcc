"""`foc invoke|query --gateway ...` and `foc enclave register|list --gateway ...` in-process, against
the fake gateway serving FocWrapper (fake proxy) on the real CaaS shim: output, exit codes, and the
options' errors. The confidential path over the gateway, with a real proxy, is rehearsed in
test_walkthrough.py."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fake_gateway import CHANNEL, FakeGateway

from foc.admin.definitions import define_chaincode
from foc.cli.main import main
from foc.client.identity import Identity
from foc.deploy.native import free_port


@pytest.fixture
def msp_dir(tmp_path: Path, identity: Identity) -> Path:
    path = tmp_path / "msp"
    (path / "signcerts").mkdir(parents=True)
    (path / "keystore").mkdir()
    (path / "signcerts" / "cert.pem").write_bytes(identity.certificate_pem)
    (path / "keystore" / "priv_sk").write_bytes(identity.private_key_pem())
    return path


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MSP_DIR", "MSPID", "TLS_ROOT", "SERVER_NAME", "CHANNEL", "GATEWAY"):
        monkeypatch.delenv(f"FOC_FABRIC_{name}", raising=False)
    monkeypatch.setenv("FOC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FOC_LEDGER", str(tmp_path / "dev.sqlite"))


def foc(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_plaintext_invoke_and_query_through_the_gateway(
    fake_gateway: FakeGateway, msp_dir: Path, tmp_path: Path
) -> None:
    gateway = ["--gateway", fake_gateway.address, "--msp-dir", str(msp_dir), "--mspid", "Org1MSP"]
    code, out, err = foc("invoke", *gateway, "--channel", CHANNEL, "--plaintext", "create", "alice", "0")
    assert (code, out) == (0, "OK\n"), err
    assert "committed tx " in err and "in block 1" in err and "alice" not in err
    code, out, _ = foc("query", *gateway, "--channel", CHANNEL, "--plaintext", "query", "alice")
    assert (code, out) == (0, "person: alice, number of consumed coffees: 0\n")
    code, out, err = foc("invoke", *gateway, "--channel", CHANNEL, "--plaintext", "create", "alice", "1")
    assert code == 9 and out == "" and "EXISTS: " in err
    assert fake_gateway.peer.state == {"alice": b"0"}
    assert not (tmp_path / "dev.sqlite").exists()  # --gateway never opens the dev ledger


def test_arguments_that_are_not_utf8_over_the_gateway(fake_gateway: FakeGateway, msp_dir: Path) -> None:
    """Issue 8, kind 2 on the Fabric back end: bytes reach the chaincode; no internal error."""
    gateway = ["--gateway", fake_gateway.address, "--msp-dir", str(msp_dir), "--mspid", "Org1MSP"]
    code, out, err = foc(
        "invoke", *gateway, "--channel", CHANNEL, "--plaintext", "create", "\udcff\udcfe", "1"
    )
    assert (code, out) == (9, "") and "BAD_ARGUMENT" in err and "UTF-8" in err, err
    code, _, err = foc("invoke", *gateway, "--channel", CHANNEL, "--plaintext", "\udcff", "1")
    assert code == 2 and "internal error" not in err, err
    assert fake_gateway.peer.state == {}


def test_the_options_default_to_the_fabric_environment(
    fake_gateway: FakeGateway, msp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOC_FABRIC_MSP_DIR", str(msp_dir))
    monkeypatch.setenv("FOC_FABRIC_MSPID", "Org1MSP")
    monkeypatch.setenv("FOC_FABRIC_CHANNEL", CHANNEL)
    code, out, err = foc("invoke", "--gateway", fake_gateway.address, "--plaintext", "create", "bob", "2")
    assert (code, out) == (0, "OK\n"), err


def test_missing_identity_channel_or_gateway_are_errors_a_user_can_act_on(
    fake_gateway: FakeGateway, msp_dir: Path
) -> None:
    code, _, err = foc(
        "query", "--gateway", fake_gateway.address, "--channel", CHANNEL, "--plaintext", "query", "a"
    )
    assert code == 3 and "--msp-dir, --mspid" in err
    identity = ["--msp-dir", str(msp_dir), "--mspid", "Org1MSP"]
    code, _, err = foc("query", "--gateway", fake_gateway.address, *identity, "--plaintext", "query", "a")
    assert code == 3 and "--channel" in err
    down = f"127.0.0.1:{free_port()}"
    code, _, err = foc(
        "query", "--gateway", down, *identity, "--channel", CHANNEL, "--plaintext", "query", "a"
    )
    assert code == 12 and "UNAVAILABLE" in err
    # Confidential (the default) needs the chaincode definition first.
    code, _, err = foc(
        "query", "--gateway", fake_gateway.address, *identity, "--channel", CHANNEL, "query", "a"
    )
    assert code == 3 and "has no definition" in err and "foc chaincode define" in err


def test_enclave_register_over_the_gateway_leaves_insecure_native_to_the_registry(
    fake_gateway: FakeGateway, msp_dir: Path
) -> None:
    identity = ["--msp-dir", str(msp_dir), "--mspid", "Org1MSP"]
    code, _, err = foc(
        "enclave", "register", "--chaincode", "coffee", "--gateway", fake_gateway.address, *identity,
        "--allow-insecure-native",
    )  # fmt: skip
    assert code == 2 and "foc serve --kind ercc --allow-insecure-native" in err
    define_chaincode("coffee", "ab" * 32, "otherchannel")
    code, _, err = foc(
        "enclave", "list", "--chaincode", "coffee", "--gateway", fake_gateway.address, *identity,
        "--channel", CHANNEL,
    )  # fmt: skip
    assert code == 2 and "defined on channel 'otherchannel'" in err
