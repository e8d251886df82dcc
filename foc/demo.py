"""The FOC demo scenario: FOC's coffee tracker on a fresh dev ledger, through the real proxy and TA.

Two modes over one `foc.client.network.Network`: confidential (default; `run_confidential_demo`:
enroll the device key, define the chaincode with the TA measurement computed offline, create and
register the enclave, run the steps through the confidential contract, then show that the ledger
holds only ciphertext) and plaintext (`run_plaintext_demo`: FOC's original path through the wrapper).

Steps (FOC's own example, plus the two error cases FOC could not even tell apart):
  invoke create alice 0  -> OK
  invoke add alice 3     -> OK
  query  alice           -> "person: alice, number of consumed coffees: 3"
  invoke create alice 1  -> EXISTS     (structured error, nothing committed)
  invoke add bob 1       -> NOT_FOUND  (structured error, nothing committed)
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from foc.client.audit import check_ciphertext_only
from foc.client.contract import Contract
from foc.errors import ChaincodeError, EndorsementFailure, FocError, VerificationError
from foc.ledger.blocks import Block
from foc.ledger.ledger import DevLedger
from foc.text import shown, shown_key
from foc.wrapper.catalogue import WRAPPER_NAME

if TYPE_CHECKING:
    from foc.client.network import Network

CONFIDENTIAL_CHAINCODE = "coffee"
DEMO_CHANNEL = "dev"


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


def run_step(contract: Contract, step: DemoStep) -> StepOutcome:
    """Run one step through a `Contract` and judge it (never raises for a chaincode failure).

    The block number comes from the contract's `last_block` (the dev ledger's, beneath a
    confidential contract too).
    """
    started = time.monotonic()
    code: str | None = None
    before = getattr(contract, "last_block", None)
    try:
        if step.kind == "invoke":
            payload = contract.invoke(step.args[0], list(step.args[1:]))
        else:
            payload = contract.query(step.args[0], list(step.args[1:]))
        result = payload.decode("utf-8", errors="replace")
    except ChaincodeError as exc:  # confidential: verified, signed by the enclave, decrypted here
        code, result = exc.code, str(exc)
    except EndorsementFailure as exc:  # reported by the peer side
        code, result = exc.chaincode_message.partition(":")[0] or "REFUSED", exc.chaincode_message
    except FocError as exc:  # e.g. an MVCC conflict or a ledger failure
        code, result = type(exc).__name__, f"{type(exc).__name__}: {exc}"
    latency = (time.monotonic() - started) * 1000
    after = getattr(contract, "last_block", None)
    block = after if step.kind == "invoke" and code is None and after != before else None
    if step.code is None:
        ok = code is None and result.encode() == step.payload and (step.kind == "query" or block is not None)
    else:
        ok = code == step.code and block is None
    return StepOutcome(step, ok, result, latency, block)


def describe_block(block: Block) -> str:
    """One line per block: number, hash, link, and what its transactions wrote (key names only,
    escaped by foc.text; a delete is ``-key``, and a key that starts with ``-`` is quoted)."""
    head = f"block {block.number}  hash {block.hash.hex()[:16]}  prev {block.prev_hash.hex()[:16]}"
    if not block.transactions:
        return head + "  (genesis)"
    parts = []
    for tx in block.transactions:
        keys = (
            ", ".join(("-" if w.is_delete else "") + shown_key(w.key) for w in tx.rwset.writes) or "no writes"
        )
        parts.append(
            f"tx {shown(tx.tx_id[:12])} {shown(tx.validation)} {len(tx.rwset.reads)} read(s), writes: {keys}"
        )
    return head + "  " + "; ".join(parts)


def run_steps(contract: Contract, out: TextIO, steps: Sequence[DemoStep] = STEPS) -> list[StepOutcome]:
    """Run every step, printing each as it completes."""
    outcomes = []
    for n, step in enumerate(steps, 1):
        outcome = run_step(contract, step)
        outcomes.append(outcome)
        _print_outcome(n, outcome, out)
    return outcomes


def print_summary(outcomes: Sequence[StepOutcome], ledger: DevLedger, out: TextIO) -> None:
    """The step count that behaved, the block log and the ledger's own verification."""
    passed = sum(o.ok for o in outcomes)
    print(f"\nsummary: {passed}/{len(outcomes)} steps behaved as expected", file=out)
    print(f"ledger {ledger.path} (channel {ledger.channel}, height {ledger.height}):", file=out)
    for block in ledger.blocks():
        print("  " + describe_block(block), file=out)
    report = ledger.verify()
    verdict = "verified" if report.ok else "; ".join(shown(p) for p in report.problems)
    print(f"  hash chain and world state: {verdict}", file=out)
    out.flush()


def _print_outcome(n: int, outcome: StepOutcome, out: TextIO) -> None:
    step = outcome.step
    expect = f"expected {step.code}" if step.code else "expected success"
    where = f", block {outcome.block}" if outcome.block is not None else ", not committed"
    verdict = "ok " if outcome.ok else "FAIL"
    print(
        f"[{verdict}] {n}. {step.kind:6} {shown(' '.join(step.args)):18} -> {shown(outcome.result)}"
        f"  ({outcome.latency_ms:.1f} ms{where}; {expect})",
        file=out,
        flush=True,
    )


def _encoded_args(args: Sequence[str]) -> bytes:
    # How arguments look inside a request plaintext (u32 little-endian length + bytes each).
    return b"".join(struct.pack("<I", len(a.encode())) + a.encode() for a in args)


def plaintext_probes(outcomes: Sequence[StepOutcome]) -> dict[str, bytes]:
    """Byte strings that would only be in the ledger if plaintext leaked there, by description."""
    probes: dict[str, bytes] = {}
    for outcome in outcomes:
        step = outcome.step
        probes[f"arguments of `{' '.join(step.args)}`"] = _encoded_args(step.args)
        probes[f"arguments of `{' '.join(step.args)}` as text"] = " ".join(step.args).encode()
        text = outcome.result.partition(": ")[2] if step.code else outcome.result
        if len(text) >= 8:  # "OK" is too short to mean anything in a binary file
            probes[f"result of step `{' '.join(step.args)}`"] = text.encode()
    return probes


def run_plaintext_demo(net: Network, out: TextIO, steps: Sequence[DemoStep] = STEPS) -> list[StepOutcome]:
    """FOC's original scenario through the plaintext wrapper on the network's dev ledger."""
    print(f"fresh dev ledger {net.ledger.path}\n", file=out, flush=True)
    outcomes = run_steps(net.contract(WRAPPER_NAME, plaintext=True), out, steps)
    print_summary(outcomes, net.ledger, out)
    return outcomes


def run_confidential_demo(
    net: Network,
    *,
    device_name: str,
    measurement: bytes | None,
    out: TextIO,
    steps: Sequence[DemoStep] = STEPS,
) -> tuple[list[StepOutcome], bool]:
    """The confidential demo on the network's fresh dev ledger: setup, the steps, the block log, the
    ciphertext check. Returns the step outcomes and whether the ledger held ciphertext only.

    `measurement` is the expected TA measurement (computed offline from the .ta); None for the
    host-native build, whose published native-insecure key is then accepted (NOT a TEE).
    """
    if net.insecure_native:
        print(
            "[setup] host-native build: its evidence is signed with a PUBLISHED key and measures "
            "nothing; accepted for this demo only (NOT a TEE)",
            file=out,
        )
        measurement = None
    elif measurement is None:
        raise FocError(
            "the demo needs the expected TA measurement for a real OP-TEE device",
            hint="build the QEMU image (`foc-deploy qemu build`): the measurement is computed from its .ta",
        )
    print(f"fresh dev ledger {net.ledger.path}, FOC home {net.home}", file=out, flush=True)

    def say(line: str) -> None:
        print(f"[setup] {line}", file=out, flush=True)

    try:
        setup = net.set_up_enclave(
            CONFIDENTIAL_CHAINCODE, device_name=device_name, measurement=measurement, progress=say
        )
    except VerificationError as exc:  # the registry refused the enclave
        raise VerificationError(
            exc.message,
            hint="if the measurement differs, the running guest boots an older TA: "
            "`foc-deploy qemu down` and run the demo again",
        ) from None
    contract = net.contract(CONFIDENTIAL_CHAINCODE)
    print(
        f"\nconfidential invocations (encrypted to the chaincode key; each response verified: enclave "
        f"{setup.enclave.enclave_id[:16]}... registered, attestation, signature, request hash):",
        file=out,
        flush=True,
    )
    outcomes = run_steps(contract, out, steps)
    print_summary(outcomes, net.ledger, out)
    clean = check_ciphertext_only(net.ledger, CONFIDENTIAL_CHAINCODE, plaintext_probes(outcomes), out)
    return outcomes, clean
