"""Fixtures shared by the native tier."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh FOC_NATIVE_STORAGE: the native build's (insecure) sealed-object directory."""
    path = tmp_path / "sealed"
    path.mkdir()
    monkeypatch.setenv("FOC_NATIVE_STORAGE", str(path))
    return path
