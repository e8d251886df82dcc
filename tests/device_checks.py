"""Scenarios for an rpi3 device, shared by the rpi3 tier (the SD image under QEMU raspi3b) and the
board tier (a real Raspberry Pi 3 named by FOC_BOARD_*): the same assertions whichever it is.

A `Device` bundles what a test needs: the `RunningTarget` (`up` returned it), the board's
credentials (pinned SSH host key, pinned proxy certificate) and an SSH shell factory.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import scenarios  # tests/scenarios.py

from foc.deploy.health import proxy_health
from foc.deploy.paths import REPO_ROOT
from foc.deploy.rpi3 import provision as prov
from foc.deploy.rpi3.identity import PROXY_SERVER_NAME, BoardIdentity
from foc.deploy.runtime import RunningTarget
from foc.deploy.xtest import parse_xtest
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.tee.abi import FOC_TA_UUID_STR
from foc.wrapper.config import load_config
from foc.wrapper.plaintext import FocWrapper

TX_TIMEOUT_S = 120.0
# TEE core, crypto, secure storage (on the data partition), attestation PTA
XTEST_CASES = "1001 4001 6001 1037"


def report(config: object, line: str) -> None:
    """A line for the "rpi3 tier" section of the terminal summary (tests/conftest.py prints it)."""
    getattr(config, "foc_rpi3_report", []).append(line)


@dataclass
class Device:
    """A booted, provisioned rpi3 (emulated or real)."""

    running: RunningTarget
    identity: BoardIdentity
    ssh_host: str
    ssh_port: int
    instance: str

    @contextmanager
    def shell(self) -> Iterator[prov.SshShell]:
        with prov.connect(self.ssh_host, self.ssh_port, self.identity, timeout=60.0) as shell:
            yield shell

    def health(self, **kwargs: object) -> object | None:
        return proxy_health(
            self.running.proxy_address,
            timeout=10.0,
            tls_ca=kwargs.pop("tls_ca", self.identity.proxy_cert),  # type: ignore[arg-type]
            server_name=kwargs.pop("server_name", PROXY_SERVER_NAME),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )

    def wait_serving(self, timeout: float = 300.0) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            h = self.health()
            if h is not None and getattr(h, "serving", False):
                return time.monotonic() - t0
            time.sleep(1.0)
        raise AssertionError(f"the rpi3 proxy did not serve again within {timeout:g} s")


def device_key_der(device: Device) -> bytes:
    """The device attestation key the proxy reports (the attestation PTA's, sealed on the card)."""
    from foc.proxy.client import ProxyClient

    with ProxyClient(
        device.running.proxy_address, tls_ca=device.identity.proxy_cert, tls_server_name=PROXY_SERVER_NAME
    ) as client:
        info = client.device_key_info(timeout=900)
    assert info.kind == "optee-pta", info.kind
    return bytes(info.public_key_der)


def tee_devices_and_supplicant(device: Device) -> None:
    with device.shell() as sh:
        rc, out = sh.run("ls /dev/tee0 /dev/teepriv0 && pidof tee-supplicant")
        assert rc == 0 and "/dev/tee0" in out, out
        rc, out = sh.run("dmesg | grep 'optee: revision'")
        assert rc == 0 and "revision 4.10" in out, out
        rc, out = sh.run("cat /proc/device-tree/firmware/optee/compatible")
        assert rc == 0 and out.strip("\0\n") == "linaro,optee-tz", out
        rc, out = sh.run("grep ' /data ' /proc/mounts && readlink /var/lib/optee-client/data/tee")
        assert rc == 0 and "/dev/mmcblk0p2 /data ext4" in out and out.strip().endswith("/data/tee"), out


def xtest_subset(device: Device) -> str:
    with device.shell() as sh:
        rc, out = sh.run(f"xtest {XTEST_CASES}", timeout=1200)
    summary = parse_xtest(out)
    assert summary.ok, f"xtest: {summary.describe()}\n" + "\n".join(out.splitlines()[-30:])
    assert "pseudo TA not found" not in out, "the attestation PTA is missing"
    for case in ("regression_1001", "regression_4001", "regression_6001", "regression_1037"):
        assert summary.results.get(case) == "OK", (case, summary.results)
    return summary.describe()


def proxy_is_tls_only(device: Device, tmp_path: Path) -> None:
    serving = device.health()
    assert serving is not None and getattr(serving, "serving", False)
    assert getattr(serving, "tee", "") == "optee"
    assert device.health(tls_ca=None) is None, "a plaintext client must not get an answer"
    stranger = BoardIdentity.of("stranger", home=tmp_path)
    stranger.make_proxy_tls()  # someone else's certificate: this proxy is not it
    assert device.health(tls_ca=stranger.proxy_cert) is None
    assert device.health(server_name="not-foc-proxy") is None


def proxy_refuses_plaintext_on_the_lan(device: Device) -> None:
    with device.shell() as sh:
        rc, out = sh.run(
            "PYTHONPATH=$(. /etc/foc/proxy.env; echo $FOC_PYTHONPATH) "
            "python3 -m foc.proxy --listen 0.0.0.0:50099 --tee optee 2>&1",
            timeout=600,
        )
    assert rc == 3 and "refusing to serve plaintext on 0.0.0.0" in out, (rc, out)


def reprovision_a_rebuilt_ta(device: Device) -> prov.ProvisionReport:
    """The board's TA differs from the build's (as after rebuilding it): provisioning copies it
    over SSH, restarts tee-supplicant and the proxy, and the proxy serves again."""
    from foc.deploy.runtime import last_image

    image = last_image("rpi3")
    ta = next(p for p in image.ta_files if p.name == f"{FOC_TA_UUID_STR}.ta")
    with device.shell() as sh:
        old_pid = sh.run("cat /run/foc-proxy.pid").output.strip()
        sh.check(f"echo stale > {prov.GUEST_TA_DIR}/{ta.name}")
        report = prov.provision(sh, device.identity, tas=[ta], package=REPO_ROOT / "foc", new_tls=False)
        remote = sh.check(f"sha256sum {prov.GUEST_TA_DIR}/{ta.name} {prov.TA_DIR}/{ta.name}")
    assert report.tas == [ta.name] and report.tls == "kept"
    want = hashlib.sha256(ta.read_bytes()).hexdigest()
    assert [line.split()[0] for line in remote.splitlines()] == [want, want]
    assert report.proxy.isdigit() and report.proxy != old_pid and report.supplicant.isdigit()
    device.wait_serving()
    return report


def mutual_tls(device: Device) -> None:
    with device.shell() as sh:
        prov.provision(sh, device.identity, tas=[], package=None, new_tls=False, mutual_tls=True)
    client = (device.identity.client_key, device.identity.client_cert)
    try:
        deadline = time.monotonic() + 300
        while device.health(client=client) is None:
            assert time.monotonic() < deadline, "the proxy did not come back with mutual TLS"
            time.sleep(1.0)
        assert device.health() is None, "without a client certificate the proxy must refuse"
    finally:
        with device.shell() as sh:
            prov.provision(sh, device.identity, tas=[], package=None, new_tls=False, mutual_tls=False)
        device.wait_serving()


def coffee_over_tls(device: Device, tmp_path: Path) -> None:
    config = load_config(
        proxy_address=device.running.proxy_address,
        tls_ca=device.identity.proxy_cert,
        tls_server_name=PROXY_SERVER_NAME,
        timeout_s=TX_TIMEOUT_S,
        env={},
        path=tmp_path / "none.toml",
    )
    wrapper = FocWrapper(config)
    try:
        with DevLedger(tmp_path / "ledger.sqlite") as ledger:
            peer = DevPeer(ledger, {"foc": wrapper})
            scenarios.coffee_scenario_and_error_cases(peer)
            scenarios.count_overflow_is_refused(peer)
    finally:
        wrapper.close()


def confidential_demo(device: Device, tmp_path: Path, env: dict[str, str]) -> str:
    """`foc demo --target rpi3` against this device: 5/5 steps, only ciphertext stored."""
    cmd = [sys.executable, "-m", "foc.cli.main", "demo", "--target", "rpi3", "--instance", device.instance,
           "--no-build", "--ledger", str(tmp_path / "demo.sqlite")]  # fmt: skip
    env = {**os.environ, **env}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "summary: 5/5 steps behaved as expected" in out and "ciphertext only: yes" in out, out[-4000:]
    assert "reuse: done proxy ready" in out, "the demo must reuse the running target"
    if not env.get("FOC_BOARD_HOST"):  # the raspi3b emulation stays up: the demo says how to stop it
        assert f"`foc-deploy rpi3 down --instance {device.instance}` stops it" in out, out[-2000:]
    return out
