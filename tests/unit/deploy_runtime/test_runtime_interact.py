"""`Console.interact` relays a user's keystrokes to the line and the line to the terminal."""

from __future__ import annotations

import os
import threading

from foc.deploy.console import FakeConsole


def test_interact_relays_both_ways_and_stops_at_the_escape_character() -> None:
    console = FakeConsole({"uname -m": (0, "aarch64")})
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.write(in_w, b"uname -m\r")  # Enter from a raw terminal is CR
    done = threading.Event()

    def user() -> None:
        # type Ctrl-] only once the answer came back, as a person would
        seen = b""
        while b"aarch64" not in seen:
            seen += os.read(out_r, 4096)
        os.write(in_w, b"\x1d")
        done.set()

    reader = threading.Thread(target=user, daemon=True)
    reader.start()
    console.interact(stdin_fd=in_r, stdout_fd=out_w)  # not a tty: no raw mode, still relays
    assert done.wait(5)
    assert "uname -m" in console.written
    assert "\x1d" not in console.written  # the escape character never reaches the guest
    for fd in (in_r, in_w, out_r, out_w):
        os.close(fd)


def test_interact_returns_when_stdin_closes() -> None:
    console = FakeConsole()
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.close(in_w)
    console.interact(stdin_fd=in_r, stdout_fd=out_w)
    assert os.read(out_r, 4096).startswith(b"optee# ")
    for fd in (in_r, out_r, out_w):
        os.close(fd)
