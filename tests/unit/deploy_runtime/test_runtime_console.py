"""The Console expect engine, against the scripted shell and recorded transcripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foc.deploy.console import (
    Console,
    ConsoleClosed,
    FakeConsole,
    TranscriptConsole,
    marker_patterns,
    strip_escapes,
    wrap_command,
)
from foc.errors import ConsoleTimeout, TargetError, UsageError

DATA = Path(__file__).parent / "data"


def test_run_returns_exit_code_and_output() -> None:
    shell = FakeConsole({"ls /dev/tee0": (0, "/dev/tee0\n"), "false": (1, "")})
    with shell:
        shell.wait_for_shell()
        assert shell.run("ls /dev/tee0") == (0, "/dev/tee0")
        rc, out = shell.run("false")
        assert (rc, out) == (1, "")


def test_unknown_command_gives_127_and_the_shell_message() -> None:
    shell = FakeConsole()
    shell.wait_for_shell()
    rc, out = shell.run("xtest 1001")
    assert rc == 127
    assert out == "sh: xtest: not found"


def test_multiline_output_and_escape_noise_are_cleaned() -> None:
    text = "line one\n\x1b[6nline two\r\n\x1b[0;32mgreen\x1b[0m\n"
    shell = FakeConsole({"show": (0, text)})
    shell.wait_for_shell()
    assert shell.run("show") == (0, "line one\nline two\ngreen")


def test_echo_of_the_typed_line_never_matches_the_end_marker() -> None:
    # The typed line contains the marker split by quotes; only the executed echo forms it.
    nonce = "abc123"
    line = wrap_command("true", nonce)
    begin, end = marker_patterns(nonce)
    assert not end.search(line) and not begin.search(line)
    assert end.search("__FOC_E_abc123_0__").group(1) == "0"


def test_marker_split_across_reads_is_reassembled() -> None:
    # FakeConsole hands out 7-byte chunks, so every marker arrives in pieces.
    shell = FakeConsole({"cat big": (0, "x" * 1000 + "\n")})
    shell.wait_for_shell()
    rc, out = shell.run("cat big")
    assert rc == 0 and out == "x" * 1000


def test_escape_sequence_split_across_chunks_is_removed() -> None:
    console = FakeConsole(prompt="")
    console._feed(b"abc\x1b[")
    console._feed(b"6ndef\n")
    assert console.read_available() == "abcdef\n"


def test_kernel_message_in_the_middle_of_output_is_kept_as_text() -> None:
    shell = FakeConsole({"dmesg-ish": (0, "before\n[   12.3] optee: probed\nafter\n")})
    shell.wait_for_shell()
    assert shell.run("dmesg-ish").output.splitlines() == ["before", "[   12.3] optee: probed", "after"]


def test_login_prompt_is_answered() -> None:
    shell = FakeConsole({"id": (0, "uid=0(root)\n")}, login_prompt=True, login="root")
    shell.wait_for_shell()
    assert shell.written.startswith("root\r")
    assert shell.run("id") == (0, "uid=0(root)")


def test_timeout_names_the_pattern_and_shows_the_tail() -> None:
    shell = FakeConsole(hang=["sleep 100"], banner="FOC-BOOT: ready\n")
    shell.wait_for_shell()
    with pytest.raises(ConsoleTimeout) as info:
        shell.run("sleep 100", timeout=0.3)
    message = str(info.value)
    assert "__FOC_E_" in message  # what we waited for
    assert "sleep 100" in message  # the tail of what was seen


def test_no_shell_raises_console_timeout_with_tail() -> None:
    silent = FakeConsole(banner="U-Boot 2023.01\nstarting kernel\n", echo=False)
    silent._execute = lambda line: None  # type: ignore[method-assign]  # a device that never answers
    with pytest.raises(ConsoleTimeout) as info:
        silent.wait_for_shell(timeout=0.5)
    assert "starting kernel" in str(info.value)


def test_closed_line_raises_console_closed() -> None:
    shell = FakeConsole(closed_after=1)
    shell._execute = lambda line: None  # type: ignore[method-assign]
    shell.send("x")
    with pytest.raises(ConsoleClosed):
        shell.expect("never", timeout=1)


def test_run_rejects_multiline_commands() -> None:
    shell = FakeConsole()
    with pytest.raises(UsageError):
        shell.run("echo a\necho b")


def test_check_raises_on_non_zero_exit() -> None:
    shell = FakeConsole({"test -c /dev/tee0": (1, "")})
    shell.wait_for_shell()
    with pytest.raises(TargetError, match="exited with 1"):
        shell.check("test -c /dev/tee0")


def test_strip_escapes() -> None:
    assert strip_escapes("optee# \x1b[6n\r\n") == "optee# \n"
    assert strip_escapes("\x1b[1;31mred\x1b[0m\x07") == "red"


def test_base_console_needs_raw_io() -> None:
    with pytest.raises(NotImplementedError):
        Console().expect("x", timeout=0.1)


def test_transcript_records_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    commands = {"uname -m": (0, "aarch64\n"), "pidof tee-supplicant": (0, "142\n")}
    with FakeConsole(commands, banner="FOC-BOOT: ready\n", transcript=path) as live:
        live.wait_for_shell()
        recorded = [live.run("uname -m"), live.run("pidof tee-supplicant")]
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert {e["dir"] for e in events} == {"in", "out"}

    with TranscriptConsole(path) as replay:
        replay.wait_for_shell()
        assert [replay.run("uname -m"), replay.run("pidof tee-supplicant")] == recorded


def test_transcript_detects_a_different_command(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    with FakeConsole({"uname -m": (0, "aarch64\n")}, transcript=path) as live:
        live.wait_for_shell()
        live.run("uname -m")
    replay = TranscriptConsole(path)
    replay.wait_for_shell()
    with pytest.raises(TargetError, match="transcript expects"):
        replay.run("reboot")


def test_recorded_guest_session_replays() -> None:
    """A session recorded on the real QEMU guest (byte-by-byte echo, ESC[6n prompts) replays."""
    with TranscriptConsole(DATA / "guest-session.jsonl") as replay:
        replay.wait_for_shell()
        rc, out = replay.run("ls /dev/tee0 /dev/teepriv0")
        assert rc == 0 and out.split() == ["/dev/tee0", "/dev/teepriv0"]
        rc, out = replay.run("cat /nonexistent")
        assert rc == 1 and "No such file" in out
        rc, out = replay.run("pidof tee-supplicant")
        assert rc == 0 and out.isdigit()


def test_bad_transcript_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"dir": "sideways", "data": "x"}\n')
    with pytest.raises(UsageError, match="bad event"):
        TranscriptConsole(path)
    path.write_text("not json\n")
    with pytest.raises(UsageError, match="cannot read transcript"):
        TranscriptConsole(path)


def test_too_long_a_line_is_refused_before_sending() -> None:
    shell = FakeConsole()
    shell.wait_for_shell()
    with pytest.raises(UsageError, match="too long"):
        shell.run("echo " + "x" * 2000)


def test_write_file_sends_short_base64_chunks() -> None:
    files: dict[str, bytes] = {}

    def shell_cmd(cmd: str) -> tuple[int, str]:
        import base64

        if cmd.startswith(": > "):
            files[cmd[4:]] = b""
            return 0, ""
        data, _, path = cmd.removeprefix("echo ").partition(" | base64 -d >> ")
        files[path] += base64.b64decode(data)
        return 0, ""

    shell = FakeConsole(shell_cmd)
    shell.wait_for_shell()
    payload = bytes(range(256)) * 10
    shell.write_file("/tmp/x.bin", payload)
    assert files["/tmp/x.bin"] == payload
    assert max(len(line) for line in shell.written.split("\r")) < 1000
