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
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from foc.deploy.paths import cache_root
from foc.errors import FocError, LedgerError, UsageError
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.wrapper.chaincode import ClientFactory, FocWrapper, default_client_factory, error_from_response
from foc.wrapper.config import load_config

WRAPPER = "foc"
DEFAULT_CONFIDENTIAL_CHAINCODE = "coffee"

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


def add_gateway_options(parser: argparse.ArgumentParser) -> None:
    """The Fabric back end's options: without --gateway the command uses the dev ledger."""
    env = os.environ.get
    group = parser.add_argument_group(
        "Fabric back end (with --gateway; the other options default to $FOC_FABRIC_*)"
    )
    group.add_argument(
        "--gateway",
        metavar="HOST:PORT",
        help="a peer's Fabric Gateway (e.g. localhost:7051) instead of the dev ledger",
    )
    group.add_argument("--msp-dir", default=env("FOC_FABRIC_MSP_DIR"), help="the client's msp directory")
    group.add_argument("--mspid", default=env("FOC_FABRIC_MSPID"), help="its MSP id, e.g. Org1MSP")
    group.add_argument(
        "--tls-root-cert", default=env("FOC_FABRIC_TLS_ROOT"), help="the peer's TLS CA (PEM); none: plaintext"
    )
    group.add_argument(
        "--server-name",
        default=env("FOC_FABRIC_SERVER_NAME"),
        help="TLS server name, e.g. peer0.org1.example.com",
    )
    group.add_argument("--channel", default=env("FOC_FABRIC_CHANNEL"), help="channel, e.g. mychannel")


def open_gateway(args: argparse.Namespace) -> Any:
    """A `GatewayClient` from the --gateway options (ConfigError naming what is missing)."""
    from foc.client.gateway import GatewayClient
    from foc.client.identity import Identity
    from foc.errors import ConfigError

    missing = [name for name in ("msp_dir", "mspid") if not getattr(args, name, None)]
    if missing:
        names = ", ".join("--" + name.replace("_", "-") for name in missing)
        raise ConfigError(
            f"--gateway needs {names}",
            hint="the client's MSP identity: --msp-dir DIR --mspid ID "
            "(or $FOC_FABRIC_MSP_DIR, $FOC_FABRIC_MSPID)",
        )
    identity = Identity.from_msp_dir(args.msp_dir, args.mspid)
    return GatewayClient(
        args.gateway,
        identity,
        tls_root_cert=args.tls_root_cert or None,
        server_name=args.server_name or None,
    )


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
        add_gateway_options(p)
    ledger = sub.add_parser("ledger", parents=[common], help="inspect the dev ledger")
    lsub = ledger.add_subparsers(dest="ledger_command", metavar="ACTION", parser_class=_Parser)
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
    from foc.cli import admin  # confidential mode: device / chaincode / enclave

    admin.register_parsers(sub, _Parser)
    return parser


def _payload_text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + payload.hex()


def cmd_transaction(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`foc invoke` / `foc query`: confidential unless --plaintext; Fabric with --gateway."""
    if args.gateway:
        return cmd_gateway_transaction(args, out, err)
    if not args.plaintext:
        args.chaincode = args.chaincode or os.environ.get("FOC_CHAINCODE") or DEFAULT_CONFIDENTIAL_CHAINCODE
        return cmd_confidential_transaction(args, out, err)
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


def cmd_confidential_transaction(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Confidential `foc invoke` / `foc query`: ConfidentialContract over the dev ledger.

    Needs the chaincode definition and a registered enclave (`foc chaincode define`, `foc enclave
    create`, `foc enclave register`); the client re-verifies the enclave's attestation evidence
    against the devices enrolled in $FOC_HOME. Only the decrypted result goes to stdout.
    """
    from foc.client.confidential import ENCLAVE_HINT, ConfidentialContract
    from foc.client.devledger import DevNetwork
    from foc.confidential.definitions import DefinitionStore
    from foc.confidential.devices import DeviceStore
    from foc.confidential.registry import REGISTRY_NAME
    from foc.errors import ConfigError

    definitions = DefinitionStore()
    definition = definitions.find(args.chaincode)
    if definition is None:
        raise ConfigError(
            f"confidential chaincode {args.chaincode!r} is not defined ({definitions.path(args.chaincode)})",
            hint="`foc chaincode define --id ID --ta FILE.ta --channel CH`; --plaintext for FOC's path",
        )
    path = args.ledger or default_ledger_path()
    if not Path(path).exists():
        raise ConfigError(
            f"no enclave is registered for chaincode {args.chaincode!r}: there is no ledger at {path} yet",
            hint=ENCLAVE_HINT,
        )
    proxy = client_factory(load_config(proxy_address=args.proxy))
    try:
        with DevNetwork.open(
            path,
            proxy=proxy,  # type: ignore[arg-type]
            confidential=args.chaincode,
            channel=definition.channel_id,
        ) as net:
            ledger_side = net.contract(args.chaincode)
            contract = ConfidentialContract(
                ledger_side,
                chaincode_id=args.chaincode,
                channel=net.channel,
                registry=net.contract(REGISTRY_NAME),
                definitions=definitions,
                devices=DeviceStore(),
                allow_insecure_native=args.allow_insecure_native,
            )
            call = contract.invoke if args.command == "invoke" else contract.query
            payload = call(args.function, args.args)
    finally:
        close = getattr(proxy, "close", None)
        if close is not None:
            close()
    print(_payload_text(payload), file=out)
    if args.command == "invoke" and ledger_side.last_tx_id is not None:
        print(
            f"committed tx {ledger_side.last_tx_id} in block {ledger_side.last_block} "
            f"(verified: enclave {(contract.last_enclave_id or '?')[:16]}...)",
            file=err,
        )
    return 0


def cmd_gateway_transaction(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`foc invoke|query --gateway ...`: the same transaction through a Fabric peer's gateway.

    Confidential (default): `ConfidentialContract` over `GatewayContract`s for the chaincode and
    the `ercc` registry, verified against the definition and devices in $FOC_HOME; the client
    needs no proxy (the peer's chaincode server talks to it). --plaintext: the wrapper (`foc`).
    """
    from foc.client.gateway import GatewayContract
    from foc.errors import ConfigError

    if args.plaintext:
        name = args.chaincode or WRAPPER
    else:
        name = args.chaincode or os.environ.get("FOC_CHAINCODE") or DEFAULT_CONFIDENTIAL_CHAINCODE
    channel = args.channel
    if not channel and not args.plaintext:
        from foc.confidential.definitions import DefinitionStore

        found = DefinitionStore().find(name)
        channel = found.channel_id if found is not None else None
    if not channel:
        raise ConfigError("--gateway needs --channel CH (or $FOC_FABRIC_CHANNEL)")
    with open_gateway(args) as client:
        fabric_side = GatewayContract(client, channel, name)
        enclave_id: str | None = None
        if args.plaintext:
            call = fabric_side.invoke if args.command == "invoke" else fabric_side.query
            payload = call(args.function, args.args)
        else:
            from foc.client.confidential import ConfidentialContract
            from foc.confidential.definitions import DefinitionStore
            from foc.confidential.devices import DeviceStore
            from foc.confidential.registry import REGISTRY_NAME

            contract = ConfidentialContract(
                fabric_side,
                chaincode_id=name,
                channel=channel,
                registry=GatewayContract(client, channel, REGISTRY_NAME),
                definitions=DefinitionStore(),
                devices=DeviceStore(),
                allow_insecure_native=args.allow_insecure_native,
            )
            call = contract.invoke if args.command == "invoke" else contract.query
            payload = call(args.function, args.args)
            enclave_id = contract.last_enclave_id
    print(_payload_text(payload), file=out)
    if args.command == "invoke" and fabric_side.last_tx_id is not None:
        verified = f" (verified: enclave {enclave_id[:16]}...)" if enclave_id else ""
        print(f"committed tx {fabric_side.last_tx_id} in block {fabric_side.last_block}{verified}", file=err)
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


def _fresh_demo_home(ledger_path: Path) -> Path:
    """A fresh FOC home beside the demo ledger (never the user's $FOC_HOME)."""
    import shutil

    home = ledger_path.with_name(ledger_path.stem + "-home")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return home


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """`foc demo`: confidential unless --plaintext; prints every step; exit 1 if anything misbehaved."""
    from foc.cli.demo import run_scenario
    from foc.deploy.runtime import get_runtime

    ledger_path = _fresh_demo_ledger(args.ledger)
    runtime = get_runtime(args.target, args.instance)
    stop_after = False
    measurement: bytes | None = None
    tls_ca = tls_name = None
    clean = True
    try:
        if args.proxy:
            address = args.proxy
            print(f"using the proxy at {address}", file=out, flush=True)
            device = "device"
        else:

            def progress(name: str, state: str, detail: str = "") -> None:
                print(f"  {args.target} {name}: {state} {detail}".rstrip(), file=out, flush=True)

            what = {"native": "a local foc-proxy on the native build (NOT a TEE)"}.get(args.target, "OP-TEE")
            print(f"ensuring the {args.target} target is up: {what} ...", file=out, flush=True)
            stop_after = args.target == "native" and runtime.running() is None  # a demo-only proxy
            target = runtime.ensure_up(
                build=not args.no_build, progress=progress, **_board_options(args.target)
            )
            address, tls_ca, tls_name = target.proxy_address, target.tls_ca, target.tls_server_name
            device = "native-insecure" if args.target == "native" else f"{args.target}-{args.instance}"
            tls = f", TLS with the pinned certificate {tls_ca}" if tls_ca else ""
            print(f"{args.target}: proxy at {address}{tls} (logs in {target.logs})", file=out, flush=True)
        if not args.plaintext and (args.target != "native" or args.proxy):
            from foc.errors import TargetError

            try:
                measurement = runtime.expected_measurement()
            except TargetError:
                if not args.proxy:
                    raise
                # --proxy: maybe a native proxy (its key says so); OP-TEE without a measurement fails
        config = load_config(proxy_address=address, tls_ca=tls_ca, tls_server_name=tls_name)
        if args.plaintext:
            wrapper = FocWrapper(config, client_factory=client_factory)
            try:
                with DevLedger(ledger_path) as ledger:
                    print(f"fresh dev ledger {ledger_path}\n", file=out, flush=True)
                    outcomes = run_scenario(DevPeer(ledger, {WRAPPER: wrapper}), out)
            finally:
                wrapper.close()
        else:
            from foc.cli.demo import run_confidential_demo

            proxy = client_factory(config)
            try:
                outcomes, clean = run_confidential_demo(
                    proxy,  # type: ignore[arg-type]
                    ledger_path,
                    home=_fresh_demo_home(Path(ledger_path)),
                    measurement=measurement,
                    endpoint=address,
                    device_name=device,
                    out=out,
                )
            finally:
                close = getattr(proxy, "close", None)
                if close is not None:
                    close()
    finally:
        if stop_after:
            runtime.down()
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise FocError(f"demo: {len(failed)} of {len(outcomes)} steps did not behave as expected")
    if not clean:
        raise FocError("demo: the ledger holds plaintext of the confidential chaincode (see LEAK above)")
    return 0


def _board_options(target: str) -> dict[str, Any]:
    """rpi3: a real board when FOC_BOARD_HOST names one (else its raspi3b emulation)."""
    if target != "rpi3" or not os.environ.get("FOC_BOARD_HOST"):
        return {}
    return {"host": os.environ["FOC_BOARD_HOST"], "serial": os.environ.get("FOC_BOARD_SERIAL") or None}


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
