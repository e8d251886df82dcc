"""Fetching pinned Debian packages with a private apt configuration.

The system's apt sources and state are never touched: apt runs with its own sources list, lists
and cache directories (`-o Dir::...`) under the cache root. The mirror is the one the system apt
sources already use (read from /etc/apt/sources.list{,.d}), so no other host is contacted.
Downloads are cached by (name, version, arch) under `<cache>/downloads`, with their sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from foc.deploy.targets.base import DebPackage, SourcePackage
from foc.errors import BuildError, HostSetupError

log = logging.getLogger(__name__)

ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SYSTEM_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
PIN_FILE_HINT = "foc/deploy/targets/{target}.py"

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


class AptArchive:
    """apt-get with a private configuration rooted at `root`, downloading into `downloads`.

    `run` is the subprocess runner (a fake in tests). Package lists are fetched lazily: only
    when a download is not already in the cache.
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
    ) -> None:
        self.root = root
        self.downloads = downloads
        self.mirrors = mirrors
        self.suites = tuple(suites)
        self.target_name = target_name
        self.components = tuple(components)
        self._run = run
        self._updated = False

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
        """The cached .deb of exactly `pkg` (downloaded on a miss) and its manifest record."""
        d = self.downloads / "debs"
        d.mkdir(parents=True, exist_ok=True)
        record_path = d / f"{_safe(pkg.name)}_{_safe(pkg.version)}_{pkg.arch}.json"
        if record_path.exists():
            record = json.loads(record_path.read_text())
            path = d / record["file"]
            if path.exists():
                return path, record
        self.update()
        tmp = d / f".tmp-{_safe(pkg.name)}"
        tmp.mkdir(parents=True, exist_ok=True)
        for stale in tmp.iterdir():
            stale.unlink()
        proc = self._run(["apt-get", *self.options(), "download", pkg.spec], tmp)
        files = list(tmp.glob("*.deb"))
        if proc.returncode != 0 or len(files) != 1:
            raise self._pin_error(pkg.name, pkg.version, pkg.suite, proc, arch=pkg.arch)
        path = d / files[0].name
        files[0].replace(path)
        tmp.rmdir()
        record = {
            "name": pkg.name,
            "version": pkg.version,
            "suite": pkg.suite,
            "arch": pkg.arch,
            "file": path.name,
            "sha256": sha256_file(path),
        }
        record_path.write_text(json.dumps(record, indent=1, sort_keys=True))
        return path, record

    # -- source packages -----------------------------------------------------------------------

    def source(self, src: SourcePackage) -> tuple[Path, dict[str, object]]:
        """Directory holding the .dsc and tarballs of `src` (downloaded on a miss) + its record."""
        d = self.downloads / "src" / f"{_safe(src.name)}_{_safe(src.version)}"
        record_path = d / "record.json"
        if record_path.exists():
            return d, json.loads(record_path.read_text())
        self.update()
        tmp = d.with_name(d.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        proc = self._run(["apt-get", *self.options(), "source", "--download-only", src.spec], tmp)
        dscs = list(tmp.glob("*.dsc"))
        if proc.returncode != 0 or len(dscs) != 1:
            raise self._pin_error(src.name, src.version, src.suite, proc, source=True)
        files = sorted(p for p in tmp.iterdir() if p.is_file())
        record: dict[str, object] = {
            "name": src.name,
            "version": src.version,
            "suite": src.suite,
            "dsc": dscs[0].name,
            "files": {p.name: sha256_file(p) for p in files},
        }
        (tmp / "record.json").write_text(json.dumps(record, indent=1, sort_keys=True))
        if d.exists():
            import shutil

            shutil.rmtree(d)
        tmp.rename(d)
        return d, record

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

    def _pin_error(
        self,
        name: str,
        version: str,
        suite: str,
        proc: subprocess.CompletedProcess[str],
        *,
        source: bool = False,
        arch: str = "arm64",
    ) -> BuildError:
        output = proc.stderr + proc.stdout
        available = self.available_versions(name, source=source, arch=arch)
        kind = "source package" if source else "package"
        pin_file = PIN_FILE_HINT.format(target=self.target_name)
        if not any(v.split(" ", 1)[0] == version for v in available):
            mirror = self.mirrors.url_for(suite)
            return BuildError(
                f"pinned {kind} {name} {version} ({suite}) is no longer on the mirror {mirror}",
                hint=f"update the pin in {pin_file}; the mirror offers: {', '.join(available) or 'nothing'}",
            )
        return BuildError(f"apt-get could not fetch {kind} {name} {version} ({suite})", hint=_tail(output))


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+~_-]", "_", s)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
