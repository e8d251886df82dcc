"""The FOC demo scenario: FOC's coffee tracker on a fresh dev ledger, through the real proxy and TA.

Steps (FOC's own example, plus the two error cases FOC could not even tell apart):
  invoke create alice 0  -> OK
  invoke add alice 3     -> OK
  query  alice           -> "person: alice, number of consumed coffees: 3"
  invoke create alice 1  -> EXISTS     (structured error, nothing committed)
  invoke add bob 1       -> NOT_FOUND  (structured error, nothing committed)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from foc.errors import FocError
from foc.ledger.blocks import Block
from foc.ledger.peer import DevPeer
from foc.wrapper.chaincode import error_from_response

WRAPPER = "foc"


@dataclass(frozen=True)
class DemoStep:
    """One step and what it must do: succeed with `payload`, or fail with error `code`."""

    kind: str  # "invoke" (commit) or "query" (simulate only)
    args: tuple[str, ...]
    payload: bytes | None = None
    code: str | None = None


@dataclass(frozen=True)
class StepOutcome:
    """What a step did."""

    step: DemoStep
    ok: bool
    result: str  # payload text or "<CODE>: <message>"
    latency_ms: float
    block: int | None


STEPS: tuple[DemoStep, ...] = (
    DemoStep("invoke", ("create", "alice", "0"), payload=b"OK"),
    DemoStep("invoke", ("add", "alice", "3"), payload=b"OK"),
    DemoStep("query", ("query", "alice"), payload=b"person: alice, number of consumed coffees: 3"),
    DemoStep("invoke", ("create", "alice", "1"), code="EXISTS"),
    DemoStep("invoke", ("add", "bob", "1"), code="NOT_FOUND"),
)


def run_step(peer: DevPeer, step: DemoStep) -> StepOutcome:
    """Run one step and judge it against its expectation (never raises for a chaincode failure)."""
    started = time.monotonic()
    block: int | None = None
    try:
        if step.kind == "invoke":
            tx = peer.invoke(WRAPPER, list(step.args))
            block = tx.block.number if tx.block else None
        else:
            tx = peer.query(WRAPPER, list(step.args))
        response = tx.response
        if response.endorsed:
            result, code = response.payload.decode("utf-8", errors="replace"), None
        else:
            err = error_from_response(response)
            code = getattr(err, "code", type(err).__name__)
            result = response.message
    except FocError as exc:  # e.g. an MVCC conflict or a ledger failure
        result, code = f"{type(exc).__name__}: {exc}", type(exc).__name__
    latency = (time.monotonic() - started) * 1000
    if step.code is None:
        ok = code is None and result.encode() == step.payload and (step.kind == "query" or block is not None)
    else:
        ok = code == step.code and block is None
    return StepOutcome(step, ok, result, latency, block)


def describe_block(block: Block) -> str:
    """One line per block: number, hash, link, and what its transactions wrote (key names only)."""
    head = f"block {block.number}  hash {block.hash.hex()[:16]}  prev {block.prev_hash.hex()[:16]}"
    if not block.transactions:
        return head + "  (genesis)"
    parts = []
    for tx in block.transactions:
        keys = ", ".join(("-" if w.is_delete else "") + w.key for w in tx.rwset.writes) or "no writes"
        parts.append(f"tx {tx.tx_id[:12]} {tx.validation} {len(tx.rwset.reads)} read(s), writes: {keys}")
    return head + "  " + "; ".join(parts)


def run_scenario(peer: DevPeer, out: TextIO, steps: Sequence[DemoStep] = STEPS) -> list[StepOutcome]:
    """Run every step, printing each as it completes, then the summary and the block log."""
    outcomes = []
    for n, step in enumerate(steps, 1):
        outcome = run_step(peer, step)
        outcomes.append(outcome)
        expect = f"expected {step.code}" if step.code else "expected success"
        where = f", block {outcome.block}" if outcome.block is not None else ", not committed"
        verdict = "ok " if outcome.ok else "FAIL"
        print(
            f"[{verdict}] {n}. {step.kind:6} {' '.join(step.args):18} -> {outcome.result}"
            f"  ({outcome.latency_ms:.1f} ms{where}; {expect})",
            file=out,
            flush=True,
        )
    passed = sum(o.ok for o in outcomes)
    print(f"\nsummary: {passed}/{len(outcomes)} steps behaved as expected", file=out)
    ledger = peer.ledger
    print(f"ledger {ledger.path} (channel {ledger.channel}, height {ledger.height}):", file=out)
    for block in ledger.blocks():
        print("  " + describe_block(block), file=out)
    report = ledger.verify()
    verdict = "verified" if report.ok else "; ".join(report.problems)
    print(f"  hash chain and world state: {verdict}", file=out)
    out.flush()
    return outcomes
