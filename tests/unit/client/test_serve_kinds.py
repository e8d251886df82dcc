"""`python -m foc.fabric serve --kind ercc|confidential` as a process (the wrapper kind has its own
test in tests/unit/fabric/test_serve_command.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "fabric"))

from fake_peer import FakePeer  # noqa: E402

from foc.admin.definitions import define_chaincode  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
PACKAGE_ID = "ercc_1.0:" + "12" * 32


def serve(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, FOC_HOME=str(tmp_path / "home"), FOC_CONFIG=str(tmp_path / "none"))
    env["FOC_PROXY_ADDRESS"] = "127.0.0.1:1"
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "foc.fabric",
            "serve",
            "--address",
            "127.0.0.1:0",
            "--chaincode-id",
            PACKAGE_ID,
        ]
        + list(args),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_ercc_answers_registry_queries(tmp_path: Path) -> None:
    process = serve(tmp_path, "--kind", "ercc")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"\(port (\d+)\) as ercc", line)
        assert match, f"unexpected first line: {line!r}"
        peer = FakePeer(f"127.0.0.1:{match.group(1)}", PACKAGE_ID, namespace="ercc")
        try:
            peer.connect()
            listing = FakePeer.response_of(peer.invoke("queryListEnclaveCredentials", "coffee", timeout=60))
            assert (listing.status, listing.payload) == (200, b"[]")
            key = FakePeer.response_of(peer.invoke("queryChaincodeEncryptionKey", "coffee", timeout=60))
            assert key.status == 404 and "no enclave is registered" in key.message
        finally:
            peer.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_confidential_needs_the_definition_and_serves_invoke(tmp_path: Path) -> None:
    missing = serve(tmp_path, "--kind", "confidential", "--name", "coffee")
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 3 and "chaincode 'coffee' has no definition" in err, err

    define_chaincode("coffee", "ab" * 32, "dev", home=tmp_path / "home")
    process = serve(tmp_path, "--kind", "confidential", "--name", "coffee")
    try:
        assert process.stdout is not None
        match = re.search(r"\(port (\d+)\) as confidential", process.stdout.readline())
        assert match
        peer = FakePeer(f"127.0.0.1:{match.group(1)}", PACKAGE_ID, namespace="coffee")
        try:
            peer.connect()
            wrong = FakePeer.response_of(peer.invoke("create", "alice", "1", timeout=60))
            assert wrong.status == 500 and "__invoke(request)" in wrong.message
            down = FakePeer.response_of(peer.invoke("__invoke", b"FCR1-opaque", timeout=60))
            assert down.status == 500 and "proxy" in down.message.lower(), down.message
        finally:
            peer.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
