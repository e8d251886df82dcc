"""The sealed-bid auction's scenario (tests/auction_scenario.py), confidential, on the embedded dev
ledger with the host-native build of its TA (NOT a TEE: the same C as examples/auction's TA, run
behind a host foc-proxy beside coffee): the refusals by identity, bidding after the close, the
winner computed in the enclave from a range read, and a phantom bid refused as a read conflict.
The same scenario on real OP-TEE: tests/qemu/test_auction_optee.py.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from auction_scenario import AUCTION_TA_UUID, run_on_dev_ledger

from foc.deploy.native import LocalProxy
from foc.sdk.project import BuiltChaincode, build_project

pytestmark = pytest.mark.native

REPO = Path(__file__).resolve().parents[2]
NATIVE_MEASUREMENT = hashlib.sha256(b"FOC native-insecure-v1: not a TEE, nothing measured").hexdigest()


@pytest.fixture(scope="module")
def auction(tmp_path_factory: pytest.TempPathFactory) -> BuiltChaincode:
    out = tmp_path_factory.mktemp("auction")
    built = build_project(REPO / "examples" / "auction", native_only=True, out=out)
    assert built.ta_uuid == uuid.UUID(AUCTION_TA_UUID)
    return built


@pytest.fixture(scope="module")
def proxy(auction: BuiltChaincode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProxy]:
    storage = tmp_path_factory.mktemp("sealed")
    mp = pytest.MonkeyPatch()
    mp.setenv("FOC_NATIVE_STORAGE", str(storage))
    try:
        with LocalProxy("native", pool=2, extra_libraries=[auction.native_lib]) as local:
            yield local
    finally:
        mp.undo()


def test_the_auction_scenario_on_the_dev_ledger(proxy: LocalProxy, tmp_path: Path) -> None:
    run_on_dev_ledger(tmp_path, proxy.address, ["--version", NATIVE_MEASUREMENT], native=True)


def test_the_auctions_own_host_tests_pass(auction: BuiltChaincode) -> None:
    """examples/auction/tests (foc.sdk.host.HostChaincode on the same build): every refusal, ties,
    no bids, a close past FOC_MAX_RANGE_ENTRIES bids."""
    tests = REPO / "examples" / "auction" / "tests"
    build = auction.native_lib.parents[1]  # the build directory: chaincode.json names the library
    env = {**os.environ, "FOC_AUCTION_BUILD": str(build), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "5 passed" in result.stdout
