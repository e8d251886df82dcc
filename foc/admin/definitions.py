"""Chaincode definitions: id, version (= expected TA measurement), channel, the TA's uuid, and for
a chaincode endorsed by several devices, those devices with their organisations and the endorsement
policy.

On Fabric these come from `_lifecycle` (FPC pins MRENCLAVE as the definition's version; the
endorsement policy is part of the definition every organisation approves). Here they are a small
JSON file per chaincode, ``$FOC_HOME/chaincodes/<chaincode_id>/definition.json``::

    {"chaincode_id": "coffee", "version": "<64 hex chars>", "channel_id": "dev",
     "ta_uuid": "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9",                        # optional
     "devices": [{"fingerprint": "<64 hex>", "organisation": "Org1"}, ...],   # optional
     "endorsement_policy": "OutOf(2, 'Org1', 'Org2', 'Org3')"}                # optional

`ta_uuid` names the TA that is the chaincode's enclave on a device that hosts several (the proxy
selects it per request); a definition without one (written before devices hosted several TAs) means
FOC's coffee TA.

`devices` is the chaincode's key policy (docs/confidential.md, "Several devices"): the devices
whose enclaves may hold its keys, the only ones the registry admits, each for one organisation.
With no devices, any enrolled device may host the (single) enclave and the keys never leave it.
"""

from __future__ import annotations

import json
import re
import uuid as _uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from foc.admin.endorsement import Policy, parse_policy
from foc.admin.home import check_name, foc_home, write_atomically
from foc.confidential.formats import MAX_TRUSTED_DEVICES, KeyPolicy
from foc.errors import ConfigError, UsageError

_MEASUREMENT_HEX = re.compile(r"^[0-9a-f]{64}$")
#: FOC's coffee TA (ta/include/foc_ta.h): the TA of a definition that names none.
DEFAULT_TA_UUID = "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9"


@dataclass(frozen=True)
class DefinedDevice:
    """A device that may host an enclave of the chaincode: its key fingerprint and organisation."""

    fingerprint: str  # lowercase hex SHA-256 of the device key's DER SubjectPublicKeyInfo
    organisation: str

    def __post_init__(self) -> None:
        if not _MEASUREMENT_HEX.match(self.fingerprint):
            raise UsageError("a device fingerprint is 64 lowercase hex characters (SHA-256 of its key)")
        check_name("organisation", self.organisation)


@dataclass(frozen=True)
class ChaincodeDefinition:
    """What a confidential chaincode must be: its id, TA measurement (hex), channel and TA uuid; for
    several devices, which ones (with their organisations) and the endorsement policy over
    organisations."""

    chaincode_id: str
    version: str
    channel_id: str
    devices: tuple[DefinedDevice, ...] = ()
    endorsement_policy: str = ""  # Fabric syntax (foc.admin.endorsement); "" = any one enclave
    ta_uuid: str = DEFAULT_TA_UUID
    policy: Policy | None = field(default=None, init=False, repr=False, compare=False)

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
        fingerprints = [d.fingerprint for d in self.devices]
        if len(set(fingerprints)) != len(fingerprints) or len(fingerprints) > MAX_TRUSTED_DEVICES:
            raise UsageError(f"a chaincode names each device once, at most {MAX_TRUSTED_DEVICES} devices")
        if self.endorsement_policy:
            policy = parse_policy(self.endorsement_policy)
            unknown = policy.organisations() - {d.organisation for d in self.devices}
            if unknown:
                raise UsageError(
                    f"the endorsement policy names organisation(s) {', '.join(sorted(unknown))} "
                    "with no device in the definition",
                    hint="add each organisation's device (foc chaincode define --device NAME:ORG)",
                )
            object.__setattr__(self, "policy", policy)

    @property
    def measurement(self) -> bytes:
        """The expected TA measurement as 32 bytes."""
        return bytes.fromhex(self.version)

    @property
    def ta_uuid_bytes(self) -> bytes:
        """The TA's uuid as the 16 bytes a proxy request (chaincode_uuid) carries."""
        return _uuid.UUID(self.ta_uuid).bytes

    def key_policy(self) -> KeyPolicy:
        """The key policy every enclave of this chaincode attests: its devices' key ids."""
        return KeyPolicy.of(d.fingerprint for d in self.devices)

    def organisation_of(self, fingerprint: str) -> str | None:
        """The organisation of a defined device; "" when the definition names no devices; None for
        a device it does not name."""
        if not self.devices:
            return ""
        return next((d.organisation for d in self.devices if d.fingerprint == fingerprint), None)

    def to_json(self) -> dict[str, object]:
        """The JSON object of definition.json (optional fields only when set; the TA uuid always)."""
        out: dict[str, object] = {
            "chaincode_id": self.chaincode_id,
            "version": self.version,
            "channel_id": self.channel_id,
            "ta_uuid": self.ta_uuid,
        }
        if self.devices:
            out["devices"] = [
                {"fingerprint": d.fingerprint, "organisation": d.organisation} for d in self.devices
            ]
        if self.endorsement_policy:
            out["endorsement_policy"] = self.endorsement_policy
        return out

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> ChaincodeDefinition:
        """Parse definition.json's object (KeyError, TypeError, UsageError when malformed); no
        `ta_uuid` means FOC's coffee TA."""
        devices = raw.get("devices") or []
        if not isinstance(devices, list):
            raise TypeError("devices must be a list")
        return cls(
            str(raw["chaincode_id"]),
            str(raw["version"]),
            str(raw["channel_id"]),
            tuple(DefinedDevice(str(d["fingerprint"]), str(d["organisation"])) for d in devices),
            str(raw.get("endorsement_policy") or ""),
            str(raw.get("ta_uuid") or DEFAULT_TA_UUID),
        )


class DefinitionStore:
    """Chaincode definitions under ``<home>/chaincodes``."""

    def __init__(self, home: Path | None = None) -> None:
        self.root = (home or foc_home()) / "chaincodes"

    def path(self, chaincode_id: str) -> Path:
        return self.root / check_name("chaincode id", chaincode_id) / "definition.json"

    def put(self, definition: ChaincodeDefinition) -> None:
        """Store (or replace: an upgrade) a chaincode definition."""
        data = json.dumps(definition.to_json(), indent=2, sort_keys=True) + "\n"
        write_atomically(self.path(definition.chaincode_id), data.encode())

    def find(self, chaincode_id: str) -> ChaincodeDefinition | None:
        """The definition of `chaincode_id`, or None if there is none."""
        path = self.path(chaincode_id)
        try:
            return ChaincodeDefinition.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError, UsageError) as exc:
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
    devices: Sequence[DefinedDevice] = (),
    endorsement_policy: str = "",
    ta_uuid: str | _uuid.UUID | None = None,
) -> ChaincodeDefinition:
    """Write a chaincode definition (what `_lifecycle approve/commit` does on Fabric).

    `devices` (fingerprint, organisation) may host its enclaves and receive its keys;
    `endorsement_policy` (Fabric syntax over their organisations) says whose enclaves must agree;
    `ta_uuid` names its TA (default FOC's coffee TA). Raises UsageError for a malformed version,
    device, policy or uuid.
    """
    definition = ChaincodeDefinition(
        chaincode_id,
        version.lower(),
        channel_id,
        tuple(devices),
        endorsement_policy,
        str(ta_uuid) if ta_uuid else DEFAULT_TA_UUID,
    )
    DefinitionStore(home).put(definition)
    return definition
