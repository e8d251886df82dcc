"""The result of an image build: what a target needs to boot."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ImageSet:
    """A bootable image set for one target, as written by `foc-deploy <target> build`.

    All paths are absolute and live under the cache root. `manifest` (JSON) records every
    pinned input (suite + version + sha256) and the hash of every build step.
    """

    target: str
    root: Path
    bios: Path  # TF-A BL1 + FIP (qemu_fw.bios; rpi3: armstub8.bin)
    kernel: Path  # Debian arm64 kernel image
    initrd: Path  # initramfs (base + overlay, concatenated gzip cpio archives)
    share: Path  # directory exported to the guest over 9p as `host0` (ta/ for hot-copy)
    manifest: Path
    pflash1: Path | None = None  # U-Boot environment in the non-secure flash
    sd_image: Path | None = None  # boards: the bootable SD-card image (MBR, FAT boot, ext4 data)
    ta_files: tuple[Path, ...] = field(default_factory=tuple)  # built TAs (<uuid>.ta)
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in self.__dict__.items():
            if isinstance(v, Path):
                out[k] = str(v)
            elif isinstance(v, tuple):
                out[k] = [str(p) for p in v]
            else:
                out[k] = v
        return out

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ImageSet:
        def p(key: str) -> Path:
            return Path(str(data[key]))

        return cls(
            target=str(data["target"]),
            root=p("root"),
            bios=p("bios"),
            kernel=p("kernel"),
            initrd=p("initrd"),
            share=p("share"),
            manifest=p("manifest"),
            pflash1=Path(str(data["pflash1"])) if data.get("pflash1") else None,
            sd_image=Path(str(data["sd_image"])) if data.get("sd_image") else None,
            ta_files=tuple(Path(str(x)) for x in _as_list(data.get("ta_files"))),
            extra={str(k): str(v) for k, v in _as_dict(data.get("extra")).items()},
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> ImageSet:
        return cls.from_json(json.loads(path.read_text()))


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _as_dict(value: object) -> dict[object, object]:
    return dict(value) if isinstance(value, dict) else {}
