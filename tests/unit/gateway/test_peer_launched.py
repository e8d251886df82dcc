"""FOC's three chaincodes peer-launched: the peer starts each through FOC's external builder and it dials
the peer, instead of the peer dialing `foc serve` (docs/fabric.md, "Peer-launched").

The packages are `foc package --launch` packages; `FakeBuilderHost` runs bin/detect, build, release
and run on them exactly as a peer does; each fake peer (one per chaincode, behind the fake gateway)
serves the chaincode listener with mutual TLS. The device is a host-native foc-proxy (NOT a TEE),
so the registry accepts native-insecure evidence. Then the coffee scenario runs confidentially
(`__invoke` / `__endorse` checked by ercc) and through the plaintext wrapper.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from certs import Pki
from coffee_scenario import coffee_scenario
from fake_builder import Built, FakeBuilderHost
from fake_gateway import FakeGateway

import foc
from foc.client.identity import Identity
from foc.confidential.formats import StoredValue
from foc.confidential.measurement import NATIVE_INSECURE_MEASUREMENT
from foc.deploy.native import LocalProxy
from foc.fabric.external import BUILDER_DIR
from foc.fabric.hosted import HostedSettings
from foc.fabric.package import build_launch_package
from foc.fabric.tls import ServerTls

pytestmark = pytest.mark.native

CHANNEL = "mychannel"


@pytest.fixture
def device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalProxy]:
    monkeypatch.setenv("FOC_NATIVE_STORAGE", str(tmp_path / "sealed"))
    (tmp_path / "sealed").mkdir()
    with LocalProxy("native", pool=2) as proxy:
        yield proxy


def test_the_wrapper_a_confidential_chaincode_and_ercc_run_peer_launched(
    tmp_path: Path, device: LocalProxy
) -> None:
    home = tmp_path / "foc-home"
    identity = Identity.generate_for_tests("Org1MSP", "User1")
    with foc.connect(
        ledger=tmp_path / "admin.sqlite", proxy=device.address, home=home, channel=CHANNEL
    ) as net:
        net.enroll_device("native", replace=True)
        net.define_chaincode("coffee", version=NATIVE_INSECURE_MEASUREMENT.hex(), channel=CHANNEL)
        enclave = net.create_enclave("coffee", endpoint=device.address, force=True)

    # the three packages an operator installs on the peer: `foc package --launch ...`
    settings = {
        "foc": HostedSettings(kind="wrapper", proxy=device.address, home=home),
        "coffee": HostedSettings(kind="confidential", name="coffee", proxy=device.address, home=home),
        "ercc": HostedSettings(kind="ercc", home=home, allow_insecure_native=True),
    }
    host = FakeBuilderHost(BUILDER_DIR, tmp_path / "peer-builds", {"FOC_PYTHON": sys.executable})
    built: dict[str, Built] = {}
    for name, setting in settings.items():
        package = tmp_path / f"{name}.tar.gz"
        package.write_bytes(build_launch_package(f"{name}_1.0", setting.to_json()))
        installed = host.install(package)
        assert installed is not None, f"the FOC builder did not claim {name}"
        built[name] = installed

    pki = Pki.create()  # the peer's chaincode listener TLS, and the client certificate it issues

    def launch(name: str, peer_address: str) -> None:
        host.launch(
            built[name],
            peer_address,
            root_cert=pki.ca.cert,
            client_cert=pki.client.cert,
            client_key=pki.client.key,
        )

    gateway = FakeGateway(
        channel_id=CHANNEL,
        chaincodes={name: (None, b.package_id) for name, b in built.items()},
        launch=launch,
        listener_tls=ServerTls(pki.server.cert, pki.server.key, client_ca=pki.ca.cert),
    )
    try:
        gateway.start()
        assert {p.registered_name for p in gateway.peers.values()} == {b.package_id for b in built.values()}
        with foc.connect(
            gateway=gateway.address, identity=identity, channel=CHANNEL, home=home, allow_insecure_native=True
        ) as net:
            net.register_enclave("coffee", credentials=enclave.credentials)
            coffee_scenario(net.contract("coffee"), "alice")  # confidential: verified, then decrypted
            coffee_scenario(net.contract("foc", plaintext=True), "bob")  # the plaintext wrapper
        StoredValue.decode(gateway.peers["coffee"].state["alice"])  # ciphertext on the ledger
        assert gateway.peers["foc"].state == {"bob": b"3"}
        assert {callee for callee, _ in gateway.chaincode_calls} == {"ercc"}  # __endorse asked ercc
        assert set(code for _, code in gateway.blocks) == {"VALID"}
    finally:
        gateway.stop()
        host.stop()
    assert [name for name, _ in host.ran].count("run") == 3
