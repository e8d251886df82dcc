"""The foc-deploy CLI: JSON output, exit codes, and that `down` never kills a stranger."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from foc.deploy import cli
from foc.deploy.paths import run_dir


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FOC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path / "cache"


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict]:
    rc = cli.run(argv)
    out = capsys.readouterr().out
    return rc, json.loads(out)


def test_status_json_when_nothing_runs(capsys: pytest.CaptureFixture[str]) -> None:
    rc, data = _json(capsys, ["qemu", "status", "--json"])
    assert rc == 0
    assert data["running"] is False and data["pid"] is None and data["target"] == "qemu"


def test_json_flag_works_before_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    rc, data = _json(capsys, ["--json", "qemu", "status"])
    assert rc == 0 and data["running"] is False


def test_stale_pid_file_is_reported_and_down_spares_that_process(capsys: pytest.CaptureFixture[str]) -> None:
    # The pid file names this very test process: not a QEMU of our run dir.
    (run_dir("qemu") / "qemu.pid").write_text(f"{os.getpid()}\n")
    rc, data = _json(capsys, ["qemu", "status", "--json"])
    assert rc == 0 and data["running"] is False and data["stale_pid_file"] is True
    rc, data = _json(capsys, ["qemu", "down", "--json"])
    assert rc == 0 and data["stopped"] is False  # and we are still alive to check it
    assert not (run_dir("qemu") / "qemu.pid").exists()


def test_usage_error_exit_code_and_json_error(capsys: pytest.CaptureFixture[str]) -> None:
    rc, data = _json(capsys, ["--json", "qemu", "explode"])
    assert rc == 2 and data["ok"] is False and data["exit_code"] == 2
    assert "explode" in data["error"]


def test_missing_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["qemu"]) == 2
    assert "say what to do" in capsys.readouterr().err


def test_logs_before_any_boot_is_a_target_error(capsys: pytest.CaptureFixture[str]) -> None:
    rc, data = _json(capsys, ["qemu", "logs", "--json"])
    assert rc == 6 and "no log yet" in data["error"]


def test_logs_prints_the_right_uart(capsys: pytest.CaptureFixture[str]) -> None:
    logs = run_dir("qemu") / "logs"
    logs.mkdir(parents=True)
    (logs / "normal-world.log").write_text("FOC-BOOT: ready\n")
    (logs / "secure-world.log").write_text("I/TC: OP-TEE version: 4.10.0\n")
    assert cli.run(["qemu", "logs"]) == 0
    assert capsys.readouterr().out == "FOC-BOOT: ready\n"
    assert cli.run(["qemu", "logs", "--secure"]) == 0
    assert "OP-TEE version" in capsys.readouterr().out


def test_up_without_an_image_says_to_build(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    import foc.deploy.host as host

    monkeypatch.setattr(host, "require_host", lambda target: None)
    rc, data = _json(capsys, ["qemu", "up", "--no-build", "--json"])
    assert rc == 6 and "no image" in data["error"] and "build" in data["hint"]


def test_console_refuses_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["qemu", "console", "--json"]) == 2


def test_error_text_with_brackets_is_printed_verbatim(
    capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    import foc.deploy.api as api
    from foc.errors import TargetError

    def boom(target: str = "qemu", **_: object) -> dict:
        raise TargetError("log says [red]not markup[/] here")

    monkeypatch.setattr(api, "status", boom)
    assert cli.run(["qemu", "status"]) == 6
    assert "[red]not markup[/]" in capsys.readouterr().err


def test_instance_option_reaches_the_api(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`--instance NAME` selects that instance's run dir for status/down (not the default one)."""
    from foc.deploy import api

    seen: list[str] = []

    def fake_down(target: str = "qemu", *, instance: str = "default") -> bool:
        seen.append(instance)
        return False

    monkeypatch.setattr(api, "down", fake_down)
    assert cli.run(["qemu", "down", "--instance", "demo"]) == 0
    assert seen == ["demo"]
