"""Fixtures: FocWrapper (fake proxy) served by the real CaaS shim, behind the fake gateway."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "fabric"))
sys.path.insert(0, str(HERE.parent / "wrapper"))

from fake_gateway import CHANNEL, PACKAGE_ID, FakeGateway  # noqa: E402
from fake_proxy import FakeProxyClient  # noqa: E402

from foc.client.gateway import GatewayClient  # noqa: E402
from foc.client.identity import Identity  # noqa: E402
from foc.fabric.server import ChaincodeServer  # noqa: E402
from foc.wrapper.plaintext import FocWrapper  # noqa: E402


@pytest.fixture
def proxy() -> FakeProxyClient:
    return FakeProxyClient()


@pytest.fixture
def chaincode_server(proxy: FakeProxyClient) -> Iterator[ChaincodeServer]:
    with ChaincodeServer(FocWrapper(client=proxy), PACKAGE_ID, request_timeout=20) as server:
        yield server


@pytest.fixture
def fake_gateway(chaincode_server: ChaincodeServer) -> Iterator[FakeGateway]:
    with FakeGateway(f"127.0.0.1:{chaincode_server.port}", PACKAGE_ID, channel_id=CHANNEL) as gw:
        yield gw


@pytest.fixture(scope="session")
def identity() -> Identity:
    return Identity.generate_for_tests("Org1MSP", "User1")


@pytest.fixture
def client(fake_gateway: FakeGateway, identity: Identity) -> Iterator[GatewayClient]:
    with GatewayClient(fake_gateway.address, identity, timeout=20, commit_timeout=20) as gateway_client:
        yield gateway_client
