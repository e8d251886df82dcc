"""`foc`: invoke and query FOC chaincode on the embedded dev ledger, inspect the ledger, run the demo.

    foc invoke FUNCTION [ARGS...]      confidential: encrypt, run in the TA, verify, commit, decrypt
    foc query FUNCTION [ARGS...]       confidential, commit nothing
    foc invoke|query --plaintext ...   FOC's plaintext path through the wrapper
    foc invoke|query --gateway HOST:PORT --msp-dir DIR --mspid ID [--tls-root-cert F] --channel CH ...
                                       the same on a Fabric network, through a peer's gateway
    foc ledger show [--values]         the block log
    foc ledger verify                  re-check the hash chain and the world state
    foc demo [--target qemu|rpi3|native] [--plaintext]
                                       the scenario on real OP-TEE in QEMU (or the rpi3 target:
                                       a board / its raspi3b emulation; or a native proxy)

Options (before or after the command): --ledger PATH (default $FOC_LEDGER or
~/.cache/foc/ledger/dev.sqlite), --proxy HOST:PORT (default: wrapper configuration, see
foc.wrapper.config). Errors are one line on stderr; exit codes come from foc.errors.

Every command is wiring over `foc.connect` (foc.client.network): this module holds no FOC logic.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from foc.chaincode.stub import Response
from foc.cli import admin
from foc.cli.options import (
    CliParser,
    add_gateway_options,
    add_ledger_option,
    check_text_options,
    gateway_arguments,
)
from foc.client.contract import Contract
from foc.client.network import connect, default_ledger_path
from foc.deploy.paths import cache_root
from foc.errors import EndorsementFailure, FocError, LedgerError, MvccConflict, UsageError
from foc.text import configure_logging, shown, shown_key
from foc.wrapper.catalogue import DeviceProxy
from foc.wrapper.config import load_config
from foc.wrapper.plaintext import ClientFactory, default_client_factory, error_from_response

WRAPPER = "foc"
DEFAULT_CONFIDENTIAL_CHAINCODE = "coffee"
FABRIC_COMMANDS = ("package", "package-id", "serve")

#: How the CLI connects to the proxy (tests substitute a fake client here).
client_factory: ClientFactory = default_client_factory


def build_parser() -> argparse.ArgumentParser:
    """The `foc` argument parser."""
    parser = CliParser(prog="foc", description="FOC: confidential Fabric chaincode in OP-TEE")
    add_ledger_option(parser, suppress=False)
    parser.add_argument("--proxy", default=None, metavar="HOST:PORT", help="foc-proxy address")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CliParser)
    sub.required = True
    common = CliParser(add_help=False)
    add_ledger_option(common)
    common.add_argument("--proxy", default=argparse.SUPPRESS, metavar="HOST:PORT", help="foc-proxy address")
    for name, text in (("invoke", "run a transaction and commit it"), ("query", "run without committing")):
        p = sub.add_parser(name, parents=[common], help=text, description=text)
        p.add_argument("function", help="chaincode function, e.g. create")
        p.add_argument("args", nargs="*", help="its arguments (use -- before arguments starting with -)")
        p.add_argument(
            "--plaintext",
            action="store_true",
            help="FOC's plaintext path (wrapper chaincode `foc`): arguments, state, result in the clear",
        )
        p.add_argument(
            "--chaincode",
            default=None,
            help=f"chaincode name: confidential default $FOC_CHAINCODE or {DEFAULT_CONFIDENTIAL_CHAINCODE}; "
            f"--plaintext over --gateway default {WRAPPER}",
        )
        p.add_argument(
            "--allow-insecure-native",
            action="store_true",
            help="accept enclaves of the host-native build (NOT a TEE: development only)",
        )
        if name == "invoke":
            p.add_argument(
                "--retry",
                type=_retries,
                default=0,
                metavar="N",
                help="run the transaction again, up to N more times, when a key it read changed before "
                "commit (MVCC read conflict, exit 10); default 0",
            )
        add_gateway_options(p)
    ledger = sub.add_parser("ledger", parents=[common], help="inspect the dev ledger")
    lsub = ledger.add_subparsers(dest="ledger_command", metavar="ACTION", parser_class=CliParser)
    lsub.required = True
    show = lsub.add_parser("show", parents=[common], help="print the block log")
    show.add_argument("--values", action="store_true", help="also print written values")
    lsub.add_parser("verify", parents=[common], help="re-check hash chain and world state")
    demo = sub.add_parser("demo", parents=[common], help="run the FOC scenario end to end")
    demo.add_argument(
        "--target",
        "--tee",
        dest="target",
        choices=("qemu", "rpi3", "native"),
        default="qemu",
        help="qemu: real OP-TEE in QEMU (default); rpi3: a Raspberry Pi 3 (FOC_BOARD_HOST) or its SD image "
        "under QEMU raspi3b; native: a local proxy on the host build (not a TEE). --tee is an alias",
    )
    demo.add_argument("--no-build", action="store_true", help="do not build, use the last build")
    demo.add_argument(
        "--plaintext",
        action="store_true",
        help="FOC's plaintext scenario through the wrapper (no encryption)",
    )
    demo.add_argument(
        "--instance", default="default", help="the target instance to reuse or start (default %(default)s)"
    )
    bench = sub.add_parser(
        "bench",
        parents=[common],
        help="benchmark the TA in OP-TEE against the same trusted core in the normal world",
        description="The same workloads (coffee; bench_rw reads/writes) on the TA in OP-TEE (QEMU), the "
        "same trusted core built for the guest's normal world, and the host build (context), plaintext "
        "and confidential: table, JSON and PNG (docs/performance.md).",
    )
    bench.add_argument("--quick", action="store_true", help="every cell, a fraction of a second each (CI)")
    bench.add_argument(
        "--systems",
        default="optee,guest-native,host-native",
        help="comma-separated subset of optee, guest-native, host-native (default: all)",
    )
    bench.add_argument("--workloads", default="coffee,rw", help="comma-separated subset of coffee, rw")
    bench.add_argument("--duration", type=float, help="measured seconds per cell (default 8; quick 0.4)")
    bench.add_argument("--warmup", type=float, help="warm-up seconds per cell (default 2; quick 0.1)")
    bench.add_argument("--out", type=Path, help="directory for bench.json and bench.png (default: the cache)")
    bench.add_argument("--no-build", action="store_true", help="qemu: do not build images, use cached ones")
    bench.add_argument(
        "--devices",
        help="instead of the cells: one confidential chaincode endorsed by these numbers of host-native "
        "simulated devices, e.g. 1,2,3 (key transfer, then throughput; NOT a TEE)",
    )
    # Fabric back end (foc.fabric): delegated whole, so `foc package --help` shows its own options.
    for name, text in (
        ("package", "build the chaincode-as-a-service package for a Fabric peer and print its package id"),
        ("package-id", "print the package id of a ccaas package file"),
        (
            "serve",
            "serve a FOC chaincode (wrapper, confidential or ercc) to a Fabric peer (chaincode-as-a-service)",
        ),
    ):
        fabric = sub.add_parser(name, help=text, description=text, add_help=False)
        fabric.add_argument("fabric_args", nargs=argparse.REMAINDER)
    admin.register_parsers(sub)
    return parser


def payload_text(payload: bytes) -> str:
    """A payload for the terminal: its text if UTF-8 (escaped by foc.text.shown), else 0x-prefixed hex."""
    try:
        return shown(payload.decode("utf-8"))
    except UnicodeDecodeError:
        return "0x" + payload.hex()


@contextlib.contextmanager
def device_proxy(address: str | None, **tls: Any) -> Iterator[DeviceProxy]:
    """The device's proxy client from the wrapper configuration (and --proxy, or the TLS keywords of
    `load_config` for a target the demo brought up: `RunningTarget.proxy_tls`); closed afterwards."""
    config = load_config(proxy_address=address, **tls)
    client = client_factory(config)
    try:
        yield client  # type: ignore[misc]
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()


def _chaincode_name(args: argparse.Namespace) -> str:
    if args.chaincode:
        return str(args.chaincode)
    if args.plaintext:
        return WRAPPER
    return os.environ.get("FOC_CHAINCODE") or DEFAULT_CONFIDENTIAL_CHAINCODE


def _retries(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError("--retry takes 0..100")
    return value


def _call_with_retry(contract: Contract, args: argparse.Namespace, name: str, err: TextIO) -> bytes:
    """`_call`, again after an MVCC read conflict, up to --retry more times (each from scratch)."""
    retries = getattr(args, "retry", 0)
    for attempt in range(retries + 1):
        try:
            return _call(contract, args, name)
        except MvccConflict:
            if attempt == retries:
                raise
            print(f"foc: read conflict, running the transaction again ({attempt + 1}/{retries})", file=err)
    raise AssertionError("unreachable")


def _call(contract: Contract, args: argparse.Namespace, name: str) -> bytes:
    """Run the transaction; the plaintext wrapper's refusals become FOC's typed errors.

    Arguments go as the bytes the shell gave (Fabric arguments are bytes; `os.fsencode` undoes
    Python's surrogateescape decoding of argv), so arguments that are not UTF-8 arrive intact.
    """
    call = contract.invoke if args.command == "invoke" else contract.query
    function = os.fsencode(args.function)
    arguments = [os.fsencode(a) for a in args.args]
    try:
        return call(function, arguments)
    except EndorsementFailure as exc:
        if args.plaintext and name == WRAPPER:  # "<CODE>: message" from FocWrapper
            raise error_from_response(Response.error(exc.chaincode_message, max(exc.status, 400))) from None
        raise


def cmd_transaction(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`foc invoke` / `foc query`: confidential unless --plaintext; Fabric with --gateway."""
    name = _chaincode_name(args)
    with contextlib.ExitStack() as stack:
        if args.gateway:
            channel = args.channel
            if not channel and not args.plaintext:
                from foc.admin.definitions import DefinitionStore

                found = DefinitionStore().find(name)
                channel = found.channel_id if found is not None else None
            net = stack.enter_context(
                connect(**gateway_arguments(args, channel), allow_insecure_native=args.allow_insecure_native)
            )
        else:
            path = args.ledger or default_ledger_path()
            if not args.plaintext:
                _require_confidential_setup(name, path)
            proxy = stack.enter_context(device_proxy(args.proxy))
            net = stack.enter_context(
                connect(ledger=path, proxy=proxy, allow_insecure_native=args.allow_insecure_native)
            )
        contract = net.contract(name, plaintext=args.plaintext)
        payload = _call_with_retry(contract, args, name, err)
    print(payload_text(payload), file=out)
    tx_id, block = getattr(contract, "last_tx_id", None), getattr(contract, "last_block", None)
    if args.command == "invoke" and tx_id is not None:
        enclave = getattr(contract, "last_enclave_id", None)
        verified = f" (verified: enclave {enclave[:16]}...)" if enclave else ""
        print(f"committed tx {shown(tx_id)} in block {block}{verified}", file=err)
    return 0


def _require_confidential_setup(name: str, ledger_path: Path) -> None:
    """Refuse a confidential call on the dev ledger before anything is set up, saying what to run."""
    from foc.admin.definitions import DefinitionStore
    from foc.client.confidential import ENCLAVE_HINT
    from foc.errors import ConfigError

    definitions = DefinitionStore()
    if definitions.find(name) is None:
        raise ConfigError(
            f"confidential chaincode {name!r} is not defined ({definitions.path(name)})",
            hint="`foc chaincode define --id ID --ta FILE.ta --channel CH`; --plaintext for FOC's path",
        )
    if not Path(ledger_path).exists():
        raise ConfigError(
            f"no enclave is registered for chaincode {name!r}: there is no ledger at {ledger_path} yet",
            hint=ENCLAVE_HINT,
        )


def cmd_ledger(args: argparse.Namespace, out: TextIO) -> int:
    """`foc ledger show|verify`."""
    from foc.demo import describe_block
    from foc.ledger.ledger import DevLedger

    path = args.ledger or default_ledger_path()
    if not path.exists():
        raise LedgerError(f"no ledger at {path}", hint="run `foc invoke ...` first or pass --ledger")
    with DevLedger(path) as ledger:
        if args.ledger_command == "verify":
            report = ledger.verify()
            if not report.ok:
                raise LedgerError(f"ledger {path} failed verification: " + "; ".join(report.problems))
            print(
                f"ledger {path} OK: {report.blocks} blocks, {report.transactions} transactions, "
                f"{report.keys} keys; hash chain intact, world state matches the block log",
                file=out,
            )
            return 0
        print(f"ledger {path}: channel {shown(ledger.channel)}, height {ledger.height}", file=out)
        for block in ledger.blocks():
            print(describe_block(block), file=out)
            if args.values:
                for tx in block.transactions:
                    for w in tx.rwset.writes:
                        value = "(deleted)" if w.value is None else payload_text(w.value)
                        print(f"    {shown(w.namespace)}/{shown_key(w.key)} = {value}", file=out)
    return 0


def _fresh_demo_ledger(path: Path | None) -> Path:
    if path is not None:
        if path.exists():
            raise UsageError(f"the demo needs a fresh ledger; {path} already exists")
        return path
    path = cache_root() / "ledger" / "demo.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def _fresh_demo_home(ledger_path: Path) -> Path:
    """A fresh FOC home beside the demo ledger (never the user's $FOC_HOME)."""
    home = ledger_path.with_name(ledger_path.stem + "-home")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return home


def _demo_device(
    args: argparse.Namespace, out: TextIO, stack: contextlib.ExitStack
) -> tuple[str, str, bytes | None, dict[str, Any]]:
    """Where the demo's proxy is: (address, device name, expected TA measurement or None, the TLS
    keywords of `load_config`: pinned certificate, server name, client pair). The target's runtime
    brings it up: qemu, rpi3 (a board named by FOC_BOARD_HOST, else its raspi3b emulation) or native."""
    from foc.deploy.api import expected_ta_measurement
    from foc.deploy.runtime import get_runtime
    from foc.errors import TargetError

    if args.proxy:
        print(f"using the proxy at {args.proxy}", file=out, flush=True)
        image_target = "qemu" if args.target == "native" else args.target
        try:  # a guest's proxy: the TA of the image it booted; a native proxy: its key says so later
            measurement: bytes | None = expected_ta_measurement(image_target, proxy_address=args.proxy)
        except TargetError:
            measurement = None
        return args.proxy, "device", measurement, {}
    runtime = get_runtime(args.target, args.instance)

    def progress(name: str, state: str, detail: str = "") -> None:
        print(f"  {args.target} {name}: {state} {detail}".rstrip(), file=out, flush=True)

    what = {"native": "a local foc-proxy on the native build (NOT a TEE)"}.get(args.target, "OP-TEE")
    print(f"ensuring the {args.target} target is up: {what} ...", file=out, flush=True)
    if args.target == "native" and runtime.running() is None:
        stack.callback(runtime.down)  # a proxy for this demo only
    target = runtime.ensure_up(build=not args.no_build, progress=progress, **_board_options(args.target))
    tls = f", TLS with the pinned certificate {target.tls_ca}" if target.tls_ca else ""
    print(
        f"{args.target}: proxy at {target.proxy_address}{tls} (logs in {target.logs})", file=out, flush=True
    )
    if args.target == "native":
        return target.proxy_address, "native-insecure", None, {}
    measurement = None if args.plaintext else expected_ta_measurement(args.target, instance=args.instance)
    device = f"{args.target}-{args.instance}"
    return target.proxy_address, device, measurement, target.proxy_tls()


def _board_options(target: str) -> dict[str, Any]:
    """rpi3: a real board when FOC_BOARD_HOST names one (else its raspi3b emulation)."""
    if target != "rpi3" or not os.environ.get("FOC_BOARD_HOST"):
        return {}
    return {"host": os.environ["FOC_BOARD_HOST"], "serial": os.environ.get("FOC_BOARD_SERIAL") or None}


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """`foc demo`: confidential unless --plaintext; prints every step; exit 1 if anything misbehaved."""
    from foc.demo import DEMO_CHANNEL, run_confidential_demo, run_plaintext_demo
    from foc.tee.device_key import KIND_NATIVE_INSECURE

    ledger_path = _fresh_demo_ledger(args.ledger)
    clean = True
    with contextlib.ExitStack() as stack:
        address, device, measurement, tls = _demo_device(args, out, stack)
        proxy = stack.enter_context(device_proxy(address, **tls))
        if args.plaintext:
            net = stack.enter_context(connect(ledger=ledger_path, proxy=proxy))
            outcomes = run_plaintext_demo(net, out)
        else:
            insecure = proxy.device_key_info().kind == KIND_NATIVE_INSECURE
            net = stack.enter_context(
                connect(
                    ledger=ledger_path,
                    proxy=proxy,
                    home=_fresh_demo_home(ledger_path),
                    channel=DEMO_CHANNEL,
                    allow_insecure_native=insecure,
                )
            )
            outcomes, clean = run_confidential_demo(net, device_name=device, measurement=measurement, out=out)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise FocError(f"demo: {len(failed)} of {len(outcomes)} steps did not behave as expected")
    if not clean:
        raise FocError("demo: the ledger holds plaintext of the confidential chaincode (see LEAK above)")
    hint = still_running_hint(args.target, args.instance, given_proxy=bool(args.proxy))
    if hint:
        print(hint, file=out)
    return 0


def still_running_hint(target: str, instance: str, *, given_proxy: bool) -> str | None:
    """The line `foc demo` ends with when it leaves an emulated device running (its QEMU holds the
    proxy's port on 127.0.0.1 until stopped); None when the demo started nothing that outlives it."""
    if given_proxy or target == "native" or (target == "rpi3" and os.environ.get("FOC_BOARD_HOST")):
        return None
    flag = "" if instance == "default" else f" --instance {instance}"
    return (
        f"\nthe {target} guest keeps running for the next command; `foc-deploy {target} down{flag}` stops it"
    )


def cmd_bench(args: argparse.Namespace, out: TextIO) -> int:
    """`foc bench`: run the cells (foc.bench), print the table, write bench.json and bench.png."""
    import datetime as dt

    from rich.console import Console

    from foc.bench.report import markdown, plot, print_table
    from foc.bench.run import run_bench

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    outdir = args.out or cache_root() / "bench" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir.mkdir(parents=True, exist_ok=True)
    if args.devices:
        return _bench_devices(args, outdir, out)
    report = run_bench(
        systems,
        quick=args.quick,
        duration_s=args.duration,
        warmup_s=args.warmup,
        build=not args.no_build,
        progress=lambda msg: print(msg, file=out, flush=True),
        workloads=[w.strip() for w in args.workloads.split(",") if w.strip()],
    )
    print_table(report, Console(file=out, width=140))
    report.write_json(outdir / "bench.json")
    (outdir / "bench.md").write_text(markdown(report))
    plot(report, outdir / "bench.png")
    print(f"wrote bench.json, bench.md and bench.png in {outdir}", file=out)
    if report.failures:
        raise FocError(f"bench: {len(report.failures)} system(s) failed: " + "; ".join(report.failures))
    return 0


def _bench_devices(args: argparse.Namespace, outdir: Path, out: TextIO) -> int:
    """`foc bench --devices 1,2,3` (foc.bench.endorsers): table on `out`, endorsers.json in `outdir`."""
    import json

    from foc.bench.endorsers import run_endorsers, table, to_json

    try:
        counts = [int(c) for c in args.devices.split(",") if c.strip()]
    except ValueError:
        raise UsageError(f"--devices takes device counts like 1,2,3, not {args.devices!r}") from None
    duration = args.duration if args.duration is not None else (0.4 if args.quick else 5.0)
    rows = run_endorsers(counts, duration, progress=lambda msg: print(msg, file=out, flush=True))
    print(table(rows), file=out)
    (outdir / "endorsers.json").write_text(json.dumps(to_json(rows, duration), indent=2) + "\n")
    print(f"wrote endorsers.json in {outdir}", file=out)
    return 0


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of the `foc` script; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not logging.getLogger().handlers:  # warnings of the libraries: escaped, one line each
        configure_logging(logging.WARNING, "foc: %(levelname)s: %(name)s: %(message)s")
    try:
        parser = build_parser()
        if argv is None:
            argv = sys.argv[1:]
        if argv and argv[0] in FABRIC_COMMANDS:
            from foc.fabric.__main__ import main as fabric_main

            return fabric_main(list(argv))
        if any(a in ("-h", "--help") for a in argv):
            try:
                parser.parse_args(argv)
            except SystemExit as exc:
                return int(exc.code or 0)
        args = parser.parse_args(argv)
        check_text_options(args)
        if args.command in ("invoke", "query"):
            return cmd_transaction(args, out, err)
        if args.command == "ledger":
            return cmd_ledger(args, out)
        if args.command in admin.COMMANDS:
            return admin.run(args, out, err)
        if args.command == "bench":
            return cmd_bench(args, out)
        return cmd_demo(args, out)
    except FocError as exc:
        print(f"foc: error: {shown(str(exc))}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        print("foc: interrupted", file=err)
        return 130
    except Exception as exc:  # a bug: still one line, never a traceback
        print(f"foc: internal error: {type(exc).__name__}: {shown(str(exc))} (please report it)", file=err)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
