"""Issue 8, kind 1 on the Fabric path: client -> gateway (peer) -> CaaS shim -> wrapper -> proxy.

Every request over a documented limit gets the LIMIT error naming that limit, whatever its size:
the SDK checks a wrapper request before sending it; the gateway client never sends a request over
the peer's message limit; a RESOURCE_EXHAUSTED from the peer is a LIMIT error, never "unavailable";
and a request that only the wrapper can judge comes back from it as the chaincode's LIMIT refusal.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_gateway import CHAINCODE, CHANNEL, PACKAGE_ID, FakeGateway

from foc.cli.main import main
from foc.client import gateway as gateway_module
from foc.client.gateway import GatewayClient
from foc.client.identity import Identity
from foc.errors import EndorsementFailure, GatewayUnavailable, LimitExceeded
from foc.fabric.server import ChaincodeServer
from foc.protocol import limits, transport
from foc.proxy.client import ProxyClient
from foc.proxy.config import ProxyConfig
from foc.proxy.server import ProxyServer
from foc.wrapper.plaintext import FocWrapper

sys.path.insert(0, str(Path(__file__).parents[1] / "proxy"))
from proxy_fakes import FakeTaBackend  # noqa: E402

A = b"1" * limits.FOC_MAX_VALUE
ISSUE_INSTANCE = [b"b", *[A] * 9]  # create b A A A A A A A A A: 589,9xx bytes


def _args(*values: str | bytes) -> list[bytes]:
    return [v.encode() if isinstance(v, str) else v for v in values]


def test_cli_issue_instance_through_the_gateway_is_limit_exit_9(
    fake_gateway: FakeGateway, identity: Identity, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOC_HOME", str(tmp_path / "home"))
    msp = tmp_path / "msp"
    (msp / "signcerts").mkdir(parents=True)
    (msp / "keystore").mkdir()
    (msp / "signcerts" / "cert.pem").write_bytes(identity.certificate_pem)
    (msp / "keystore" / "priv_sk").write_bytes(identity.private_key_pem())
    gateway = ["--gateway", fake_gateway.address, "--msp-dir", str(msp), "--mspid", "Org1MSP"]
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "invoke",
        *gateway,
        "--channel",
        CHANNEL,
        "--plaintext",
        "create",
        *(a.decode() for a in ISSUE_INSTANCE),
    ]
    assert main(argv, out=out, err=err) == 9
    assert (
        err.getvalue().startswith("foc: error: LIMIT: ")
        and "limit 131072 (FOC_MAX_REQUEST)" in err.getvalue()
    )
    assert fake_gateway.calls == []  # refused before anything was sent


def test_a_request_over_the_peers_message_limit_is_never_sent(
    client: GatewayClient, fake_gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap is Fabric's default (100 MiB); lowered here to keep the test small."""
    monkeypatch.setattr(gateway_module, "MAX_MESSAGE_BYTES", 64 * 1024)
    with pytest.raises(LimitExceeded) as caught:
        client.evaluate(CHANNEL, CHAINCODE, "query", [b"x" * (100 * 1024)])
    assert "65536-byte gRPC message limit" in caught.value.reason and caught.value.exit_code == 9
    with pytest.raises(LimitExceeded):
        client.submit(CHANNEL, CHAINCODE, "create", [b"x" * (100 * 1024), b"1"])
    assert fake_gateway.calls == []


def test_resource_exhausted_from_the_peer_is_limit_never_unavailable(
    chaincode_server: ChaincodeServer, identity: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer whose operator lowered its message limit answers RESOURCE_EXHAUSTED."""
    monkeypatch.setattr(transport, "FABRIC_MESSAGE_BYTES", 16 * 1024)  # the fake peer's own cap
    with FakeGateway(f"127.0.0.1:{chaincode_server.port}", PACKAGE_ID, channel_id=CHANNEL) as gateway:
        monkeypatch.undo()
        with GatewayClient(gateway.address, identity, timeout=10) as client:
            with pytest.raises(LimitExceeded) as caught:
                client.evaluate(CHANNEL, CHAINCODE, "query", [b"x" * (32 * 1024)])
    assert "RESOURCE_EXHAUSTED" in caught.value.reason
    assert not isinstance(caught.value, GatewayUnavailable)


@pytest.fixture
def real_proxy() -> Iterator[ProxyClient]:
    server = ProxyServer(ProxyConfig(listen="127.0.0.1:0", tee="native", pool_size=1), FakeTaBackend())
    server.start()
    with ProxyClient(server.address, default_timeout=10) as proxy_client:
        yield proxy_client
    server.stop(grace=0.5)


def test_the_wrapper_behind_the_shim_answers_limit_naming_the_limit(
    real_proxy: ProxyClient, identity: Identity
) -> None:
    """Without the SDK's check (a raw GatewayClient), the proposal crosses the gateway and the
    CaaS shim; the wrapper's proxy client refuses it before the proxy (was RESOURCE_EXHAUSTED
    from the proxy's gRPC cap, reported as PROXY_UNAVAILABLE)."""
    with ChaincodeServer(FocWrapper(client=real_proxy), PACKAGE_ID, request_timeout=20) as shim:
        with FakeGateway(f"127.0.0.1:{shim.port}", PACKAGE_ID, channel_id=CHANNEL) as gateway:
            with GatewayClient(gateway.address, identity, timeout=20) as client:
                with pytest.raises(EndorsementFailure) as caught:
                    client.evaluate(CHANNEL, CHAINCODE, "create", ISSUE_INSTANCE)
                assert caught.value.status == 500
                assert caught.value.chaincode_message.startswith("LIMIT: ")
                assert "limit 131072 (FOC_MAX_REQUEST)" in caught.value.chaincode_message
                assert client.evaluate(CHANNEL, CHAINCODE, "put", _args("k", "v")) == b"OK"  # serves on
