"""FOC's two chaincode packages for a Fabric peer, and their package id.

Chaincode-as-a-service, for Fabric's `ccaas` builder (the peer dials `foc serve`):

    <label>.tar.gz
      metadata.json   {"type": "ccaas", "label": "<label>"}
      code.tar.gz
        connection.json  {"address": ..., "dial_timeout": ..., "tls_required": <bool>, ...}

Peer-launched, for FOC's external builder (`foc/fabric/builder`, `foc.fabric.external`: the peer runs
the chaincode itself and it dials the peer):

    <label>.tar.gz
      metadata.json   {"type": "foc", "label": "<label>"}
      code.tar.gz
        foc.json         {"foc_launch": 1, "kind": ..., "name": ..., "proxy": ..., "home": ..., ...}

The package id is `<label>:<sha256 of the package file>`, so the archive is built reproducibly
(fixed order, mtimes, owners and gzip header): the same inputs always give the same id.
connection.json uses real JSON booleans (Fabric's Go struct has bool fields; the docs' "true"
string form is wrong).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foc.errors import UsageError

# Fabric's label rule (core/chaincode/persistence: LabelRegexp).
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_FIXED_MTIME = 0
LAUNCH_TYPE = "foc"  # metadata.json type FOC's external builder detects
LAUNCH_FILE = "foc.json"


@dataclass(frozen=True)
class ConnectionInfo:
    """connection.json: where and how the peer dials the chaincode server.

    `root_cert` is the CA (PEM) that signed the server's TLS certificate; with `client_auth_required`
    the peer presents `client_cert` / `client_key` (PEM). Every string may be a Go template filled
    from CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG by the ccaas builder (e.g. "{{.peername}}_cc:9999").
    """

    address: str
    dial_timeout: str = "10s"
    tls_required: bool = False
    client_auth_required: bool = False
    root_cert: str = ""
    client_cert: str = ""
    client_key: str = ""

    def validate(self) -> None:
        """`UsageError` for inputs the peer would reject or that cannot work."""
        host, sep, port = self.address.rpartition(":")
        if not sep or not host or not (port.isdigit() or "{{" in port):
            raise UsageError(f"chaincode address {self.address!r} must be host:port")
        if not _DURATION.match(self.dial_timeout):
            raise UsageError(f"dial_timeout {self.dial_timeout!r} must be a Go duration such as 10s")
        if self.tls_required and "BEGIN CERTIFICATE" not in self.root_cert:
            raise UsageError("TLS needs root_cert: the PEM CA that signed the chaincode server's certificate")
        if self.client_auth_required:
            if not self.tls_required:
                raise UsageError("client authentication needs TLS")
            if "BEGIN CERTIFICATE" not in self.client_cert or "PRIVATE KEY" not in self.client_key:
                raise UsageError("client authentication needs the peer's client_cert and client_key (PEM)")

    def to_json(self) -> dict[str, Any]:
        """The connection.json object (booleans as JSON booleans, empty PEM fields left out)."""
        doc: dict[str, Any] = {
            "address": self.address,
            "dial_timeout": self.dial_timeout,
            "tls_required": self.tls_required,
            "client_auth_required": self.client_auth_required,
        }
        for name in ("root_cert", "client_cert", "client_key"):
            value = getattr(self, name)
            if value:
                doc[name] = value
        return doc


def check_label(label: str) -> None:
    """`UsageError` unless `label` is a valid Fabric package label (e.g. foc_1.0)."""
    if not _LABEL.match(label):
        raise UsageError(
            f"package label {label!r} is not valid",
            hint="start with a letter or digit, then letters, digits, '.', '+', '-' or '_' (e.g. foc_1.0)",
        )


def _tar_gz(files: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = _FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=_FIXED_MTIME) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _json_bytes(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode()


def build_package(label: str, connection: ConnectionInfo) -> bytes:
    """The package file's bytes (deterministic for the same inputs)."""
    check_label(label)
    connection.validate()
    code = _tar_gz([("connection.json", _json_bytes(connection.to_json()))])
    metadata = _json_bytes({"type": "ccaas", "label": label})
    return _tar_gz([("metadata.json", metadata), ("code.tar.gz", code)])


def build_launch_package(label: str, launch: dict[str, Any]) -> bytes:
    """A peer-launched package (type "foc") with `launch` as foc.json (foc.fabric.hosted's
    `HostedSettings.to_json`, validated by `from_json` first); deterministic like `build_package`."""
    from foc.fabric.hosted import HostedSettings

    check_label(label)
    HostedSettings.from_json(launch)
    code = _tar_gz([(LAUNCH_FILE, _json_bytes(launch))])
    metadata = _json_bytes({"type": LAUNCH_TYPE, "label": label})
    return _tar_gz([("metadata.json", metadata), ("code.tar.gz", code)])


def write_launch_package(path: Path, label: str, launch: dict[str, Any]) -> str:
    """Write a peer-launched package to `path` and return its package id."""
    return _write(path, label, build_launch_package(label, launch))


def package_id(label: str, package: bytes) -> str:
    """`label:sha256(package)`, as `peer lifecycle chaincode calculatepackageid` prints it."""
    return f"{label}:{hashlib.sha256(package).hexdigest()}"


def write_package(path: Path, label: str, connection: ConnectionInfo) -> str:
    """Write the package to `path` and return its package id."""
    return _write(path, label, build_package(label, connection))


def _write(path: Path, label: str, data: bytes) -> str:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write the package to {path}: {exc.strerror}") from exc
    return package_id(label, data)


def read_package_id(path: Path) -> str:
    """The package id of an existing package file (label from its metadata.json)."""
    data = path.read_bytes()
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            member = tar.extractfile("metadata.json")
            if member is None:
                raise KeyError("metadata.json")
            metadata = json.loads(member.read())
    except (tarfile.TarError, KeyError, json.JSONDecodeError, OSError) as exc:
        raise UsageError(f"{path} is not a chaincode package with a metadata.json") from exc
    label = metadata.get("label") if isinstance(metadata, dict) else None
    if not isinstance(label, str):
        raise UsageError(f"{path}: metadata.json has no label")
    return package_id(label, data)
