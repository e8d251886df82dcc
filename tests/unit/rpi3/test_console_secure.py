"""A UART shared by the secure world and Linux (rpi3's mini UART): OP-TEE/TF-A lines go to their own log."""

from __future__ import annotations

from pathlib import Path

from foc.deploy.console import FakeConsole, secure_world_lines


def test_secure_lines_are_diverted_from_command_output_and_kept(tmp_path: Path) -> None:
    out = "first\nI/TC: Secondary CPU 1 initializing\nE/TA: [TA panicked]\nNOTICE:  BL31: v2.12.1\nlast\n"
    console = FakeConsole({"work": (0, out)}, secure_log=tmp_path / "secure.log", log=tmp_path / "normal.log")
    with console:
        console.wait_for_shell()
        assert console.run("work") == (0, "first\nlast")
    assert (tmp_path / "secure.log").read_text().splitlines() == [
        "I/TC: Secondary CPU 1 initializing",
        "E/TA: [TA panicked]",
        "NOTICE:  BL31: v2.12.1",
    ]
    normal = (tmp_path / "normal.log").read_text()
    assert "first" in normal and "I/TC" not in normal


def test_without_a_secure_log_nothing_is_diverted() -> None:
    with FakeConsole({"work": (0, "I/TC: hello\n")}) as console:
        console.wait_for_shell()
        assert console.run("work") == (0, "I/TC: hello")


def test_look_alikes_in_the_middle_of_a_line_stay(tmp_path: Path) -> None:
    out = "value I/TC: not at line start\nERRORS: 3 (no colon-space form)\nI/TCX: no\n"
    with FakeConsole({"x": (0, out)}, secure_log=tmp_path / "s.log") as console:
        console.wait_for_shell()
        assert console.run("x").output.splitlines() == out.splitlines()
    assert (tmp_path / "s.log").read_text() == ""


def test_a_secure_line_split_over_reads_is_reassembled(tmp_path: Path) -> None:
    console = FakeConsole({}, secure_log=tmp_path / "s.log")
    console.open()
    for piece in ["abc\nI", "/T", "C: split li", "ne\nx"]:
        console._feed(piece.encode())
    assert console._buffer.endswith("abc\nx") and "I/TC" not in console._buffer
    assert (tmp_path / "s.log").read_text() == "I/TC: split line\n"
    console.close()


def test_secure_world_lines_of_a_log() -> None:
    log = "\x1b[0mI/TC: OP-TEE version: 4.10\r\n[ 0.0] Linux\nWARNING: BL31 runtime\n"
    assert secure_world_lines(log) == ["I/TC: OP-TEE version: 4.10", "WARNING: BL31 runtime"]
