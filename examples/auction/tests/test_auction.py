"""The sealed-bid auction on the host-native build of FOC's trusted core (NOT a TEE: the same C as the
auction's TA, run in this process on a dict ledger). FOC's native test tier runs these; by hand:

    foc chaincode build examples/auction --native-only && .venv/bin/pytest examples/auction/tests

The confidential runs, on the dev ledger and on OP-TEE under QEMU: tests/auction_scenario.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from foc.protocol.context import Creator
from foc.protocol.limits import FOC_MAX_RANGE_ENTRIES
from foc.protocol.result import InvocationResult
from foc.sdk.host import HostChaincode

BUILD = Path(os.environ.get("FOC_AUCTION_BUILD", Path(__file__).resolve().parents[1] / "build"))


def identity(name: str, msp: str = "Org1MSP") -> Creator:
    """A creator: the auction compares MSP id and certificate bytes, it parses no certificate."""
    return Creator(msp, f"-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n".encode())


AUCTIONEER, ALICE, BOB, CAROL = (identity(n) for n in ("auctioneer", "alice", "bob", "carol"))


@pytest.fixture
def auction() -> Iterator[HostChaincode]:
    with HostChaincode.open(BUILD) as cc:
        yield cc


def ok(result: InvocationResult) -> bytes:
    assert result.ok, result
    return result.payload


def refused(result: object, code: str, words: str) -> None:
    error = getattr(result, "error", None)
    assert error is not None and error.code == code, result
    assert words in error.message, error.message


def test_a_whole_auction_with_every_refusal(auction: HostChaincode) -> None:
    assert ok(auction.invoke("create", "spring", creator=AUCTIONEER)) == b"OK"
    refused(auction.invoke("create", "spring", creator=BOB), "EXISTS", "already exists")
    assert ok(auction.invoke("bid", "spring", "alice", "100", creator=ALICE)) == b"OK"
    assert ok(auction.invoke("bid", "spring", "bob", "120", creator=BOB)) == b"OK"
    assert ok(auction.invoke("bid", "spring", "alice", "130", creator=ALICE)) == b"OK"  # a new bid replaces
    refused(auction.invoke("bid", "spring", "alice", "999", creator=BOB), "DENIED", "another identity")
    # bids are secret until close: only the bidder sees one
    assert ok(auction.query("show_bid", "spring", "alice", creator=ALICE)) == b"bidder: alice, amount: 130"
    refused(auction.query("show_bid", "spring", "alice", creator=BOB), "DENIED", "only to its bidder")
    early = auction.query("show_bid", "spring", "bob", creator=AUCTIONEER)
    refused(early, "DENIED", "once the auction is closed")
    refused(auction.query("result", "spring", creator=ALICE), "DENIED", "sealed until it closes")
    refused(auction.invoke("close", "spring", creator=BOB), "DENIED", "only the auctioneer")
    # the winner, computed inside the TA from a range read of every bid
    assert ok(auction.invoke("close", "spring", creator=AUCTIONEER)) == b"winner: alice, amount: 130"
    refused(auction.invoke("bid", "spring", "carol", "500", creator=CAROL), "DENIED", "closed")
    refused(auction.invoke("close", "spring", creator=AUCTIONEER), "DENIED", "already closed")
    assert ok(auction.query("result", "spring", creator=CAROL)) == b"winner: alice, amount: 130"
    assert ok(auction.query("show_bid", "spring", "bob", creator=AUCTIONEER)) == b"bidder: bob, amount: 120"
    refused(auction.query("show_bid", "spring", "alice", creator=BOB), "DENIED", "only to its bidder")
    refused(auction.query("show_bid", "spring", "dave", creator=AUCTIONEER), "NOT_FOUND", "no bid")


def test_close_reads_every_bid_of_its_auction_and_only_those(auction: HostChaincode) -> None:
    for name in ("a", "b"):
        ok(auction.invoke("create", name, creator=AUCTIONEER))
    ok(auction.invoke("bid", "a", "low", "5", creator=ALICE))
    ok(auction.invoke("bid", "b", "high", "900", creator=BOB))  # another auction's bid: not a's
    result = auction.invoke("close", "a", creator=AUCTIONEER)
    assert ok(result) == b"winner: low, amount: 5"
    assert len(result.ranges) == 1  # type: ignore[attr-defined]  # the bids' range: in the read set


def test_ties_go_to_the_first_bidder_in_key_order_and_no_bids_is_a_result(auction: HostChaincode) -> None:
    ok(auction.invoke("create", "tie", creator=AUCTIONEER))
    ok(auction.invoke("bid", "tie", "zed", "50", creator=ALICE))
    ok(auction.invoke("bid", "tie", "amy", "50", creator=BOB))
    assert ok(auction.invoke("close", "tie", creator=AUCTIONEER)) == b"winner: amy, amount: 50"
    ok(auction.invoke("create", "empty", creator=AUCTIONEER))
    assert ok(auction.invoke("close", "empty", creator=AUCTIONEER)) == b"no bids"


def test_the_auction_needs_a_caller_and_checks_its_arguments(auction: HostChaincode) -> None:
    refused(auction.invoke("create", "x"), "DENIED", "caller's identity")
    ok(auction.invoke("create", "x", creator=AUCTIONEER))
    refused(auction.invoke("bid", "x", "alice", "12a", creator=ALICE), "BAD_ARGUMENT", "decimal")
    refused(auction.invoke("bid", "x", "alice", "1" * 21, creator=ALICE), "BAD_ARGUMENT", "1 to 20")
    refused(auction.invoke("bid", "x", "alice", "18446744073709551616", creator=ALICE), "OVERFLOW", "larger")
    refused(auction.invoke("bid", "x", "alice", creator=ALICE), "ARG_COUNT", "expected 3 arguments")
    refused(auction.invoke("bid", "nope", "alice", "1", creator=ALICE), "NOT_FOUND", "no such auction")
    refused(auction.invoke("bid", "x", "al\x00ice", "1", creator=ALICE), "BAD_ARGUMENT", "")
    assert ok(auction.invoke("bid", "x", "alice", "18446744073709551615", creator=ALICE)) == b"OK"


def test_more_bids_than_one_range_holds_cannot_be_closed(auction: HostChaincode) -> None:
    """close reads every bid in one range: past FOC_MAX_RANGE_ENTRIES the TA refuses with LIMIT."""
    ok(auction.invoke("create", "big", creator=AUCTIONEER))
    for i in range(FOC_MAX_RANGE_ENTRIES):
        ok(auction.invoke("bid", "big", f"b{i:03}", str(i), creator=identity(f"b{i}")))
    last = FOC_MAX_RANGE_ENTRIES - 1
    winner = ok(auction.query("close", "big", creator=AUCTIONEER))
    assert winner == f"winner: b{last:03}, amount: {last}".encode()
    ok(auction.invoke("bid", "big", "one-more", "1", creator=ALICE))
    refused(auction.query("close", "big", creator=AUCTIONEER), "LIMIT", "")
