"""What Buildroot copies from this checkout into its build directories for foc-ta and python-foc.

Both packages use the `local` site method: Buildroot rsyncs the source directory with the package's
<PKG>_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS plus its own VCS exclusions (package/pkg-generic.mk). This runs
that rsync with the rules read from the .mk files and checks what lands in the build directory.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import br2_tree as tree
import pytest

# Buildroot's RSYNC_VCS_EXCLUSIONS (its top-level Makefile), appended after the package's own rules.
BUILDROOT_VCS_EXCLUSIONS = [
    "--exclude",
    ".svn",
    "--exclude",
    ".git",
    "--exclude",
    ".hg",
    "--exclude",
    ".bzr",
    "--exclude",
    "CVS",
]


def buildroot_rsync(package: str, source: Path, dest: Path) -> set[str]:
    """The files (relative paths) Buildroot's rsync step copies for `package`."""
    rsync = shutil.which("rsync")
    if rsync is None:
        pytest.skip("rsync not found (Buildroot needs it too): apt-get install rsync")
    values = tree.make_assignments(tree.PACKAGES / package / f"{package}.mk")
    rules = shlex.split(values[f"{tree.package_prefix(package)}_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS"])
    subprocess.run(
        [rsync, "-au", "--chmod=u=rwX,go=rX", *rules, *BUILDROOT_VCS_EXCLUSIONS, f"{source}/", f"{dest}/"],
        check=True,
    )
    return {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}


def tracked(path: str) -> set[str]:
    """Files git tracks under `path` (relative to it), or every file when this is not a git checkout."""
    run = subprocess.run(
        ["git", "-C", str(tree.REPO), "ls-files", "-z", "--", *([path] if path else [])], capture_output=True
    )
    if run.returncode != 0:
        pytest.skip("not a git checkout: cannot tell sources from build outputs")
    prefix = path.rstrip("/") + "/" if path else ""
    return {f.removeprefix(prefix) for f in run.stdout.decode().split("\0") if f}


def test_foc_ta_build_directory_holds_every_tracked_ta_source(tmp_path: Path) -> None:
    copied = buildroot_rsync("foc-ta", tree.REPO / "ta", tmp_path / "foc-ta-custom")
    sources = tracked("ta")
    assert sources <= copied, f"not copied: {sorted(sources - copied)}"
    # Build outputs of a developer's tree stay behind.
    assert not any(f.startswith(("out/", "native/out/")) for f in copied)
    assert {"Makefile", "sub.mk", "user_ta_header_defines.h"} <= copied


def test_python_foc_build_directory_holds_exactly_the_distribution_sources(tmp_path: Path) -> None:
    copied = buildroot_rsync("python-foc", tree.REPO, tmp_path / "python-foc-custom")
    expected = {"pyproject.toml"} | {f for f in tracked("") if f.startswith("foc/")}
    assert expected <= copied, f"not copied: {sorted(expected - copied)}"
    extra = {f for f in copied - expected if "__pycache__" not in f and not f.endswith(".pyc")}
    # Untracked files under foc/ of a developer's tree may come along; nothing outside foc/ does.
    assert all(f.startswith("foc/") for f in extra), sorted(extra)
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in copied)
    # The package data and the entry point module the wheel needs.
    assert {"foc/protocol/invocation.proto", "foc/proxy/__main__.py"} <= copied
