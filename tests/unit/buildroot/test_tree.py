"""Structure of the br2-external tree: packages complete, defconfigs pointing at real files, pins honest.

Runs without Buildroot (see test_buildroot_checks.py for the checks against a Buildroot checkout).
"""

from __future__ import annotations

import re
from pathlib import Path

import br2_tree as tree
import pytest

from foc.deploy.targets import get_target

QEMU_DEFCONFIG = "foc_qemu_aarch64_defconfig"
RPI3_DEFCONFIG = "foc_rpi3_defconfig"

# Set by Buildroot's optee-os.mk itself for an aarch64 target (CFG_ARM64_core=y,
# CFG_USER_TA_TARGETS=ta_arm64): a defconfig does not repeat them in its OP-TEE additional variables.
OPTEE_OPTIONS_SET_BY_BUILDROOT = {"CFG_ARM64_core", "CFG_USER_TA_TARGETS"}


def test_external_desc_names_the_tree_foc() -> None:
    fields = dict(
        line.split(":", 1) for line in (tree.TREE / "external.desc").read_text().splitlines() if line
    )
    assert fields["name"].strip() == "FOC"  # gives BR2_EXTERNAL_FOC_PATH, used everywhere in the tree
    assert len(fields["desc"].strip()) <= 40  # Buildroot's manual: the prompt in menuconfig


def test_external_mk_includes_every_package_and_finds_the_foc_checkout() -> None:
    text = (tree.TREE / "external.mk").read_text()
    assert "include $(sort $(wildcard $(BR2_EXTERNAL_FOC_PATH)/package/*/*.mk))" in text
    values = tree.make_assignments(tree.TREE / "external.mk")
    assert values["FOC_REPO_DIR"] == "$(realpath $(BR2_EXTERNAL_FOC_PATH)/..)"
    # What external.mk requires of the parent directory before building from it.
    assert (tree.TREE.parent / "ta" / "Makefile").is_file()
    assert (tree.TREE.parent / "pyproject.toml").is_file()
    # The version sed of external.mk reads the same value pyproject.toml declares.
    version = tree.pyproject()["project"]["version"]
    assert re.search(
        r'^version = "' + re.escape(version) + '"$', (tree.REPO / "pyproject.toml").read_text(), re.M
    )


@pytest.mark.parametrize("name", tree.package_names())
def test_every_package_has_config_in_mk_and_hash(name: str) -> None:
    pkg = tree.PACKAGES / name
    prefix = tree.package_prefix(name)
    config_in = (pkg / "Config.in").read_text()
    assert re.search(rf"^config BR2_PACKAGE_{prefix}\n\tbool \"{name}\"$", config_in, re.M), config_in
    mk = pkg / f"{name}.mk"
    values = tree.make_assignments(mk)
    for var in ("VERSION", "SITE", "LICENSE"):
        assert f"{prefix}_{var}" in values, f"{mk.name} sets no {prefix}_{var}"
    assert re.search(r"^\$\(eval \$\((generic|python|cmake|autotools)-package\)\)$", mk.read_text(), re.M)
    hashes = tree.hash_lines(pkg / f"{name}.hash")  # parses, and exists
    licenses = values.get(f"{prefix}_LICENSE_FILES", "").split()
    hashed = {f for _, _, f in hashes}
    assert set(licenses) <= hashed, f"license files without a hash in {name}.hash"


def test_config_in_sources_each_package_once_in_order() -> None:
    sourced = re.findall(
        r'^source "\$BR2_EXTERNAL_FOC_PATH/package/([^/]+)/Config.in"$',
        (tree.TREE / "Config.in").read_text(),
        re.M,
    )
    assert sourced == tree.package_names()


@pytest.mark.parametrize("defconfig", sorted(tree.defconfigs()))
def test_defconfig_references_existing_files_and_enables_foc(defconfig: str) -> None:
    values = tree.defconfigs()[defconfig]
    referenced = []
    for key, value in values.items():
        for word in value.split():
            path = tree.resolve_external(word)
            if path is not None:
                referenced.append(path)
                exists = path.is_dir() if key == "BR2_GLOBAL_PATCH_DIR" else path.is_file()
                assert exists, f"{defconfig}: {key} names {word}, which is not in the tree"
    assert referenced, "the defconfig uses no board file of the tree"
    for script in ("BR2_ROOTFS_POST_BUILD_SCRIPT", "BR2_ROOTFS_POST_IMAGE_SCRIPT"):
        for word in values[script].split():
            path = tree.resolve_external(word)
            if path is not None:
                assert path.stat().st_mode & 0o111, f"{path} is not executable"
    assert values["BR2_PACKAGE_FOC_TA"] == "y" and values["BR2_PACKAGE_PYTHON_FOC"] == "y"
    assert values["BR2_DOWNLOAD_FORCE_CHECK_HASHES"] == "y"
    assert values["BR2_TARGET_OPTEE_OS"] == "y" and values["BR2_TARGET_ARM_TRUSTED_FIRMWARE"] == "y"
    assert values["BR2_TARGET_ARM_TRUSTED_FIRMWARE_BL32_OPTEE"] == "y"  # Buildroot passes SPD=opteed then
    # OP-TEE with the attestation PTA (enclave evidence) and REE FS secure storage (sealed keys).
    options = tree.space_separated_options(values["BR2_TARGET_OPTEE_OS_ADDITIONAL_VARIABLES"])
    assert options.get("CFG_ATTESTATION_PTA") == "y" and options.get("CFG_REE_FS") == "y"
    assert not OPTEE_OPTIONS_SET_BY_BUILDROOT & set(options)


@pytest.mark.parametrize("defconfig", sorted(tree.defconfigs()))
def test_every_custom_version_has_a_hash_in_the_tree(defconfig: str) -> None:
    """With BR2_DOWNLOAD_FORCE_CHECK_HASHES Buildroot needs a hash for the versions it does not ship."""
    values = tree.defconfigs()[defconfig]
    patch_dirs = [tree.resolve_external(d) for d in values["BR2_GLOBAL_PATCH_DIR"].split()]
    ours = [d for d in patch_dirs if d is not None]
    assert len(ours) == 1 and ours[0].is_dir()
    optee = values["BR2_TARGET_OPTEE_OS_CUSTOM_VERSION_VALUE"]
    # optee-client and optee-test default to "same version as optee-os" with a custom optee-os.
    expected = [("optee-os", optee, "tar.gz"), ("optee-client", optee, "tar.gz")]
    if values.get("BR2_PACKAGE_OPTEE_TEST") == "y":
        expected.append(("optee-test", optee, "tar.gz"))
    if values.get("BR2_LINUX_KERNEL_CUSTOM_VERSION") == "y":
        expected.append(("linux", values["BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE"], "tar.xz"))
    for name, version, ext in expected:
        # Buildroot reads <patch dir>/<package>/<version>/<package>.hash for that version only.
        hash_file = ours[0] / name / version / f"{name}.hash"
        tarball = f"{name}-{version}.{ext}"
        entries = tree.hash_lines(hash_file)
        assert any(
            t == "sha256" and f == tarball and re.fullmatch("[0-9a-f]{64}", h) for t, h, f in entries
        ), f"{hash_file} has no sha256 for {tarball}"


def test_foc_ta_builds_from_the_repository_ta_with_the_optee_dev_kit() -> None:
    mk = tree.PACKAGES / "foc-ta" / "foc-ta.mk"
    values = tree.make_assignments(mk)
    assert values["FOC_TA_SITE"] == "$(FOC_REPO_DIR)/ta" and values["FOC_TA_SITE_METHOD"] == "local"
    assert values["FOC_TA_VERSION"] == "$(FOC_REPO_VERSION)"
    assert "optee-os" in values["FOC_TA_DEPENDENCIES"].split()
    opts = values["FOC_TA_MAKE_OPTS"]
    assert "TA_DEV_KIT_DIR=$(OPTEE_OS_SDK)" in opts and 'CROSS_COMPILE="$(TARGET_CROSS)"' in opts
    assert "O=$(@D)/out" in opts
    defines = tree.make_defines(mk)
    assert "$(MAKE) -C $(@D) $(FOC_TA_MAKE_OPTS) all" in defines["FOC_TA_BUILD_CMDS"]
    assert "$(TARGET_DIR)/lib/optee_armtz $(@D)/out/*.ta" in defines["FOC_TA_INSTALL_TARGET_CMDS"]
    # ta/ is an OP-TEE dev kit TA (optee_examples layout) that honours TA_DEV_KIT_DIR.
    ta_makefile = (tree.REPO / "ta" / "Makefile").read_text()
    assert "include $(TA_DEV_KIT_DIR)/mk/ta_dev_kit.mk" in ta_makefile
    assert re.search(r"^BINARY = [0-9a-f-]{36}$", ta_makefile, re.M)
    for required in ("sub.mk", "user_ta_header_defines.h"):
        assert (tree.REPO / "ta" / required).is_file()
    # The rsync exclusions only drop build outputs that git ignores, never a TA source.
    gitignore = (tree.REPO / ".gitignore").read_text().splitlines()
    for excluded in re.findall(r"--exclude=(\S+)", values["FOC_TA_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS"]):
        assert "/ta" + excluded in gitignore, f"{excluded} is not a git-ignored build output of ta/"


def test_python_foc_builds_the_foc_distribution_from_pyproject_and_foc_only() -> None:
    values = tree.make_assignments(tree.PACKAGES / "python-foc" / "python-foc.mk")
    assert values["PYTHON_FOC_SITE"] == "$(FOC_REPO_DIR)" and values["PYTHON_FOC_SITE_METHOD"] == "local"
    assert values["PYTHON_FOC_SETUP_TYPE"] == "setuptools"
    rules = values["PYTHON_FOC_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS"].split()
    assert rules[-1] == "--exclude=*"
    kept = {r.split("=", 1)[1] for r in rules if r.startswith("--include=")}
    assert kept == {"/pyproject.toml", "/foc/***"}
    project = tree.pyproject()
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["foc*"]
    # Nothing the build reads may sit outside what the rsync filter keeps.
    for key in ("readme", "license-files"):
        assert key not in project["project"], f"pyproject.toml [project].{key} is not synced into the build"
    assert "foc-proxy" in project["project"]["scripts"]


def test_python_foc_runtime_dependencies_match_the_pins_or_are_documented() -> None:
    deps = tree.python_foc_runtime_dependencies()
    assert {d.distribution for d in deps} == {"grpcio", "protobuf", "cryptography"}
    pins = tree.pyproject_pins()
    selects = tree.kconfig_selects(tree.PACKAGES / "python-foc" / "Config.in")
    docs = tree.DOCS.read_text()
    rows = [
        [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        for line in docs.splitlines()
        if line.startswith("|")
    ]
    for d in deps:
        assert pins[d.distribution] == d.pinned_version, (
            f"python-foc.mk names {d}, pyproject.toml pins another"
        )
        assert f"BR2_PACKAGE_{tree.package_prefix(d.package)}" in selects
        # docs/buildroot.md has the same row: Buildroot package, its version, FOC's pin, why it works.
        assert any(
            r[:3] == [d.package, d.buildroot_version, f"{d.distribution}=={d.pinned_version}"] and r[3]
            for r in rows
        ), f"docs/buildroot.md has no row for {d.package} {d.buildroot_version}"


def test_the_pinned_buildroot_release_is_named_in_the_recipes_and_the_docs() -> None:
    release = tree.buildroot_release()
    assert re.fullmatch(r"20\d\d\.02\.\d+", release), "the pin is an LTS (YYYY.02.x) release"
    assert f"Buildroot {release}" in (tree.PACKAGES / "python-foc" / "python-foc.mk").read_text()
    assert f"Buildroot {release}" in tree.DOCS.read_text()


def test_qemu_defconfig_boots_what_foc_deploy_qemu_boots() -> None:
    target = get_target("qemu")
    values = tree.defconfigs()[QEMU_DEFCONFIG]
    fw = target.firmware
    # OP-TEE: same release, platform and options as foc-deploy (less what Buildroot sets itself).
    assert fw.optee_source.upstream_dir == f"optee-os-{values['BR2_TARGET_OPTEE_OS_CUSTOM_VERSION_VALUE']}"
    assert values["BR2_TARGET_OPTEE_OS_PLATFORM"] == fw.optee_platform
    ours = tree.space_separated_options(values["BR2_TARGET_OPTEE_OS_ADDITIONAL_VARIABLES"])
    deploy = dict(o.split("=", 1) for o in fw.optee_options)
    assert ours == {k: v for k, v in deploy.items() if k not in OPTEE_OPTIONS_SET_BY_BUILDROOT}
    # TF-A: the 2.12.1 LTS that Debian's 2.12.1+dfsg packages, PLAT=qemu, SPD=opteed (BL32 = OP-TEE), GICv3.
    assert values["BR2_TARGET_ARM_TRUSTED_FIRMWARE_LATEST_LTS_2_12_VERSION"] == "y"
    assert fw.tfa_source.upstream_dir.startswith("arm-trusted-firmware-2.12.1")
    deploy_tfa = dict(o.split("=", 1) for o in fw.tfa_options)
    assert deploy_tfa.pop("PLAT") == values["BR2_TARGET_ARM_TRUSTED_FIRMWARE_PLATFORM"]
    assert deploy_tfa.pop("SPD") == "opteed"
    assert (
        tree.space_separated_options(values["BR2_TARGET_ARM_TRUSTED_FIRMWARE_ADDITIONAL_VARIABLES"])
        == deploy_tfa
    )
    assert Path(fw.tfa_output).name in values["BR2_TARGET_ARM_TRUSTED_FIRMWARE_IMAGES"].split()
    assert values["BR2_TARGET_ARM_TRUSTED_FIRMWARE_UBOOT_AS_BL33"] == "y"
    # U-Boot moves the kernel and initrd off OP-TEE's static SHM exactly as foc-deploy's environment does.
    fragment = (tree.TREE / "board" / "foc" / "qemu-aarch64" / "u-boot.fragment").read_text()
    env = dict(target.uboot_env)
    for var in ("kernel_addr_r", "ramdisk_addr_r"):
        assert f"setenv {var} {env[var]};" in fragment
    assert f"CONFIG_BOOTDELAY={env['bootdelay']}" in fragment
    # The QEMU machine of start-qemu.sh is foc-deploy's.
    script = (tree.TREE / "board" / "foc" / "qemu-aarch64" / "start-qemu.sh").read_text()
    m = target.machine
    assert f"-machine {m['machine']}" in script
    assert f"-cpu {m['cpu']} -smp {m['smp']} -m {m['memory']}" in script
    assert values["BR2_cortex_a57"] == "y" and m["cpu"] == "cortex-a57"
    # The kernel has the OP-TEE driver built in (foc-deploy loads tee.ko and optee.ko).
    fragment = (tree.TREE / "board" / "foc" / "qemu-aarch64" / "linux.fragment").read_text().split()
    assert {"CONFIG_TEE=y", "CONFIG_OPTEE=y"} <= set(fragment)


def test_rpi3_defconfig_is_tfa_rpi3_with_optee_rpi3_and_direct_linux_boot() -> None:
    values = tree.defconfigs()[RPI3_DEFCONFIG]
    assert values["BR2_TARGET_OPTEE_OS_PLATFORM"] == "rpi3"
    assert values["BR2_TARGET_ARM_TRUSTED_FIRMWARE_PLATFORM"] == "rpi3"
    assert (
        values["BR2_TARGET_OPTEE_OS_CUSTOM_VERSION_VALUE"]
        == tree.defconfigs()[QEMU_DEFCONFIG]["BR2_TARGET_OPTEE_OS_CUSTOM_VERSION_VALUE"]
    )
    tfa = tree.space_separated_options(values["BR2_TARGET_ARM_TRUSTED_FIRMWARE_ADDITIONAL_VARIABLES"])
    assert tfa["RPI3_DIRECT_LINUX_BOOT"] == "1"
    board = tree.TREE / "board" / "foc" / "rpi3"
    config = dict(
        line.split("=", 1)
        for line in (board / "config.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    # The firmware puts the kernel and the DTB where TF-A's BL31 expects them.
    assert int(config["kernel_address"], 16) == int(tfa["PRELOADED_BL33_BASE"], 16)
    assert int(config["device_tree_address"], 16) == int(tfa["RPI3_PRELOADED_DTB_BASE"], 16)
    assert config["arm_64bit"] == "1" and config["armstub"] == "armstub8.bin"
    assert config["dtoverlay"] == "foc-optee"
    assert resolved(values["BR2_PACKAGE_RPI_FIRMWARE_CONFIG_FILE"]) == board / "config.txt"
    assert resolved(values["BR2_PACKAGE_RPI_FIRMWARE_CMDLINE_FILE"]) == board / "cmdline.txt"
    # The SD card carries what config.txt names: kernel, armstub, the overlay, the kernel's DTBs.
    genimage = (board / "genimage.cfg").read_text()
    for name in (config["kernel"], config["armstub"], "rpi-firmware/config.txt", "rpi-firmware/cmdline.txt"):
        assert f'"{name}"' in genimage
    assert f"file overlays/{config['dtoverlay']}.dtbo" in genimage
    for dts in values["BR2_LINUX_KERNEL_INTREE_DTS_NAME"].split():
        assert f'"{Path(dts).name}.dtb"' in genimage
    assert f"-c {tree.EXTERNAL_PATH_VAR}/board/foc/rpi3/genimage.cfg" == values["BR2_ROOTFS_POST_SCRIPT_ARGS"]
    assert {"CONFIG_TEE=y", "CONFIG_OPTEE=y"} <= set((board / "linux.fragment").read_text().split())


def resolved(value: str) -> Path | None:
    return tree.resolve_external(value)
