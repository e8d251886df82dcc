"""How scripts/mutation sorts a surviving mutant: "message" (it only changes what an error or a log
line says) or "logic" (it can change whether a check fires, so it must be killed or explained).
A wrong "message" would hide a real survivor, so each rule has a case on both sides."""

from __future__ import annotations

import ast
import runpy
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
mutation = runpy.run_path(str(REPO / "scripts" / "mutation"))

ORIGINAL = """
def check(r, org, items, policy):
    nonce = r.blob("nonce", size=12)
    if len(items) > 4:
        raise ValueError(f"too many: {len(items)} for {org or 'the peer'}")
    failures: list[str] = []
    for item in items:
        if not item:
            failures.append(f"{org or 'the peer'}: empty")
            log.info("endorser %s failed", org or "the peer")
    got = ", ".join(sorted(items)) or "none"
    seen = ", ".join(items) or "none"
    if seen == "x":
        return None
    if policy is None:
        raise ValueError(f"not satisfied by {got}" + (f"; failed: {failures}" if failures else ""))
    return nonce
"""

CASES = [
    ("field name in a decoder", 'r.blob("nonce", size=12)', 'r.blob("XXnonceXX", size=12)', "message"),
    ("size of a decoder's field", 'r.blob("nonce", size=12)', 'r.blob("nonce", size=13)', "logic"),
    ("a bound", "if len(items) > 4:", "if len(items) >= 4:", "logic"),
    ("`or` to `and` inside a raise", "{org or 'the peer'}\")", "{org and 'the peer'}\")", "message"),
    ("`or` to `and` in a log call", 'org or "the peer")', 'org and "the peer")', "message"),
    ("a list read only by a raise", "{org or 'the peer'}: empty", "{org and 'the peer'}: empty", "message"),
    ("a local read only by a raise", 'got = ", ".join(sorted(items)) or "none"', "got = None", "message"),
    ("a local that a condition reads", 'seen = ", ".join(items) or "none"', "seen = None", "logic"),
    (
        "a local's operator, a condition reads it",
        'seen = ", ".join(items) or',
        'seen = ", ".join(items) and',
        "logic",
    ),
    ("the check's condition", "if policy is None:", "if policy is not None:", "logic"),
]


def function(source: str) -> ast.FunctionDef:
    node = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


@pytest.mark.parametrize(("case", "old", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_mutant_is_sorted_by_what_it_changes(case: str, old: str, new: str, expected: str) -> None:
    assert ORIGINAL.count(old) == 1, case
    mutant = ORIGINAL.replace(old, new)
    assert mutation["compare"](function(ORIGINAL), function(mutant)) == expected


def test_an_identical_function_is_not_a_message_mutant() -> None:
    assert mutation["compare"](function(ORIGINAL), function(ORIGINAL)) == "logic"


def test_a_list_that_is_returned_is_not_a_message() -> None:
    original = ORIGINAL.replace("return nonce", "return nonce, failures")
    old = "{org or 'the peer'}: empty"
    mutant = original.replace(old, "{org and 'the peer'}: empty")
    assert mutation["compare"](function(original), function(mutant)) == "logic"
