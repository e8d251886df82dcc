"""Targets own their runtimes: one interface, picked by name by the CLI and the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from foc.deploy.cli import build_parser
from foc.deploy.native import NativeRuntime
from foc.deploy.paths import REPO_ROOT
from foc.deploy.qemu import QemuRuntime
from foc.deploy.rpi3.runtime import Rpi3Runtime
from foc.deploy.runtime import TargetRuntime, get_runtime, runtime_names
from foc.errors import TargetError, UsageError


def test_every_target_is_a_runtime_by_name() -> None:
    assert runtime_names() == ("native", "qemu", "rpi3")
    for name, cls in (("native", NativeRuntime), ("qemu", QemuRuntime), ("rpi3", Rpi3Runtime)):
        runtime = get_runtime(name, "ci-1")
        assert isinstance(runtime, cls) and isinstance(runtime, TargetRuntime)
        assert runtime.name == name and runtime.instance == "ci-1"
    with pytest.raises(UsageError, match="known targets: native, qemu, rpi3"):
        get_runtime("esp32")


@pytest.mark.parametrize("bad", ["", "..", "a/b", "x y"])
def test_instance_names_are_checked(bad: str) -> None:
    with pytest.raises(UsageError):
        get_runtime("qemu", bad)


def test_nothing_runs_in_a_fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOC_CACHE", str(tmp_path))
    for name in runtime_names():
        runtime = get_runtime(name, "idle")
        assert runtime.running() is None and runtime.proxy_address() is None
        assert runtime.status()["running"] is False
        assert runtime.down() is False
    with pytest.raises(TargetError):
        get_runtime("native").console()
    assert get_runtime("native").expected_measurement() is None  # the host build measures nothing


def test_the_cli_has_every_target_and_rpi3s_own_actions() -> None:
    parser = build_parser()
    for name in runtime_names():
        assert parser.parse_args([name, "status"]).command == name
    args = parser.parse_args(["rpi3", "flash", "--device", "/dev/sdz", "--dry-run", "--allow-mounted"])
    assert (args.action, args.device, args.dry_run, args.allow_mounted, args.max_size) == (
        "flash", "/dev/sdz", True, True, "128G",
    )  # fmt: skip
    args = parser.parse_args(
        ["rpi3", "up", "--host", "192.0.2.7", "--serial", "/dev/ttyUSB0", "--mutual-tls"]
    )
    assert (args.host, args.serial, args.mutual_tls) == ("192.0.2.7", "/dev/ttyUSB0", True)
    assert parser.parse_args(["rpi3", "inspect"]).action == "inspect"


def test_foc_demo_takes_target_and_keeps_tee_as_an_alias() -> None:
    from foc.cli.main import build_parser as foc_parser

    p = foc_parser()
    assert p.parse_args(["demo", "--target", "rpi3"]).target == "rpi3"
    assert p.parse_args(["demo", "--tee", "native"]).target == "native"
    assert p.parse_args(["demo"]).target == "qemu"


def test_rpi3_up_refuses_a_serial_port_without_a_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOC_CACHE", str(tmp_path))
    with pytest.raises(UsageError, match="--serial names a board"):
        Rpi3Runtime("x").up(build=False, serial="/dev/ttyUSB0")


# -- the device runtime imports no host tooling (the static check is tests/unit/test_layout.py) --

DEVICE_PACKAGES = ("foc/tee", "foc/proxy")
HOST_TOOLING = ("foc.deploy", "foc.cli", "fabric", "paramiko", "rich", "pexpect", "serial")


def test_importing_every_device_module_loads_no_host_tooling() -> None:
    """Dynamic: what the guest's proxy process would have loaded after importing all of it."""
    script = (
        "import importlib, pkgutil, sys\n"
        "import foc.tee, foc.proxy\n"
        "for pkg in (foc.tee, foc.proxy):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {HOST_TOOLING!r} "
        f"or any(m.startswith(t + '.') or m == t for t in {HOST_TOOLING!r}))\n"
        "print(' '.join(bad))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert proc.stdout.strip() == "", proc.stdout


def test_a_running_targets_tls_survives_its_state_file_and_reaches_the_wrapper(tmp_path) -> None:
    """The TLS a target's proxy needs (pinned certificate, server name, mutual TLS client pair) is
    kept in the instance's state and handed to `load_config` as is (`foc.connect(target=...)`)."""
    from foc.deploy.runtime import RunningTarget

    running = RunningTarget(
        target="rpi3",
        proxy_address="127.0.0.1:5",
        ready="proxy",
        run_dir=tmp_path,
        logs=tmp_path / "logs",
        tls_ca=tmp_path / "proxy.crt",
        tls_server_name="foc-proxy",
        tls_client_cert=tmp_path / "client.crt",
        tls_client_key=tmp_path / "client.key",
    )
    again = RunningTarget.from_json(running.to_json())
    assert again == running
    assert again.proxy_tls() == {
        "tls_ca": tmp_path / "proxy.crt",
        "tls_server_name": "foc-proxy",
        "tls_client_cert": tmp_path / "client.crt",
        "tls_client_key": tmp_path / "client.key",
    }
    plain = RunningTarget(
        target="qemu", proxy_address="127.0.0.1:5", ready="proxy", run_dir=tmp_path, logs=tmp_path
    )
    assert plain.proxy_tls() == {} and plain.tls_client is None
