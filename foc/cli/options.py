"""Options shared by the `foc` subcommands: the parser class, the dev ledger and the Fabric back end.

Everything here turns command-line options into arguments of `foc.connect`; no FOC logic.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from foc.errors import UsageError
from foc.text import shown


class CliParser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 2, one line) instead of exiting by itself."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def add_ledger_option(parser: argparse.ArgumentParser, *, suppress: bool = True) -> None:
    """--ledger PATH (the dev ledger file)."""
    parser.add_argument(
        "--ledger",
        type=Path,
        default=argparse.SUPPRESS if suppress else None,
        help="dev ledger file (default $FOC_LEDGER or ~/.cache/foc/ledger/dev.sqlite)",
    )


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


def gateway_arguments(args: argparse.Namespace, channel: str | None) -> dict[str, Any]:
    """`foc.connect` keyword arguments for the --gateway options."""
    return {
        "gateway": args.gateway,
        "msp_dir": args.msp_dir,
        "mspid": args.mspid,
        "tls_root_cert": args.tls_root_cert,
        "server_name": args.server_name,
        "channel": channel,
    }


#: Options that name something on a network or ledger (ids, addresses, MSP ids): Fabric and FOC carry
#: them as UTF-8 text. File paths are not here: any bytes the file system takes are fine.
TEXT_OPTIONS = {
    "chaincode": "--chaincode",
    "chaincode_id": "--id",
    "channel": "--channel",
    "mspid": "--mspid",
    "gateway": "--gateway",
    "server_name": "--server-name",
    "proxy": "--proxy",
    "from_proxy": "--from-proxy",
    "endpoint": "--endpoint",
    "enclave": "--enclave",
    "name": "NAME",
    "version": "--version",
    "workloads": "--workloads",
}


def check_text_options(args: argparse.Namespace) -> None:
    """UsageError (exit 2) for a name-like option the shell gave as bytes that are not UTF-8.

    Arguments decoded by Python with surrogateescape hold lone surrogates; encoding them later, deep in
    a protobuf or a ledger key, would be an internal error.
    """
    for dest, option in TEXT_OPTIONS.items():
        value = getattr(args, dest, None)
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(
                f"{option} {shown(value)} is not valid UTF-8 text",
                hint="ids, channels, MSP ids and addresses are text",
            ) from None
