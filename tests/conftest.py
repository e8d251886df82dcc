"""Test tiers: unit (default), native (host build of the trusted core), qemu (real OP-TEE).

Tier rules (CI must never pass silently):
  * tests under tests/qemu/ carry the `qemu` marker automatically and run by default;
  * FOC_SKIP_QEMU=1 skips them, with that reason in the report;
  * a host without the packages QEMU needs makes them FAIL with the apt-get line (see
    tests/qemu/conftest.py), never skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

QEMU_DIR = Path(__file__).parent / "qemu"


def qemu_tier_skipped() -> bool:
    """True when the user asked to skip the qemu tier (FOC_SKIP_QEMU=1)."""
    return os.environ.get("FOC_SKIP_QEMU", "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="qemu tier skipped: FOC_SKIP_QEMU=1")
    for item in items:
        if QEMU_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.qemu)
        if qemu_tier_skipped() and item.get_closest_marker("qemu") is not None:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    config.foc_qemu_report = []  # type: ignore[attr-defined]  # lines the qemu tier wants shown


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = getattr(config, "foc_qemu_report", [])
    if lines:
        terminalreporter.section("qemu tier timings")
        for line in lines:
            terminalreporter.write_line(line)
