"""Private apt configuration, mirror discovery, download cache, pin hashes, the snapshot-archive
fallback and pin errors (fake apt-get, fake snapshot archive on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from foc.deploy.build.apt import AptArchive, MirrorSet, SnapshotArchive, dsc_checksums, sources_list
from foc.deploy.targets.base import DebPackage, SourcePackage
from foc.errors import BuildError, ConfigError, HostSetupError

from .fake_snapshot import FakeSnapshot, running_snapshot

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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def deb_content(name: str, version: str, arch: str = "arm64") -> bytes:
    """What the fake mirror's .deb of `name` `version` contains."""
    return f"deb {name}:{arch}={version}".encode()


def pinned(name: str, version: str, suite: str = "sid") -> DebPackage:
    return DebPackage(name, version, suite, sha256=_sha256(deb_content(name, version)))


def make_dsc(name: str, version: str, files: dict[str, bytes]) -> bytes:
    """A clear-signed .dsc (the signature is a placeholder) listing `files` as Debian writes them."""
    rows = [(f, c) for f, c in files.items()]
    return "\n".join(
        [
            "-----BEGIN PGP SIGNED MESSAGE-----",
            "Hash: SHA512",
            "",
            "Format: 3.0 (quilt)",
            f"Source: {name}",
            f"Version: {version}",
            "Checksums-Sha1:",
            *(f" {hashlib.sha1(c).hexdigest()} {len(c)} {f}" for f, c in rows),
            "Checksums-Sha256:",
            *(f" {_sha256(c)} {len(c)} {f}" for f, c in rows),
            "Files:",
            *(f" {hashlib.md5(c).hexdigest()} {len(c)} {f}" for f, c in rows),
            "",
            "-----BEGIN PGP SIGNATURE-----",
            "",
            "aW5zZXJ0IGEgcmVhbCBzaWduYXR1cmUgaGVyZQ==",
            "-----END PGP SIGNATURE-----",
            "",
        ]
    ).encode()


def source_content(name: str, version: str) -> dict[str, bytes]:
    """Every file of the fake source package `name` `version`: .dsc, orig and debian tarballs."""
    upstream = version.rsplit("-", 1)[0]
    tarballs = {
        f"{name}_{upstream}.orig.tar.gz": f"upstream {name} {upstream}".encode() * 100,
        f"{name}_{version}.debian.tar.xz": f"packaging {name} {version}".encode(),
    }
    return {f"{name}_{version}.dsc": make_dsc(name, version, tarballs), **tarballs}


def pinned_source(name: str, version: str, suite: str = "sid") -> SourcePackage:
    return SourcePackage(
        name, version, suite, sha256=_sha256(source_content(name, version)[f"{name}_{version}.dsc"])
    )


class FakeApt:
    """Plays apt-get/apt-cache: `download` / `source` write the files into cwd if the version is on
    the 'mirror' (`available`); `tamper` replaces the content of a file it writes."""

    def __init__(self, available: dict[str, list[str]], tamper: dict[str, bytes] | None = None) -> None:
        self.available = available
        self.tamper = tamper or {}
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
            file_name = f"{name}_{version.replace(':', '%3a')}_arm64.deb"
            (cwd / file_name).write_bytes(self.tamper.get(file_name, deb_content(name, version)))
            return subprocess.CompletedProcess(argv, 0, "", "")
        if verb == "source":
            name, version = argv[-1].split("=", 1)
            if version not in self.available.get(name, []):
                return subprocess.CompletedProcess(argv, 100, "", f"E: Can not find version '{version}'")
            assert cwd is not None
            for file_name, content in source_content(name, version).items():
                (cwd / file_name).write_bytes(self.tamper.get(file_name, content))
            return subprocess.CompletedProcess(argv, 0, "", "")
        if verb == "madison":
            name = argv[-1].split(":")[0]
            rows = [
                f"{name} | {v} | http://m/debian sid/main arm64 Packages"
                for v in self.available.get(name, [])
            ]
            return subprocess.CompletedProcess(argv, 0, "\n".join(rows) + "\n", "")
        raise AssertionError(f"unexpected apt call {argv}")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


UNREACHABLE = f"http://127.0.0.1:{_closed_port()}"  # nothing listens: a snapshot archive that never answers


def _archive(tmp_path: Path, fake: FakeApt, snapshot: str = UNREACHABLE) -> AptArchive:
    return AptArchive(
        tmp_path / "apt",
        tmp_path / "downloads",
        MirrorSet("http://m/debian"),
        ["sid"],
        run=fake,
        snapshot=SnapshotArchive(snapshot, timeout=10),
    )


@pytest.fixture
def snapshot() -> Iterator[FakeSnapshot]:
    with running_snapshot() as fake:
        yield fake


def _cached_files(tmp_path: Path) -> list[str]:
    """Everything under the download cache (temporary directories included)."""
    root = tmp_path / "downloads"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_private_options_never_point_at_system_sources(tmp_path: Path) -> None:
    archive = _archive(tmp_path, FakeApt({}))
    opts = archive.options()
    assert f"Dir::Etc::SourceList={tmp_path / 'apt' / 'sources.list'}" in opts
    assert "Dir::Etc::SourceParts=/dev/null" in opts
    assert f"Dir::State::Lists={tmp_path / 'apt' / 'lists'}" in opts
    assert not any("/etc/apt" in o or "/var/lib/apt" in o for o in opts)
    archive.write_config()
    assert "http://m/debian sid main" in (tmp_path / "apt" / "sources.list").read_text()


# -- binary packages from the mirror ----------------------------------------------------------------


def test_download_is_checked_cached_and_needs_no_apt_the_second_time(
    tmp_path: Path, snapshot: FakeSnapshot
) -> None:
    fake = FakeApt({"libteec2": ["4.11.0-1"]})
    pkg = pinned("libteec2", "4.11.0-1")
    path, record = _archive(tmp_path, fake, snapshot.base_url).deb(pkg)
    assert path.read_bytes() == b"deb libteec2:arm64=4.11.0-1"
    assert record["sha256"] == pkg.sha256 and record["suite"] == "sid"
    assert (record["origin"], record["url"]) == ("mirror", "http://m/debian")
    assert [c for c in fake.calls if "update" in c], "lists are fetched on a miss"

    fake2 = FakeApt({})
    path2, record2 = _archive(tmp_path, fake2, snapshot.base_url).deb(pkg)
    assert (path2, record2) == (path, record)
    assert fake2.calls == [] and snapshot.requests == []
    assert _cached_files(tmp_path) == ["debs", "debs/" + path.name, "debs/libteec2_4.11.0-1_arm64.json"]


def test_mirror_file_differing_from_the_pin_is_refused_and_not_cached(tmp_path: Path) -> None:
    bad = b"not the file Debian published"
    fake = FakeApt({"libteec2": ["4.11.0-1"]}, tamper={"libteec2_4.11.0-1_arm64.deb": bad})
    pkg = pinned("libteec2", "4.11.0-1")
    with pytest.raises(BuildError) as exc:
        _archive(tmp_path, fake).deb(pkg)
    message = exc.value.message
    assert "package libteec2 4.11.0-1" in message and "http://m/debian" in message
    assert f"has sha256 {_sha256(bad)}, expected {pkg.sha256}" in message
    assert _cached_files(tmp_path) == ["debs"], "nothing is cached, no temporary directory is left"


def test_pin_without_sha256_is_refused_and_the_error_gives_the_mirror_files_hash(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as exc:
        _archive(tmp_path, FakeApt({"libteec2": ["4.11.0-1"]})).deb(DebPackage("libteec2", "4.11.0-1", "sid"))
    assert "libteec2 4.11.0-1 in foc/deploy/targets/qemu.py has no sha256" in exc.value.message
    assert f'sha256="{_sha256(deb_content("libteec2", "4.11.0-1"))}"' in str(exc.value.hint)
    assert _cached_files(tmp_path) == ["debs"]


def test_cached_file_no_longer_matching_the_pin_is_fetched_again(tmp_path: Path) -> None:
    pkg = pinned("libteec2", "4.11.0-1")
    path, _ = _archive(tmp_path, FakeApt({"libteec2": ["4.11.0-1"]})).deb(pkg)
    path.write_bytes(b"bit rot")
    fake = FakeApt({"libteec2": ["4.11.0-1"]})
    again, record = _archive(tmp_path, fake).deb(pkg)
    assert again.read_bytes() == deb_content("libteec2", "4.11.0-1") and record["sha256"] == pkg.sha256
    assert [c for c in fake.calls if "download" in c]


# -- binary packages from the snapshot archive --------------------------------------------------------


def test_version_gone_from_the_mirror_comes_from_the_snapshot_checked_and_cached(
    tmp_path: Path, snapshot: FakeSnapshot
) -> None:
    # An epoch and a '+': both must reach the archive URL-quoted.
    pkg = pinned("busybox-static", "1:1.37.0-6+b9", "trixie")
    content = deb_content("busybox-static", "1:1.37.0-6+b9")
    builds = {"amd64": b"the amd64 build", "arm64": content, "armhf": b"the armhf build"}
    sha1 = snapshot.add_binary("busybox-static", "1:1.37.0-6+b9", builds)["arm64"]
    fake = FakeApt({"busybox-static": ["1:1.37.0-7"]})
    archive = _archive(tmp_path, fake, snapshot.base_url)

    path, record = archive.deb(pkg)

    assert path.read_bytes() == content
    assert path.name == "busybox-static_1%3a1.37.0-6+b9_arm64.deb", "named as apt-get download names it"
    assert record["sha256"] == pkg.sha256
    assert (record["origin"], record["url"]) == ("snapshot", f"{snapshot.base_url}/file/{sha1}")
    assert snapshot.requests == [
        "/mr/binary/busybox-static/1%3A1.37.0-6%2Bb9/binfiles?fileinfo=1",
        f"/file/{sha1}",
    ]
    assert [c for c in fake.calls if "download" in c], "the mirror was tried first"
    # Cached: neither the mirror nor the snapshot archive is asked again.
    again = _archive(tmp_path, FakeApt({}), snapshot.base_url).deb(pkg)
    assert again == (path, record) and len(snapshot.requests) == 2


def test_tampered_file_from_the_snapshot_is_refused_and_nothing_is_cached(
    tmp_path: Path, snapshot: FakeSnapshot
) -> None:
    pkg = pinned("tee-supplicant", "4.11.0-1")
    evil = b"a tee-supplicant that logs every key"
    snapshot.add_binary(
        "tee-supplicant",
        "4.11.0-1",
        {"arm64": deb_content("tee-supplicant", "4.11.0-1")},
        served={"arm64": evil},
    )
    with pytest.raises(BuildError) as exc:
        _archive(tmp_path, FakeApt({"tee-supplicant": ["4.12.0-1"]}), snapshot.base_url).deb(pkg)
    message = exc.value.message
    assert message.startswith("package tee-supplicant 4.11.0-1: tee-supplicant_4.11.0-1_arm64.deb from ")
    assert f"{snapshot.base_url}/file/" in message
    assert f"has sha256 {_sha256(evil)}, expected {pkg.sha256}" in message
    assert _cached_files(tmp_path) == ["debs"]


def test_version_on_neither_mirror_nor_snapshot_is_one_error_saying_what_was_tried(
    tmp_path: Path, snapshot: FakeSnapshot
) -> None:
    fake = FakeApt({"tee-supplicant": ["4.12.0-1"]})
    with pytest.raises(BuildError) as exc:
        _archive(tmp_path, fake, snapshot.base_url).deb(pinned("tee-supplicant", "4.11.0-1"))
    err = exc.value
    assert "tee-supplicant 4.11.0-1 (sid) is no longer on the mirror http://m/debian" in err.message
    assert f"the snapshot archive {snapshot.base_url} did not provide it" in err.message
    hint = str(err.hint)
    assert hint.index("1) the mirror http://m/debian, which offers 4.12.0-1") < hint.index("2) the snapshot")
    assert (
        f"{snapshot.base_url}/mr/binary/tee-supplicant/4.11.0-1/binfiles?fileinfo=1 answered HTTP 404" in hint
    )
    assert "foc/deploy/targets/qemu.py" in hint and "Bumping a pin" in hint
    assert _cached_files(tmp_path) == ["debs"]


def test_unreachable_snapshot_archive_is_named_in_the_combined_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as exc:
        _archive(tmp_path, FakeApt({"libteec2": ["4.12.0-1"]})).deb(pinned("libteec2", "4.11.0-1"))
    assert f"{UNREACHABLE}/mr/binary/libteec2/4.11.0-1/binfiles?fileinfo=1 could not be fetched" in str(
        exc.value.hint
    )


def test_pin_without_sha256_is_never_taken_from_the_snapshot(tmp_path: Path, snapshot: FakeSnapshot) -> None:
    snapshot.add_binary("libteec2", "4.11.0-1", {"arm64": deb_content("libteec2", "4.11.0-1")})
    with pytest.raises(BuildError, match="has no sha256 to check a snapshot copy against"):
        _archive(tmp_path, FakeApt({}), snapshot.base_url).deb(DebPackage("libteec2", "4.11.0-1", "sid"))
    assert snapshot.requests == []


def test_apt_failing_for_a_version_the_mirror_offers_is_not_sent_to_the_snapshot(
    tmp_path: Path, snapshot: FakeSnapshot
) -> None:
    class Flaky(FakeApt):
        def __call__(self, argv: Sequence[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
            if "download" in argv:
                return subprocess.CompletedProcess(list(argv), 100, "", "E: Failed to fetch ... 503")
            return super().__call__(argv, cwd)

    with pytest.raises(BuildError, match="apt-get could not fetch package libteec2 4.11.0-1") as exc:
        _archive(tmp_path, Flaky({"libteec2": ["4.11.0-1"]}), snapshot.base_url).deb(
            pinned("libteec2", "4.11.0-1")
        )
    assert "503" in str(exc.value.hint) and snapshot.requests == []


# -- source packages --------------------------------------------------------------------------------


def test_source_download_checks_the_dsc_and_its_tarballs_and_is_cached(tmp_path: Path) -> None:
    src = pinned_source("optee-os", "4.10.0-2")
    d, record = _archive(tmp_path, FakeApt({"optee-os": ["4.10.0-2"]})).source(src)
    files = source_content("optee-os", "4.10.0-2")
    assert record["dsc"] == "optee-os_4.10.0-2.dsc"
    assert record["files"] == {name: _sha256(content) for name, content in files.items()}
    assert record["origin"] == "mirror"
    assert record["urls"] == {name: "http://m/debian" for name in files}
    assert {p.name for p in d.iterdir()} == {*files, "record.json"}
    # Cached: a second archive with an empty mirror still finds it.
    again, _ = _archive(tmp_path, FakeApt({})).source(src)
    assert again == d


def test_source_tarball_not_matching_the_dsc_is_refused_and_not_cached(tmp_path: Path) -> None:
    bad = b"an orig tarball with a backdoor"
    fake = FakeApt({"optee-os": ["4.10.0-2"]}, tamper={"optee-os_4.10.0.orig.tar.gz": bad})
    src = pinned_source("optee-os", "4.10.0-2")
    with pytest.raises(BuildError) as exc:
        _archive(tmp_path, fake).source(src)
    expected = _sha256(source_content("optee-os", "4.10.0-2")["optee-os_4.10.0.orig.tar.gz"])
    assert exc.value.message == (
        "source package optee-os 4.10.0-2: optee-os_4.10.0.orig.tar.gz from http://m/debian "
        f"has sha256 {_sha256(bad)}, expected {expected}"
    )
    assert _cached_files(tmp_path) == ["src"]


def test_source_dsc_not_matching_the_pin_is_refused(tmp_path: Path) -> None:
    src = SourcePackage("optee-os", "4.10.0-2", "sid", sha256="0" * 64)
    with pytest.raises(
        BuildError, match=r"optee-os_4\.10\.0-2\.dsc from http://m/debian has sha256 [0-9a-f]{64}, "
    ):
        _archive(tmp_path, FakeApt({"optee-os": ["4.10.0-2"]})).source(src)
    assert _cached_files(tmp_path) == ["src"]


def test_source_gone_from_the_mirror_comes_from_the_snapshot_with_tarballs_checked(
    tmp_path: Path, snapshot: FakeSnapshot
) -> None:
    files = source_content("arm-trusted-firmware", "2.12.1+dfsg-1")
    hashes = snapshot.add_source("arm-trusted-firmware", "2.12.1+dfsg-1", files)
    src = pinned_source("arm-trusted-firmware", "2.12.1+dfsg-1", "trixie")
    d, record = _archive(
        tmp_path, FakeApt({"arm-trusted-firmware": ["2.12.16+dfsg-1"]}), snapshot.base_url
    ).source(src)
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.name != "record.json"} == files
    assert record["origin"] == "snapshot"
    assert record["files"] == {name: _sha256(content) for name, content in files.items()}
    assert record["urls"] == {name: f"{snapshot.base_url}/file/{hashes[name]}" for name in files}
    dsc = "arm-trusted-firmware_2.12.1+dfsg-1.dsc"
    assert snapshot.requests[:2] == [
        "/mr/package/arm-trusted-firmware/2.12.1%2Bdfsg-1/srcfiles?fileinfo=1",
        f"/file/{hashes[dsc]}",
    ], "the .dsc is fetched (and checked) before the files it lists"
    assert sorted(snapshot.requests[2:]) == sorted(f"/file/{hashes[n]}" for n in files if n != dsc)
    assert json.loads((d / "record.json").read_text()) == record
    again, _ = _archive(tmp_path, FakeApt({}), snapshot.base_url).source(src)
    assert again == d and len(snapshot.requests) == 1 + len(files), "cached: no more requests"


def test_snapshot_tarball_not_matching_the_dsc_is_refused_and_nothing_is_cached(
    tmp_path: Path, snapshot: FakeSnapshot
) -> None:
    files = source_content("optee-os", "4.10.0-2")
    snapshot.add_source(
        "optee-os", "4.10.0-2", files, served={"optee-os_4.10.0-2.debian.tar.xz": b"evil patch"}
    )
    with pytest.raises(BuildError) as exc:
        _archive(tmp_path, FakeApt({"optee-os": ["4.11.0-1"]}), snapshot.base_url).source(
            pinned_source("optee-os", "4.10.0-2")
        )
    message = exc.value.message
    assert message.startswith("source package optee-os 4.10.0-2: optee-os_4.10.0-2.debian.tar.xz from ")
    assert (
        f"has sha256 {_sha256(b'evil patch')}, expected {_sha256(files['optee-os_4.10.0-2.debian.tar.xz'])}"
        in (message)
    )
    assert _cached_files(tmp_path) == ["src"]


def test_source_on_neither_mirror_nor_snapshot_is_one_error(tmp_path: Path, snapshot: FakeSnapshot) -> None:
    with pytest.raises(BuildError) as exc:
        _archive(tmp_path, FakeApt({"optee-os": ["4.11.0-1"]}), snapshot.base_url).source(
            pinned_source("optee-os", "4.10.0-2")
        )
    assert "source package optee-os 4.10.0-2 (sid) is no longer on the mirror" in exc.value.message
    assert "/mr/package/optee-os/4.10.0-2/srcfiles?fileinfo=1 answered HTTP 404" in str(exc.value.hint)


# -- parts -----------------------------------------------------------------------------------------


def test_dsc_checksums_reads_the_sha256_list_of_a_signed_dsc() -> None:
    files = {"x_1.0.orig.tar.gz": b"a", "x_1.0-1.debian.tar.xz": b"bb"}
    assert dsc_checksums(make_dsc("x", "1.0-1", files).decode()) == [
        (_sha256(b"a"), 1, "x_1.0.orig.tar.gz"),
        (_sha256(b"bb"), 2, "x_1.0-1.debian.tar.xz"),
    ]


@pytest.mark.parametrize(
    "line", [f" {'a' * 64} 1 ../../etc/passwd", f" {'a' * 64} 1 /abs", f" {'a' * 63} 1 x.tar.gz", " junk"]
)
def test_dsc_checksums_refuses_paths_and_malformed_lines(line: str) -> None:
    with pytest.raises(BuildError, match="malformed Checksums-Sha256 line"):
        dsc_checksums(f"Source: x\nChecksums-Sha256:\n{line}\n")


def test_dsc_without_checksums_is_refused() -> None:
    with pytest.raises(BuildError, match="no Checksums-Sha256"):
        dsc_checksums("Source: x\nFiles:\n d41d8cd98f00b204e9800998ecf8427e 0 x.tar.gz\n")


def test_snapshot_archive_url_comes_from_the_environment() -> None:
    assert SnapshotArchive.from_env({}).base_url == "https://snapshot.debian.org"
    mirror = SnapshotArchive.from_env({"FOC_DEBIAN_SNAPSHOT": "http://snapshot.example/"})
    assert mirror.file_url("ab" * 20) == "http://snapshot.example/file/" + "ab" * 20
    with pytest.raises(ConfigError, match="not an http"):
        SnapshotArchive.from_env({"FOC_DEBIAN_SNAPSHOT": "file:///etc"})


def test_architecture_independent_package_comes_from_the_snapshot_as_all(
    tmp_path: Path, snapshot: FakeSnapshot
) -> None:
    content = b"tzdata, Architecture: all"
    snapshot.add_binary("tzdata", "2025b-4", {"all": content})
    pkg = DebPackage("tzdata", "2025b-4", "trixie", sha256=_sha256(content))
    path, record = _archive(tmp_path, FakeApt({}), snapshot.base_url).deb(pkg)
    assert path.name == "tzdata_2025b-4_all.deb" and path.read_bytes() == content
    assert record["origin"] == "snapshot"


def test_snapshot_listing_with_no_file_for_the_arch_is_a_miss(tmp_path: Path, snapshot: FakeSnapshot) -> None:
    snapshot.add_binary("libteec2", "4.11.0-1", {"amd64": b"x86 build"})
    with pytest.raises(BuildError) as exc:
        _archive(tmp_path, FakeApt({}), snapshot.base_url).deb(pinned("libteec2", "4.11.0-1"))
    assert "lists no arm64 files" in str(exc.value.hint)


def test_failed_update_is_a_build_error(tmp_path: Path) -> None:
    def broken(argv: Sequence[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            list(argv), 100, "", "E: Failed to fetch http://m/debian/dists/sid"
        )

    with pytest.raises(BuildError, match="apt-get update failed"):
        AptArchive(
            tmp_path / "apt",
            tmp_path / "dl",
            MirrorSet("http://m/debian"),
            ["sid"],
            run=broken,
            snapshot=SnapshotArchive(UNREACHABLE),
        ).update()
