"""FOC's external builder (foc/fabric/builder/bin/*) run the way a Fabric peer runs it.

`FakeBuilderHost` hands the scripts exactly what a peer does (build context, durable build, run
metadata chaincode.json, a pruned environment); the peer-launched chaincode then dials the fake peer's
chaincode listener (`/protos.ChaincodeSupport/Register`, mutual TLS) and serves transactions. The
registry (`ercc`) is the chaincode here: it needs no device. The wrapper and a confidential chaincode
run the same way on a host-native proxy in tests/unit/gateway/test_peer_launched.py.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from certs import Pki
from fake_builder import FakeBuilderHost
from fake_peer import FakePeer

from foc.errors import ConfigError, UsageError
from foc.fabric.__main__ import main as fabric_main
from foc.fabric.external import BUILDER_DIR
from foc.fabric.hosted import HostedSettings
from foc.fabric.package import ConnectionInfo, build_launch_package, build_package, package_id
from foc.fabric.tls import ServerTls


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki.create()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[FakeBuilderHost]:
    # FOC_PYTHON: what core.yaml's propagateEnvironment passes; nothing else of this environment
    builder = FakeBuilderHost(BUILDER_DIR, tmp_path / "builds", {"FOC_PYTHON": sys.executable})
    yield builder
    builder.stop()


def _launch_package(tmp_path: Path, **settings: object) -> Path:
    home = tmp_path / "foc-home"
    home.mkdir(exist_ok=True)
    launch = HostedSettings(home=home, **settings).to_json()  # type: ignore[arg-type]
    path = tmp_path / "ercc.tar.gz"
    path.write_bytes(build_launch_package("ercc_1.0", launch))
    return path


def test_the_builder_scripts_are_executable_and_name_their_step() -> None:
    for step in ("detect", "build", "release", "run"):
        script = BUILDER_DIR / "bin" / step
        assert script.stat().st_mode & 0o111, step
        assert f"-m foc.fabric.external {step} " in script.read_text()


def test_a_launch_package_is_reproducible_and_carries_foc_json(tmp_path: Path) -> None:
    launch = HostedSettings(kind="confidential", name="auction", proxy="10.0.0.7:50051").to_json()
    data = build_launch_package("auction_1.0", launch)
    assert data == build_launch_package("auction_1.0", launch)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as outer:
        assert outer.getnames() == ["metadata.json", "code.tar.gz"]
        metadata = json.loads(outer.extractfile("metadata.json").read())  # type: ignore[union-attr]
        assert metadata == {"type": "foc", "label": "auction_1.0"}
        code = outer.extractfile("code.tar.gz").read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(code), mode="r:gz") as inner:
        doc = json.loads(inner.extractfile("foc.json").read())  # type: ignore[union-attr]
    assert doc["kind"] == "confidential" and doc["name"] == "auction" and doc["proxy"] == "10.0.0.7:50051"
    with pytest.raises(UsageError, match="unknown chaincode kind"):
        build_launch_package("x_1", {**launch, "kind": "shell"})
    with pytest.raises(UsageError, match="absolute"):
        HostedSettings(home=Path("relative/home"))


def test_the_package_command_makes_either_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "coffee.tar.gz"
    argv = ["package", "--label", "coffee_1.0", "--launch", "--kind", "confidential", "--name", "coffee"]
    assert fabric_main([*argv, "--proxy", "127.0.0.1:50051", "--home", str(tmp_path), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == package_id("coffee_1.0", out.read_bytes())
    assert fabric_main(["package", "--label", "x_1", "-o", str(tmp_path / "x.tgz")]) == 2  # neither kind
    assert "--address" in capsys.readouterr().err
    both = ["package", "--label", "x_1", "--launch", "--address", "h:1", "-o", str(tmp_path / "y.tgz")]
    assert fabric_main(both) == 2


def test_detect_claims_foc_packages_only(tmp_path: Path, host: FakeBuilderHost) -> None:
    ccaas = tmp_path / "ccaas.tar.gz"
    ccaas.write_bytes(build_package("foc_1.0", ConnectionInfo("127.0.0.1:9999")))
    assert host.install(ccaas) is None  # Fabric's ccaas builder (or the next one) takes it
    assert [name for name, _ in host.ran] == ["detect"]
    built = host.install(_launch_package(tmp_path, kind="ercc"))
    assert built is not None
    assert [name for name, _ in host.ran] == ["detect", "detect", "build", "release"]
    assert json.loads((built.bld / "foc.json").read_text())["kind"] == "ercc"
    assert not any(built.release.rglob("*"))  # no connection.json: the peer calls bin/run


def test_build_refuses_a_broken_foc_json_naming_it(tmp_path: Path, host: FakeBuilderHost) -> None:
    src, meta, out = tmp_path / "src", tmp_path / "meta", tmp_path / "out"
    for d in (src, meta, out):
        d.mkdir()
    (meta / "metadata.json").write_text('{"type": "FOC", "label": "x_1"}')  # detect ignores the case
    (src / "foc.json").write_text('{"foc_launch": 1, "kind": "shell"}')
    assert host._program("detect", src, meta).returncode == 0
    result = host._program("build", src, meta, out)
    assert result.returncode != 0 and "unknown chaincode kind 'shell'" in result.stderr
    assert not any(out.iterdir())


def test_the_peer_launched_registry_dials_the_peer_over_mutual_tls(
    tmp_path: Path, host: FakeBuilderHost, pki: Pki
) -> None:
    built = host.install(_launch_package(tmp_path, kind="ercc"))
    assert built is not None
    peer = FakePeer("", built.package_id, namespace="ercc")
    listener = peer.listen(tls=ServerTls(pki.server.cert, pki.server.key, client_ca=pki.ca.cert))
    process = host.launch(
        built, listener, root_cert=pki.ca.cert, client_cert=pki.client.cert, client_key=pki.client.key
    )
    try:
        peer.connect(timeout=60)  # the chaincode registered with its package id over mutual TLS
        assert peer.registered_name == built.package_id
        reply = peer.invoke("queryListEnclaveCredentials", "coffee", channel_id="mychannel")
        assert FakePeer.response_of(reply).payload == b"[]"
        refused = FakePeer.response_of(peer.invoke("registerEnclave", "bm90IGNyZWRlbnRpYWxz"))
        assert refused.status >= 400
        peer.disconnect()  # the peer ends the stream: run exits, the peer may launch it again
        assert process.wait(30) == 0
    finally:
        peer.close()
    stderr = process.stderr.read() if process.stderr else ""
    assert "dials the peer" in stderr and "bm90" not in stderr  # never arguments in the logs


def test_a_chaincode_that_cannot_reach_the_peer_says_where() -> None:
    from kv_chaincode import KeyValueChaincode

    from foc.deploy.native import free_port
    from foc.errors import PeerStreamClosed
    from foc.fabric.client import PeerConnection

    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(PeerStreamClosed, match=f"cannot reach the peer's chaincode listener {address}"):
        PeerConnection(KeyValueChaincode(), "kv_1:abc", address).run(dial_timeout=0.5)
    with pytest.raises(ConfigError, match="host:port"):
        PeerConnection(KeyValueChaincode(), "kv_1:abc", "no-port")
