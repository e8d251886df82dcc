"""The FOC wrapper chaincode served by the Fabric shim, driven by the fake peer (proxy faked)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_peer import FakePeer
from kv_chaincode import PACKAGE_ID

from foc.fabric.server import ChaincodeServer
from foc.wrapper.plaintext import FocWrapper

sys.path.insert(0, str(Path(__file__).parent.parent / "wrapper"))
from fake_proxy import FakeProxyClient  # noqa: E402


@pytest.fixture
def wrapper_peer() -> Iterator[FakePeer]:
    wrapper = FocWrapper(client=FakeProxyClient())
    with ChaincodeServer(wrapper, PACKAGE_ID) as server:
        fake = FakePeer(f"127.0.0.1:{server.port}", PACKAGE_ID)
        fake.connect()
        yield fake
        fake.close()


def test_coffee_flow_through_the_shim(wrapper_peer: FakePeer) -> None:
    assert FakePeer.response_of(wrapper_peer.invoke("create", "alice", "0")).payload == b"OK"
    assert wrapper_peer.state == {"alice": b"0"}
    assert FakePeer.response_of(wrapper_peer.invoke("add", "alice", "3")).payload == b"OK"
    query = FakePeer.response_of(wrapper_peer.invoke("query", "alice"))
    assert query.payload == b"person: alice, number of consumed coffees: 3"
    gets = [m for m in wrapper_peer.received if m.type == FakePeer.Msg.GET_STATE]
    assert len(gets) == 3  # one per transaction: the TA's reads come back through the peer


def test_chaincode_error_is_a_500_response_not_endorsed(wrapper_peer: FakePeer) -> None:
    wrapper_peer.invoke("create", "bob", "1")
    again = FakePeer.response_of(wrapper_peer.invoke("create", "bob", "1"))
    assert again.status == 500 and again.message.startswith("EXISTS")
    assert wrapper_peer.state == {"bob": b"1"}
