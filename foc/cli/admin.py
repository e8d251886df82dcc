"""`foc device|chaincode|enclave`: confidential-mode administration (registered by foc.cli.main).

    foc device enroll NAME (--from-proxy HOST:PORT | --key PEM) [--replace]
    foc device list
    foc chaincode define --id ID (--version HEX | --ta PATH.ta) --channel CH
    foc enclave create [--force] --chaincode ID --channel CH --endpoint HOST:PORT --proxy HOST:PORT
    foc enclave register --chaincode ID [--enclave ENCLAVE_ID | --credentials FILE] [--allow-insecure-native]
    foc enclave list --chaincode ID
    foc enclave register|list ... --gateway HOST:PORT --msp-dir DIR --mspid ID [--tls-root-cert F]
                                  [--channel CH]

Files (under $FOC_HOME, default ~/.config/foc; see foc.admin.home):
  devices/<name>.pem                                  enrolled device keys
  chaincodes/<id>/definition.json                     the chaincode definition
  chaincodes/<id>/enclaves/<enclave_id>.credentials   credentials written by `foc enclave create`
                                                      (binary `credentials`, public: no secret inside)
Registration and listing use the registry chaincode `ercc` on the dev ledger (--ledger), or with
--gateway the `ercc` chaincode on a Fabric channel, through a peer's gateway (registerEnclave is
submitted and ordered; the registry that serves `ercc` verifies the evidence).
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import TextIO

from foc.admin.definitions import DefinitionStore, define_chaincode
from foc.admin.devices import DeviceStore, EnrolledDevice
from foc.admin.home import write_atomically
from foc.confidential.formats import Credentials, EnclaveConfig
from foc.confidential.suite import enclave_id as compute_enclave_id
from foc.errors import ConfigError, EndorsementFailure, LedgerError, UsageError, VerificationError
from foc.registry.ercc import REGISTRY_NAME, EnclaveRegistry

COMMANDS = ("device", "chaincode", "enclave")
CREDENTIALS_SUFFIX = ".credentials"


def credentials_dir(chaincode_id: str, home: Path | None = None) -> Path:
    """Where `foc enclave create` writes the credentials of `chaincode_id`'s enclaves."""
    return DefinitionStore(home).path(chaincode_id).parent / "enclaves"


def register_parsers(sub: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the `device`, `chaincode` and `enclave` subcommands to `foc`'s subparsers."""
    from foc.cli.main import add_gateway_options

    def ledger_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--ledger", type=Path, default=argparse.SUPPRESS, help="dev ledger file (default $FOC_LEDGER)"
        )

    device = sub.add_parser("device", help="enroll device attestation keys (confidential mode)")
    dsub = device.add_subparsers(dest="device_command", metavar="ACTION", parser_class=parser_class)
    dsub.required = True
    enroll = dsub.add_parser("enroll", help="pin a device's attestation public key (trust on first use)")
    enroll.add_argument("name", help="device name, e.g. qemu-1")
    source = enroll.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-proxy", metavar="HOST:PORT", help="read the key from the device's foc-proxy")
    source.add_argument("--key", type=Path, metavar="PEM", help="a PEM (or DER) public key file")
    enroll.add_argument("--replace", action="store_true", help="re-key an already enrolled device name")
    dsub.add_parser("list", help="print the enrolled devices and their key fingerprints")

    chaincode = sub.add_parser("chaincode", help="confidential chaincode definitions")
    csub = chaincode.add_subparsers(dest="chaincode_command", metavar="ACTION", parser_class=parser_class)
    csub.required = True
    define = csub.add_parser("define", help="define (or upgrade) a confidential chaincode")
    define.add_argument("--id", required=True, dest="chaincode_id", help="chaincode id, e.g. coffee")
    version = define.add_mutually_exclusive_group(required=True)
    version.add_argument("--version", help="the expected TA measurement (64 hex characters)")
    version.add_argument(
        "--ta", type=Path, metavar="PATH.ta", help="compute the measurement from a signed .ta"
    )
    define.add_argument("--channel", required=True, help="channel id")

    enclave = sub.add_parser("enclave", help="create, register and list enclaves")
    esub = enclave.add_subparsers(dest="enclave_command", metavar="ACTION", parser_class=parser_class)
    esub.required = True
    create = esub.add_parser("create", help="create the enclave in the TA behind a foc-proxy")
    create.add_argument("--force", action="store_true", help="replace an existing enclave (new enclave key)")
    create.add_argument("--chaincode", required=True, help="chaincode id (must be defined)")
    create.add_argument("--channel", required=True, help="channel id (must match the definition)")
    create.add_argument("--endpoint", required=True, metavar="HOST:PORT", help="the enclave's host endpoint")
    create.add_argument(
        "--proxy", default=argparse.SUPPRESS, metavar="HOST:PORT", help="the device's foc-proxy"
    )
    register = esub.add_parser("register", help="register enclave credentials with the ercc registry")
    register.add_argument("--chaincode", required=True, help="chaincode id")
    which = register.add_mutually_exclusive_group()
    which.add_argument("--enclave", metavar="ENCLAVE_ID", help="credentials written by `foc enclave create`")
    which.add_argument("--credentials", type=Path, metavar="FILE", help="a credentials file")
    register.add_argument(
        "--allow-insecure-native",
        action="store_true",
        help="accept native-insecure-v1 evidence (host build, NOT a TEE: development only)",
    )
    ledger_option(register)
    add_gateway_options(register)
    listing = esub.add_parser("list", help="list the registered enclaves of a chaincode")
    listing.add_argument("--chaincode", required=True, help="chaincode id")
    ledger_option(listing)
    add_gateway_options(listing)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Dispatch one admin command; returns the exit code (errors raise FocError)."""
    if args.command == "device":
        return cmd_device_list(out) if args.device_command == "list" else cmd_device_enroll(args, out, err)
    if args.command == "chaincode":
        return cmd_chaincode_define(args, out)
    action = args.enclave_command
    if action == "create":
        return cmd_enclave_create(args, out)
    if action == "register":
        return cmd_enclave_register(args, out)
    return cmd_enclave_list(args, out)


# -- device ---------------------------------------------------------------------------------------


def cmd_device_enroll(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`foc device enroll`: pin a key, print its fingerprint and what trusting it means."""
    if args.from_proxy:
        from foc.proxy.client import ProxyClient
        from foc.tee.device_key import DeviceKey

        with ProxyClient(args.from_proxy) as proxy:
            info = proxy.device_key_info()
        pem = DeviceKey(info.public_key_der, info.tee_algorithm, info.kind).pem()
        kind = info.kind
    else:
        try:
            pem = args.key.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read the key file {args.key}: {exc.strerror}") from None
        kind = "file"
    device = DeviceStore().enroll(args.name, pem, replace=args.replace)
    print(f"enrolled device {device.name}: RSA-{device.public_key.key_size}", file=out)
    print(f"  SHA-256 fingerprint {device.fingerprint}", file=out)
    print(f"  stored in {DeviceStore().path(device.name)}", file=out)
    print(
        "trust on first use: OP-TEE's attestation key has no vendor certificate, so from now on any\n"
        f"evidence signed with this key is accepted as coming from device {device.name}. Compare the\n"
        "fingerprint with one read on the device itself over a channel you trust before relying on it.",
        file=out,
    )
    if kind == "native-insecure":
        print(
            "warning: this is the PUBLISHED native-insecure test key of the host-native build, not a\n"
            "device: anyone can sign with it. Registration accepts it only with --allow-insecure-native.",
            file=err,
        )
    return 0


def cmd_device_list(out: TextIO) -> int:
    """`foc device list`."""
    devices: list[EnrolledDevice] = list(DeviceStore().devices())
    if not devices:
        print(f"no devices enrolled (in {DeviceStore().root})", file=out)
    for device in devices:
        print(f"{device.name}\tRSA-{device.public_key.key_size}\t{device.fingerprint}", file=out)
    return 0


# -- chaincode ------------------------------------------------------------------------------------


def cmd_chaincode_define(args: argparse.Namespace, out: TextIO) -> int:
    """`foc chaincode define`: the definition's version is the expected TA measurement."""
    if args.ta is not None:
        from foc.confidential.measurement import ta_measurement

        if not args.ta.is_file():
            raise UsageError(f"TA file {args.ta} does not exist")
        version = ta_measurement(args.ta).hex()
        source = f"measured offline from {args.ta}"
    else:
        version = args.version.lower()
        source = "given"
    definition = define_chaincode(args.chaincode_id, version, args.channel)
    print(
        f"defined chaincode {definition.chaincode_id} on channel {definition.channel_id}, "
        f"version (TA measurement, {source}) {definition.version}",
        file=out,
    )
    print(f"  stored in {DefinitionStore().path(definition.chaincode_id)}", file=out)
    return 0


# -- enclave --------------------------------------------------------------------------------------


def cmd_enclave_create(args: argparse.Namespace, out: TextIO) -> int:
    """`foc enclave create`: FOC_CMD_ENCLAVE_CREATE through the proxy; writes the credentials file."""
    from foc.proxy.client import ProxyClient

    proxy_address = getattr(args, "proxy", None)
    if not proxy_address:
        raise UsageError("foc enclave create needs --proxy HOST:PORT (the device's foc-proxy)")
    definition = DefinitionStore().get(args.chaincode)
    if definition.channel_id != args.channel:
        raise UsageError(
            f"chaincode {args.chaincode!r} is defined on channel {definition.channel_id!r}, "
            f"not {args.channel!r}",
            hint="foc chaincode define ... --channel CH to change the definition",
        )
    config = EnclaveConfig(
        definition.chaincode_id, definition.version, args.channel, args.endpoint, args.force
    )
    with ProxyClient(proxy_address) as proxy:
        raw = proxy.create_enclave(config.encode())
    credentials = Credentials.decode(raw)
    eid = compute_enclave_id(credentials.attested_data.enclave_pub)
    path = credentials_dir(definition.chaincode_id) / f"{eid}{CREDENTIALS_SUFFIX}"
    write_atomically(path, raw)
    print(f"created enclave {eid} for chaincode {definition.chaincode_id} at {args.endpoint}", file=out)
    print(
        f"  evidence {credentials.evidence.kind}, measurement {credentials.evidence.measurement.hex()}",
        file=out,
    )
    print(f"  credentials written to {path}", file=out)
    print(f"next: foc enclave register --chaincode {definition.chaincode_id} --enclave {eid}", file=out)
    return 0


def _credentials_for_register(args: argparse.Namespace) -> bytes:
    if args.credentials is not None:
        path = args.credentials
    elif args.enclave:
        path = credentials_dir(args.chaincode) / f"{args.enclave}{CREDENTIALS_SUFFIX}"
    else:
        candidates = sorted(
            credentials_dir(args.chaincode).glob(f"*{CREDENTIALS_SUFFIX}"), key=lambda p: p.stat().st_mtime
        )
        if not candidates:
            raise ConfigError(
                f"no credentials for chaincode {args.chaincode!r} in {credentials_dir(args.chaincode)}",
                hint="run `foc enclave create` first, or pass --credentials FILE",
            )
        path = candidates[-1]  # the enclave created last
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read credentials {path}: {exc.strerror}") from None


def _ledger(args: argparse.Namespace, channel: str):  # noqa: ANN202 - DevLedger, imported lazily
    from foc.cli.main import default_ledger_path
    from foc.ledger.ledger import DevLedger

    return DevLedger(getattr(args, "ledger", None) or default_ledger_path(), channel=channel)


def cmd_enclave_register(args: argparse.Namespace, out: TextIO) -> int:
    """`foc enclave register`: registerEnclave on `ercc` (dev ledger, or Fabric with --gateway)."""
    from foc.ledger.peer import DevPeer

    if args.gateway and args.allow_insecure_native:
        raise UsageError(
            "--allow-insecure-native is decided by the registry that serves ercc, not by this client",
            hint="start it with `foc serve --kind ercc --allow-insecure-native` (development only)",
        )
    definition = DefinitionStore().get(args.chaincode)
    raw = _credentials_for_register(args)
    credentials = Credentials.decode(raw)
    eid = compute_enclave_id(credentials.attested_data.enclave_pub)
    if args.gateway:
        return _register_over_gateway(args, definition.channel_id, raw, eid, out)
    registry = EnclaveRegistry(
        DefinitionStore(), DeviceStore(), allow_insecure_native=args.allow_insecure_native
    )
    with _ledger(args, definition.channel_id) as ledger:
        tx = DevPeer(ledger, {REGISTRY_NAME: registry}).invoke(
            REGISTRY_NAME, ["registerEnclave", base64.b64encode(raw).decode()]
        )
    if not tx.committed:
        raise VerificationError(f"the registry refused enclave {eid}: {tx.response.message}")
    print(f"registered enclave {eid} for chaincode {args.chaincode} (tx {tx.tx_id})", file=out)
    return 0


def _gateway_channel(args: argparse.Namespace, defined: str | None) -> str:
    channel = args.channel or defined
    if not channel:
        raise ConfigError("--gateway needs --channel CH (or $FOC_FABRIC_CHANNEL)")
    if defined and channel != defined:
        raise UsageError(
            f"chaincode {args.chaincode!r} is defined on channel {defined!r}, not {channel!r}",
            hint="foc chaincode define ... --channel CH to change the definition",
        )
    return channel


def _register_over_gateway(args: argparse.Namespace, defined: str, raw: bytes, eid: str, out: TextIO) -> int:
    """Submit registerEnclave to the `ercc` chaincode through a peer's gateway."""
    from foc.cli.main import open_gateway
    from foc.client.gateway import GatewayContract

    channel = _gateway_channel(args, defined)
    with open_gateway(args) as client:
        registry = GatewayContract(client, channel, REGISTRY_NAME)
        try:
            registry.invoke("registerEnclave", [base64.b64encode(raw)])
        except EndorsementFailure as exc:
            raise VerificationError(f"the registry refused enclave {eid}: {exc.chaincode_message}") from None
    print(
        f"registered enclave {eid} for chaincode {args.chaincode} on channel {channel} "
        f"(tx {registry.last_tx_id}, block {registry.last_block})",
        file=out,
    )
    return 0


def _list_on_dev_ledger(args: argparse.Namespace) -> list[str]:
    from foc.cli.main import default_ledger_path
    from foc.ledger.peer import DevPeer

    path = getattr(args, "ledger", None) or default_ledger_path()
    if not Path(path).exists():
        raise LedgerError(f"no ledger at {path}", hint="register an enclave first or pass --ledger")
    registry = EnclaveRegistry(DefinitionStore(), DeviceStore())
    with _ledger(args, None) as ledger:  # type: ignore[arg-type]
        tx = DevPeer(ledger, {REGISTRY_NAME: registry}).query(
            REGISTRY_NAME, ["queryListEnclaveCredentials", args.chaincode]
        )
    if not tx.response.endorsed:
        raise VerificationError(f"the registry refused the query: {tx.response.message}")
    return list(json.loads(tx.response.payload or b"[]"))


def _list_over_gateway(args: argparse.Namespace) -> list[str]:
    from foc.cli.main import open_gateway
    from foc.client.gateway import GatewayContract

    found = DefinitionStore().find(args.chaincode)
    channel = _gateway_channel(args, found.channel_id if found is not None else None)
    with open_gateway(args) as client:
        try:
            payload = GatewayContract(client, channel, REGISTRY_NAME).query(
                "queryListEnclaveCredentials", [args.chaincode]
            )
        except EndorsementFailure as exc:
            raise VerificationError(f"the registry refused the query: {exc.chaincode_message}") from None
    return list(json.loads(payload or b"[]"))


def cmd_enclave_list(args: argparse.Namespace, out: TextIO) -> int:
    """`foc enclave list`: the enclaves registered for a chaincode (dev ledger, or --gateway)."""
    if args.gateway:
        entries = _list_over_gateway(args)
    else:
        entries = _list_on_dev_ledger(args)
    if not entries:
        print(f"no enclaves registered for chaincode {args.chaincode}", file=out)
    for entry in entries:
        credentials = Credentials.decode(base64.b64decode(entry))
        attested = credentials.attested_data
        print(
            f"{compute_enclave_id(attested.enclave_pub)}\t{attested.host_endpoint}\t"
            f"{credentials.evidence.kind}\tchannel={attested.channel_id}",
            file=out,
        )
    return 0
