"""Host checks: is this machine able to build (and boot) a target's image?

`check_host` returns structured results (what `foc-deploy doctor` prints); `require_host` raises
`HostSetupError` naming the exact `apt-get install` line before any build step starts, so a fresh
machine fails in a second instead of half-way through a build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from foc.deploy.targets import get_target
from foc.errors import HostSetupError

# The Python that OP-TEE's and the TA dev kit's signing scripts run with (PYTHON3=...).
BUILD_PYTHON = "/usr/bin/python3"
BUILD_PYTHON_MODULES = (("cryptography", "python3-cryptography"), ("elftools", "python3-pyelftools"))
ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# What the test suite needs beyond the image build (scripts/setup installs it: DEV_PACKAGES there
# must stay this list): venv support, clang with its runtime (libFuzzer, ASan/UBSan; Debian ships it
# apart in libclang-rt-dev), and rsync, genimage, mtools, dosfstools for tests/unit/buildroot.
TEST_PACKAGES = ("python3-venv", "clang", "libclang-rt-dev", "rsync", "genimage", "mtools", "dosfstools")


@dataclass(frozen=True)
class Check:
    """One host check: `fix` says what to run when `ok` is false."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


class HostProbe(Protocol):
    """What the checks ask of the machine (a fake one stands in for tests)."""

    def which(self, command: str) -> str | None: ...

    def installed(self, packages: Iterable[str]) -> dict[str, str | None]:
        """Installed version of each Debian package, None if not installed."""
        ...

    def exists(self, path: str) -> bool: ...

    def python_has(self, python: str, module: str) -> bool: ...

    def is_root(self) -> bool: ...

    def debian_mirror(self) -> str | None: ...

    def fuzzer_runtime_missing(self) -> str | None:
        """Why clang cannot link the libFuzzer target here, None when it can."""
        ...


class SystemProbe:
    """The real machine: dpkg-query, PATH lookups and the system apt sources."""

    def which(self, command: str) -> str | None:
        return shutil.which(command) or next(
            (str(Path(d) / command) for d in ("/usr/sbin", "/sbin") if (Path(d) / command).exists()), None
        )

    def installed(self, packages: Iterable[str]) -> dict[str, str | None]:
        names = list(packages)
        result: dict[str, str | None] = dict.fromkeys(names)
        if not shutil.which("dpkg-query"):
            return result
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Abbrev}\t${Version}\n", *names],
            capture_output=True,
            text=True,
            check=False,
        )
        for line in proc.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1].startswith("ii"):
                result[parts[0].split(":")[0]] = parts[2]
        return result

    def exists(self, path: str) -> bool:
        return Path(path).exists()

    def python_has(self, python: str, module: str) -> bool:
        if not Path(python).exists():
            return False
        proc = subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False)
        return proc.returncode == 0

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def debian_mirror(self) -> str | None:
        from foc.deploy.build.apt import MirrorSet

        try:
            return MirrorSet.from_system().archive
        except HostSetupError:
            return None

    def fuzzer_runtime_missing(self) -> str | None:
        from foc.deploy.native_build import fuzzer_runtime_missing

        return fuzzer_runtime_missing()


def install_line(packages: Iterable[str], *, root: bool) -> str:
    """The exact command that installs `packages`."""
    prefix = "" if root else "sudo "
    return f"{prefix}apt-get install -y --no-install-recommends {' '.join(sorted(set(packages)))}"


def check_host(
    target_name: str = "qemu", *, probe: HostProbe | None = None, tests: bool = False
) -> list[Check]:
    """Check everything `target_name` needs on this host, without building anything; with `tests`,
    also what the test suite needs beyond it (`TEST_PACKAGES` and clang's libFuzzer runtime)."""
    probe = probe or SystemProbe()
    target = get_target(target_name)
    root = probe.is_root()
    checks: list[Check] = []

    packages = tuple(target.host_packages) + (
        tuple(p for p in TEST_PACKAGES if p not in target.host_packages) if tests else ()
    )
    versions = probe.installed(packages)
    for pkg in packages:
        version = versions.get(pkg)
        checks.append(
            Check(
                f"package {pkg}",
                version is not None,
                f"{pkg} {version}" if version else f"{pkg} is not installed",
                "" if version else install_line([pkg], root=root),
            )
        )
    for command, pkg in target.host_commands:
        path = probe.which(command)
        checks.append(
            Check(
                f"command {command}",
                path is not None,
                path or f"{command} not found in PATH",
                "" if path else install_line([pkg], root=root),
            )
        )
    bl33 = target.firmware.bl33
    if bl33:  # rpi3 has none: BL31 enters the kernel the board's firmware loaded
        checks.append(
            Check(
                "BL33 (U-Boot)",
                probe.exists(bl33),
                bl33 if probe.exists(bl33) else f"{bl33} is missing",
                "" if probe.exists(bl33) else install_line(["u-boot-qemu"], root=root),
            )
        )
    for module, pkg in BUILD_PYTHON_MODULES:
        ok = probe.python_has(BUILD_PYTHON, module)
        checks.append(
            Check(
                f"{BUILD_PYTHON} imports {module}",
                ok,
                "ok" if ok else f"{BUILD_PYTHON} cannot import {module} (OP-TEE's signing scripts need it)",
                "" if ok else install_line([pkg], root=root),
            )
        )
    keyring_ok = probe.exists(ARCHIVE_KEYRING)
    checks.append(
        Check(
            "Debian archive keyring",
            keyring_ok,
            ARCHIVE_KEYRING if keyring_ok else f"{ARCHIVE_KEYRING} is missing",
            "" if keyring_ok else install_line(["debian-archive-keyring"], root=root),
        )
    )
    mirror = probe.debian_mirror()
    checks.append(
        Check(
            "Debian mirror in apt sources",
            mirror is not None,
            mirror or "no deb.debian.org-style Debian archive found in /etc/apt/sources.list{,.d}",
            "" if mirror else "add http://deb.debian.org/debian to /etc/apt/sources.list.d/",
        )
    )
    checks.append(
        Check(
            "root privileges",
            root,
            "running as root" if root else "not root: mmdebstrap --mode=root and device files need root",
            "" if root else "run foc-deploy as root (or under sudo)",
        )
    )
    if tests:
        missing = probe.fuzzer_runtime_missing()
        checks.append(
            Check(
                "clang libFuzzer runtime (native tier's fuzz smoke)",
                missing is None,
                missing or "clang links libFuzzer, ASan and UBSan",
                "" if missing is None else install_line(["clang", "libclang-rt-dev"], root=root),
            )
        )
    return checks


def require_host(target_name: str = "qemu", *, probe: HostProbe | None = None) -> list[Check]:
    """Raise HostSetupError (with the exact install line) unless every host check passes."""
    probe = probe or SystemProbe()
    checks = check_host(target_name, probe=probe)
    failed = [c for c in checks if not c.ok]
    if not failed:
        return checks
    target = get_target(target_name)
    missing_pkgs = {c.name.split(" ", 1)[1] for c in failed if c.name.startswith("package ")}
    for command, pkg in target.host_commands:
        if any(c.name == f"command {command}" for c in failed):
            missing_pkgs.add(pkg)
    for module, pkg in BUILD_PYTHON_MODULES:
        if any(c.name == f"{BUILD_PYTHON} imports {module}" for c in failed):
            missing_pkgs.add(pkg)
    if any(c.name == "BL33 (U-Boot)" for c in failed):
        missing_pkgs.add("u-boot-qemu")
    if any(c.name == "Debian archive keyring" for c in failed):
        missing_pkgs.add("debian-archive-keyring")
    what = "; ".join(c.detail for c in failed)
    if missing_pkgs:
        hint = install_line(missing_pkgs, root=probe.is_root())
    else:
        hint = "; ".join(c.fix for c in failed if c.fix)
    raise HostSetupError(f"this host cannot build the {target_name} image: {what}", hint=hint)
