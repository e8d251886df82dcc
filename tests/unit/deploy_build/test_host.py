"""Host checks: structured results, and an early error naming the exact apt-get install line."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from foc.deploy.host import check_host, install_line, require_host
from foc.deploy.targets import get_target
from foc.errors import HostSetupError, UsageError


class FakeHost:
    """A machine where everything is present except what the test removes."""

    def __init__(
        self,
        *,
        missing_packages: Iterable[str] = (),
        missing_commands: Iterable[str] = (),
        root: bool = True,
        mirror: str | None = "http://deb.debian.org/debian",
        python_modules: Iterable[str] = ("cryptography", "elftools"),
        missing_paths: Iterable[str] = (),
        fuzzer: str | None = None,
    ) -> None:
        self.fuzzer = fuzzer
        self.missing_packages = set(missing_packages)
        self.missing_commands = set(missing_commands)
        self.root = root
        self.mirror = mirror
        self.python_modules = set(python_modules)
        self.missing_paths = set(missing_paths)

    def which(self, command: str) -> str | None:
        return None if command in self.missing_commands else f"/usr/bin/{command}"

    def installed(self, packages: Iterable[str]) -> dict[str, str | None]:
        return {p: None if p in self.missing_packages else "1.0" for p in packages}

    def exists(self, path: str) -> bool:
        return path not in self.missing_paths

    def python_has(self, python: str, module: str) -> bool:
        return module in self.python_modules

    def is_root(self) -> bool:
        return self.root

    def debian_mirror(self) -> str | None:
        return self.mirror

    def fuzzer_runtime_missing(self) -> str | None:
        return self.fuzzer


def test_all_present_passes_and_returns_structured_checks() -> None:
    checks = require_host("qemu", probe=FakeHost())
    assert checks and all(c.ok for c in checks)
    names = {c.name for c in checks}
    assert "package qemu-system-arm" in names and "command mmdebstrap" in names
    assert all(c.fix == "" for c in checks)


def test_missing_packages_fail_early_with_the_exact_install_line() -> None:
    probe = FakeHost(missing_packages={"mmdebstrap", "cpio"}, missing_commands={"mmdebstrap", "cpio"})
    with pytest.raises(HostSetupError) as exc:
        require_host("qemu", probe=probe)
    err = exc.value
    assert err.hint == "apt-get install -y --no-install-recommends cpio mmdebstrap"
    assert "mmdebstrap is not installed" in err.message
    assert err.exit_code == 4


def test_non_root_gets_sudo_and_a_root_check() -> None:
    checks = check_host("qemu", probe=FakeHost(missing_packages={"u-boot-tools"}, root=False))
    failed = {c.name: c for c in checks if not c.ok}
    assert (
        failed["package u-boot-tools"].fix == "sudo apt-get install -y --no-install-recommends u-boot-tools"
    )
    assert "root privileges" in failed


def test_missing_python_module_for_signing_names_the_debian_package() -> None:
    probe = FakeHost(python_modules={"cryptography"})
    with pytest.raises(HostSetupError) as exc:
        require_host("qemu", probe=probe)
    assert exc.value.hint is not None and exc.value.hint.endswith("python3-pyelftools")


def test_missing_bl33_and_mirror_are_reported() -> None:
    bl33 = get_target("qemu").firmware.bl33
    checks = check_host("qemu", probe=FakeHost(missing_paths={bl33}, mirror=None))
    failed = {c.name: c for c in checks if not c.ok}
    assert "u-boot-qemu" in failed["BL33 (U-Boot)"].fix
    assert "deb.debian.org" in failed["Debian mirror in apt sources"].fix


def test_unknown_target_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown target 'rpi5'"):
        check_host("rpi5", probe=FakeHost())


def test_install_line_is_sorted_and_deduplicated() -> None:
    assert install_line(["b", "a", "b"], root=True) == "apt-get install -y --no-install-recommends a b"


def test_doctor_tests_checks_what_the_test_suite_needs_and_setup_installs_exactly_that() -> None:
    """`foc-deploy doctor --tests` adds the test suite's packages (scripts/setup's DEV_PACKAGES, one
    list) and clang's libFuzzer runtime; without `--tests` neither is asked for."""
    import re
    from pathlib import Path

    from foc.deploy.host import TEST_PACKAGES

    setup = (Path(__file__).resolve().parents[3] / "scripts" / "setup").read_text()
    listed = re.search(r'^DEV_PACKAGES="([^"]*)"', setup, re.MULTILINE)
    assert listed is not None and listed.group(1).split() == list(TEST_PACKAGES)

    plain = {c.name for c in check_host("qemu", probe=FakeHost())}
    assert not any("libFuzzer" in n or n == "package libclang-rt-dev" for n in plain)
    checks = check_host(
        "qemu",
        probe=FakeHost(
            missing_packages={"libclang-rt-dev"}, fuzzer="clang has no libFuzzer runtime", root=False
        ),
        tests=True,
    )
    bad = {c.name: c for c in checks if not c.ok}
    assert set(bad) == {
        "package libclang-rt-dev",
        "clang libFuzzer runtime (native tier's fuzz smoke)",
        "root privileges",
    }
    assert (
        bad["package libclang-rt-dev"].fix
        == "sudo apt-get install -y --no-install-recommends libclang-rt-dev"
    )
    runtime = bad["clang libFuzzer runtime (native tier's fuzz smoke)"]
    assert runtime.detail == "clang has no libFuzzer runtime"
    assert runtime.fix == "sudo apt-get install -y --no-install-recommends clang libclang-rt-dev"
    assert all(c.ok for c in check_host("qemu", probe=FakeHost(), tests=True))
