"""The sealed-bid auction's scenario (tests/auction_scenario.py) on real OP-TEE under QEMU: the
auction's TA in the image beside coffee, served by the guest's foc-proxy; the definition pins the
measurement of that TA as the running image holds it; the enclave's evidence comes from OP-TEE's
attestation PTA. The refusals by identity, bidding after the close, the winner computed in the TA
from a range read, and a phantom bid refused as a read conflict; the ledger is the dev ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from auction_scenario import run_on_dev_ledger

if TYPE_CHECKING:
    from conftest import Guest  # tests/qemu/conftest.py

pytestmark = pytest.mark.qemu


def test_the_auction_scenario_on_optee(guest: Guest, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    timings = run_on_dev_ledger(
        tmp_path,
        guest.proxy_address,
        ["--target", "qemu", "--instance", guest.instance],
        native=False,
    )
    report = getattr(request.config, "foc_qemu_report", [])
    steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
    report.append(f"auction scenario on OP-TEE: {steps}")
