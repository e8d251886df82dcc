"""The image manifest: every pinned input, tool version, option, step key and timing, as JSON.

Written next to the image (`manifest.json`) so an image can be traced back to exactly what went
into it: Debian binary packages (name, version, suite, arch, sha256; for pins fetched by
`AptArchive` also `origin`, mirror or snapshot, and `url`), source packages, the sha256 each pin
was checked against, wheels, host tool versions, OP-TEE / TF-A build options, and the key and
duration of each build step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from foc.deploy.targets.base import Target

MANIFEST_VERSION = 1


@dataclass
class StepResult:
    """How one step went in this build."""

    name: str
    key: str
    cached: bool
    seconds: float  # in this build (about 0 when cached)
    built_seconds: float | None = None  # how long the step took when its output was built


@dataclass
class Manifest:
    """Accumulates step records, then serializes to JSON."""

    target: Target
    image_key: str
    steps: list[StepResult] = field(default_factory=list)
    records: dict[str, Mapping[str, object]] = field(default_factory=dict)
    host_tools: dict[str, str] = field(default_factory=dict)
    image_files: dict[str, str] = field(default_factory=dict)  # published file -> sha256

    def add_step(self, result: StepResult, output: Path) -> None:
        self.steps.append(result)
        record = output / "record.json"
        if record.exists():
            self.records[result.name] = json.loads(record.read_text())

    def _collect(self, kind: str) -> list[object]:
        items: list[object] = []
        for step in self.steps:
            found = self.records.get(step.name, {}).get(kind)
            for item in found if isinstance(found, list) else []:
                if item not in items:
                    items.append(item)
        return items

    def to_json(self) -> dict[str, object]:
        t = self.target
        files: dict[str, object] = {}
        for step in self.steps:
            f = self.records.get(step.name, {}).get("files")
            if isinstance(f, dict):
                files.update(f)
        return {
            "manifest_version": MANIFEST_VERSION,
            "target": t.name,
            "description": t.description,
            "image_key": self.image_key,
            "debian_packages": sorted(self._collect("debian_packages"), key=_by_name),  # type: ignore[arg-type]
            "source_packages": self._collect("source_packages"),
            "wheels": self._collect("wheels"),
            "pins": {
                "kernel": t.kernel.package.identity,
                "rootfs": [p.identity for p in t.rootfs.packages],
                "optee_client": [p.identity for p in t.optee_client],
                "optee_os_source": t.firmware.optee_source.identity,
                "tfa_source": t.firmware.tfa_source.identity,
            },
            # What every download of a pin was checked against (a .deb; a source package's .dsc).
            "pin_sha256": {p.identity: p.sha256 for p in t.pins},
            "host_tools": dict(sorted(self.host_tools.items())),
            "build_options": {
                "optee_os": {
                    "PLATFORM": t.firmware.optee_platform,
                    "options": list(t.firmware.optee_options),
                    "effective": self.records.get("optee_os", {}).get("optee_config", {}),
                },
                "tfa": list(t.firmware.tfa_options),
                "bl33": t.firmware.bl33,
                "uboot_env": dict(t.uboot_env),
                "kernel_modules": list(self.records.get("kernel", {}).get("modules", []) or []),  # type: ignore[call-overload]
            },
            "files": files,
            **self._sd_card(),
            "image_files": dict(sorted(self.image_files.items())),
            "steps": {
                s.name: {
                    "key": s.key,
                    "cached": s.cached,
                    "seconds": round(s.seconds, 3),
                    "built_seconds": None if s.built_seconds is None else round(s.built_seconds, 3),
                }
                for s in self.steps
            },
        }

    def _sd_card(self) -> dict[str, object]:
        sd = self.target.sd_card
        if sd is None:
            return {}
        record = self.records.get("sdimage", {})
        return {
            "sd_card": {
                "boot_firmware": sd.firmware.identity,
                "config_txt": sd.config_txt,
                "cmdline": sd.cmdline,
                "partitions": record.get("partitions", []),
                "boot_files": record.get("boot_files", {}),  # FAT partition file -> sha256
                "image_mib": sd.image_mib,
            }
        }

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(path)


def _by_name(item: object) -> tuple[str, str]:
    if isinstance(item, dict):
        return (str(item.get("name", "")), str(item.get("arch", "")))
    return (str(item), "")
