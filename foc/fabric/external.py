"""FOC's external builder: the four programs a Fabric peer runs for a peer-launched FOC chaincode.

The peer names the builder in core.yaml (`chaincode.externalBuilders`: name `foc`, path
`<foc>/foc/fabric/builder`, `propagateEnvironment: [FOC_PYTHON]`) and runs its scripts, each a
one-line `exec "${FOC_PYTHON:-python3}" -m foc.fabric.external STEP "$@"`, as Fabric's external
builder API says (Fabric docs, "External Builders and Launchers"; core/container/externalbuilder):

    bin/detect  CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR            exit 0: a FOC package (type "foc")
    bin/build   CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR BUILD_OUTPUT_DIR
                                     check foc.json; BUILD_OUTPUT_DIR gets foc.json (+ proxy-ca.pem)
    bin/release BUILD_OUTPUT_DIR RELEASE_OUTPUT_DIR                  nothing to release: no
                                     chaincode/server/connection.json, so the peer calls run
    bin/run     BUILD_OUTPUT_DIR RUN_METADATA_DIR                    run the chaincode: dial the peer

CHAINCODE_SOURCE_DIR is code.tar.gz unpacked (foc.json), CHAINCODE_METADATA_DIR holds metadata.json.
`run` reads RUN_METADATA_DIR/chaincode.json: chaincode_id (the package id it registers with),
peer_address (the peer's ChaincodeSupport listener), client_cert, client_key, root_cert (PEM; empty
client_cert = no TLS), mspid; it must not cache them. It serves until the peer ends the stream; the
peer runs it again for the next transaction. Inputs are read-only; only BUILD_OUTPUT_DIR and
RELEASE_OUTPUT_DIR are written. Errors go to stderr (the peer logs them) with a non-zero exit.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from foc.errors import FocError, UsageError
from foc.fabric.package import LAUNCH_FILE, LAUNCH_TYPE
from foc.text import configure_logging, shown

CA_FILE = "proxy-ca.pem"  # the proxy's pinned certificate, written by build from foc.json
BUILDER_DIR = Path(__file__).resolve().parent / "builder"  # what core.yaml's externalBuilders path names


def _metadata_type(metadata_dir: Path) -> str:
    try:
        doc = json.loads((metadata_dir / "metadata.json").read_text())
    except (OSError, ValueError):
        return ""
    return str(doc.get("type", "")).lower() if isinstance(doc, dict) else ""


def detect(source_dir: Path, metadata_dir: Path) -> int:
    """0 when the package is a FOC peer-launched package (metadata type "foc" and a foc.json)."""
    return 0 if _metadata_type(metadata_dir) == LAUNCH_TYPE and (source_dir / LAUNCH_FILE).is_file() else 1


def build(source_dir: Path, metadata_dir: Path, output_dir: Path) -> int:
    """Check foc.json and put it (and the proxy's CA as a file) into the build output."""
    from foc.fabric.hosted import HostedSettings

    if _metadata_type(metadata_dir) != LAUNCH_TYPE:
        raise UsageError(f"metadata.json of this package does not say type {LAUNCH_TYPE!r}")
    try:
        doc = json.loads((source_dir / LAUNCH_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"the package's {LAUNCH_FILE} is unreadable: {exc}") from None
    HostedSettings.from_json(doc)  # refuses what run could not start
    if isinstance(doc.get("proxy_tls_ca"), str):
        (output_dir / CA_FILE).write_text(doc["proxy_tls_ca"])
    shutil.copyfile(source_dir / LAUNCH_FILE, output_dir / LAUNCH_FILE)
    print(f"foc: built a {doc['kind']} chaincode ({doc.get('name', '-')})", file=sys.stderr)
    return 0


def release(build_dir: Path, release_dir: Path) -> int:
    """Nothing to release: no connection.json (the chaincode dials the peer), no CouchDB indexes."""
    if not (build_dir / LAUNCH_FILE).is_file():
        raise UsageError(f"{build_dir} holds no {LAUNCH_FILE}: the build step did not run")
    return 0


def run(build_dir: Path, run_metadata_dir: Path) -> int:
    """Start the chaincode and serve the peer until it ends the stream (then exit 0)."""
    from foc.fabric.client import ClientTls, PeerConnection
    from foc.fabric.hosted import hosted_chaincode, read_launch

    settings = read_launch(build_dir / LAUNCH_FILE, ca_file=build_dir / CA_FILE)
    try:
        meta = json.loads((run_metadata_dir / "chaincode.json").read_text())
        package_id, peer = str(meta["chaincode_id"]), str(meta["peer_address"])
        pems = [str(meta.get(k) or "") for k in ("client_cert", "client_key", "root_cert")]
        client_cert, client_key, root_cert = pems
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"the peer's run metadata (chaincode.json) is unusable: {exc!r}") from None
    tls = ClientTls(root_cert.encode(), client_cert.encode(), client_key.encode()) if client_cert else None
    chaincode, close = hosted_chaincode(settings)
    connection = PeerConnection(chaincode, package_id, peer, tls=tls)

    def stop(signum: int, frame: FrameType | None) -> None:
        connection.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"foc: {settings.kind} chaincode {package_id} dials the peer at {peer}", file=sys.stderr)
    try:
        connection.run()
    finally:
        close()
    return 0


Step = Callable[..., int]
STEPS: dict[str, tuple[Step, int]] = {
    "detect": (detect, 2),
    "build": (build, 3),
    "release": (release, 2),
    "run": (run, 2),
}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m foc.fabric.external STEP DIR...` (what the bin/ scripts exec)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in STEPS or len(args) - 1 != STEPS[args[0]][1]:
        usage = ", ".join(f"{name} ({n} directories)" for name, (_, n) in STEPS.items())
        print(f"usage: python -m foc.fabric.external STEP DIR...; steps: {usage}", file=sys.stderr)
        return 2
    step, count = STEPS[args[0]]
    configure_logging(logging.INFO)
    try:
        return step(*(Path(a) for a in args[1 : 1 + count]))
    except FocError as exc:
        print(f"foc {args[0]}: {shown(str(exc))}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
