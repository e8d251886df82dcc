"""Fixtures: a key-value test chaincode served by ChaincodeServer, and a FakePeer dialing it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_peer import FakePeer  # noqa: E402
from kv_chaincode import PACKAGE_ID, KeyValueChaincode  # noqa: E402

from foc.fabric.server import ChaincodeServer  # noqa: E402


@pytest.fixture
def chaincode() -> KeyValueChaincode:
    return KeyValueChaincode()


@pytest.fixture
def server(chaincode: KeyValueChaincode) -> Iterator[ChaincodeServer]:
    with ChaincodeServer(chaincode, PACKAGE_ID, "127.0.0.1:0", request_timeout=20) as srv:
        yield srv
        chaincode.release.set()  # never leave a worker waiting


@pytest.fixture
def peer(server: ChaincodeServer) -> Iterator[FakePeer]:
    fake = FakePeer(f"127.0.0.1:{server.port}", PACKAGE_ID)
    fake.connect()
    yield fake
    fake.close()
