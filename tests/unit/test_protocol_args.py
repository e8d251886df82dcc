"""Issue 8, kind 2: text that cannot be UTF-8 encoded is one UsageError (exit 2) at every layer that
takes text or bytes, never a UnicodeEncodeError; bytes that are not UTF-8 pass unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from foc.chaincode.memory import MemoryStub
from foc.chaincode.stub import Response
from foc.client.devledger import DevLedgerContract
from foc.errors import UsageError
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.protocol.args import encode_arg, encode_args
from foc.proxy.client import ProxyClient

LONE = "caf\udce9"  # what os.fsdecode makes of b"caf\xe9"


class Echo:
    """A chaincode that answers with its arguments, joined by '|'."""

    def invoke(self, stub: MemoryStub) -> Response:  # type: ignore[override]
        return Response.success(b"|".join(stub.get_args()))


def test_encode_args_takes_text_and_bytes_and_names_the_bad_argument() -> None:
    assert encode_args(["a", b"\xff\xfe", bytearray(b"c")]) == [b"a", b"\xff\xfe", b"c"]
    with pytest.raises(UsageError, match="argument 1 is not valid text") as exc:
        encode_args(["ok", LONE])
    assert exc.value.hint == "pass values that are not UTF-8 as bytes"
    with pytest.raises(UsageError, match="function name is not valid text"):
        encode_arg(LONE, "function name")


def test_the_dev_ledger_refuses_a_lone_surrogate_and_carries_bytes(tmp_path: Path) -> None:
    with DevLedger(tmp_path / "dev.sqlite") as ledger:
        peer = DevPeer(ledger, {"echo": Echo()})  # type: ignore[dict-item]
        contract = DevLedgerContract(peer, "echo")
        assert contract.query("f", [b"\xff", "x"]) == b"f|\xff|x"
        with pytest.raises(UsageError, match="function name"):
            contract.query(LONE, [])
        with pytest.raises(UsageError, match="argument 0"):
            contract.invoke("f", [LONE])
        with pytest.raises(UsageError, match="argument 1"):
            peer.invoke("echo", ["f", "ok", LONE])


def test_the_proxy_client_refuses_a_lone_surrogate_before_sending() -> None:
    with ProxyClient("127.0.0.1:1") as client:  # nothing listens: the check comes first
        with pytest.raises(UsageError, match="argument 0"):
            client.invoke("create", [LONE], transaction_id="t", get_state=lambda k: None)
        with pytest.raises(UsageError, match="function name"):
            client.invoke(LONE, ["a"], transaction_id="t", get_state=lambda k: None)
