"""`foc device|chaincode|enclave`: confidential-mode administration (registered by foc.cli.main).

    foc device enroll NAME (--from-proxy HOST:PORT | --key PEM) [--replace]
    foc device list
    foc chaincode new NAME [--dir DIR]              a chaincode project (C on foc_chaincode.h, own TA uuid)
    foc chaincode build DIR [--target qemu|rpi3] [--native-only]
                                                    its signed .ta and host-native library
    foc chaincode define --id ID (--version HEX | --ta PATH.ta | --native-insecure | --target qemu|rpi3)
                         --channel CH [--ta-uuid U] [--instance NAME]
                         [--device NAME:ORG ...] [--policy "OutOf(2, 'Org1', 'Org2', 'Org3')"]
    foc chaincode show --id ID [--field version]
    foc enclave create [--force | --rekey] --chaincode ID --channel CH --endpoint HOST:PORT --proxy HOST:PORT
    foc enclave join --chaincode ID --channel CH --endpoint HOST:PORT --proxy HOST:PORT --from-proxy HOST:PORT
                     [--rekey]
    foc enclave register --chaincode ID [--enclave ENCLAVE_ID | --credentials FILE] [--allow-insecure-native]
    foc enclave revoke --chaincode ID --enclave ENCLAVE_ID
    foc enclave list --chaincode ID
    foc enclave register|revoke|list ... --gateway HOST:PORT --msp-dir DIR --mspid ID [--tls-root-cert F]
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
from pathlib import Path
from typing import TextIO

from foc.cli.options import CliParser, add_gateway_options, add_ledger_option, gateway_arguments
from foc.client.network import Network, connect, default_ledger_path
from foc.errors import ConfigError, LedgerError, UsageError
from foc.text import shown

COMMANDS = ("device", "chaincode", "enclave")


def register_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the `device`, `chaincode` and `enclave` subcommands to `foc`'s subparsers."""
    device = sub.add_parser("device", help="enroll device attestation keys (confidential mode)")
    dsub = device.add_subparsers(dest="device_command", metavar="ACTION", parser_class=CliParser)
    dsub.required = True
    enroll = dsub.add_parser("enroll", help="pin a device's attestation public key (trust on first use)")
    enroll.add_argument("name", help="device name, e.g. qemu-1")
    source = enroll.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-proxy", metavar="HOST:PORT", help="read the key from the device's foc-proxy")
    source.add_argument("--key", type=Path, metavar="PEM", help="a PEM (or DER) public key file")
    enroll.add_argument("--replace", action="store_true", help="re-key an already enrolled device name")
    dsub.add_parser("list", help="print the enrolled devices and their key fingerprints")

    chaincode = sub.add_parser("chaincode", help="confidential chaincode definitions")
    csub = chaincode.add_subparsers(dest="chaincode_command", metavar="ACTION", parser_class=CliParser)
    csub.required = True
    new = csub.add_parser(
        "new",
        help="write a new chaincode project: C source, Makefile, README, host-native test, fresh TA uuid",
    )
    new.add_argument("name", help="chaincode name (letters, digits, '-', '_'; starts with a letter)")
    new.add_argument("--dir", type=Path, help="where to write it (default ./NAME; never inside FOC's tree)")
    new.add_argument("--uuid", help="the TA's uuid (default: a fresh random one, uuid4)")
    build = csub.add_parser(
        "build", help="build a chaincode project: its signed .ta and its host-native library for the tests"
    )
    build.add_argument("directory", type=Path, help="the project directory (foc chaincode new)")
    build.add_argument(
        "--target",
        choices=("qemu", "rpi3"),
        default="qemu",
        help="whose OP-TEE TA dev kit to use: the last image build of this target (default %(default)s)",
    )
    build.add_argument(
        "--native-only", action="store_true", help="only the host-native library (no dev kit needed)"
    )
    define = csub.add_parser("define", help="define (or upgrade) a confidential chaincode")
    define.add_argument("--id", required=True, dest="chaincode_id", help="chaincode id, e.g. coffee")
    version = define.add_mutually_exclusive_group(required=True)
    version.add_argument("--version", help="the expected TA measurement (64 hex characters)")
    version.add_argument(
        "--ta", type=Path, metavar="PATH.ta", help="compute the measurement from a signed .ta"
    )
    version.add_argument(
        "--native-insecure",
        action="store_true",
        help="the host-native build's fixed native-insecure-v1 measurement (NOT a TEE: development only)",
    )
    version.add_argument(
        "--target",
        choices=("qemu", "rpi3"),
        help="measure the TA (--ta-uuid, default coffee) of the image this target's running instance booted",
    )
    define.add_argument("--instance", default="default", help="--target: its instance (default %(default)s)")
    define.add_argument("--channel", required=True, help="channel id")
    define.add_argument(
        "--ta-uuid",
        help="the chaincode's TA on the device (default: the --ta file's uuid, else FOC's coffee TA)",
    )
    define.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="NAME:ORG",
        help="an enrolled device that may host an enclave (and receive the keys) for organisation ORG; "
        "repeat for several devices",
    )
    define.add_argument(
        "--policy",
        default="",
        metavar="EXPR",
        help="endorsement policy over the devices' organisations, Fabric syntax: \"OutOf(2, 'Org1', 'Org2', "
        "'Org3')\", \"AND('Org1', 'Org2')\" (default: any one registered enclave)",
    )
    show = csub.add_parser("show", help="print a chaincode definition (JSON), or one of its fields")
    show.add_argument("--id", required=True, dest="chaincode_id", help="chaincode id, e.g. coffee")
    show.add_argument(
        "--field",
        choices=("chaincode_id", "version", "channel_id", "ta_uuid", "endorsement_policy"),
        help="print only this field's value",
    )

    enclave = sub.add_parser("enclave", help="create, register and list enclaves")
    esub = enclave.add_subparsers(dest="enclave_command", metavar="ACTION", parser_class=CliParser)
    esub.required = True
    create = esub.add_parser("create", help="create the enclave in the TA behind a foc-proxy")
    mode = create.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="replace an existing enclave (new enclave key)")
    mode.add_argument(
        "--rekey",
        action="store_true",
        help="replace the enclave AND the chaincode keys (a new chaincode: state written under the old "
        "keys is lost to this device)",
    )
    join = esub.add_parser(
        "join", help="an enclave on another device, its keys from a registered one by attested key transfer"
    )
    join.add_argument(
        "--rekey", action="store_true", help="let the joining TA replace chaincode keys it already holds"
    )
    join.add_argument(
        "--from-proxy", required=True, metavar="HOST:PORT", help="the foc-proxy of a device holding the keys"
    )
    for command in (create, join):
        command.add_argument("--chaincode", required=True, help="chaincode id (must be defined)")
        command.add_argument("--channel", required=True, help="channel id (must match the definition)")
        command.add_argument(
            "--endpoint", required=True, metavar="HOST:PORT", help="the enclave's host endpoint"
        )
        command.add_argument(
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
    add_ledger_option(register)
    add_gateway_options(register)
    revoke = esub.add_parser("revoke", help="revoke a registered enclave: its later signatures are refused")
    revoke.add_argument("--chaincode", required=True, help="chaincode id")
    revoke.add_argument("--enclave", required=True, metavar="ENCLAVE_ID", help="the enclave to revoke")
    add_ledger_option(revoke)
    add_gateway_options(revoke)
    listing = esub.add_parser("list", help="list the registered enclaves of a chaincode")
    listing.add_argument("--chaincode", required=True, help="chaincode id")
    add_ledger_option(listing)
    add_gateway_options(listing)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Dispatch one admin command; returns the exit code (errors raise FocError)."""
    if args.command == "device":
        return cmd_device_list(out) if args.device_command == "list" else cmd_device_enroll(args, out, err)
    if args.command == "chaincode":
        if args.chaincode_command == "show":
            return cmd_chaincode_show(args, out)
        if args.chaincode_command == "new":
            return cmd_chaincode_new(args, out)
        if args.chaincode_command == "build":
            return cmd_chaincode_build(args, out)
        return cmd_chaincode_define(args, out)
    action = args.enclave_command
    if action in ("create", "join"):
        return cmd_enclave_create(args, out)
    if action == "register":
        return cmd_enclave_register(args, out)
    if action == "revoke":
        return cmd_enclave_revoke(args, out)
    return cmd_enclave_list(args, out)


def _home_only() -> Network:
    """A network for the commands that only touch FOC home (the ledger file is never opened)."""
    return connect()


# -- device ---------------------------------------------------------------------------------------


def cmd_device_enroll(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`foc device enroll`: pin a key, print its fingerprint and what trusting it means."""
    key: bytes | None = None
    if args.key is not None:
        try:
            key = args.key.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read the key file {args.key}: {exc.strerror}") from None
    with connect(proxy=args.from_proxy) as net:
        device = net.enroll_device(args.name, key=key, replace=args.replace)
        insecure = key is None and net.insecure_native
        path = net.devices.path(device.name)
    print(f"enrolled device {device.name}: RSA-{device.public_key.key_size}", file=out)
    print(f"  SHA-256 fingerprint {device.fingerprint}", file=out)
    print(f"  stored in {path}", file=out)
    print(
        "trust on first use: OP-TEE's attestation key has no vendor certificate, so from now on any\n"
        f"evidence signed with this key is accepted as coming from device {device.name}. Compare the\n"
        "fingerprint with one read on the device itself over a channel you trust before relying on it.",
        file=out,
    )
    if insecure:
        print(
            "warning: this is the PUBLISHED native-insecure test key of the host-native build, not a\n"
            "device: anyone can sign with it. Registration accepts it only with --allow-insecure-native.",
            file=err,
        )
    return 0


def cmd_device_list(out: TextIO) -> int:
    """`foc device list`."""
    with _home_only() as net:
        devices = list(net.devices.devices())
        if not devices:
            print(f"no devices enrolled (in {net.devices.root})", file=out)
    for device in devices:
        print(f"{device.name}\tRSA-{device.public_key.key_size}\t{device.fingerprint}", file=out)
    return 0


# -- chaincode ------------------------------------------------------------------------------------


def cmd_chaincode_define(args: argparse.Namespace, out: TextIO) -> int:
    """`foc chaincode define`: the definition's version is the expected TA measurement."""
    with _home_only() as net:
        version = args.version.lower() if args.version else None
        if args.native_insecure:
            from foc.confidential.measurement import NATIVE_INSECURE_MEASUREMENT

            version = NATIVE_INSECURE_MEASUREMENT.hex()
        if args.target is not None:
            from foc.deploy.api import expected_ta_measurement

            version = expected_ta_measurement(args.target, instance=args.instance, ta_uuid=args.ta_uuid).hex()
        devices = {}
        for item in args.device:
            name, sep, org = item.partition(":")
            if not sep or not name or not org:
                raise UsageError(f"--device takes NAME:ORG, got {shown(item)}")
            devices[name] = org
        definition = net.define_chaincode(
            args.chaincode_id,
            version=version,
            ta=args.ta,
            channel=args.channel,
            ta_uuid=args.ta_uuid,
            devices=devices,
            endorsement_policy=args.policy,
        )
        path = net.definitions.path(definition.chaincode_id)
    if args.target is not None:
        source = f"measured offline from the TA of the image {args.target} ({args.instance}) booted"
    elif args.ta is not None:
        source = f"measured offline from {args.ta}"
    else:
        source = "native-insecure-v1: the host-native build, NOT a TEE" if args.native_insecure else "given"
    print(
        f"defined chaincode {definition.chaincode_id} on channel {definition.channel_id}, "
        f"version (TA measurement, {source}) {definition.version}",
        file=out,
    )
    print(f"  TA {definition.ta_uuid}", file=out)
    for device in definition.devices:
        print(f"  device {device.fingerprint} of organisation {device.organisation}", file=out)
    if definition.endorsement_policy:
        print(f"  endorsement policy {definition.endorsement_policy}", file=out)
    print(f"  stored in {path}", file=out)
    return 0


def cmd_chaincode_new(args: argparse.Namespace, out: TextIO) -> int:
    """`foc chaincode new NAME`: a chaincode project outside FOC's tree, with a fresh TA uuid."""
    import uuid

    from foc.errors import UsageError
    from foc.sdk.project import new_project

    try:
        ta_uuid = uuid.UUID(args.uuid) if args.uuid else None
    except ValueError:
        raise UsageError(f"--uuid {args.uuid!r} is not a uuid") from None
    project = new_project(args.name, args.dir, ta_uuid=ta_uuid)
    print(f"created chaincode project {project.name} in {project.root}", file=out)
    print(f"  TA uuid {project.ta_uuid}", file=out)
    for path in project.files:
        print(f"  {path.relative_to(project.root)}", file=out)
    print(f"next: foc chaincode build {shown(str(project.root))}", file=out)
    return 0


def cmd_chaincode_build(args: argparse.Namespace, out: TextIO) -> int:
    """`foc chaincode build DIR`: the signed .ta (OP-TEE's TA dev kit) and the host-native library."""
    from foc.sdk.project import build_project

    built = build_project(args.directory, target=args.target, native_only=args.native_only)
    print(f"built chaincode {built.name} (TA {built.ta_uuid})", file=out)
    if built.ta is not None and built.measurement is not None:
        print(f"  {built.ta}", file=out)
        print(f"  measurement {built.measurement.hex()}", file=out)
    print(f"  {built.native_lib} (host-native, NOT a TEE: for the tests)", file=out)
    return 0


def cmd_chaincode_show(args: argparse.Namespace, out: TextIO) -> int:
    """`foc chaincode show`: the definition from $FOC_HOME (e.g. its version for `peer lifecycle`)."""
    import json

    with _home_only() as net:
        definition = net.definitions.get(args.chaincode_id)
    if args.field:
        print(getattr(definition, args.field), file=out)
    else:
        print(json.dumps(definition.to_json(), indent=2, sort_keys=True), file=out)
    return 0


# -- enclave --------------------------------------------------------------------------------------


def cmd_enclave_create(args: argparse.Namespace, out: TextIO) -> int:
    """`foc enclave create` (FOC_CMD_ENCLAVE_CREATE through the proxy) and `foc enclave join` (the
    key transfer from the --from-proxy device's TA); both write the credentials file."""
    from foc.client.network import Organisation

    proxy_address = getattr(args, "proxy", None)
    if not proxy_address:
        raise UsageError(
            f"foc enclave {args.enclave_command} needs --proxy HOST:PORT (the device's foc-proxy)"
        )
    joining = args.enclave_command == "join"
    orgs = [Organisation("joining", proxy=proxy_address)]
    if joining:
        orgs.append(Organisation("holder", proxy=args.from_proxy))
    with connect(organisations=orgs) as net:
        definition = net.definitions.get(args.chaincode)
        if definition.channel_id != args.channel:
            raise UsageError(
                f"chaincode {args.chaincode!r} is defined on channel {definition.channel_id!r}, "
                f"not {args.channel!r}",
                hint="foc chaincode define ... --channel CH to change the definition",
            )
        if joining:
            info = net.join_enclave(
                args.chaincode,
                organisation="joining",
                source="holder",
                endpoint=args.endpoint,
                rekey=args.rekey,
            )
        else:
            info = net.create_enclave(
                args.chaincode,
                endpoint=args.endpoint,
                force=args.force,
                rekey=args.rekey,
                organisation="joining",
            )
    verb = "joined" if joining else "created"
    print(
        f"{verb} enclave {info.enclave_id} for chaincode {info.chaincode_id} at {shown(info.endpoint)}",
        file=out,
    )
    if joining:
        print("  its keys came by attested transfer from the enclave behind --from-proxy", file=out)
    print(f"  evidence {shown(info.evidence_kind)}, measurement {info.measurement}", file=out)
    print(f"  credentials written to {info.credentials_path}", file=out)
    print(f"next: foc enclave register --chaincode {info.chaincode_id} --enclave {info.enclave_id}", file=out)
    return 0


def _admin_network(args: argparse.Namespace, defined_channel: str | None) -> Network:
    """The registry's network: Fabric with --gateway (channel checked against the definition), else
    the dev ledger (--ledger) on the definition's channel."""
    if not args.gateway:
        return connect(
            ledger=getattr(args, "ledger", None) or default_ledger_path(),
            channel=defined_channel,
            allow_insecure_native=getattr(args, "allow_insecure_native", False),
        )
    channel = args.channel or defined_channel
    if not channel:
        raise ConfigError("--gateway needs --channel CH (or $FOC_FABRIC_CHANNEL)")
    if defined_channel and channel != defined_channel:
        raise UsageError(
            f"chaincode {args.chaincode!r} is defined on channel {defined_channel!r}, not {channel!r}",
            hint="foc chaincode define ... --channel CH to change the definition",
        )
    return connect(**gateway_arguments(args, channel))


def cmd_enclave_register(args: argparse.Namespace, out: TextIO) -> int:
    """`foc enclave register`: registerEnclave on `ercc` (dev ledger, or Fabric with --gateway)."""
    from foc.admin.credentials import read_credentials_file
    from foc.admin.definitions import DefinitionStore

    if args.gateway and args.allow_insecure_native:
        raise UsageError(
            "--allow-insecure-native is decided by the registry that serves ercc, not by this client",
            hint="start it with `foc serve --kind ercc --allow-insecure-native` (development only)",
        )
    definition = DefinitionStore().get(args.chaincode)
    raw = read_credentials_file(args.credentials) if args.credentials is not None else None
    with _admin_network(args, definition.channel_id) as net:
        done = net.register_enclave(args.chaincode, enclave=args.enclave, credentials=raw)
        if net.on_fabric:
            where = f" on channel {net.channel} (tx {done.tx_id}, block {done.block})"
        else:
            where = f" (tx {done.tx_id})"
    print(f"registered enclave {done.enclave_id} for chaincode {args.chaincode}{where}", file=out)
    return 0


def cmd_enclave_revoke(args: argparse.Namespace, out: TextIO) -> int:
    """`foc enclave revoke`: revokeEnclave on `ercc`; validators refuse the enclave's later signatures."""
    from foc.admin.definitions import DefinitionStore

    definition = DefinitionStore().get(args.chaincode)
    with _admin_network(args, definition.channel_id) as net:
        done = net.revoke_enclave(args.chaincode, args.enclave)
    print(f"revoked enclave {done.enclave_id} of chaincode {args.chaincode} (tx {done.tx_id})", file=out)
    return 0


def cmd_enclave_list(args: argparse.Namespace, out: TextIO) -> int:
    """`foc enclave list`: the enclaves registered for a chaincode (dev ledger, or --gateway), with
    their organisations and whether they were revoked."""
    from foc.admin.definitions import DefinitionStore

    found = DefinitionStore().find(args.chaincode)
    if not args.gateway:
        path = getattr(args, "ledger", None) or default_ledger_path()
        if not Path(path).exists():
            raise LedgerError(f"no ledger at {path}", hint="register an enclave first or pass --ledger")
    with _admin_network(args, None if not args.gateway else (found.channel_id if found else None)) as net:
        entries = net.enclaves(args.chaincode)
    if not entries:
        print(f"no enclaves registered for chaincode {args.chaincode}", file=out)
    for entry in entries:
        attested = entry.credentials.attested_data
        status = f"revoked (tx {shown(entry.revoked_by)})" if entry.revoked else "live"
        print(
            f"{entry.enclave_id}\t{shown(attested.host_endpoint)}\t"
            f"{shown(entry.credentials.evidence.kind)}\tchannel={shown(attested.channel_id)}\t"
            f"organisation={shown(entry.organisation) or '-'}\t{status}",
            file=out,
        )
    return 0
