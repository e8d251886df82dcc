"""`python -m foc.fabric`: serve a FOC chaincode to a Fabric peer, or build its package.

    python -m foc.fabric serve --address 0.0.0.0:9999 --chaincode-id foc_1.0:<hash> [--proxy HOST:PORT]
                               [--kind wrapper|confidential|ercc] [--name coffee]
                               [--tls-cert server.pem --tls-key server.key [--client-ca peer-ca.pem]]
    python -m foc.fabric package --label foc_1.0 --address host:9999 [--tls-root-cert ca.pem
                               [--client-cert peer.pem --client-key peer.key]] -o foc.tar.gz
    python -m foc.fabric package --label coffee_1.0 --launch --kind confidential --name coffee
                               [--proxy HOST:PORT] [--home DIR] ... -o coffee.tar.gz
    python -m foc.fabric package-id foc.tar.gz

`package` makes either kind of package: chaincode-as-a-service (`--address`: the peer's ccaas builder
dials `serve`) or peer-launched (`--launch`: FOC's external builder, foc/fabric/builder, and the peer
starts the chaincode itself, which dials the peer; see foc.fabric.external).

`--kind` picks the chaincode: `wrapper` (default; FOC's plaintext wrapper), `confidential` (the
confidential chaincode `--name`: FPC's `__invoke` / `__endorse`, the TA behind the proxy as its
enclave, the definition from $FOC_HOME) or `ercc` (the enclave registry; definitions and enrolled
devices from $FOC_HOME). Each kind is its own package (its own chaincode name on the channel).

Environment (as in Fabric's chaincode-as-a-service samples): CHAINCODE_SERVER_ADDRESS, CHAINCODE_ID,
CHAINCODE_TLS_CERT, CHAINCODE_TLS_KEY, CHAINCODE_CLIENT_CA_CERT; the wrapper's own FOC_PROXY_* variables;
FOC_CHAINCODE_KIND and FOC_CHAINCODE for --kind and --name; FOC_HOME.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from foc.chaincode.stub import Chaincode
from foc.errors import FocError, UsageError
from foc.fabric.package import ConnectionInfo, read_package_id, write_package
from foc.fabric.server import ChaincodeServer
from foc.fabric.tls import ServerTls
from foc.text import configure_logging, shown

KINDS = ("wrapper", "confidential", "ercc")


def _read_pem(path: str | None, what: str) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m foc.fabric", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the FOC wrapper chaincode (chaincode-as-a-service)")
    serve.add_argument("--address", default=env("CHAINCODE_SERVER_ADDRESS"), help="host:port to listen on")
    serve.add_argument("--chaincode-id", default=env("CHAINCODE_ID"), help="the package id (label:hash)")
    serve.add_argument("--tls-cert", default=env("CHAINCODE_TLS_CERT"), help="PEM server certificate")
    serve.add_argument("--tls-key", default=env("CHAINCODE_TLS_KEY"), help="PEM server private key")
    serve.add_argument(
        "--client-ca", default=env("CHAINCODE_CLIENT_CA_CERT"), help="PEM CA of the peer's client cert (mTLS)"
    )
    serve.add_argument("--proxy", default=None, help="foc.proxy host:port (default: FOC_PROXY_ADDRESS)")
    serve.add_argument(
        "--kind",
        choices=KINDS,
        default=env("FOC_CHAINCODE_KIND") or "wrapper",
        help="which chaincode: the plaintext wrapper, a confidential chaincode, or the ercc registry",
    )
    serve.add_argument(
        "--name",
        default=env("FOC_CHAINCODE") or "coffee",
        help="--kind confidential: the chaincode id (its definition in $FOC_HOME; default %(default)s)",
    )
    serve.add_argument(
        "--registry", default="ercc", help="--kind confidential: the registry's chaincode name (default ercc)"
    )
    serve.add_argument(
        "--allow-insecure-native",
        action="store_true",
        help="--kind ercc: accept the host-native build's evidence (NOT a TEE: development only)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG (never payloads)")

    package = commands.add_parser(
        "package", help="build a chaincode package (ccaas, or peer-launched with --launch) and print its id"
    )
    package.add_argument("--label", required=True, help="package label, e.g. foc_1.0")
    package.add_argument("--address", help="ccaas: host:port the peer dials (connection.json)")
    package.add_argument("--dial-timeout", default="10s", help="Go duration (default 10s)")
    package.add_argument("--tls-root-cert", help="PEM CA that signed the server certificate (enables TLS)")
    package.add_argument("--client-cert", help="PEM certificate the peer presents (enables mutual TLS)")
    package.add_argument("--client-key", help="PEM key for --client-cert")
    package.add_argument("-o", "--output", type=Path, required=True, help="package file to write")
    launch = package.add_argument_group(
        "peer-launched (--launch): the peer starts the chaincode through FOC's external builder"
    )
    launch.add_argument("--launch", action="store_true", help="a peer-launched package (type foc)")
    launch.add_argument("--kind", choices=KINDS, default="wrapper", help="which chaincode (default wrapper)")
    launch.add_argument(
        "--name", default="coffee", help="--kind confidential: the chaincode id (default coffee)"
    )
    launch.add_argument("--proxy", help="foc-proxy host:port, as the peer's host reaches it")
    launch.add_argument(
        "--proxy-tls-ca", type=Path, help="the proxy's pinned certificate (PEM), carried inline"
    )
    launch.add_argument("--proxy-tls-name", help="server name in the proxy's certificate")
    launch.add_argument("--ta-uuid", help="--kind wrapper: the TA it forwards to (default FOC's coffee TA)")
    launch.add_argument("--home", type=Path, help="FOC home on the peer's host (absolute; default $FOC_HOME)")
    launch.add_argument("--registry", default="ercc", help="--kind confidential: the registry's name")
    launch.add_argument(
        "--allow-insecure-native",
        action="store_true",
        help="--kind ercc: accept the host-native build's evidence",
    )

    package_id = commands.add_parser("package-id", help="print the package id of a package file")
    package_id.add_argument("file", type=Path)
    return parser


def _serve(args: argparse.Namespace) -> int:
    if not args.address:
        raise UsageError("no listen address", hint="pass --address host:port or set CHAINCODE_SERVER_ADDRESS")
    if not args.chaincode_id:
        raise UsageError("no package id", hint="pass --chaincode-id label:hash or set CHAINCODE_ID")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("TLS needs both --tls-cert and --tls-key")
    if args.client_ca and not args.tls_cert:
        raise UsageError("--client-ca (mutual TLS) needs --tls-cert and --tls-key")
    tls = ServerTls.from_files(args.tls_cert, args.tls_key, args.client_ca) if args.tls_cert else None

    chaincode, close = _chaincode(args)
    server = ChaincodeServer(chaincode, args.chaincode_id, args.address, tls=tls)
    try:
        server.start()  # ListenError if another process listens there: never a shared port
    except BaseException:
        close()
        raise

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"serving {args.chaincode_id} on {args.address} (port {server.port}) as {args.kind}", flush=True)
    try:
        server.wait()
    finally:
        close()
    return 0


def _chaincode(args: argparse.Namespace) -> tuple[Chaincode, Callable[[], None]]:
    """The chaincode `--kind` names (foc.fabric.hosted, over foc.wrapper.catalogue), and how to
    release the proxy channel."""
    from foc.fabric.hosted import HostedSettings, hosted_chaincode

    return hosted_chaincode(
        HostedSettings(
            kind=args.kind,
            name=args.name,
            proxy=args.proxy,
            registry=args.registry,
            allow_insecure_native=args.allow_insecure_native,
        )
    )


def _package(args: argparse.Namespace) -> int:
    if args.launch:
        return _launch_package(args)
    if not args.address:
        raise UsageError("a package needs --address (chaincode-as-a-service) or --launch (peer-launched)")
    if bool(args.client_cert) != bool(args.client_key):
        raise UsageError("mutual TLS needs both --client-cert and --client-key")
    if args.client_cert and not args.tls_root_cert:
        raise UsageError("mutual TLS needs --tls-root-cert as well")
    connection = ConnectionInfo(
        address=args.address,
        dial_timeout=args.dial_timeout,
        tls_required=bool(args.tls_root_cert),
        client_auth_required=bool(args.client_cert),
        root_cert=_read_pem(args.tls_root_cert, "TLS root certificate"),
        client_cert=_read_pem(args.client_cert, "client certificate"),
        client_key=_read_pem(args.client_key, "client key"),
    )
    print(write_package(args.output, args.label, connection))
    return 0


def _launch_package(args: argparse.Namespace) -> int:
    from foc.fabric.hosted import HostedSettings
    from foc.fabric.package import write_launch_package

    if args.address or args.tls_root_cert or args.client_cert:
        raise UsageError(
            "--launch packages have no --address or TLS of their own: the chaincode dials the peer"
        )
    settings = HostedSettings(
        kind=args.kind,
        name=args.name,
        proxy=args.proxy,
        proxy_tls_name=args.proxy_tls_name,
        ta_uuid=args.ta_uuid,
        home=args.home.expanduser().resolve() if args.home else None,
        registry=args.registry,
        allow_insecure_native=args.allow_insecure_native,
    )
    ca = _read_pem(str(args.proxy_tls_ca) if args.proxy_tls_ca else None, "proxy CA certificate")
    print(write_launch_package(args.output, args.label, settings.to_json(proxy_tls_ca_pem=ca)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (FocError's `exit_code` on failure)."""
    args = _parser().parse_args(argv)
    configure_logging(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "package":
            return _package(args)
        print(read_package_id(args.file))
        return 0
    except FocError as exc:
        print(f"error: {shown(str(exc))}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
