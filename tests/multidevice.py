"""Helpers for the several-devices tests (issue 13), shared by tests/native/test_keydist.py (simulated
devices on the host-native build) and tests/qemu/test_keydist_optee.py (two OP-TEE instances)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from foc.client.confidential import ConfidentialContract
from foc.client.devledger import DevLedgerContract
from foc.client.network import Network
from foc.errors import EndorsementFailure, VerificationError
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.proxy.client import ProxyClient
from foc.wrapper.catalogue import Catalogue
from foc.wrapper.confidential import ENDORSE, INVOKE


def confidential_request(net: Network, chaincode: str, args: list[str]) -> bytes:
    """A confidential request (encrypted to the registered chaincode key) as the client builds it."""
    contract = net.contract(chaincode)
    assert isinstance(contract, ConfidentialContract)
    return contract._prepare(args[0], args[1:])[1].request


@contextmanager
def stale_peer(
    net: Network, ledger: Path, proxy_address: str, chaincode: str, *, allow_insecure_native: bool = False
) -> Iterator[DevLedgerContract]:
    """A peer of one organisation (its device behind `proxy_address`) whose ledger is a copy of
    `ledger` taken now: its enclave executes later requests against this old state, what a peer
    operator can always do."""
    copy = ledger.with_name(ledger.name + ".stale")
    with sqlite3.connect(ledger) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    with ProxyClient(proxy_address) as proxy, DevLedger(copy, channel=net.channel) as old:
        catalogue = Catalogue(net.home, proxy=proxy, allow_insecure_native=allow_insecure_native)
        yield DevLedgerContract(DevPeer(old, resolve=catalogue.resolve), chaincode)


def assert_disagreeing_enclaves_refused(
    net: Network, chaincode: str, honest: tuple[str, DevLedgerContract], stale: tuple[str, DevLedgerContract],
    args: list[str], key: str,
) -> None:  # fmt: skip
    """Two enclaves answer one request from different state: the validator refuses the pair in
    either order, the client refuses before submitting, and `key` keeps its value."""
    before = net.ledger.read(chaincode, key)
    submit = net.contract(chaincode, plaintext=True)
    request = confidential_request(net, chaincode, args)
    current, old = honest[1].query(INVOKE, [request]), stale[1].query(INVOKE, [request])
    for pair in ([current, old], [old, current]):
        with pytest.raises(EndorsementFailure, match="endorsing enclaves disagree"):
            submit.invoke(ENDORSE, [request, *pair])
    client_side = net.contract(chaincode)
    assert isinstance(client_side, ConfidentialContract)
    client_side.endorsers = dict([honest, stale])
    with pytest.raises(VerificationError, match="endorsing enclaves disagree"):
        client_side.invoke(args[0], args[1:])
    assert net.ledger.read(chaincode, key) == before
