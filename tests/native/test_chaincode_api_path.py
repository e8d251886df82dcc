"""The chaincode API's new calls end to end in plaintext mode, on the host-native trusted core (NOT a
TEE): dev ledger -> FocWrapper -> gRPC -> foc-proxy -> the coffee TA's probe_* functions
(ta/chaincode/probe.c).

The caller's identity (the transaction's creator) and transient data reach the chaincode; range and
partial composite key reads are answered from the ledger, recorded in the transaction's read set and
re-checked at commit: a range whose contents changed between execution and commit is refused as a
read conflict (phantom read) and nothing is written. The confidential mode's counterpart is the
auction scenario (tests/native/test_auction.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from foc.client.identity import Identity
from foc.deploy.native import LocalProxy
from foc.errors import MvccConflict
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.ledger.simulator import TransactionSimulator
from foc.protocol.keys import create_composite_key
from foc.wrapper.config import WrapperConfig
from foc.wrapper.plaintext import FocWrapper

pytestmark = pytest.mark.native


@pytest.fixture(scope="module")
def wrapper() -> Iterator[FocWrapper]:
    with LocalProxy("native", pool=2) as proxy:
        w = FocWrapper(WrapperConfig(proxy.address, timeout_s=60.0))
        yield w
        w.close()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[DevLedger]:
    with DevLedger(tmp_path / "ledger.sqlite") as opened:
        yield opened


@pytest.fixture
def peer(ledger: DevLedger, wrapper: FocWrapper) -> DevPeer:
    return DevPeer(ledger, {"foc": wrapper})


def payload(peer: DevPeer, *args: str, **context: object) -> bytes:
    result = peer.invoke("foc", list(args), **context)  # type: ignore[arg-type]
    assert result.response.status == 200, result.response.message
    return result.response.payload


def refusal(peer: DevPeer, *args: str, **context: object) -> str:
    result = peer.query("foc", list(args), **context)  # type: ignore[arg-type]
    assert result.response.status >= 400, result.response.payload
    return result.response.message


def test_the_transactions_creator_reaches_the_chaincode(peer: DevPeer) -> None:
    alice = Identity.generate_for_tests("Org1MSP", "alice")
    result = peer.query("foc", ["probe_creator"], creator=alice.serialized())
    assert result.response.status == 200, result.response.message
    msp, _, certificate = result.response.payload.partition(b"\n")
    assert msp == b"Org1MSP" and certificate == alice.certificate_pem
    assert refusal(peer, "probe_creator").startswith("NOT_FOUND")  # no creator: none invented


def test_transient_data_reaches_the_chaincode_and_is_never_written(peer: DevPeer, ledger: DevLedger) -> None:
    secret = bytes(range(256))
    result = peer.invoke("foc", ["probe_transient", "price"], transient={"price": secret, "other": b"x"})
    assert result.committed and result.response.payload == secret
    assert refusal(peer, "probe_transient", "absent", transient={"price": b"1"}).startswith("NOT_FOUND")
    assert not any(secret in value for value, _ in ledger.state_dump().values())


def test_a_range_read_lists_the_committed_entries_in_key_order(peer: DevPeer) -> None:
    for name, count in (("bob", "2"), ("alice", "1"), ("carol", "3"), ("zed", "9")):
        payload(peer, "create", name, count)
    assert payload(peer, "probe_range", "alice", "d") == b"alice=1\nbob=2\ncarol=3\n"
    assert payload(peer, "probe_range", "", "") == b"alice=1\nbob=2\ncarol=3\nzed=9\n"
    assert payload(peer, "probe_range", "x", "y") == b""


def test_partial_composite_key_reads_see_only_their_prefix(peer: DevPeer, ledger: DevLedger) -> None:
    payload(peer, "probe_put_composite", "bid", "spring", "alice", "130")
    payload(peer, "probe_put_composite", "bid", "spring", "bob", "120")
    payload(peer, "probe_put_composite", "bid", "autumn", "carol", "999")
    payload(peer, "create", "plain", "1")  # a simple key is never in a composite range
    stored = {key for (_, key) in ledger.state_dump()}
    assert create_composite_key("bid", ["spring", "alice"]) in stored
    assert payload(peer, "probe_partial", "bid", "spring") == b"bid/spring/alice=130\nbid/spring/bob=120\n"
    assert payload(peer, "probe_partial", "bid") == (
        b"bid/autumn/carol=999\nbid/spring/alice=130\nbid/spring/bob=120\n"
    )
    assert payload(peer, "probe_range", "", "") == b"plain=1\n"  # composite keys stay out of simple ranges


def _execute(ledger: DevLedger, wrapper: FocWrapper, *args: str) -> TransactionSimulator:
    """Endorse (simulate) a transaction without committing it: what a peer does before ordering."""
    stub = TransactionSimulator(ledger, "foc", [a.encode() for a in args], tx_id=f"tx-{'-'.join(args)}")
    response = wrapper.invoke(stub)
    assert response.status == 200, response.message
    return stub


@pytest.mark.parametrize(
    ("change", "conflicts"),
    [
        (("create", "bert", "5"), True),  # a key appears inside the range: a phantom
        (("add", "bob", "1"), True),  # a value inside the range changes
        (("create", "zoe", "5"), False),  # outside the range: no conflict
    ],
)
def test_a_range_that_changed_before_commit_is_a_read_conflict(
    peer: DevPeer, ledger: DevLedger, wrapper: FocWrapper, change: tuple[str, ...], conflicts: bool
) -> None:
    payload(peer, "create", "alice", "1")
    payload(peer, "create", "bob", "2")
    counted = _execute(ledger, wrapper, "probe_range", "a", "c", "count")  # writes "count" = 2
    payload(peer, *change)  # committed between the range read and the commit of `counted`
    height = ledger.height
    if conflicts:
        with pytest.raises(MvccConflict, match="phantom"):
            ledger.commit(counted.tx_id, "foc", counted.rwset())
        assert ledger.height == height and ("foc", "count") not in ledger.state_dump()
    else:
        ledger.commit(counted.tx_id, "foc", counted.rwset())
        assert ledger.state_dump()[("foc", "count")][0] == b"2"
