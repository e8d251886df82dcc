"""Test tiers: unit (default), native (host build of the trusted core), qemu (real OP-TEE), rpi3
(the Raspberry Pi 3 SD image: static checks, flashing, its boot under QEMU raspi3b, SSH), board (a
real Raspberry Pi 3).

Tier rules (CI must never pass silently):
  * tests under tests/qemu/ carry the `qemu` marker, tests under tests/rpi3/ the `rpi3` marker
    (and `qemu`: they boot QEMU too); both run by default;
  * FOC_SKIP_QEMU=1 skips both, FOC_SKIP_RPI3=1 only the rpi3 tier, with that reason in the report;
  * a host without the packages they need makes them FAIL with the apt-get line (see
    tests/qemu/conftest.py, tests/rpi3/conftest.py), never skip;
  * tests under tests/board/ carry the `board` marker and run only when FOC_BOARD_HOST names a
    board (tests/board/conftest.py); otherwise they are skipped with that reason.

Order: the tiers that boot an emulator run last (unit, native, the others, then qemu, then rpi3), so
that their session-scoped guests, which live until the session ends, never run beside the faster
tiers (an idle raspi3b guest takes most of a core).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

QEMU_DIR = Path(__file__).parent / "qemu"
RPI3_DIR = Path(__file__).parent / "rpi3"
BOARD_DIR = Path(__file__).parent / "board"
TESTS_DIR = Path(__file__).parent
TIER_ORDER = {"unit": 0, "native": 1, "qemu": 3, "rpi3": 4}  # any other directory: 2


def _tier_rank(item: pytest.Item) -> int:
    path = Path(str(item.path))
    if not path.is_relative_to(TESTS_DIR):  # e.g. an example's own tests named on the command line
        return 2
    parts = path.relative_to(TESTS_DIR).parts
    return TIER_ORDER.get(parts[0], 2) if len(parts) > 1 else 2


def qemu_tier_skipped() -> bool:
    """True when the user asked to skip the qemu tier (FOC_SKIP_QEMU=1)."""
    return os.environ.get("FOC_SKIP_QEMU", "") not in ("", "0")


def rpi3_tier_skipped() -> str | None:
    """Why the rpi3 tier is skipped (FOC_SKIP_QEMU=1 or FOC_SKIP_RPI3=1), or None."""
    if qemu_tier_skipped():
        return "rpi3 tier skipped: FOC_SKIP_QEMU=1 (it boots QEMU raspi3b)"
    if os.environ.get("FOC_SKIP_RPI3", "") not in ("", "0"):
        return "rpi3 tier skipped: FOC_SKIP_RPI3=1"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="qemu tier skipped: FOC_SKIP_QEMU=1")
    rpi3_skip = rpi3_tier_skipped()
    for item in items:
        parents = Path(str(item.path)).parents
        if QEMU_DIR in parents:
            item.add_marker(pytest.mark.qemu)
        if RPI3_DIR in parents:
            item.add_marker(pytest.mark.rpi3)
            if rpi3_skip:
                item.add_marker(pytest.mark.skip(reason=rpi3_skip))
            continue
        if BOARD_DIR in parents:
            item.add_marker(pytest.mark.board)
        if qemu_tier_skipped() and item.get_closest_marker("qemu") is not None:
            item.add_marker(skip)
    items.sort(key=_tier_rank)  # stable: the order inside a tier stays pytest's


def pytest_configure(config: pytest.Config) -> None:
    config.foc_qemu_report = []  # type: ignore[attr-defined]  # lines the qemu tier wants shown
    config.foc_rpi3_report = []  # type: ignore[attr-defined]  # and the rpi3 tier


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    for title, attr in (("qemu tier timings", "foc_qemu_report"), ("rpi3 tier", "foc_rpi3_report")):
        lines = getattr(config, attr, [])
        if lines:
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.write_line(line)
