"""The chaincode TAs a device carries: FOC's coffee, the example chaincodes, and those given to a build.

    ta = chaincode_ta(Path("counter/build/<uuid>.ta"))   # uuid: its .ta_head; name: chaincode.json
    proxy_toml([(str(ta.uuid), ta.name), ...])            # the guest proxy's [[ta]] list (--config)

Every image (qemu, rpi3) installs each TA in `/lib/optee_armtz` and lists it in `/etc/foc/proxy.toml`, so
the guest's foc-proxy serves all of them, one pool each (`foc.proxy.config`). `foc-deploy TARGET build
--ta FILE.ta` adds a chaincode project's TA (`foc chaincode build`); its name comes from the
`chaincode.json` the build wrote beside it, else the TA's uuid.
"""

from __future__ import annotations

import json
import re
import uuid as _uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from foc.errors import UsageError

#: The chaincode projects built into every image beside coffee (their TAs, their names).
SHIPPED_CHAINCODES = ("examples/auction",)
COFFEE = "coffee"
PROXY_TAS_FILE = "proxy.toml"  # /etc/foc/proxy.toml in the guest; beside the TAs in share/ta
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # what foc-proxy accepts as a TA's name


@dataclass(frozen=True)
class ChaincodeTa:
    """A signed chaincode TA: its file, the uuid it declares, its name (for the proxy's logs and
    Health), and its host-native library when the build beside it made one."""

    path: Path
    uuid: _uuid.UUID
    name: str
    native_lib: Path | None = None

    def to_json(self) -> dict[str, str]:
        return {"file": f"{self.uuid}.ta", "uuid": str(self.uuid), "name": self.name}


def chaincode_ta(path: str | Path) -> ChaincodeTa:
    """Describe the signed TA at `path` (UsageError if it is not one, or not named <uuid>.ta)."""
    from foc.confidential.measurement import ta_uuid
    from foc.errors import MeasurementError

    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise UsageError(f"no TA file at {path}", hint="`foc chaincode build DIR` writes DIR/build/<uuid>.ta")
    try:
        declared = ta_uuid(path)
    except MeasurementError as exc:
        raise UsageError(f"{path} is not a signed TA: {exc.message}") from None
    if path.name != f"{declared}.ta":
        raise UsageError(
            f"{path} declares TA {declared}; OP-TEE loads it only as {declared}.ta",
            hint=f"rename it to {declared}.ta",
        )
    name, native = str(declared), None
    record = path.parent / "chaincode.json"
    try:
        data = json.loads(record.read_text())
        if str(data.get("ta_uuid")) == str(declared):
            name = str(data["name"])
            native = path.parent / str(data["native_lib"]) if data.get("native_lib") else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # a bare .ta: named by its uuid
    if not _NAME.match(name):
        raise UsageError(f"{record} names the chaincode {name!r}: letters, digits, '.', '_', '-' only")
    return ChaincodeTa(path, declared, name, native if native is not None and native.is_file() else None)


def check_distinct(tas: Sequence[ChaincodeTa]) -> None:
    """UsageError when two TAs share a uuid or a name (a device serves each once)."""
    for what, values in (("uuid", [str(t.uuid) for t in tas]), ("name", [t.name for t in tas])):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise UsageError(f"chaincode TA {what} {', '.join(twice)} is given twice")


def proxy_toml(entries: Sequence[tuple[str, str]]) -> str:
    """The [[ta]] tables (uuid, name) foc-proxy --config reads (foc.proxy.config.load_ta_file)."""
    lines = ["# The chaincode TAs of this device: foc-proxy serves each with its own pool of sessions."]
    for uuid, name in entries:
        lines += ["", "[[ta]]", f'uuid = "{_uuid.UUID(uuid)}"', f"name = {json.dumps(name)}"]
    return "\n".join(lines) + "\n"
