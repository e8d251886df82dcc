"""FOC's coffee scenario written once against `foc.client.gateway.Contract`.

It runs unchanged on the embedded dev ledger (`DevLedgerContract`), through the fake Fabric
Gateway to the real CaaS shim, and against a real Fabric network (tests/fabric_network). `person`
must be fresh on that ledger (a real network keeps state between runs).
"""

from __future__ import annotations

import pytest

from foc.client.contract import Contract
from foc.errors import EndorsementFailure


def expect_refusal(contract: Contract, function: str, args: list[str], code: str) -> EndorsementFailure:
    """Invoke; assert the chaincode refused with status 500 and a '<code>: <message>' message."""
    with pytest.raises(EndorsementFailure) as caught:
        contract.invoke(function, args)
    failure = caught.value
    assert failure.status == 500, failure
    assert failure.chaincode_message.startswith(f"{code}: "), failure.chaincode_message
    assert len(failure.chaincode_message) > len(f"{code}: "), "the refusal carries a message"
    return failure


def coffee_scenario(contract: Contract, person: str) -> None:
    """create 0, add 3, query; create again (EXISTS) and add to nobody (NOT_FOUND) change nothing."""
    assert contract.invoke("create", [person, "0"]) == b"OK"
    assert contract.invoke("add", [person, "3"]) == b"OK"
    expected = f"person: {person}, number of consumed coffees: 3".encode()
    assert contract.query("query", [person]) == expected
    expect_refusal(contract, "create", [person, "1"], "EXISTS")
    expect_refusal(contract, "add", [person + "-nobody", "1"], "NOT_FOUND")
    with pytest.raises(EndorsementFailure) as caught:
        contract.query("query", [person + "-nobody"])
    assert caught.value.chaincode_message.startswith("NOT_FOUND: ")
    assert contract.query("query", [person]) == expected  # the refusals wrote nothing
