"""`foc`: invoke and query FOC chaincode on the embedded dev ledger, inspect the ledger, run the demo.

    foc invoke FUNCTION [ARGS...]      simulate, then commit a block (prints the payload)
    foc query FUNCTION [ARGS...]       simulate only, commit nothing
    foc ledger show [--values]         the block log
    foc ledger verify                  re-check the hash chain and the world state
    foc demo [--tee qemu|native]       the FOC scenario on real OP-TEE in QEMU (or a native proxy)

Options (before or after the command): --ledger PATH (default $FOC_LEDGER or
~/.cache/foc/ledger/dev.sqlite), --proxy HOST:PORT (default: wrapper configuration, see
foc.wrapper.config). Errors are one line on stderr; exit codes come from foc.errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from foc.deploy.paths import cache_root
from foc.errors import FocError, LedgerError, UsageError
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.wrapper.chaincode import ClientFactory, FocWrapper, default_client_factory, error_from_response
from foc.wrapper.config import load_config

WRAPPER = "foc"

#: How the CLI connects to the proxy (tests substitute a fake client here).
client_factory: ClientFactory = default_client_factory


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 2, one line) instead of exiting by itself."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


FABRIC_COMMANDS = ("package", "package-id", "serve")


def default_ledger_path() -> Path:
    """$FOC_LEDGER, else <cache>/ledger/dev.sqlite."""
    env = os.environ.get("FOC_LEDGER")
    return Path(env).expanduser() if env else cache_root() / "ledger" / "dev.sqlite"


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--ledger", type=Path, default=default, help="dev ledger file (default $FOC_LEDGER)")
    parser.add_argument("--proxy", default=default, metavar="HOST:PORT", help="foc-proxy address")


def build_parser() -> argparse.ArgumentParser:
    """The `foc` argument parser."""
    parser = _Parser(prog="foc", description="FOC: confidential Fabric chaincode in OP-TEE")
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    common = _Parser(add_help=False)
    _common(common, suppress=True)
    for name, text in (("invoke", "run a transaction and commit it"), ("query", "run without committing")):
        p = sub.add_parser(name, parents=[common], help=text, description=text)
        p.add_argument("function", help="chaincode function, e.g. create")
        p.add_argument("args", nargs="*", help="its arguments (use -- before arguments starting with -)")
    ledger = sub.add_parser("ledger", parents=[common], help="inspect the dev ledger")
    lsub = ledger.add_subparsers(dest="ledger_command", metavar="ACTION", parser_class=_Parser)
    lsub.required = True
    show = lsub.add_parser("show", parents=[common], help="print the block log")
    show.add_argument("--values", action="store_true", help="also print written values")
    lsub.add_parser("verify", parents=[common], help="re-check hash chain and world state")
    demo = sub.add_parser("demo", parents=[common], help="run the FOC scenario end to end")
    demo.add_argument(
        "--tee",
        choices=("qemu", "native"),
        default="qemu",
        help="qemu: real OP-TEE in QEMU (default); native: a local proxy on the host build (not a TEE)",
    )
    demo.add_argument("--no-build", action="store_true", help="qemu: do not build images, use cached ones")
    demo.add_argument(
        "--instance", default="default", help="qemu: QEMU instance to reuse or start (default %(default)s)"
    )
    # Fabric back end (foc.fabric): delegated whole, so `foc package --help` shows its own options.
    for name, text in (
        ("package", "build the chaincode-as-a-service package for a Fabric peer and print its package id"),
        ("package-id", "print the package id of a ccaas package file"),
        ("serve", "serve the FOC wrapper chaincode to a Fabric peer (chaincode-as-a-service)"),
    ):
        fabric = sub.add_parser(name, help=text, description=text, add_help=False)
        fabric.add_argument("fabric_args", nargs=argparse.REMAINDER)
    from foc.cli import admin  # confidential mode: device / chaincode / enclave

    admin.register_parsers(sub, _Parser)
    return parser


def _payload_text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + payload.hex()


def cmd_transaction(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`foc invoke` / `foc query`."""
    wrapper = FocWrapper(load_config(proxy_address=args.proxy), client_factory=client_factory)
    try:
        with DevLedger(args.ledger or default_ledger_path()) as ledger:
            peer = DevPeer(ledger, {WRAPPER: wrapper})
            argv = [args.function, *args.args]
            tx = peer.invoke(WRAPPER, argv) if args.command == "invoke" else peer.query(WRAPPER, argv)
    finally:
        wrapper.close()
    if not tx.response.endorsed:
        raise error_from_response(tx.response)
    print(_payload_text(tx.response.payload), file=out)
    if tx.block is not None:
        print(f"committed tx {tx.tx_id} in block {tx.block.number}", file=err)
    return 0


def cmd_ledger(args: argparse.Namespace, out: TextIO) -> int:
    """`foc ledger show|verify`."""
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
        from foc.cli.demo import describe_block

        print(f"ledger {path}: channel {ledger.channel}, height {ledger.height}", file=out)
        for block in ledger.blocks():
            print(describe_block(block), file=out)
            if args.values:
                for tx in block.transactions:
                    for w in tx.rwset.writes:
                        shown = "(deleted)" if w.value is None else _payload_text(w.value)
                        print(f"    {w.namespace}/{w.key} = {shown}", file=out)
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


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """`foc demo`: prints every step; fails (exit 1) if any step misbehaved."""
    from foc.cli.demo import run_scenario
    from foc.cli.local_proxy import LocalProxy

    ledger_path = _fresh_demo_ledger(args.ledger)
    local: LocalProxy | None = None
    try:
        if args.proxy:
            address = args.proxy
            print(f"using the proxy at {address}", file=out, flush=True)
        elif args.tee == "native":
            print("starting a local foc-proxy on the native build (NOT a TEE) ...", file=out, flush=True)
            local = LocalProxy("native").start()
            address = local.address
            print(f"foc-proxy (native) listening on {address}, pid {local.pid}", file=out, flush=True)
        else:
            from foc.deploy.api import ensure_up

            def progress(name: str, state: str, detail: str = "") -> None:
                print(f"  qemu {name}: {state} {detail}".rstrip(), file=out, flush=True)

            print("ensuring the QEMU target (OP-TEE) is up ...", file=out, flush=True)
            target = ensure_up("qemu", build=not args.no_build, progress=progress, instance=args.instance)
            address = target.proxy_address
            print(f"OP-TEE in QEMU: proxy at {address} (logs in {target.logs})", file=out, flush=True)
        wrapper = FocWrapper(load_config(proxy_address=address), client_factory=client_factory)
        try:
            with DevLedger(ledger_path) as ledger:
                print(f"fresh dev ledger {ledger_path}\n", file=out, flush=True)
                outcomes = run_scenario(DevPeer(ledger, {WRAPPER: wrapper}), out)
        finally:
            wrapper.close()
    finally:
        if local is not None:
            local.stop()
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise FocError(f"demo: {len(failed)} of {len(outcomes)} steps did not behave as expected")
    return 0


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of the `foc` script; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
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
        if args.command in ("invoke", "query"):
            return cmd_transaction(args, out, err)
        if args.command == "ledger":
            return cmd_ledger(args, out)
        if args.command in ("device", "chaincode", "enclave"):
            from foc.cli import admin

            return admin.run(args, out, err)
        return cmd_demo(args, out)
    except FocError as exc:
        print(f"foc: error: {exc}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        print("foc: interrupted", file=err)
        return 130
    except Exception as exc:  # a bug: still one line, never a traceback
        print(f"foc: internal error: {type(exc).__name__}: {exc} (please report it)", file=err)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
