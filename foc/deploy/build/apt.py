"""Fetching pinned Debian packages: from the mirror with a private apt configuration, else from
the Debian snapshot archive.

The system's apt sources and state are never touched: apt runs with its own sources list, lists
and cache directories (`-o Dir::...`) under the cache root. The mirror is the one the system apt
sources already use (read from /etc/apt/sources.list{,.d}). Only when the mirror no longer offers a
pinned version is another host contacted: the Debian snapshot archive (`SnapshotArchive`,
https://snapshot.debian.org unless $FOC_DEBIAN_SNAPSHOT names another). Every file, from either
place or from the cache, is checked against the pin's sha256 (a .deb, a source package's .dsc) or
the pinned .dsc's own checksums (its tarballs) before use; a file that fails is never cached.
Downloads are cached by (name, version, arch) under `<cache>/downloads`, with their sha256 and
where they came from.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from foc.deploy.targets.base import DebPackage, SourcePackage
from foc.errors import BuildError, ConfigError, HostSetupError
from foc.text import shown

log = logging.getLogger(__name__)

ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SYSTEM_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
PIN_FILE_HINT = "foc/deploy/targets/{target}.py"
BUMP_DOC = "Bumping a pin"  # the section of docs/deploy.md the errors point to
SNAPSHOT_ENV = "FOC_DEBIAN_SNAPSHOT"
DEFAULT_SNAPSHOT = "https://snapshot.debian.org"
SNAPSHOT_TIMEOUT = 60.0  # seconds per request to the snapshot archive
MAX_JSON = 16 << 20  # bytes: the largest snapshot API answer read
MAX_FILE = 1 << 30  # bytes: the largest .deb or .dsc fetched (a tarball's bound is its size in the .dsc)
_SHA1 = re.compile(r"[0-9a-f]{40}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+~%_-]*")  # a file name in a .dsc: no path

Runner = Callable[[Sequence[str], Path | None], "subprocess.CompletedProcess[str]"]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's content."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(argv: Sequence[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)


@dataclass(frozen=True)
class MirrorSet:
    """The Debian archive and security mirror URLs taken from the system apt sources."""

    archive: str
    security: str | None = None

    def url_for(self, suite: str) -> str:
        """The mirror that carries `suite` (`*-security` suites live on the security archive)."""
        if suite.endswith("-security"):
            if self.security:
                return self.security
            # deb.debian.org serves debian-security next to debian.
            return self.archive.rstrip("/").rsplit("/", 1)[0] + "/debian-security"
        return self.archive

    @classmethod
    def from_sources(cls, texts: Iterable[str]) -> MirrorSet:
        """Parse deb822 (`.sources`) and one-line (`.list`) sources for Debian archive URLs."""
        archive: str | None = None
        security: str | None = None
        for uri, suites in _iter_sources(texts):
            uri = uri.rstrip("/")
            if any(s.endswith("-security") for s in suites) or uri.endswith("/debian-security"):
                security = security or uri
            elif uri.endswith("/debian") or "debian" in uri.rsplit("/", 1)[-1]:
                archive = archive or uri
        if archive is None:
            raise HostSetupError(
                "no Debian archive mirror found in the system apt sources",
                hint="add e.g. 'deb http://deb.debian.org/debian bookworm main' to /etc/apt/sources.list",
            )
        return cls(archive=archive, security=security)

    @classmethod
    def from_system(cls, paths: Sequence[Path] = SYSTEM_SOURCES) -> MirrorSet:
        texts: list[str] = []
        for p in paths:
            if p.is_file():
                texts.append(p.read_text(errors="replace"))
            elif p.is_dir():
                for f in sorted(p.iterdir()):
                    if f.suffix == ".list":
                        texts.append(f.read_text(errors="replace"))
                    elif f.suffix == ".sources":
                        texts.append("#deb822\n" + f.read_text(errors="replace"))
        return cls.from_sources(texts)


def _iter_sources(texts: Iterable[str]) -> Iterable[tuple[str, list[str]]]:
    for text in texts:
        if text.startswith("#deb822\n") or re.search(r"^URIs:", text, re.M):
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.strip()
                if (
                    fields.get("enabled", "yes").lower() == "no"
                    or "deb" not in fields.get("types", "").split()
                ):
                    continue
                for uri in fields.get("uris", "").split():
                    yield uri, fields.get("suites", "").split()
        else:
            for line in text.splitlines():
                line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()  # type: ignore[assignment]
                if len(line) >= 3 and line[0] == "deb":
                    yield line[1], [line[2]]


def sources_list(
    mirrors: MirrorSet,
    suites: Iterable[str],
    *,
    keyring: str = ARCHIVE_KEYRING,
    components: Sequence[str] = ("main",),
) -> str:
    """A private sources.list: deb + deb-src lines (`components`, default main) for each suite."""
    lines = []
    for suite in suites:
        url = mirrors.url_for(suite)
        for kind in ("deb", "deb-src"):
            lines.append(f"{kind} [signed-by={keyring}] {url} {suite} {' '.join(components)}")
    return "\n".join(lines) + "\n"


class SnapshotMiss(Exception):
    """The snapshot archive did not provide a file: absent, unreachable, or an unusable answer."""


class SnapshotArchive:
    """Debian's snapshot archive (snapshot.debian.org) through its machine-readable API.

    The calls used (the snapshot.debian.org API documentation: the `API` file of
    salsa.debian.org/snapshot-team/snapshot); file hashes there are sha1 hex digests:
    - `GET /mr/binary/<binary>/<version>/binfiles?fileinfo=1` ->
      `{"binary", "binary_version", "result": [{"hash": sha1, "architecture": "arm64"}, ...],
      "fileinfo": {sha1: [{"name", "archive_name", "path", "first_seen", "size"}, ...]}}`
    - `GET /mr/package/<source>/<version>/srcfiles?fileinfo=1` ->
      `{"package", "version", "result": [{"hash": sha1}, ...], "fileinfo": {sha1: [{"name", ...}]}}`
    - `GET /file/<sha1>` -> the file's bytes.
    404 means the archive has no such version. Nothing here is signature-checked: the caller checks
    every file against the pin's sha256 (`AptArchive`). Errors: `SnapshotMiss`.
    """

    def __init__(self, base_url: str = DEFAULT_SNAPSHOT, *, timeout: float = SNAPSHOT_TIMEOUT) -> None:
        if not re.match(r"https?://[^/]", base_url):
            raise ConfigError(
                f"the Debian snapshot archive URL {shown(base_url)} is not an http(s) URL",
                hint=f"set {SNAPSHOT_ENV} to e.g. {DEFAULT_SNAPSHOT}, or unset it",
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout  # seconds per request

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SnapshotArchive:
        """The archive named by $FOC_DEBIAN_SNAPSHOT, else https://snapshot.debian.org."""
        env = os.environ if env is None else env
        return cls(env.get(SNAPSHOT_ENV) or DEFAULT_SNAPSHOT)

    def binfiles_url(self, name: str, version: str) -> str:
        return (
            f"{self.base_url}/mr/binary/{quote(name, safe='')}/{quote(version, safe='')}/binfiles?fileinfo=1"
        )

    def srcfiles_url(self, name: str, version: str) -> str:
        return (
            f"{self.base_url}/mr/package/{quote(name, safe='')}/{quote(version, safe='')}/srcfiles?fileinfo=1"
        )

    def file_url(self, sha1: str) -> str:
        return f"{self.base_url}/file/{sha1}"

    def binary_file(self, name: str, version: str, arch: str) -> tuple[str, str]:
        """(sha1, architecture) of the .deb of binary package `name` `version` built for `arch`,
        or for `all` (an architecture-independent package)."""
        url = self.binfiles_url(name, version)
        result = self._json(url).get("result")
        rows = result if isinstance(result, list) else []
        found = {
            (str(r.get("hash")), str(r.get("architecture")))
            for r in rows
            if isinstance(r, dict) and r.get("architecture") in (arch, "all")
        }
        if len(found) != 1:
            raise SnapshotMiss(f"{url} lists {len(found) or 'no'} {arch} files")
        sha1, built_for = found.pop()
        if not _SHA1.fullmatch(sha1):
            raise SnapshotMiss(f"{url} gives a malformed file hash {shown(sha1)}")
        return sha1, built_for

    def source_files(self, name: str, version: str) -> dict[str, str]:
        """File name -> sha1 for every file of source package `name` `version`."""
        url = self.srcfiles_url(name, version)
        answer = self._json(url)
        result, info = answer.get("result"), answer.get("fileinfo")
        if not isinstance(result, list) or not isinstance(info, dict):
            raise SnapshotMiss(f"{url} has no result and fileinfo (was fileinfo=1 ignored?)")
        files: dict[str, str] = {}
        for row in result:
            sha1 = row.get("hash") if isinstance(row, dict) else None
            if not isinstance(sha1, str) or not _SHA1.fullmatch(sha1):
                continue
            for entry in info.get(sha1) or []:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    files[entry["name"]] = sha1
        if not files:
            raise SnapshotMiss(f"{url} lists no files")
        return files

    def download(self, sha1: str, dest: Path, *, limit: int = MAX_FILE) -> None:
        """Write the file `sha1` to `dest`; SnapshotMiss if it is unavailable or over `limit` bytes."""
        with dest.open("wb") as out:
            self._get(self.file_url(sha1), out.write, limit)

    def _json(self, url: str) -> dict[str, object]:
        body = bytearray()
        self._get(url, body.extend, MAX_JSON)
        try:
            answer = json.loads(body)
        except ValueError:
            raise SnapshotMiss(f"{url} did not answer JSON") from None
        if not isinstance(answer, dict):
            raise SnapshotMiss(f"{url} did not answer a JSON object")
        return answer

    def _get(self, url: str, sink: Callable[[bytes], object], limit: int) -> None:
        request = urllib.request.Request(url, headers={"User-Agent": "foc-deploy"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                size = 0
                while chunk := response.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise SnapshotMiss(f"{url} sent more than the expected {limit} bytes")
                    sink(chunk)
        except urllib.error.HTTPError as e:
            raise SnapshotMiss(f"{url} answered HTTP {e.code} {shown(str(e.reason))}") from None
        except (OSError, http.client.HTTPException) as e:  # unreachable, timed out, cut off
            reason = getattr(e, "reason", None) or e
            raise SnapshotMiss(f"{url} could not be fetched: {shown(str(reason))}") from None


def dsc_checksums(text: str) -> list[tuple[str, int, str]]:
    """(sha256, size in bytes, file name) for each file the `Checksums-Sha256` field of a .dsc lists
    (Debian Policy 5.6.24: one `<sha256> <size> <name>` per continuation line). BuildError if the
    field is missing or a line is malformed or names anything but a plain file name."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == "Checksums-Sha256:")
    except StopIteration:
        raise BuildError("the .dsc has no Checksums-Sha256 field") from None
    files = []
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        m = re.fullmatch(r" ([0-9a-f]{64}) ([0-9]+) (\S+)\s*", line)
        if not m or not _FILE_NAME.fullmatch(m[3]):
            raise BuildError(f"malformed Checksums-Sha256 line in the .dsc: {shown(line.strip())}")
        files.append((m[1], int(m[2]), m[3]))
    if not files:
        raise BuildError("the .dsc's Checksums-Sha256 field lists no files")
    return files


class AptArchive:
    """apt-get with a private configuration rooted at `root`, downloading into `downloads`, with the
    Debian snapshot archive as the fallback for pinned versions the mirror no longer offers.

    `run` is the subprocess runner (a fake in tests); `snapshot` defaults to
    `SnapshotArchive.from_env()`. Package lists are fetched lazily: only when a download is not
    already in the cache.
    """

    def __init__(
        self,
        root: Path,
        downloads: Path,
        mirrors: MirrorSet,
        suites: Iterable[str],
        *,
        target_name: str = "qemu",
        components: Sequence[str] = ("main",),
        run: Runner = _run,
        snapshot: SnapshotArchive | None = None,
    ) -> None:
        self.root = root
        self.downloads = downloads
        self.mirrors = mirrors
        self.suites = tuple(suites)
        self.target_name = target_name
        self.components = tuple(components)
        self._run = run
        self.snapshot = snapshot if snapshot is not None else SnapshotArchive.from_env()
        self._updated = False

    @property
    def pin_file(self) -> str:
        return PIN_FILE_HINT.format(target=self.target_name)

    # -- configuration -------------------------------------------------------------------------

    @property
    def sources_path(self) -> Path:
        return self.root / "sources.list"

    def options(self) -> list[str]:
        """The `-o` options that make apt use only the private configuration."""
        return [
            "-o", f"Dir::Etc::SourceList={self.sources_path}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={self.root / 'lists'}",
            "-o", f"Dir::Cache={self.root / 'cache'}",
            "-o", "APT::Architectures::=amd64",
            "-o", "APT::Architectures::=arm64",
            "-o", "APT::Sandbox::User=root",
            "-o", "Acquire::Retries=3",
        ]  # fmt: skip

    def write_config(self) -> None:
        for d in (self.root / "lists" / "partial", self.root / "cache" / "archives" / "partial"):
            d.mkdir(parents=True, exist_ok=True)
        text = sources_list(self.mirrors, self.suites, components=self.components)
        if not self.sources_path.exists() or self.sources_path.read_text() != text:
            self.sources_path.write_text(text)

    def update(self, *, force: bool = False) -> None:
        """Fetch package lists for the private sources (once per AptArchive)."""
        if self._updated and not force:
            return
        self.write_config()
        log.info("apt-get update (private config, suites %s)", " ".join(self.suites))
        proc = self._run(["apt-get", *self.options(), "update"], None)
        if proc.returncode != 0 or re.search(r"^(E:|Err:)", proc.stdout + proc.stderr, re.M):
            raise BuildError(
                "apt-get update failed for the private apt configuration",
                hint=_tail(proc.stderr or proc.stdout),
            )
        self._updated = True

    # -- binary packages -----------------------------------------------------------------------

    def deb(self, pkg: DebPackage) -> tuple[Path, dict[str, str]]:
        """The cached .deb of exactly `pkg` and its manifest record, fetched on a miss.

        Order: the cache (re-checked against the pin), the mirror (`apt-get download`), then, only
        when the mirror no longer offers the version, the snapshot archive. Every file is checked
        against `pkg.sha256` before it is cached or used; the record says where it came from
        (`origin`: mirror or snapshot, `url`). BuildError: the pin has no sha256, a file differs
        from it, apt failed, or neither the mirror nor the snapshot archive has the version.
        """
        d = self.downloads / "debs"
        d.mkdir(parents=True, exist_ok=True)
        record_path = d / f"{_safe(pkg.name)}_{_safe(pkg.version)}_{pkg.arch}.json"
        cached = self._cached_deb(pkg, d, record_path)
        if cached is not None:
            return cached
        self.update()
        what = f"package {pkg.name} {pkg.version}"
        with _scratch(d, pkg.name) as tmp:
            proc = self._run(["apt-get", *self.options(), "download", pkg.spec], tmp)
            files = list(tmp.glob("*.deb"))
            if proc.returncode == 0 and len(files) == 1:
                deb, origin, url = files[0], "mirror", self.mirrors.url_for(pkg.suite)
                actual = sha256_file(deb)
                if not pkg.sha256:
                    raise self._no_pin_hash(what, deb.name, actual, url)
            else:
                offered = self._mirror_lacks(pkg.name, pkg.version, pkg.suite, proc, arch=pkg.arch)
                self._require_pin_hash_for_snapshot("package", pkg.name, pkg.version, pkg.suite, pkg.sha256)
                origin = "snapshot"
                try:
                    sha1, built_for = self.snapshot.binary_file(pkg.name, pkg.version, pkg.arch)
                    url = self.snapshot.file_url(sha1)
                    # Named as `apt-get download` names it, so the cache looks the same whatever the origin.
                    deb = tmp / f"{pkg.name}_{pkg.version.replace(':', '%3a')}_{built_for}.deb"
                    self.snapshot.download(sha1, deb)
                except SnapshotMiss as miss:
                    raise self._unavailable(
                        "package", pkg.name, pkg.version, pkg.suite, offered, miss
                    ) from None
                actual = sha256_file(deb)
            _refuse_mismatch(what, deb.name, pkg.sha256, actual, url)
            path = d / deb.name
            deb.replace(path)
        record = {
            "name": pkg.name,
            "version": pkg.version,
            "suite": pkg.suite,
            "arch": pkg.arch,
            "file": path.name,
            "sha256": actual,
            "origin": origin,
            "url": url,
        }
        _write_json(record_path, record)
        return path, record

    def _cached_deb(self, pkg: DebPackage, d: Path, record_path: Path) -> tuple[Path, dict[str, str]] | None:
        if not record_path.exists():
            return None
        record = json.loads(record_path.read_text())
        path = d / record["file"]
        if not path.exists():
            return None
        actual = sha256_file(path)
        if not pkg.sha256:
            where = record.get("url", "the mirror")
            raise self._no_pin_hash(f"package {pkg.name} {pkg.version}", path.name, actual, where)
        if actual != pkg.sha256:
            log.warning(
                "cached %s has sha256 %s, not the pinned %s: fetching it again", path, actual, pkg.sha256
            )
            return None
        record.setdefault("origin", "mirror")  # cached before the snapshot fallback: only the mirror existed
        return path, record

    # -- source packages -----------------------------------------------------------------------

    def source(self, src: SourcePackage) -> tuple[Path, dict[str, object]]:
        """Directory holding the .dsc and tarballs of `src` (fetched on a miss) + its record.

        The same order as `deb`: cache, mirror (`apt-get source --download-only`), snapshot archive.
        The .dsc is checked against `src.sha256`, then every file it lists against its own
        `Checksums-Sha256`, before anything is cached or used. The record's `files` maps each file
        to its sha256 and `urls` each file to where it came from.
        """
        d = self.downloads / "src" / f"{_safe(src.name)}_{_safe(src.version)}"
        record_path = d / "record.json"
        if record_path.exists():
            record: dict[str, object] = json.loads(record_path.read_text())
            if self._cached_source_ok(src, d, record):
                return d, record
        self.update()
        with _scratch(d.parent, d.name) as tmp:
            proc = self._run(["apt-get", *self.options(), "source", "--download-only", src.spec], tmp)
            if proc.returncode == 0 and (tmp / src.dsc_name).is_file():
                origin, mirror = "mirror", self.mirrors.url_for(src.suite)
                urls = {p.name: mirror for p in tmp.iterdir()}
                if not src.sha256:
                    dsc_hash = sha256_file(tmp / src.dsc_name)
                    raise self._no_pin_hash(
                        f"source package {src.name} {src.version}", src.dsc_name, dsc_hash, mirror
                    )
            else:
                offered = self._mirror_lacks(src.name, src.version, src.suite, proc, source=True)
                self._require_pin_hash_for_snapshot(
                    "source package", src.name, src.version, src.suite, src.sha256
                )
                origin = "snapshot"
                urls = self._source_from_snapshot(src, tmp, offered)
            files = self._verify_source(src, tmp, urls)
            record = {
                "name": src.name,
                "version": src.version,
                "suite": src.suite,
                "dsc": src.dsc_name,
                "files": files,
                "origin": origin,
                "urls": {name: urls[name] for name in files},
            }
            _write_json(tmp / "record.json", record)
            if d.exists():
                shutil.rmtree(d)
            tmp.rename(d)
        return d, record

    def _source_from_snapshot(self, src: SourcePackage, into: Path, offered: list[str]) -> dict[str, str]:
        """Fetch the .dsc of `src`, then the files it lists, from the snapshot archive into `into`;
        file name -> URL. The .dsc is checked against the pin before its file list is trusted."""
        try:
            listing = self.snapshot.source_files(src.name, src.version)
            dsc = into / src.dsc_name
            urls = {dsc.name: self._snapshot_file(src, listing, dsc, MAX_FILE)}
            what = f"source package {src.name} {src.version}"
            _refuse_mismatch(what, dsc.name, src.sha256, sha256_file(dsc), urls[dsc.name])
            for _sha256, size, name in dsc_checksums(dsc.read_text(errors="replace")):
                urls[name] = self._snapshot_file(src, listing, into / name, size)
        except SnapshotMiss as miss:
            raise self._unavailable(
                "source package", src.name, src.version, src.suite, offered, miss
            ) from None
        return urls

    def _snapshot_file(self, src: SourcePackage, listing: Mapping[str, str], dest: Path, limit: int) -> str:
        """Download the file of `src` called `dest.name` (sha1 from `listing`) to `dest`; its URL."""
        sha1 = listing.get(dest.name)
        if sha1 is None:
            raise SnapshotMiss(f"{self.snapshot.srcfiles_url(src.name, src.version)} lists no {dest.name}")
        self.snapshot.download(sha1, dest, limit=limit)
        return self.snapshot.file_url(sha1)

    def _verify_source(self, src: SourcePackage, directory: Path, urls: Mapping[str, str]) -> dict[str, str]:
        """File name -> sha256 for the .dsc (checked against the pin) and each file it lists
        (checked against its Checksums-Sha256). BuildError on a difference or a missing file."""
        what = f"source package {src.name} {src.version}"
        dsc = directory / src.dsc_name
        actual = sha256_file(dsc)
        _refuse_mismatch(what, dsc.name, src.sha256, actual, urls.get(dsc.name, str(directory)))
        hashes = {dsc.name: actual}
        for expected, _size, name in dsc_checksums(dsc.read_text(errors="replace")):
            f = directory / name
            if not f.is_file():
                raise BuildError(f"{what}: {name}, listed in {dsc.name}, is missing from {directory}")
            actual = sha256_file(f)
            _refuse_mismatch(what, name, expected, actual, urls.get(name, str(directory)))
            hashes[name] = actual
        return hashes

    def _cached_source_ok(self, src: SourcePackage, d: Path, record: dict[str, object]) -> bool:
        if not (d / src.dsc_name).is_file():
            return False
        if not src.sha256:
            dsc_hash = sha256_file(d / src.dsc_name)
            raise self._no_pin_hash(
                f"source package {src.name} {src.version}", src.dsc_name, dsc_hash, str(d)
            )
        try:
            self._verify_source(src, d, {})
        except BuildError as e:
            log.warning("cached %s does not match its pin (%s): fetching it again", d, e.message)
            return False
        record.setdefault("origin", "mirror")  # cached before the snapshot fallback: only the mirror existed
        return True

    # -- errors --------------------------------------------------------------------------------

    def available_versions(self, name: str, *, source: bool = False, arch: str = "arm64") -> list[str]:
        """Versions of `name` the private sources offer (`apt-cache madison`)."""
        query = name if source else f"{name}:{arch}"
        proc = self._run(["apt-cache", *self.options(), "madison", query], None)
        versions = []
        for line in proc.stdout.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) >= 3 and ("Sources" in parts[2]) == source:
                versions.append(
                    f"{parts[1]} ({parts[2].split()[1] if len(parts[2].split()) > 1 else parts[2]})"
                )
        return versions

    def _mirror_lacks(
        self,
        name: str,
        version: str,
        suite: str,
        proc: subprocess.CompletedProcess[str],
        *,
        source: bool = False,
        arch: str = "arm64",
    ) -> list[str]:
        """After a failed apt-get: what the mirror offers instead of `version`. If it does offer
        `version`, apt failed for another reason: BuildError with apt's output."""
        available = self.available_versions(name, source=source, arch=arch)
        if any(v.split(" ", 1)[0] == version for v in available):
            kind = "source package" if source else "package"
            raise BuildError(
                f"apt-get could not fetch {kind} {name} {version} ({suite})",
                hint=_tail(proc.stderr + proc.stdout),
            )
        log.warning(
            "%s %s (%s) is no longer on the mirror %s: trying the snapshot archive %s",
            name, version, suite, self.mirrors.url_for(suite), self.snapshot.base_url,
        )  # fmt: skip
        return available

    def _unavailable(
        self, kind: str, name: str, version: str, suite: str, offered: list[str], miss: SnapshotMiss
    ) -> BuildError:
        mirror = self.mirrors.url_for(suite)
        return BuildError(
            f"pinned {kind} {name} {version} ({suite}) is no longer on the mirror {mirror}, "
            f"and the snapshot archive {self.snapshot.base_url} did not provide it",
            hint=(
                f"tried 1) the mirror {mirror}, which offers {', '.join(offered) or 'no version of it'}; "
                f"2) the snapshot archive: {miss}. Update the pin (version and sha256) in {self.pin_file} "
                f"to a version the mirror offers (docs/deploy.md, {BUMP_DOC!r}), or set {SNAPSHOT_ENV} "
                "to a snapshot archive this machine can reach"
            ),
        )

    def _require_pin_hash_for_snapshot(
        self, kind: str, name: str, version: str, suite: str, sha256: str
    ) -> None:
        if not sha256:
            raise BuildError(
                f"pinned {kind} {name} {version} ({suite}) is no longer on the mirror "
                f"{self.mirrors.url_for(suite)}, and its pin has no sha256 to check a snapshot copy against",
                hint=f"update the pin (version and sha256) in {self.pin_file} (docs/deploy.md, {BUMP_DOC!r})",
            )

    def _no_pin_hash(self, what: str, file: str, actual: str, where: str) -> BuildError:
        return BuildError(
            f"the pin of {what} in {self.pin_file} has no sha256",
            hint=(
                f"{file} from {where} has sha256 {actual}; apt checks mirror downloads against "
                f'Debian\'s signed index, so add sha256="{actual}" to the pin (docs/deploy.md, {BUMP_DOC!r})'
            ),
        )


def _refuse_mismatch(what: str, file: str, expected: str, actual: str, url: str) -> None:
    """BuildError naming the package, version, file and both hashes if `actual` != `expected`."""
    if actual != expected:
        raise BuildError(
            f"{what}: {file} from {url} has sha256 {actual}, expected {expected}",
            hint="the file was refused and not cached; if the pin is right, the download was corrupted "
            "or tampered with: retry, or try another mirror",
        )


@contextlib.contextmanager
def _scratch(parent: Path, name: str) -> Iterator[Path]:
    """A fresh private directory under `parent` (the same file system, so finished files are renamed
    into the cache); removed afterwards with whatever was not moved out of it."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{_safe(name)}-", dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_json(path: Path, value: Mapping[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True))
    tmp.replace(path)


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+~_-]", "_", s)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
