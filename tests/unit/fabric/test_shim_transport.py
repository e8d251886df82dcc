"""The CaaS shim's transport (issue 8): a peer's re-dial (kind 4), answers over the stream's message
limit (kind 1), a taken address and a peer that never answers REGISTER (kind 7)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_peer import FakePeer
from kv_chaincode import PACKAGE_ID, KeyValueChaincode

from foc.errors import ListenError
from foc.fabric import server as shim
from foc.fabric.server import ChaincodeServer

REPO = Path(__file__).resolve().parents[3]
Msg = FakePeer.Msg


def _eventually(check, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())


# -- kind 4: a peer that re-dials is served at once -------------------------------------------


@pytest.mark.parametrize("old_stream", ["dropped", "lingering"])
def test_a_redialling_peer_is_served_at_once(server: ChaincodeServer, old_stream: str) -> None:
    """A restarted peer dials again, while its old stream is gone or still open (a half-open
    connection the server has not noticed yet): the first transaction on the new stream completes.
    Measured (re-dial -> first COMPLETED, 10 runs each, /tmp script over FakePeer): before 5.8 ms
    (dropped) and 5.9 ms (lingering) median; after 6.6 ms and 4.4 ms. The server side has no
    reconnect back-off: this pins that behaviour beside the clients' fixes."""
    old = FakePeer(f"127.0.0.1:{server.port}", PACKAGE_ID)
    old.connect()
    assert FakePeer.response_of(old.invoke("put", "k", "v")).status == 200
    if old_stream == "dropped":
        old.disconnect()
    new = FakePeer(f"127.0.0.1:{server.port}", PACKAGE_ID, state=dict(old.state))
    try:
        new.connect()
        assert FakePeer.response_of(new.invoke("get", "k")).payload == b"v"
        assert server.wait_for_stream(2, timeout=5)
    finally:
        new.close()
        old.close()


# -- kind 1: nothing over the stream's message limit is ever sent ------------------------------


def test_an_answer_over_the_message_limit_is_a_limit_error_and_the_stream_serves_on(
    server: ChaincodeServer, peer: FakePeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sending a message over the cap would end the stream for every transaction on it: the shim
    refuses it before sending (the chaincode's answer becomes a LIMIT error; a shim request raises
    LimitExceeded in the chaincode). The cap is lowered here to keep the test small."""
    monkeypatch.setattr(shim, "MAX_MESSAGE_BYTES", 64 * 1024)
    big = b"v" * (100 * 1024)
    peer.state["big"] = big
    reply = peer.invoke("get", "big")  # COMPLETED would carry 100 KiB
    assert reply.type == Msg.ERROR and reply.payload.startswith(b"LIMIT: "), reply.payload[:200]
    assert b"65536-byte gRPC message limit" in reply.payload
    reply = peer.invoke("put", "k", big.decode())  # PUT_STATE would carry 100 KiB
    assert reply.type == Msg.ERROR and reply.payload.startswith(b"LIMIT: "), reply.payload[:200]
    assert "k" not in peer.state
    assert FakePeer.response_of(peer.invoke("put", "k", "small")).status == 200  # the stream lives
    assert peer.state["k"] == b"small" and not peer.stream_ended.is_set()


# -- kind 7: one server per address; say why REGISTERED never comes -----------------------------


def test_a_second_server_on_a_taken_address_fails_with_a_clear_error(chaincode: KeyValueChaincode) -> None:
    with ChaincodeServer(chaincode, PACKAGE_ID, "127.0.0.1:0") as first:
        second = ChaincodeServer(chaincode, PACKAGE_ID, f"127.0.0.1:{first.port}")
        with pytest.raises(ListenError) as caught:
            second.start()
        assert f"127.0.0.1:{first.port}" in caught.value.message and "in use" in caught.value.message
        peer = FakePeer(f"127.0.0.1:{first.port}", PACKAGE_ID)  # the first still gets every peer
        try:
            peer.connect()
            assert FakePeer.response_of(peer.invoke("put", "k", "v")).status == 200
        finally:
            peer.close()
    with socket.socket() as other:  # not only another gRPC server: any listener
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(ListenError, match="in use by another process"):
            ChaincodeServer(chaincode, PACKAGE_ID, f"127.0.0.1:{other.getsockname()[1]}").start()


def test_foc_serve_on_a_taken_address_exits_with_the_error(
    chaincode: KeyValueChaincode, tmp_path: Path
) -> None:
    """The issue's instance: a second `foc serve --kind ercc --address 127.0.0.1:PORT` started,
    said it was serving, and the kernel split the peer's connections between the two."""
    with ChaincodeServer(chaincode, PACKAGE_ID, "127.0.0.1:0") as first:
        env = dict(os.environ, FOC_HOME=str(tmp_path / "home"), FOC_CONFIG=str(tmp_path / "none"))
        argv = [
            "serve",
            "--kind",
            "ercc",
            "--address",
            f"127.0.0.1:{first.port}",
            "--chaincode-id",
            "ercc_1:00",
        ]
        proc = subprocess.run(
            [sys.executable, "-m", "foc.fabric", *argv],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 1, proc.stderr
    assert "serving" not in proc.stdout
    assert f"cannot listen on '127.0.0.1:{first.port}'" in proc.stderr and "in use" in proc.stderr


def test_a_peer_that_never_answers_register_is_logged_naming_the_package_id_and_the_peer(
    chaincode: KeyValueChaincode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="foc.fabric.server")
    package_id = "foc_1.0:wrong\nforged line"  # logged quoted: one record, one line
    with ChaincodeServer(chaincode, package_id, "127.0.0.1:0", register_timeout=0.5) as srv:
        peer = FakePeer(f"127.0.0.1:{srv.port}", PACKAGE_ID)  # it refuses any other package id
        try:
            peer.connect(expect_ready=False)
            assert _eventually(lambda: peer.rejected_names)

            def warned() -> list[logging.LogRecord]:
                return [r for r in caplog.records if "probably not the package id" in r.getMessage()]

            assert _eventually(warned)
            message = warned()[0].getMessage()
            assert repr(package_id) in message and "\n" not in message
            assert "'ipv4:127.0.0.1:" in message  # the peer it talks to, quoted
        finally:
            peer.close()
