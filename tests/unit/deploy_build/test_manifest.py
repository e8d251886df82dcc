"""The manifest records pins, resolved packages (with sha256), wheels, options, step keys and timings."""

from __future__ import annotations

import json
from pathlib import Path

from foc.deploy.build.manifest import Manifest, StepResult
from foc.deploy.targets import get_target


def _step_output(tmp_path: Path, name: str, record: dict[str, object]) -> Path:
    out = tmp_path / name
    out.mkdir()
    (out / "record.json").write_text(json.dumps(record))
    return out


def test_manifest_collects_every_input_and_step(tmp_path: Path) -> None:
    target = get_target("qemu")
    m = Manifest(target=target, image_key="abc")
    deb = {"name": "libteec2", "version": "4.11.0-1", "suite": "sid", "arch": "arm64", "sha256": "0" * 64}
    m.add_step(
        StepResult("optee_os", "k1", False, 51.9, 51.9),
        _step_output(
            tmp_path,
            "optee_os",
            {
                "source_packages": [
                    {"name": "optee-os", "version": "4.10.0-2", "files": {"x.dsc": "1" * 64}}
                ],
                "optee_config": {"CFG_ATTESTATION_PTA": "y"},
            },
        ),
    )
    m.add_step(
        StepResult("optee_client", "k2", True, 0.01),
        _step_output(tmp_path, "client", {"debian_packages": [deb]}),
    )
    m.add_step(
        StepResult("rootfs", "k3", True, 0.0), _step_output(tmp_path, "rootfs", {"debian_packages": [deb]})
    )
    m.add_step(
        StepResult("wheels", "k4", False, 2.0),
        _step_output(
            tmp_path, "wheels", {"wheels": [{"name": "grpcio", "version": "1.75.1", "sha256": "2" * 64}]}
        ),
    )
    m.host_tools = {"qemu-system-arm": "1:7.2"}
    m.image_files = {"qemu_fw.bios": "3" * 64}
    path = tmp_path / "manifest.json"
    m.write(path)
    data = json.loads(path.read_text())

    assert data["target"] == "qemu" and data["image_key"] == "abc"
    assert data["debian_packages"] == [deb], "the same package from two steps is listed once"
    assert data["source_packages"][0]["version"] == "4.10.0-2"
    assert data["wheels"][0]["name"] == "grpcio"
    assert data["pins"]["kernel"] == target.kernel.package.identity
    assert data["pin_sha256"][target.firmware.optee_source.identity] == target.firmware.optee_source.sha256
    assert set(data["pin_sha256"]) == {p.identity for p in target.pins}
    assert data["build_options"]["optee_os"]["effective"] == {"CFG_ATTESTATION_PTA": "y"}
    assert "CFG_ATTESTATION_PTA=y" in data["build_options"]["optee_os"]["options"]
    assert data["steps"]["optee_os"] == {
        "key": "k1",
        "cached": False,
        "seconds": 51.9,
        "built_seconds": 51.9,
    }
    assert data["steps"]["optee_client"]["cached"] is True
    assert data["host_tools"] == {"qemu-system-arm": "1:7.2"}
    assert data["image_files"] == {"qemu_fw.bios": "3" * 64}
    assert not list(tmp_path.glob("*.tmp")), "written atomically"
