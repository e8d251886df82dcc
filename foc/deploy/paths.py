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
