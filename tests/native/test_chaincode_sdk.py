"""A developer's own chaincode on the host-native core (NOT a TEE): generated, built, tested, served.

`foc chaincode new` writes a project outside FOC's tree; `foc chaincode build --native-only` builds its
host library (the TA build needs OP-TEE's dev kit: the qemu tier's tutorial test does that); the
project's own generated tests pass; then one foc-proxy serves coffee and the new chaincode side by
side, each its own TA with its own pool and sealed storage, picked per request by chaincode_uuid.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from foc.deploy.native import LocalProxy
from foc.proxy.client import ProxyClient
from foc.sdk.host import HostChaincode
from foc.sdk.project import BuiltChaincode, build_project, new_project
from foc.tee import abi

pytestmark = pytest.mark.native

TALLY = uuid.UUID("5a1d0c7e-93b4-4f2e-8d61-0c9b8a7f6e51")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltChaincode:
    root = tmp_path_factory.mktemp("projects") / "tally"
    project = new_project("tally", root, ta_uuid=TALLY)
    return build_project(project.root, native_only=True)


def test_the_build_names_the_chaincode_and_its_ta(built: BuiltChaincode) -> None:
    assert (built.name, built.ta_uuid, built.ta, built.measurement) == ("tally", TALLY, None, None)
    with HostChaincode.open(built.native_lib.parent.parent) as cc:
        assert (cc.name, cc.ta_uuid) == ("tally", TALLY)


def test_the_generated_tests_pass_on_the_host_core(built: BuiltChaincode) -> None:
    project = built.native_lib.parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


@pytest.fixture
def proxy(built: BuiltChaincode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalProxy]:
    monkeypatch.setenv("FOC_NATIVE_STORAGE", str(tmp_path / "sealed"))
    (tmp_path / "sealed").mkdir()
    with LocalProxy("native", pool=2, extra_libraries=[built.native_lib]) as local:
        yield local


def test_one_proxy_serves_coffee_and_the_new_chaincode_each_in_its_own_ta(proxy: LocalProxy) -> None:
    ledgers: dict[bytes, dict[str, bytes]] = {abi.FOC_TA_UUID.bytes: {}, TALLY.bytes: {}}

    def run(ta: uuid.UUID, function: str, *args: str) -> object:
        state = ledgers[ta.bytes]
        result = client.invoke(
            function,
            list(args),
            get_state=state.get,
            transaction_id=f"tx-{len(str(state))}",
            chaincode_uuid=ta.bytes,
        )
        if result.ok:
            state.update({w.key: w.value for w in result.writes})
        return result

    with ProxyClient(proxy.address) as client:
        health = client.health()
        assert {(ta.name, ta.uuid) for ta in health.tas} == {
            ("coffee", abi.FOC_TA_UUID.bytes),
            ("tally", TALLY.bytes),
        }
        assert run(TALLY, "put", "color", "blue").ok  # type: ignore[attr-defined]
        assert run(TALLY, "get", "color").payload == b"blue"  # type: ignore[attr-defined]
        assert run(abi.FOC_TA_UUID, "create", "alice", "2").ok  # type: ignore[attr-defined]
        # each TA runs only its own chaincode
        wrong = run(abi.FOC_TA_UUID, "put", "color", "red")
        assert wrong.error.code == "UNKNOWN_FUNCTION"  # type: ignore[attr-defined]
        assert run(TALLY, "create", "bob", "1").error.code == "UNKNOWN_FUNCTION"  # type: ignore[attr-defined]
        stranger = client.invoke(
            "get", ["color"], get_state=dict().get, transaction_id="tx-x", chaincode_uuid=uuid.uuid4().bytes
        )
        assert stranger.error is not None and stranger.error.code == "UNKNOWN_CHAINCODE"
        by_name = {ta.name: ta for ta in client.health().tas}
        assert by_name["tally"].transactions_total == 3 and by_name["coffee"].transactions_total == 2
    assert ledgers[TALLY.bytes] == {"color": b"blue"} and ledgers[abi.FOC_TA_UUID.bytes] == {"alice": b"2"}
