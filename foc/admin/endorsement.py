"""Endorsement policies of confidential chaincodes: which organisations' enclaves must agree.

The syntax is the subset of Fabric's signature policies (`peer lifecycle chaincode ... --signature-policy`)
that concerns organisations::

    OutOf(2, 'Org1', 'Org2', 'Org3')     any two of the three
    AND('Org1', 'Org2')                  both (OutOf(n, ...) with n = all)
    OR('Org1', 'Org2')                   either (OutOf(1, ...))
    AND('Org1', OR('Org2', 'Org3'))      nesting

A principal is an organisation (MSP id) in single quotes; Fabric's role suffix (``'Org1.peer'``,
``.member``, ``.admin``, ``.client``) is accepted and ignored: here the endorser is always the
organisation's enclave. Evaluation follows Fabric's (common/cauthdsl): every endorsement is used
for at most one principal, greedily, in order. No policy means "any one registered enclave".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from foc.errors import UsageError

_ROLES = (".member", ".peer", ".admin", ".client")
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z]+)\s*\(|(?P<quoted>'[^']*')|(?P<number>\d+)|(?P<punct>[,)]))")
MAX_PRINCIPALS = 64


@dataclass(frozen=True)
class Policy:
    """`required` of `rules` must hold; a rule is an organisation name or a nested Policy."""

    required: int
    rules: tuple[str | Policy, ...]

    def organisations(self) -> set[str]:
        """Every organisation the policy names."""
        out: set[str] = set()
        for rule in self.rules:
            out |= rule.organisations() if isinstance(rule, Policy) else {rule}
        return out

    def satisfied_by(self, endorsers: Sequence[str]) -> bool:
        """True if the endorsements of these organisations (one entry per endorsing enclave) satisfy it."""
        return _satisfied(self, list(endorsers), [False] * len(endorsers))

    def __str__(self) -> str:
        parts = ", ".join(str(r) if isinstance(r, Policy) else f"'{r}'" for r in self.rules)
        return f"OutOf({self.required}, {parts})"


def _satisfied(policy: Policy, endorsers: list[str], used: list[bool]) -> bool:
    """Fabric's greedy evaluation: a satisfied rule keeps the endorsements it used."""
    count = 0
    for rule in policy.rules:
        trial = list(used)
        if isinstance(rule, Policy):
            ok = _satisfied(rule, endorsers, trial)
        else:
            index = next((i for i, org in enumerate(endorsers) if org == rule and not trial[i]), None)
            ok = index is not None
            if index is not None:
                trial[index] = True
        if ok:
            used[:] = trial
            count += 1
    return count >= policy.required


def parse_policy(text: str) -> Policy:
    """Parse `text` (see the module docstring); UsageError naming what is wrong."""
    tokens = _tokens(text)
    policy, rest = _parse(tokens, text)
    if not isinstance(policy, Policy) or rest:
        raise UsageError(
            f"endorsement policy {text!r} must be one OutOf(...), AND(...) or OR(...) expression",
            hint="e.g. \"OutOf(2, 'Org1', 'Org2', 'Org3')\"",
        )
    if len(policy.organisations()) > MAX_PRINCIPALS:
        raise UsageError(f"endorsement policy {text!r} names more than {MAX_PRINCIPALS} organisations")
    return policy


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if not m:
            raise UsageError(f"endorsement policy {text!r}: unexpected text at position {pos}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _parse(tokens: list[tuple[str, str]], text: str) -> tuple[str | Policy, list[tuple[str, str]]]:
    if not tokens:
        raise UsageError(f"endorsement policy {text!r} ends too early")
    (kind, value), rest = tokens[0], tokens[1:]
    if kind == "quoted":
        org = value[1:-1]
        for role in _ROLES:
            if org.lower().endswith(role):
                org = org[: -len(role)]
        if not org:
            raise UsageError(f"endorsement policy {text!r} names an empty organisation")
        return org, rest
    if kind != "name" or value.upper() not in ("OUTOF", "AND", "OR"):
        raise UsageError(f"endorsement policy {text!r}: expected OutOf(, AND(, OR( or 'Org', got {value!r}")
    required = None
    if value.upper() == "OUTOF":
        if len(rest) < 2 or rest[0][0] != "number" or rest[1] != ("punct", ","):
            raise UsageError(f"endorsement policy {text!r}: OutOf takes a number first")
        required, rest = int(rest[0][1]), rest[2:]
    rules: list[str | Policy] = []
    while True:
        rule, rest = _parse(rest, text)
        rules.append(rule)
        if rest and rest[0] == ("punct", ","):
            rest = rest[1:]
            continue
        if rest and rest[0] == ("punct", ")"):
            rest = rest[1:]
            break
        raise UsageError(f"endorsement policy {text!r}: missing ')'")
    n = {"AND": len(rules), "OR": 1}.get(value.upper(), required)
    assert n is not None
    if not 1 <= n <= len(rules):
        raise UsageError(f"endorsement policy {text!r}: OutOf({n}, ...) over {len(rules)} rule(s)")
    return Policy(n, tuple(rules)), rest
