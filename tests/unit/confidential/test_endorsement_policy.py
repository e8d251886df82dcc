"""Endorsement policies over organisations (foc.admin.endorsement): Fabric's signature-policy syntax
and its greedy evaluation (each endorsement counts for one principal), and the definition checks."""

from __future__ import annotations

import pytest

from foc.admin.definitions import ChaincodeDefinition, DefinedDevice
from foc.admin.endorsement import MAX_PRINCIPALS, Policy, parse_policy
from foc.errors import UsageError

FP = [f"{i:064x}" for i in range(1, 4)]


@pytest.mark.parametrize(
    ("text", "endorsers", "ok"),
    [
        ("OutOf(2, 'Org1', 'Org2', 'Org3')", ["Org1", "Org3"], True),
        ("OutOf(2, 'Org1', 'Org2', 'Org3')", ["Org2"], False),
        ("OutOf(2, 'Org1', 'Org2', 'Org3')", ["Org2", "Org2"], False),  # one organisation, twice
        ("OutOf(2, 'Org1', 'Org2', 'Org3')", ["Org4", "Org1"], False),
        ("AND('Org1', 'Org2')", ["Org2", "Org1"], True),
        ("AND('Org1', 'Org2')", ["Org1"], False),
        ("OR('Org1', 'Org2')", ["Org2"], True),
        ("OR('Org1', 'Org2')", [], False),
        ("AND('Org1.peer', OR('Org2.member', 'Org3'))", ["Org3", "Org1"], True),
        ("AND('Org1', OR('Org2', 'Org3'))", ["Org2", "Org3"], False),
        ("AND('Org1', 'Org1')", ["Org1"], False),  # each endorsement satisfies one principal
        ("AND('Org1', 'Org1')", ["Org1", "Org1"], True),
        ("and ( 'Org1' , 'Org2' )", ["Org1", "Org2"], True),
    ],
)
def test_policy_evaluation(text: str, endorsers: list[str], ok: bool) -> None:
    assert parse_policy(text).satisfied_by(endorsers) is ok


def test_policies_parse_to_the_same_tree_and_print_as_out_of() -> None:
    assert parse_policy("AND('A', 'B')") == Policy(2, ("A", "B"))
    assert parse_policy("OR('A', 'B')") == Policy(1, ("A", "B"))
    assert str(parse_policy("AND('A', OR('B', 'C'))")) == "OutOf(2, 'A', OutOf(1, 'B', 'C'))"
    assert parse_policy("OutOf(1, 'A.admin', 'B.client')").organisations() == {"A", "B"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "ends too early"),
        ("'Org1'", "must be one OutOf"),
        ("NOT('Org1')", "expected OutOf"),
        ("OutOf('Org1')", "takes a number first"),
        ("OutOf(3, 'A', 'B')", r"OutOf\(3, ...\) over 2 rule"),
        ("OutOf(0, 'A')", r"OutOf\(0, ...\) over 1 rule"),
        ("AND('A', 'B'", "missing '\\)'|ends too early"),
        ("AND('A') 'B'", "must be one OutOf"),
        ("AND('')", "empty organisation"),
        ("AND('A'; 'B')", "unexpected text at position"),
        ("OR(" + ", ".join(f"'O{i}'" for i in range(MAX_PRINCIPALS + 1)) + ")", "more than 64"),
    ],
)
def test_malformed_policies_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(UsageError, match=reason):
        parse_policy(text)


def test_a_definition_checks_its_devices_and_policy() -> None:
    devices = (DefinedDevice(FP[0], "Org1"), DefinedDevice(FP[1], "Org2"))
    d = ChaincodeDefinition("coffee", "ab" * 32, "dev", devices, "AND('Org1', 'Org2')")
    assert d.policy == Policy(2, ("Org1", "Org2"))
    assert d.organisation_of(FP[1]) == "Org2" and d.organisation_of(FP[2]) is None
    assert ChaincodeDefinition("coffee", "ab" * 32, "dev").organisation_of(FP[2]) == ""  # no devices: any
    assert [i.hex() for i in d.key_policy().device_ids] == sorted(FP[:2])
    assert ChaincodeDefinition.from_json(d.to_json()) == d
    with pytest.raises(UsageError, match="with no device in the definition"):
        ChaincodeDefinition("coffee", "ab" * 32, "dev", devices, "AND('Org1', 'Org3')")
    with pytest.raises(UsageError, match="names each device once"):
        ChaincodeDefinition("coffee", "ab" * 32, "dev", (devices[0], DefinedDevice(FP[0], "Org2")))
    with pytest.raises(UsageError, match="64 lowercase hex"):
        DefinedDevice("AB" * 32, "Org1")
