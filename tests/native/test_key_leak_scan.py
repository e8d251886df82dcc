"""Keys never leave the TA: a confidential scenario on the product path, then a scan of everything
it produced for the sealed key bytes (host-native build; the qemu tier runs the same scan on OP-TEE).

The scenario runs the administrator's and the client's `foc` commands against a native foc-proxy
process (enroll, define, enclave create and register, invoke, query, a chaincode refusal, a
tampered request, a tampered ledger value), and talks to the proxy directly for the enclave calls.
The keys are then read from the native build's sealed objects (plain files in FOC_NATIVE_STORAGE:
the native build is NOT a TEE) and searched for, raw, as hex and as base64 (tests/leakscan.py), in
the proxy's log, every log record of this process, every command's stdout and stderr, every proxy
answer, the ledger files and the FOC home.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

import leakscan  # tests/leakscan.py
import pytest

from foc.cli.main import main as foc_main
from foc.confidential.formats import Credentials
from foc.deploy.native import LocalProxy
from foc.deploy.native_build import build_native_core
from foc.errors import ChaincodeError, TeeError
from foc.ledger.ledger import DevLedger
from foc.ledger.rwset import KeyWrite, ReadWriteSet
from foc.proxy.client import ProxyClient
from foc.tee import abi
from foc.tee.native import NativeBackend

pytestmark = pytest.mark.native

NATIVE_MEASUREMENT = hashlib.sha256(b"FOC native-insecure-v1: not a TEE, nothing measured").hexdigest()
CHANNEL = "dev"
CHAINCODE = "coffee"


def test_no_key_material_in_any_output_log_ledger_or_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    storage = tmp_path / "sealed"
    storage.mkdir()
    home, ledger = tmp_path / "home", tmp_path / "ledger.sqlite"
    monkeypatch.setenv("FOC_NATIVE_STORAGE", str(storage))
    monkeypatch.setenv("FOC_HOME", str(home))
    outputs: dict[str, bytes] = {}

    def foc(*argv: str, expect: int = 0) -> str:
        out, err = io.StringIO(), io.StringIO()
        rc = foc_main(list(argv), out=out, err=err)
        outputs[f"foc {' '.join(argv)} (stdout)"] = out.getvalue().encode()
        outputs[f"foc {' '.join(argv)} (stderr)"] = err.getvalue().encode()
        assert rc == expect, f"foc {' '.join(argv)} -> {rc}: {err.getvalue()}"
        return out.getvalue()

    with LocalProxy("native", pool=2).start() as proxy, ProxyClient(proxy.address) as client:
        p = ("--proxy", proxy.address)
        foc("device", "enroll", "native-1", "--from-proxy", proxy.address)
        foc("chaincode", "define", "--id", CHAINCODE, "--version", NATIVE_MEASUREMENT, "--channel", CHANNEL)
        created = foc(
            "enclave", "create", "--force", "--chaincode", CHAINCODE, "--channel", CHANNEL,
            "--endpoint", "native-1:7052", *p,
        )  # fmt: skip
        eid = created.split()[2]
        on_ledger = ("--ledger", str(ledger), "--allow-insecure-native")
        foc("enclave", "register", "--chaincode", CHAINCODE, "--enclave", eid, *on_ledger)
        foc("enclave", "list", "--chaincode", CHAINCODE, "--ledger", str(ledger))
        foc("invoke", *on_ledger, *p, "create", "alice", "41")
        foc("invoke", *on_ledger, *p, "add", "alice", "1")
        foc("query", *on_ledger, *p, "query", "alice")
        foc("invoke", *on_ledger, *p, "create", "alice", "1", expect=9)  # the chaincode's EXISTS
        foc("invoke", *on_ledger, *p, "create", "~foc/request/00", "1", expect=9)  # reserved prefix

        credentials = client.credentials()
        outputs["GetCredentials"] = credentials
        outputs["GetDeviceKey"] = client.device_key_info().SerializeToString()
        outputs["Health"] = client.health().SerializeToString()
        for bad in (b"FCR1" + os.urandom(200), b"garbage"):
            with pytest.raises(ChaincodeError) as caught:
                client.invoke_confidential(bad, get_state=lambda key: None, transaction_id="tx-bad")
            outputs[f"refusal of {bad[:8]!r}"] = str(caught.value).encode()
        with pytest.raises(ChaincodeError) as caught:
            client.create_enclave(b"FEC1")
        outputs["refused create"] = str(caught.value).encode()

        # a tampered ledger value: the TA's INCONSISTENT refusal names the key, never a key byte
        dev = DevLedger(ledger, channel=CHANNEL)
        stored = {k: v for (ns, k), (v, _) in dev.state_dump().items() if ns == CHAINCODE}
        value = stored["alice"]
        tampered = ReadWriteSet(writes=(KeyWrite(CHAINCODE, "alice", value[:-1] + b"?"),))
        dev.commit("tamper", CHAINCODE, tampered)
        dev.close()
        foc("query", *on_ledger, *p, "query", "alice", expect=9)
        proxy_log = proxy.log_path

    keys = leakscan.KeyMaterial.from_directory(storage)  # the coffee TA's objects
    keys.check_against(Credentials.decode(credentials), {"alice": value})
    secrets = keys.secrets()
    leakscan.assert_scanner_finds_plants(secrets)
    assert leakscan.scan(leakscan.files_under([storage]), secrets), "the scan does not see the sealed keys"

    blobs = dict(outputs)
    blobs["log records of this process"] = caplog.text.encode()
    blobs.update(leakscan.files_under([proxy_log, home, *tmp_path.glob("ledger.sqlite*")]))
    assert any("ledger.sqlite" in where for where in blobs) and str(proxy_log) in blobs
    assert b"alice" in blobs[str(proxy_log)] or b"mode=confidential" in blobs[str(proxy_log)]
    hits = leakscan.scan(blobs, secrets)
    assert hits == [], "key material left the TA:\n" + "\n".join(hits)


def test_the_native_build_answers_the_test_only_command_as_an_unknown_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like a production TA, the native build has no test-only command (ta/test is compiled only
    into a TA built with FOC_TEST_COMMANDS=y): TEE_ERROR_NOT_SUPPORTED, even with an enclave."""
    monkeypatch.setenv("FOC_NATIVE_STORAGE", str(tmp_path))
    library = os.environ.get("FOC_NATIVE_LIB")
    backend = NativeBackend(Path(library) if library else build_native_core())
    session = backend.open_session()
    try:
        msg_type, _ = session.invoke(abi.FOC_CMD_ENCLAVE_CREATE, b"FEC1")
        assert msg_type == abi.FOC_MSG_ERROR  # control: the session serves commands
        with pytest.raises(TeeError) as caught:
            session.invoke(leakscan.sealed_objects_command_id())
        assert caught.value.code == 0xFFFF000A  # TEE_ERROR_NOT_SUPPORTED
    finally:
        session.close()
        backend.close()
