"""Content-addressed step cache: `<cache>/steps/<step>/<key>/`, written atomically.

A step's key is the sha256 of a canonical JSON of its inputs (pinned versions, options, input
file hashes, the hash of the step's own code). Its outputs are produced in a temporary
directory next to the final one and renamed into place, so an interrupted build never leaves a
half-written step behind; a present directory is a complete one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

KEY_LENGTH = 24  # hex chars of the sha256 used as directory name
OWNERS_FILE = ".owners.json"  # in each step directory: target -> the key it uses


def cache_key(inputs: Mapping[str, object]) -> str:
    """sha256 of a canonical JSON encoding of `inputs` (order-independent for dict keys)."""
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:KEY_LENGTH]


def tree_digest(root: Path, *, exclude: Callable[[Path], bool] | None = None) -> str:
    """sha256 over the relative paths, modes and contents of all files under `root`."""
    h = hashlib.sha256()
    if not root.exists():
        return "missing"
    for path in sorted(_walk(root)):
        rel = path.relative_to(root)
        if exclude is not None and exclude(rel):
            continue
        h.update(str(rel).encode() + b"\0")
        if path.is_symlink():
            h.update(b"L" + os.readlink(path).encode() + b"\0")
        else:
            h.update(b"X" if os.access(path, os.X_OK) else b"F")
            h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _walk(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".git")]
        for name in filenames:
            yield Path(dirpath) / name
        for name in dirnames:
            p = Path(dirpath) / name
            if p.is_symlink():
                yield p


class StepCache:
    """The directory tree of cached step outputs under `root` (normally `<cache>/steps`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, step: str, key: str) -> Path:
        return self.root / step / key

    def lookup(self, step: str, key: str) -> Path | None:
        """The complete output directory of (step, key), or None."""
        p = self.path(step, key)
        return p if p.is_dir() else None

    def produce(self, step: str, key: str, build: Callable[[Path], None], *, replace: bool = False) -> Path:
        """Run `build(tmpdir)` and atomically publish tmpdir as the output of (step, key).

        On an exception nothing is published and the temporary directory is removed.
        With `replace`, an existing output is rebuilt (used by `--refresh`).
        """
        final = self.path(step, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{key}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            build(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if final.exists() and replace:
            old = final.parent / f".old-{key}-{os.getpid()}"
            final.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(final)
        except OSError:
            # Someone else published the same key meanwhile: theirs is equally complete.
            shutil.rmtree(tmp, ignore_errors=True)
        return final

    def claim(self, step: str, key: str, owner: str) -> None:
        """Record that `owner` (a target) uses output `key` of `step`: `prune` keeps it.

        Several targets share a step directory (their keys differ: the target is part of the key);
        without claims, building one target would prune the other's outputs.
        """
        d = self.root / step
        d.mkdir(parents=True, exist_ok=True)
        with (d / ".owners.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            owners = self.owners(step)
            if owners.get(owner) != key:
                owners[owner] = key
                tmp = d / f".owners.{os.getpid()}.tmp"
                tmp.write_text(json.dumps(owners, sort_keys=True))
                tmp.replace(d / OWNERS_FILE)

    def owners(self, step: str) -> dict[str, str]:
        """Which key of `step` each target uses (see `claim`)."""
        try:
            data = json.loads((self.root / step / OWNERS_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def prune(self, step: str, keep: Iterable[str]) -> list[Path]:
        """Remove outputs of `step` other than `keep` and those a target claimed (and stale
        temporaries); returns what went."""
        gone: list[Path] = []
        d = self.root / step
        if not d.is_dir():
            return gone
        keep_set = set(keep) | set(self.owners(step).values())
        for p in d.iterdir():
            if p.name not in keep_set and p.name not in (OWNERS_FILE, ".owners.lock"):
                shutil.rmtree(p, ignore_errors=True)
                gone.append(p)
        return gone
