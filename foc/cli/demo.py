"""The FOC demo scenario: FOC's coffee tracker on a fresh dev ledger, through the real proxy and TA.

Two modes: confidential (default; `run_confidential_demo`: enroll the device key, define the
chaincode with the TA measurement computed offline, create and register the enclave, run the
steps through `ConfidentialContract`, then show that the ledger holds only ciphertext) and
plaintext (`run_scenario`: FOC's original path through the wrapper).

Steps (FOC's own example, plus the two error cases FOC could not even tell apart):
  invoke create alice 0  -> OK
  invoke add alice 3     -> OK
  query  alice           -> "person: alice, number of consumed coffees: 3"
  invoke create alice 1  -> EXISTS     (structured error, nothing committed)
  invoke add bob 1       -> NOT_FOUND  (structured error, nothing committed)
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from foc.admin.definitions import DefinitionStore, define_chaincode
from foc.admin.devices import DeviceStore, enroll_device
from foc.client.confidential import ConfidentialContract
from foc.client.contract import Contract
from foc.client.devledger import DevLedgerContract, DevNetwork
from foc.confidential.formats import Credentials, EnclaveConfig, StoredValue
from foc.confidential.suite import enclave_id
from foc.errors import ChaincodeError, EndorsementFailure, FocError, VerificationError
from foc.ledger.blocks import Block
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.registry.ercc import REGISTRY_NAME
from foc.registry.validation import RESERVED_PREFIX
from foc.wrapper.confidential import ProxyEnclave
from foc.wrapper.plaintext import error_from_response

if TYPE_CHECKING:
    from foc.proxy.client import ProxyClient

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
        _print_outcome(n, outcome, out)
    _print_summary(outcomes, peer.ledger, out)
    out.flush()
    return outcomes


# -- confidential mode ---------------------------------------------------------------------------

CONFIDENTIAL_CHAINCODE = "coffee"
DEMO_CHANNEL = "dev"
# What the host-native build "measures" (docs/confidential-protocol.md, native-insecure-v1).
NATIVE_INSECURE_MEASUREMENT = hashlib.sha256(b"FOC native-insecure-v1: not a TEE, nothing measured").digest()


@dataclass(frozen=True)
class EnclaveSetup:
    """What the demo set up before the scenario (public values only)."""

    device: str
    fingerprint: str
    measurement: str
    enclave_id: str
    insecure_native: bool


def set_up_enclave(
    proxy: ProxyClient,
    net: DevNetwork,
    *,
    home: Path,
    measurement: bytes,
    endpoint: str,
    device_name: str,
    insecure_native: bool,
    out: TextIO,
    chaincode_id: str = CONFIDENTIAL_CHAINCODE,
) -> EnclaveSetup:
    """Enroll the device key, define the chaincode, create the enclave in the TA and register it."""
    pem = proxy.device_key()
    device = enroll_device(device_name, pem, home=home, replace=True)
    print(
        f"[setup] device key of {device_name} enrolled (RSA-{device.public_key.key_size}, "
        f"SHA-256 fingerprint {device.fingerprint[:16]}...)",
        file=out,
        flush=True,
    )
    definition = define_chaincode(chaincode_id, measurement.hex(), net.channel, home=home)
    print(
        f"[setup] chaincode {chaincode_id} defined on channel {net.channel}: version = expected TA "
        f"measurement {definition.version[:16]}...",
        file=out,
        flush=True,
    )
    started = time.monotonic()
    config = EnclaveConfig(chaincode_id, definition.version, net.channel, endpoint, force=True)
    raw = ProxyEnclave(proxy).create(config)
    credentials = Credentials.decode(raw)
    eid = enclave_id(credentials.attested_data.enclave_pub)
    print(
        f"[setup] enclave {eid[:16]}... created in the TA ({credentials.evidence.kind} evidence, "
        f"{(time.monotonic() - started) * 1000:.0f} ms)",
        file=out,
        flush=True,
    )
    try:
        net.contract(REGISTRY_NAME).invoke("registerEnclave", [base64.b64encode(raw)])
    except EndorsementFailure as exc:
        raise VerificationError(
            f"the registry refused the demo's enclave: {exc.chaincode_message}",
            hint="if the measurement differs, the running guest boots an older TA: "
            "`foc-deploy qemu down` and run the demo again",
        ) from None
    print(
        f"[setup] enclave registered with {REGISTRY_NAME}: evidence verified under the enrolled device "
        "key, measurement = definition version",
        file=out,
        flush=True,
    )
    return EnclaveSetup(device_name, device.fingerprint, definition.version, eid, insecure_native)


def run_contract_step(contract: Contract, ledger_side: DevLedgerContract, step: DemoStep) -> StepOutcome:
    """Run one step through a `Contract` (block numbers from the dev-ledger contract beneath it)."""
    started = time.monotonic()
    ledger_side.last_block = None
    code: str | None = None
    try:
        if step.kind == "invoke":
            payload = contract.invoke(step.args[0], list(step.args[1:]))
        else:
            payload = contract.query(step.args[0], list(step.args[1:]))
        result = payload.decode("utf-8", errors="replace")
    except ChaincodeError as exc:  # verified: signed by the enclave, decrypted here
        code, result = exc.code, str(exc)
    except EndorsementFailure as exc:  # reported by the peer side before any enclave signed
        code, result = exc.chaincode_message.partition(":")[0] or "REFUSED", exc.chaincode_message
    except FocError as exc:
        code, result = type(exc).__name__, f"{type(exc).__name__}: {exc}"
    latency = (time.monotonic() - started) * 1000
    block = ledger_side.last_block if step.kind == "invoke" else None
    if step.code is None:
        ok = code is None and result.encode() == step.payload and (step.kind == "query" or block is not None)
    else:
        ok = code == step.code and block is None
    return StepOutcome(step, ok, result, latency, block)


def _print_summary(outcomes: Sequence[StepOutcome], ledger: DevLedger, out: TextIO) -> None:
    """The step count that behaved, the block log and the ledger's own verification."""
    passed = sum(o.ok for o in outcomes)
    print(f"\nsummary: {passed}/{len(outcomes)} steps behaved as expected", file=out)
    print(f"ledger {ledger.path} (channel {ledger.channel}, height {ledger.height}):", file=out)
    for block in ledger.blocks():
        print("  " + describe_block(block), file=out)
    report = ledger.verify()
    verdict = "verified" if report.ok else "; ".join(report.problems)
    print(f"  hash chain and world state: {verdict}", file=out)


def _print_outcome(n: int, outcome: StepOutcome, out: TextIO) -> None:
    step = outcome.step
    expect = f"expected {step.code}" if step.code else "expected success"
    where = f", block {outcome.block}" if outcome.block is not None else ", not committed"
    verdict = "ok " if outcome.ok else "FAIL"
    print(
        f"[{verdict}] {n}. {step.kind:6} {' '.join(step.args):18} -> {outcome.result}"
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


def check_ciphertext_only(
    ledger: DevLedger, namespace: str, outcomes: Sequence[StepOutcome], out: TextIO
) -> bool:
    """Show the stored values (hex prefixes) and check that the ledger file holds no plaintext.

    Checks: every value of `namespace` in the world state and in every block is an FCS1 stored
    value (AES-256-GCM ciphertext bound to its key); no arguments, results or error messages of
    the scenario appear in the SQLite file or its WAL, neither raw nor hex-encoded (blocks store
    bytes as hex). Key names are cleartext by design, as in FPC.
    """
    problems: list[str] = []
    keys: set[str] = set()
    markers = 0
    print(f"\nwhat the ledger stores for {namespace} (world state):", file=out)
    for (ns, key), (value, _) in sorted(ledger.state_dump().items()):
        if ns != namespace:
            continue
        if key.startswith(RESERVED_PREFIX):
            markers += 1
            continue
        keys.add(key)
        try:
            StoredValue.decode(value)
            kind = "FCS1 stored value (AES-256-GCM)"
        except FocError:
            kind = "NOT a stored value"
            problems.append(f"the value of {key} is not ciphertext")
        print(f"  {key} = {value[:24].hex()}... ({len(value)} bytes, {kind})", file=out)
    print(
        f"  + {markers} request marker(s) {RESERVED_PREFIX}request/<request hash> (replay protection)",
        file=out,
    )
    writes = 0
    for block in ledger.blocks():
        for tx in block.transactions:
            for write in tx.rwset.writes:
                if (
                    write.namespace != namespace
                    or write.key.startswith(RESERVED_PREFIX)
                    or write.value is None
                ):
                    continue
                writes += 1
                try:
                    StoredValue.decode(write.value)
                except FocError:
                    problems.append(f"block {block.number} wrote plaintext to {write.key}")
    path = Path(ledger.path)
    data = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    probes = plaintext_probes(outcomes)
    for what, probe in probes.items():
        if probe in data or probe.hex().encode() in data:
            problems.append(f"the ledger file contains the {what}")
    print(
        f"checked: {len(keys)} value(s) in the world state and {writes} write(s) in the block log are "
        f"ciphertext; {len(probes)} plaintext probes (arguments, results, error messages; raw and hex) "
        f"absent from {path.name} and its WAL",
        file=out,
    )
    print(
        f"cleartext by design (as in FPC): key names ({', '.join(sorted(keys)) or 'none'}), the "
        "enclave credentials in the registry (public), and which keys each transaction read and wrote",
        file=out,
    )
    for problem in problems:
        print(f"  LEAK: {problem}", file=out)
    print(f"ciphertext only: {'yes' if not problems else 'NO'}", file=out, flush=True)
    return not problems


def run_confidential_demo(
    proxy: ProxyClient,
    ledger_path: Path,
    *,
    home: Path,
    measurement: bytes | None,
    endpoint: str,
    device_name: str,
    out: TextIO,
    steps: Sequence[DemoStep] = STEPS,
) -> tuple[list[StepOutcome], bool]:
    """The confidential demo on a fresh dev ledger: setup, the steps, the block log, the ciphertext check.

    `measurement` is the expected TA measurement (computed offline from the .ta); None for the
    host-native build, whose published native-insecure key is then accepted (NOT a TEE).
    Returns the step outcomes and whether the ledger held ciphertext only.
    """
    from foc.tee.device_key import KIND_NATIVE_INSECURE

    kind = proxy.device_key_info().kind
    insecure = kind == KIND_NATIVE_INSECURE
    if insecure:
        print(
            "[setup] host-native build: its evidence is signed with a PUBLISHED key and measures "
            "nothing; accepted for this demo only (NOT a TEE)",
            file=out,
        )
        measurement = NATIVE_INSECURE_MEASUREMENT
    elif measurement is None:
        raise FocError(
            "the demo needs the expected TA measurement for a real OP-TEE device",
            hint="build the QEMU image (`foc-deploy qemu build`): the measurement is computed from its .ta",
        )
    with DevNetwork.open(
        ledger_path,
        proxy=proxy,
        confidential=CONFIDENTIAL_CHAINCODE,
        home=home,
        channel=DEMO_CHANNEL,
        allow_insecure_native=insecure,
    ) as net:
        print(f"fresh dev ledger {ledger_path}, FOC home {home}", file=out, flush=True)
        setup = set_up_enclave(
            proxy,
            net,
            home=home,
            measurement=measurement,
            endpoint=endpoint,
            device_name=device_name,
            insecure_native=insecure,
            out=out,
        )
        ledger_side = net.contract(CONFIDENTIAL_CHAINCODE)
        contract = ConfidentialContract(
            ledger_side,
            chaincode_id=CONFIDENTIAL_CHAINCODE,
            channel=net.channel,
            registry=net.contract(REGISTRY_NAME),
            definitions=DefinitionStore(home),
            devices=DeviceStore(home),
            allow_insecure_native=insecure,
        )
        print(
            f"\nconfidential invocations (encrypted to the chaincode key; each response verified: enclave "
            f"{setup.enclave_id[:16]}... registered, attestation, signature, request hash):",
            file=out,
            flush=True,
        )
        outcomes = []
        for n, step in enumerate(steps, 1):
            outcome = run_contract_step(contract, ledger_side, step)
            outcomes.append(outcome)
            _print_outcome(n, outcome, out)
        ledger = net.ledger
        _print_summary(outcomes, ledger, out)
        clean = check_ciphertext_only(ledger, CONFIDENTIAL_CHAINCODE, outcomes, out)
    return outcomes, clean
