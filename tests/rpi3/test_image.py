"""Static checks of the built SD image, and that they catch a broken one (nothing booted here)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from device_checks import report

from foc.deploy.build.apt import MirrorSet, sources_list
from foc.deploy.image import ImageSet
from foc.deploy.rpi3 import sdimage
from foc.deploy.targets import get_target


def _failed(image: Path, manifest: Path) -> set[str]:
    return {c.name for c in sdimage.inspect(image, manifest) if not c.ok}


def test_every_static_check_passes_on_the_built_image(
    rpi3_image: ImageSet, request: pytest.FixtureRequest
) -> None:
    assert rpi3_image.sd_image is not None
    checks = sdimage.inspect(rpi3_image.sd_image, rpi3_image.manifest)
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    assert not failed, "\n".join(failed)
    names = " / ".join(c.name for c in checks)
    needed_checks = (
        "partition 1", "FAT files match", "config.txt (pi3) addresses", "FIP holds", "BL32 images",
        "/firmware/optee", "PSCI", "reserved (no-map)", "overlaps nothing", "the manifest's TA",
    )  # fmt: skip
    for needed in needed_checks:
        assert needed in names, needed
    report(
        request.config, f"static checks: {len(checks)} of {len(checks)} pass on {rpi3_image.sd_image.name}"
    )


@pytest.fixture
def copy(rpi3_image: ImageSet, tmp_path: Path) -> Path:
    assert rpi3_image.sd_image is not None
    dest = tmp_path / "copy.img"
    sdimage.copy_sparse(rpi3_image.sd_image, dest)
    return dest


def test_a_config_txt_that_disagrees_with_tf_a_is_caught(rpi3_image: ImageSet, copy: Path) -> None:
    text = sdimage.fat_read(copy, "config.txt").decode()
    sdimage.fat_write(
        copy, {"config.txt": text.replace("kernel_address=0x02000000", "kernel_address=0x00080000").encode()}
    )
    failed = _failed(copy, rpi3_image.manifest)
    assert "config.txt (pi3) addresses match TF-A's build options" in failed
    assert "config.txt is the manifest's" in failed and "FAT files match the manifest's sha256" in failed


def test_a_device_tree_without_optee_is_caught(rpi3_image: ImageSet, copy: Path, tmp_path: Path) -> None:
    dtb = tmp_path / "b.dtb"
    dtb.write_bytes(sdimage.fat_read(copy, "bcm2837-rpi-3-b.dtb"))
    subprocess.run(["fdtput", "-r", str(dtb), "/firmware/optee"], check=True)
    subprocess.run(["fdtput", "-r", str(dtb), "/reserved-memory/optee_core@10100000"], check=True)
    sdimage.fat_write(copy, {"bcm2837-rpi-3-b.dtb": dtb.read_bytes()})
    failed = _failed(copy, rpi3_image.manifest)
    assert "bcm2837-rpi-3-b.dtb (pi3): /firmware/optee is linaro,optee-tz over SMC" in failed
    assert "bcm2837-rpi-3-b.dtb (pi3): OP-TEE's core, TA RAM and SHM are reserved (no-map)" in failed
    assert not any("(pi3+)" in name and "optee" in name for name in failed)  # the B+ DTB is untouched


def test_a_different_op_tee_in_the_fip_is_caught(rpi3_image: ImageSet, copy: Path) -> None:
    stub = bytearray(sdimage.fat_read(copy, "armstub8.bin"))
    info, _ = sdimage.fip_contents(bytes(stub))
    offset = int(info["Secure Payload BL32 Extra1 (Trusted OS Extra1)"].split("offset=")[1].split(",")[0], 16)
    stub[sdimage.FIP_OFFSET + offset + 0x1000] ^= 0xFF  # a byte inside OP-TEE's pager image
    sdimage.fat_write(copy, {"armstub8.bin": bytes(stub)})
    assert "the FIP's BL32 images are the OP-TEE the manifest names" in _failed(copy, rpi3_image.manifest)


def test_manifest_records_the_pinned_inputs(rpi3_image: ImageSet) -> None:
    m = json.loads(rpi3_image.manifest.read_text())
    debs = {d["name"]: d for d in m["debian_packages"]}
    assert (
        debs["raspi-firmware"]["version"] == "1.20240424+ds-6" and len(debs["raspi-firmware"]["sha256"]) == 64
    )
    assert "openssh-server" in debs and debs["openssh-server"]["suite"] == "trixie"
    assert {s["name"] for s in m["source_packages"]} == {"optee-os", "arm-trusted-firmware"}
    assert m["build_options"]["optee_os"]["PLATFORM"] == "rpi3"
    assert m["build_options"]["optee_os"]["effective"]["CFG_ATTESTATION_PTA"] == "y"
    assert m["sd_card"]["boot_files"]["vmlinuz"] == m["image_files"]["vmlinuz-6.1.0-56-arm64"]
    assert m["image_files"]["sd.img"] == sdimage._sha256(rpi3_image.sd_image.read_bytes())  # type: ignore[union-attr]
    mirrors = MirrorSet("http://deb.debian.org/debian")
    for name, wanted in (("rpi3", True), ("qemu", False)):  # raspi-firmware's component: rpi3 only
        t = get_target(name)
        text = sources_list(mirrors, t.debian_suites, components=t.apt_components)
        assert ("non-free-firmware" in text) is wanted, (name, text)
