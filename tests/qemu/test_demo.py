"""`foc demo` as a user runs it, against the session's real OP-TEE guest.

Confidential (the default): the device key comes from OP-TEE's attestation PTA through the proxy,
the chaincode version is the TA measurement computed offline from the image's .ta, the enclave
is created in the TA and registered only if its evidence verifies, and the ledger ends up holding
ciphertext only. `--plaintext` keeps FOC's original scenario.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from foc.confidential.formats import StoredValue
from foc.ledger.ledger import DevLedger
from foc.registry.validation import RESERVED_PREFIX

pytestmark = pytest.mark.qemu


def foc_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FOC_HOME", "FOC_LEDGER")}
    return subprocess.run(
        [sys.executable, "-m", "foc.cli.main", "demo", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def test_confidential_demo_on_optee_prints_the_scenario_and_only_ciphertext_is_stored(
    guest, tmp_path: Path
) -> None:
    from foc.deploy.api import expected_ta_measurement

    ledger_path = tmp_path / "demo.sqlite"
    run = foc_demo("--proxy", guest.proxy_address, "--ledger", str(ledger_path))
    out = run.stdout
    assert run.returncode == 0, out[-4000:] + run.stderr[-2000:]
    assert "optee-ta-memory-v1 evidence" in out and "NOT a TEE" not in out, out
    measured = expected_ta_measurement("qemu", instance=guest.instance).hex()
    assert f"expected TA measurement {measured[:16]}" in out, out
    assert "enclave registered with ercc" in out
    assert out.count("[ok ]") == 5 and "summary: 5/5 steps behaved as expected" in out, out
    assert "-> person: alice, number of consumed coffees: 3" in out
    assert "-> EXISTS: person already exists" in out and "-> NOT_FOUND: person not found" in out
    assert "hash chain and world state: verified" in out
    assert "FCS1 stored value" in out and "ciphertext only: yes" in out and "LEAK" not in out
    assert "key names (alice)" in out

    # Independently of the demo's own check: the ledger holds ciphertext for the chaincode.
    with DevLedger(ledger_path) as ledger:
        values = {
            key: value
            for (ns, key), (value, _) in ledger.state_dump().items()
            if ns == "coffee" and not key.startswith(RESERVED_PREFIX)
        }
        assert ledger.height == 4 and ledger.verify().ok  # registration + two invokes
    assert set(values) == {"alice"}
    StoredValue.decode(values["alice"])
    assert values["alice"] != b"3"
    raw = ledger_path.read_bytes() + (
        Path(f"{ledger_path}-wal").read_bytes() if Path(f"{ledger_path}-wal").exists() else b""
    )
    assert b"consumed coffees" not in raw and b"person already exists" not in raw


def test_plaintext_demo_still_runs_focs_scenario(guest, tmp_path: Path) -> None:
    run = foc_demo("--plaintext", "--proxy", guest.proxy_address, "--ledger", str(tmp_path / "plain.sqlite"))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "summary: 5/5 steps behaved as expected" in run.stdout
    assert "ciphertext only" not in run.stdout
