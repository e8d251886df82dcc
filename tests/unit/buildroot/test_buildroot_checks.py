"""The br2-external tree against a real Buildroot checkout named by FOC_BUILDROOT_DIR.

    FOC_BUILDROOT_DIR=~/.cache/foc/buildroot-src/2026.02.3 .venv/bin/pytest tests/unit/buildroot

For each defconfig: `make BR2_EXTERNAL=buildroot <defconfig>` and `savedefconfig` give back the defconfig
line for line (no symbol dropped by an unmet dependency), `show-info` and `printvars` describe foc-ta and
python-foc as built from this checkout, and the versions named in the tree are Buildroot's; then
Buildroot's utils/check-package passes on every file of the tree. Nothing is downloaded or built.
Skipped without FOC_BUILDROOT_DIR; with it, a missing tool fails the test and names its Debian package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import br2_tree as tree
import pytest

BUILDROOT_ENV = "FOC_BUILDROOT_DIR"


@pytest.fixture(scope="module")
def buildroot() -> Path:
    value = os.environ.get(BUILDROOT_ENV)
    if not value:
        pytest.skip(
            f"{BUILDROOT_ENV} not set: no Buildroot checkout to run defconfig, show-info and check-package "
            f"against (Buildroot {tree.buildroot_release()}, see docs/buildroot.md)"
        )
    path = Path(value).expanduser()
    makefile = path / "Makefile"
    assert makefile.is_file(), f"{BUILDROOT_ENV}={value} is not a Buildroot checkout (no Makefile)"
    m = re.search(r"^export BR2_VERSION := (\S+)$", makefile.read_text(), re.M)
    assert m, f"{makefile} sets no BR2_VERSION: not a Buildroot checkout"
    assert m.group(1) == tree.buildroot_release(), (
        f"{BUILDROOT_ENV} is Buildroot {m.group(1)}; the tree is checked against {tree.buildroot_release()}"
    )
    return path


def make(buildroot: Path, out: Path, *args: str) -> str:
    run = subprocess.run(
        ["make", "-s", "-C", str(buildroot), f"O={out}", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, f"make {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run.stdout


@pytest.fixture(scope="module", params=sorted(tree.defconfigs()))
def configured(request: pytest.FixtureRequest, buildroot: Path, tmp_path_factory: pytest.TempPathFactory):
    """(defconfig name, output dir) after `make BR2_EXTERNAL=buildroot <defconfig>`."""
    name = request.param
    out = tmp_path_factory.mktemp(name.removesuffix("_defconfig"))
    make(buildroot, out, f"BR2_EXTERNAL={tree.TREE}", name)
    return name, out


def test_defconfig_round_trips_through_savedefconfig(buildroot: Path, configured) -> None:
    name, out = configured
    saved = out / "saved_defconfig"
    make(buildroot, out, "savedefconfig", f"BR2_DEFCONFIG={saved}")
    assert saved.read_text() == (tree.CONFIGS / name).read_text(), (
        f"{name} is not what savedefconfig writes: a symbol was dropped, added or reordered"
    )


def test_show_info_describes_the_foc_packages_as_built_from_this_checkout(
    buildroot: Path, configured
) -> None:
    name, out = configured
    info = json.loads(make(buildroot, out, "show-info"))
    version = tree.pyproject()["project"]["version"]
    ta, py = info["foc-ta"], info["python-foc"]
    assert ta["version"] == version and py["version"] == version
    assert ta["licenses"] == py["licenses"] == "Apache-2.0"
    assert ta["downloads"][0]["uris"][0] == f"local+{tree.REPO / 'ta'}"
    assert py["downloads"][0]["uris"][0] == f"local+{tree.REPO}"
    assert {"optee-os", "host-python-cryptography", "toolchain"} <= set(ta["dependencies"])
    assert {"python3", "host-python-setuptools", "host-python-pypa-build"} <= set(py["dependencies"])
    assert ta["install_target"] and py["install_target"]
    values = tree.defconfigs()[name]
    assert info["optee-os"]["version"] == values["BR2_TARGET_OPTEE_OS_CUSTOM_VERSION_VALUE"]
    assert info["optee-client"]["version"] == info["optee-os"]["version"]
    # The versions python-foc.mk and docs/buildroot.md name are the Python distributions this Buildroot
    # builds (python-protobuf's package version is protobuf's release, 33.5, its sdist protobuf-6.33.5).
    for dep in tree.python_foc_runtime_dependencies():
        sources = [d["source"] for d in info[dep.package]["downloads"]]
        assert info[dep.package]["version"] == dep.buildroot_version or any(
            s.startswith(f"{dep.distribution}-{dep.buildroot_version}.tar.") for s in sources
        ), (dep, info[dep.package]["version"], sources)


def test_printvars_resolve_the_recipes_into_this_checkout(buildroot: Path, configured) -> None:
    _, out = configured
    lines = make(
        buildroot,
        out,
        "printvars",
        "VARS=FOC_TA_OVERRIDE_SRCDIR FOC_TA_MAKE_OPTS PYTHON_FOC_OVERRIDE_SRCDIR PYTHON_FOC_SETUP_TYPE "
        "OPTEE_OS_SDK",
    )
    values = dict(line.split("=", 1) for line in lines.splitlines() if "=" in line)
    assert values["FOC_TA_OVERRIDE_SRCDIR"] == str(tree.REPO / "ta")
    assert values["PYTHON_FOC_OVERRIDE_SRCDIR"] == str(tree.REPO)
    assert values["PYTHON_FOC_SETUP_TYPE"] == "setuptools"
    assert f"TA_DEV_KIT_DIR={values['OPTEE_OS_SDK']}" in values["FOC_TA_MAKE_OPTS"]
    assert values["OPTEE_OS_SDK"].endswith("/lib/optee/export-ta_arm64")


def check_package_python() -> str:
    """An interpreter with what utils/check-package imports (python-magic or file-magic, flake8)."""
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if (
            candidate
            and subprocess.run([candidate, "-c", "import magic, flake8"], capture_output=True).returncode == 0
        ):
            return candidate
    pytest.fail(
        "utils/check-package needs python3 with magic and flake8: apt-get install python3-magic flake8"
    )


def test_check_package_is_clean_on_every_file_of_the_tree(buildroot: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("utils/check-package runs shellcheck on the scripts: apt-get install shellcheck")
    files = sorted(str(p.relative_to(tree.TREE)) for p in tree.TREE.rglob("*") if p.is_file())
    run = subprocess.run(
        [check_package_python(), str(buildroot / "utils" / "check-package"), "--br2-external", *files],
        cwd=tree.TREE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 warnings generated" in run.stderr + run.stdout
