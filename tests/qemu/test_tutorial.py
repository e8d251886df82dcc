"""docs/chaincode.md, run as written on real OP-TEE under QEMU.

Every `sh` block of the tutorial runs in order, each `$` line with bash: `export` and `cd` carry over,
the lines after a command are its expected stdout, and an expected `foc: error: ...` line means the
command must fail (exit 9: the chaincode refused) with that message. A new chaincode is generated,
built with OP-TEE's TA dev kit, deployed beside coffee and the auction on one QEMU device (its own
instance, booted from an image with the new TA), defined, given an enclave the registry verified, and
invoked confidentially; then coffee is set up and used on the same device and ledger.

Substitutions, as the doc's "How this page is tested" lists them, and nothing else: `~/tally` and
`$HOME` become a temporary directory, `foc chaincode new` gets `--uuid` (a fixed TA uuid: the image
with it is built once and reused while the sources stay the same), and the QEMU instance is this
test's (`--instance`, a free port in place of 50051).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from foc.deploy import api
from foc.deploy.qemu import free_port
from foc.errors import FocError
from foc.proxy.client import ProxyClient

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "chaincode.md"
TALLY_UUID = "7e3c1b92-4d5a-4f86-a0b1-2c3d4e5f6a7b"


def doc_commands() -> list[tuple[str, list[str]]]:
    """Every `$` line of the sh blocks, in order, with the lines of expected output after it."""
    commands: list[tuple[str, list[str]]] = []
    fence: str | None = None
    for line in DOC.read_text().splitlines():
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
            continue
        if fence != "sh":
            continue
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            assert commands, f"output before any command: {line!r}"
            commands[-1][1].append(line)
    return commands


@dataclass
class Tutorial:
    tmp: Path
    instance: str
    port: int
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = REPO
    timings: list[tuple[str, float]] = field(default_factory=list)

    def substitute(self, line: str) -> str:
        line = line.replace("~/tally", str(self.tmp / "tally")).replace("$HOME", str(self.tmp))
        line = line.replace("127.0.0.1:50051", f"127.0.0.1:{self.port}")
        if line.startswith("foc chaincode new "):
            line += f" --uuid {TALLY_UUID}"
        if line.startswith("foc-deploy qemu "):
            action = line.split()[2]
            line = line.replace(f"qemu {action}", f"qemu {action} --instance {self.instance}", 1)
            if action == "up":
                line = line.replace(" up ", f" up --port {self.port} ", 1)
        return line.replace("--target qemu", f"--target qemu --instance {self.instance}")

    def bash(self, script: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run(self, raw: str, expected: list[str]) -> None:
        line = self.substitute(raw)
        t0 = time.monotonic()
        if line.startswith("export "):
            result = self.bash(f"{line} && env -0")
            assert result.returncode == 0, f"{raw}: {result.stderr}"
            self.env = dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)
            return
        if line.startswith("cd "):
            result = self.bash(f"{line} && pwd")
            assert result.returncode == 0, f"{raw}: {result.stderr}"
            self.cwd = Path(result.stdout.strip())
            return
        result = self.bash(line)
        self.timings.append((raw, time.monotonic() - t0))
        if expected and expected[0].startswith("foc: error: "):
            assert result.returncode == 9, f"{raw}: expected a refusal (exit 9), got {result.returncode}"
            assert result.stderr.strip().splitlines() == expected, (raw, result.stderr)
            return
        assert result.returncode == 0, f"{raw}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
        if expected:
            assert result.stdout.strip().splitlines() == expected, (raw, result.stdout, expected)


@pytest.fixture
def tutorial(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Tutorial]:
    from foc.deploy.host import require_host

    try:
        require_host("qemu")
    except FocError as exc:  # fail, never skip (tests/qemu/conftest.py)
        pytest.fail(f"qemu tier: host not ready: {exc}", pytrace=False)
    instance = f"pytest-tutorial-{os.getpid()}"
    state = Tutorial(tmp_path, instance, free_port())
    state.env.pop("FOC_PROXY_ADDRESS", None)
    state.env.pop("FOC_CHAINCODE", None)
    state.env["FOC_CONFIG"] = str(tmp_path / "no-foc.toml")
    try:
        yield state
    finally:
        api.down("qemu", instance=instance)
        report = getattr(request.config, "foc_qemu_report", [])
        slow = sorted(state.timings, key=lambda t: -t[1])[:4]
        report.append(
            "tutorial (docs/chaincode.md): " + ", ".join(f"{c.split()[0:3]} {s:.1f} s" for c, s in slow)
        )


def test_the_chaincode_tutorial_runs_as_written(tutorial: Tutorial) -> None:
    commands = doc_commands()
    assert len(commands) >= 20
    for raw, expected in commands:
        tutorial.run(raw, expected)
    ran = " | ".join(raw for raw, _ in commands)
    for step in (
        "foc chaincode new",
        "foc chaincode build",
        "pytest tests",
        "qemu up --ta",
        "enclave register",
    ):
        assert step in ran, step

    # The device served all three chaincode TAs, each with its own pool, and ran tally's and coffee's.
    with ProxyClient(f"127.0.0.1:{tutorial.port}") as proxy:
        by_name = {ta.name: ta for ta in proxy.health().tas}
    assert set(by_name) == {"coffee", "auction", "tally"}
    assert by_name["tally"].uuid.hex() == TALLY_UUID.replace("-", "")
    assert by_name["tally"].transactions_total >= 3 and by_name["coffee"].transactions_total >= 3

    # What the ledger holds: ciphertext for both confidential chaincodes.
    from foc.ledger.ledger import DevLedger

    with DevLedger(Path(tutorial.env["FOC_LEDGER"])) as ledger:
        values = {key: value for key, (value, _) in ledger.state_dump().items()}
    assert b"blue" not in values[("tally", "color")] and values[("tally", "color")].startswith(b"FCS1")
    assert values[("coffee", "alice")].startswith(b"FCS1")
    # The definition pins the measurement of the .ta the tutorial built, and names that TA.
    from foc.admin.definitions import DefinitionStore
    from foc.confidential.measurement import ta_measurement

    definition = DefinitionStore(Path(tutorial.env["FOC_HOME"])).get("tally")
    built = tutorial.tmp / "tally" / "build" / f"{TALLY_UUID}.ta"
    assert definition.version == ta_measurement(built).hex() and definition.ta_uuid == TALLY_UUID
