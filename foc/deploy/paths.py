"""Where foc-deploy keeps downloads, builds, images and running instances.

Everything lives under the cache root (`$FOC_CACHE`, default `~/.cache/foc`), never in the repo.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_root() -> Path:
    """The cache root; created on demand."""
    root = Path(os.environ.get("FOC_CACHE", Path.home() / ".cache" / "foc")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def run_dir(target: str, instance: str = "default") -> Path:
    """State of one running instance of a target: pid file, sockets, logs."""
    d = cache_root() / "run" / target / instance
    d.mkdir(parents=True, exist_ok=True)
    return d


_INSTANCE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def check_instance(name: str) -> str:
    """`name` if it is usable as an instance name (one path component: letters, digits, . _ -)."""
    from foc.errors import UsageError

    if not name or name in (".", "..") or len(name) > 64 or not set(name) <= _INSTANCE_CHARS:
        raise UsageError(f"instance name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    return name
