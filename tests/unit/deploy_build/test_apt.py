"""Private apt configuration, mirror discovery, download cache and pin errors (fake apt-get)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from foc.deploy.build.apt import AptArchive, MirrorSet, sources_list
from foc.deploy.targets.base import DebPackage, SourcePackage
from foc.errors import BuildError, HostSetupError

DEB822 = """#deb822
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_deb822_sources() -> None:
    m = MirrorSet.from_sources([DEB822])
    assert m.archive == "http://mirror.example/debian"
    assert m.url_for("sid") == "http://mirror.example/debian"
    assert m.url_for("bookworm-security") == "http://mirror.example/debian-security"


def test_mirror_from_one_line_sources_skips_disabled_and_other_repos() -> None:
    texts = [
        "deb https://packages.cloud.google.com/apt cloud-sdk main\n",
        "# deb http://commented.example/debian sid main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://deb.example/debian/ bookworm main\n",
        "#deb822\nTypes: deb\nEnabled: no\nURIs: http://off.example/debian\nSuites: sid\n",
    ]
    m = MirrorSet.from_sources(texts)
    assert m.archive == "http://deb.example/debian"
    assert m.security is None
    # deb.debian.org layout: the security archive sits next to the main one.
    assert m.url_for("bookworm-security") == "http://deb.example/debian-security"


def test_no_debian_mirror_is_a_host_setup_error() -> None:
    with pytest.raises(HostSetupError, match="no Debian archive"):
        MirrorSet.from_sources(["deb https://packages.cloud.google.com/apt cloud-sdk main\n"])


def test_sources_list_has_deb_and_deb_src_per_suite() -> None:
    text = sources_list(
        MirrorSet("http://m/debian", "http://m/debian-security"), ["sid", "bookworm-security"]
    )
    lines = text.splitlines()
    assert "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://m/debian sid main" in lines
    assert any(line.startswith("deb-src ") and line.endswith("http://m/debian sid main") for line in lines)
    assert any("http://m/debian-security bookworm-security main" in line for line in lines)
    assert len(lines) == 4


class FakeApt:
    """Plays apt-get/apt-cache: `download` writes a .deb into cwd if the version is on the 'mirror'."""

    def __init__(self, available: dict[str, list[str]]) -> None:
        self.available = available
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.calls.append(argv)
        verb = next(a for a in argv[1:] if not a.startswith("-") and "=" not in a and "::" not in a)
        if verb == "update":
            return subprocess.CompletedProcess(argv, 0, "Reading package lists...\n", "")
        if verb == "download":
            spec = argv[-1]
            name_arch, version = spec.split("=", 1)
            name = name_arch.split(":")[0]
            if version not in self.available.get(name, []):
                return subprocess.CompletedProcess(
                    argv, 100, "", f"E: Version '{version}' for '{name}' was not found"
                )
            assert cwd is not None
            (cwd / f"{name}_{version.replace(':', '%3a')}_arm64.deb").write_bytes(b"deb " + spec.encode())
            return subprocess.CompletedProcess(argv, 0, "", "")
        if verb == "source":
            name, version = argv[-1].split("=", 1)
            if version not in self.available.get(name, []):
                return subprocess.CompletedProcess(argv, 100, "", f"E: Can not find version '{version}'")
            assert cwd is not None
            (cwd / f"{name}_{version}.dsc").write_text("Format: 3.0 (quilt)\n")
            (cwd / f"{name}_{version}.orig.tar.gz").write_bytes(b"tar")
            return subprocess.CompletedProcess(argv, 0, "", "")
        if verb == "madison":
            name = argv[-1].split(":")[0]
            rows = [
                f"{name} | {v} | http://m/debian sid/main arm64 Packages"
                for v in self.available.get(name, [])
            ]
            return subprocess.CompletedProcess(argv, 0, "\n".join(rows) + "\n", "")
        raise AssertionError(f"unexpected apt call {argv}")


def _archive(tmp_path: Path, fake: FakeApt) -> AptArchive:
    return AptArchive(
        tmp_path / "apt", tmp_path / "downloads", MirrorSet("http://m/debian"), ["sid"], run=fake
    )


def test_private_options_never_point_at_system_sources(tmp_path: Path) -> None:
    archive = _archive(tmp_path, FakeApt({}))
    opts = archive.options()
    assert f"Dir::Etc::SourceList={tmp_path / 'apt' / 'sources.list'}" in opts
    assert "Dir::Etc::SourceParts=/dev/null" in opts
    assert f"Dir::State::Lists={tmp_path / 'apt' / 'lists'}" in opts
    assert not any("/etc/apt" in o or "/var/lib/apt" in o for o in opts)
    archive.write_config()
    assert "http://m/debian sid main" in (tmp_path / "apt" / "sources.list").read_text()


def test_download_is_cached_and_needs_no_apt_the_second_time(tmp_path: Path) -> None:
    fake = FakeApt({"libteec2": ["4.11.0-1"]})
    pkg = DebPackage("libteec2", "4.11.0-1", "sid")
    path, record = _archive(tmp_path, fake).deb(pkg)
    assert path.read_bytes() == b"deb libteec2:arm64=4.11.0-1"
    assert record["suite"] == "sid" and len(str(record["sha256"])) == 64
    assert [c for c in fake.calls if "update" in c], "lists are fetched on a miss"

    fake2 = FakeApt({})
    path2, record2 = _archive(tmp_path, fake2).deb(pkg)
    assert (path2, record2) == (path, record)
    assert fake2.calls == []


def test_pinned_version_gone_names_the_pin_and_what_the_mirror_has(tmp_path: Path) -> None:
    fake = FakeApt({"tee-supplicant": ["4.12.0-1"]})
    with pytest.raises(BuildError) as exc:
        _archive(tmp_path, fake).deb(DebPackage("tee-supplicant", "4.11.0-1", "sid"))
    err = exc.value
    assert "tee-supplicant 4.11.0-1 (sid) is no longer on the mirror" in err.message
    assert err.hint is not None
    assert "foc/deploy/targets/qemu.py" in err.hint and "4.12.0-1" in err.hint


def test_source_download_records_file_hashes(tmp_path: Path) -> None:
    fake = FakeApt({"optee-os": ["4.10.0-2"]})
    d, record = _archive(tmp_path, fake).source(SourcePackage("optee-os", "4.10.0-2", "sid"))
    assert record["dsc"] == "optee-os_4.10.0-2.dsc"
    assert set(record["files"]) == {"optee-os_4.10.0-2.dsc", "optee-os_4.10.0-2.orig.tar.gz"}  # type: ignore[arg-type]
    assert (d / "optee-os_4.10.0-2.dsc").exists()
    # Cached: a second archive with an empty mirror still finds it.
    again, _ = _archive(tmp_path, FakeApt({})).source(SourcePackage("optee-os", "4.10.0-2", "sid"))
    assert again == d


def test_failed_update_is_a_build_error(tmp_path: Path) -> None:
    def broken(argv: Sequence[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            list(argv), 100, "", "E: Failed to fetch http://m/debian/dists/sid"
        )

    with pytest.raises(BuildError, match="apt-get update failed"):
        AptArchive(
            tmp_path / "apt", tmp_path / "dl", MirrorSet("http://m/debian"), ["sid"], run=broken
        ).update()
