"""Chaincode definitions: id, version (= expected TA measurement), channel, and the TA's uuid.

On Fabric these come from `_lifecycle` (FPC pins MRENCLAVE as the definition's version). Here they
are a small JSON file per chaincode, ``$FOC_HOME/chaincodes/<chaincode_id>/definition.json``::

    {"chaincode_id": "coffee", "version": "<64 hex chars>", "channel_id": "dev",
     "ta_uuid": "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9"}

`ta_uuid` names the TA that is the chaincode's enclave on a device that hosts several (the proxy
selects it per request); a definition without one (written before devices hosted several TAs) means
FOC's coffee TA.
"""

from __future__ import annotations

import json
import re
import uuid as _uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from foc.admin.home import check_name, foc_home, write_atomically
from foc.errors import ConfigError, UsageError

_MEASUREMENT_HEX = re.compile(r"^[0-9a-f]{64}$")
#: FOC's coffee TA (ta/include/foc_ta.h): the TA of a definition that names none.
DEFAULT_TA_UUID = "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9"


@dataclass(frozen=True)
class ChaincodeDefinition:
    """What a confidential chaincode must be: its id, TA measurement (hex), channel and TA uuid."""

    chaincode_id: str
    version: str
    channel_id: str
    ta_uuid: str = DEFAULT_TA_UUID

    def __post_init__(self) -> None:
        check_name("chaincode id", self.chaincode_id)
        check_name("channel id", self.channel_id)
        if not _MEASUREMENT_HEX.match(self.version):
            raise UsageError(
                "a confidential chaincode's version must be its TA measurement: 64 lowercase hex characters",
                hint="compute it with foc.confidential.measurement.ta_measurement(<file.ta>)",
            )
        try:
            canonical = str(_uuid.UUID(self.ta_uuid))
        except (ValueError, TypeError, AttributeError):
            raise UsageError(f"TA uuid {self.ta_uuid!r} is not a uuid") from None
        object.__setattr__(self, "ta_uuid", canonical)

    @property
    def measurement(self) -> bytes:
        """The expected TA measurement as 32 bytes."""
        return bytes.fromhex(self.version)

    @property
    def ta_uuid_bytes(self) -> bytes:
        """The TA's uuid as the 16 bytes a proxy request (chaincode_uuid) carries."""
        return _uuid.UUID(self.ta_uuid).bytes


class DefinitionStore:
    """Chaincode definitions under ``<home>/chaincodes``."""

    def __init__(self, home: Path | None = None) -> None:
        self.root = (home or foc_home()) / "chaincodes"

    def path(self, chaincode_id: str) -> Path:
        return self.root / check_name("chaincode id", chaincode_id) / "definition.json"

    def put(self, definition: ChaincodeDefinition) -> None:
        """Store (or replace: an upgrade) a chaincode definition."""
        data = json.dumps(asdict(definition), indent=2, sort_keys=True) + "\n"
        write_atomically(self.path(definition.chaincode_id), data.encode())

    def find(self, chaincode_id: str) -> ChaincodeDefinition | None:
        """The definition of `chaincode_id`, or None if there is none."""
        path = self.path(chaincode_id)
        try:
            raw = json.loads(path.read_text())
            return ChaincodeDefinition(
                raw["chaincode_id"], raw["version"], raw["channel_id"], raw.get("ta_uuid") or DEFAULT_TA_UUID
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, UsageError) as exc:
            raise ConfigError(f"chaincode definition {path} is malformed: {exc}") from exc

    def definitions(self) -> list[ChaincodeDefinition]:
        """Every stored definition, by chaincode id."""
        if not self.root.is_dir():
            return []
        found = (self.find(d.name) for d in sorted(self.root.iterdir()) if (d / "definition.json").is_file())
        return [d for d in found if d is not None]

    def get(self, chaincode_id: str) -> ChaincodeDefinition:
        """The definition of `chaincode_id`, or ConfigError naming the missing file."""
        found = self.find(chaincode_id)
        if found is None:
            raise ConfigError(f"chaincode {chaincode_id!r} has no definition ({self.path(chaincode_id)})")
        return found


def define_chaincode(
    chaincode_id: str,
    version: str,
    channel_id: str,
    *,
    home: Path | None = None,
    ta_uuid: str | _uuid.UUID | None = None,
) -> ChaincodeDefinition:
    """Write a chaincode definition (what `_lifecycle approve/commit` does on Fabric); `ta_uuid`
    names its TA (default FOC's coffee TA)."""
    definition = ChaincodeDefinition(
        chaincode_id, version.lower(), channel_id, str(ta_uuid) if ta_uuid else DEFAULT_TA_UUID
    )
    DefinitionStore(home).put(definition)
    return definition
