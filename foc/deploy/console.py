"""Talking to a device's shell over a serial line: QEMU's UART socket, a pty or a real port.

Every console is the same expect loop over a tiny raw-I/O pair (`_read` / `_write`), as in
labgrid: `PexpectConsole` reads a QEMU chardev socket or a pty through pexpect, `SerialConsole`
a real port through pyserial, and the unit tests use `FakeConsole` (a scripted shell) and
`TranscriptConsole` (replays a recorded session).

Lifecycle: construct -> `open()` (or `with`) -> `wait_for_shell()` (logs in if a login prompt
shows up) -> `run(cmd)` any number of times -> `close()`.

Why markers: the busybox shell echoes what we type, sends `ESC[6n` cursor queries when it
prompts, and the kernel may print into the middle of a command's output. So `run()` never matches
the prompt; it wraps the command between two unique markers that only appear in the output when
the shell *executes* them (the typed text splits each marker with quotes), e.g.

    echo __FOC_B_"3f9a1c"__; CMD; echo __FOC_E_"3f9a1c"_$?__

and takes the exit code from the end marker and the output from between the two.

Out of scope: line-editing, job control, binary transfers. Commands must fit on one line and
must not read standard input.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from foc.errors import ConsoleTimeout, TargetError, UsageError

# CSI (ESC [ ... final), OSC-less two-byte escapes (ESC x) and stray BEL.
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|\x07")
# A trailing escape sequence that may still be incomplete (held back until more bytes arrive).
_PARTIAL_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*)?$")

MAX_LINE = 1000  # busybox ash's line editor cuts lines at 1024 characters

# Lines of the secure world on a UART it shares with Linux (rpi3: the mini UART): OP-TEE core and
# TA log lines ("I/TC: ...", "E/TA: ...") and TF-A's ("NOTICE:  BL31: ...", "ERROR:   ...").
SECURE_LINE = re.compile(r"^(?:[DIWEF]/T[CA]:|(?:NOTICE|ERROR|WARNING|INFO|VERBOSE): +)")
# A line start that may still turn into one of those (held back until more text arrives).
_SECURE_PARTIAL = re.compile(
    r"[DIWEF](?:/(?:T[CA]?)?)?|N(?:O(?:T(?:I(?:CE?)?)?)?)?|E(?:R(?:R(?:OR?)?)?)?|W(?:A(?:R(?:N(?:I(?:NG?)?)?)?)?)?"
    r"|I(?:N(?:FO?)?)?|V(?:E(?:R(?:B(?:O(?:SE?)?)?)?)?)?|(?:NOTICE|ERROR|WARNING|INFO|VERBOSE):?"
)
HELD_LINE_MAX = 4096

DEFAULT_LOGIN_PROMPT = re.compile(r"(?m)^\S*\s*login:\s*$")
DEFAULT_PASSWORD_PROMPT = re.compile(r"(?mi)password:\s*$")


class ConsoleClosed(TargetError):
    """The other end of the console went away (QEMU exited, port unplugged)."""


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences and carriage returns from console text."""
    return _ESCAPE.sub("", text).replace("\r", "")


def secure_world_lines(text: str) -> list[str]:
    """The secure world's lines (OP-TEE, TF-A) in a console log it shares with Linux."""
    return [line for line in strip_escapes(text).splitlines() if SECURE_LINE.match(line)]


class CommandResult(NamedTuple):
    """What one `Console.run` saw: the exit code and the command's output (clean text)."""

    exit_code: int
    output: str


def wrap_command(cmd: str, nonce: str) -> str:
    """The line sent for `cmd`: begin marker, the command, end marker carrying `$?`."""
    return f'echo __FOC_B_"{nonce}"__; {cmd}; echo __FOC_E_"{nonce}"_$?__'


def marker_patterns(nonce: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Regexes of the begin / end markers as printed by the shell (never as typed)."""
    n = re.escape(nonce)
    return re.compile(rf"__FOC_B_{n}__\n"), re.compile(rf"__FOC_E_{n}_(\d+)__")


class Console:
    """The expect engine shared by every console; subclasses provide `_read` and `_write`.

    `_read(size, timeout)` returns up to `size` bytes, `b""` when nothing arrived within
    `timeout` seconds, and raises `ConsoleClosed` at end of file. `_write(data)` sends bytes.
    All matching is done on clean text (UTF-8 decoded, escapes and CR removed).
    """

    name = "console"

    def __init__(
        self,
        *,
        login: str = "root",
        password: str | None = None,
        default_timeout: float = 30.0,
        transcript: Path | None = None,
        tail_lines: int = 20,
        log: Path | None = None,
        secure_log: Path | None = None,
    ) -> None:
        """`log`: append the normal world's clean text there. `secure_log`: divert the secure
        world's whole lines (OP-TEE, TF-A: `SECURE_LINE`) from a shared UART into that file;
        they then never reach `expect` or a command's output."""
        self.login_name = login
        self.password = password
        self.default_timeout = default_timeout
        self.tail_lines = tail_lines
        self._buffer = ""  # clean text not yet consumed by a match
        self._seen = ""  # the last few KiB of clean text, for error messages
        self._pending = ""  # decoded text held back (incomplete escape sequence)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._transcript = transcript.open("a", encoding="utf-8") if transcript else None
        self._log = log.open("a", encoding="utf-8") if log else None
        self._secure = secure_log.open("a", encoding="utf-8") if secure_log else None
        self._held = ""  # start of a line that may be a secure-world line (secure_log only)
        self._midline = False  # the last text passed on ended inside a normal-world line
        self._opened = False

    # -- raw I/O: the only part a backend implements ------------------------------------
    def _read(self, size: int, timeout: float) -> bytes:
        raise NotImplementedError

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def _open(self) -> None:
        """Backend hook: acquire the underlying line."""

    def _close(self) -> None:
        """Backend hook: release the underlying line."""

    # -- interactive use ---------------------------------------------------------------------
    def interact(self, escape: bytes = b"\x1d", *, stdin_fd: int = 0, stdout_fd: int = 1) -> None:
        """Relay the line to the user's terminal until they type `escape` (Ctrl-] by default).

        Works for every backend through `_read`/`_write`. Text that no expectation consumed is
        shown first. The terminal is put in raw mode (if it is one) and always restored.
        """
        import select
        import termios
        import tty

        if self._buffer:
            os.write(stdout_fd, self._buffer.encode())
            self._buffer = ""
        saved = termios.tcgetattr(stdin_fd) if os.isatty(stdin_fd) else None
        try:
            if saved is not None:
                tty.setraw(stdin_fd)
            while True:
                data = self._read(4096, 0.05)
                if data:
                    os.write(stdout_fd, data)
                ready, _, _ = select.select([stdin_fd], [], [], 0)
                if not ready:
                    continue
                typed = os.read(stdin_fd, 1024)
                if not typed:  # stdin closed
                    return
                if escape in typed:
                    before = typed.split(escape, 1)[0]
                    if before:
                        self._write(before)
                    return
                self._write(typed)
        finally:
            if saved is not None:
                termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> Console:
        """Acquire the line (idempotent); returns self."""
        if not self._opened:
            self._open()
            self._opened = True
        return self

    def close(self) -> None:
        """Release the line and the transcript file (idempotent)."""
        if self._opened:
            self._opened = False
            self._close()
        for f in (self._transcript, self._log, self._secure):
            if f is not None:
                f.close()
        self._transcript = self._log = self._secure = None

    def __enter__(self) -> Console:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- expect --------------------------------------------------------------------------
    def _record(self, direction: str, data: str) -> None:
        if self._transcript and data:
            self._transcript.write(json.dumps({"dir": direction, "data": data}) + "\n")
            self._transcript.flush()

    def _feed(self, data: bytes) -> None:
        text = self._pending + self._decoder.decode(data)
        partial = _PARTIAL_ESCAPE.search(text)
        if partial and len(text) - partial.start() < 32:
            self._pending, text = text[partial.start() :], text[: partial.start()]
        else:
            self._pending = ""
        clean = strip_escapes(text)
        self._record("out", text)
        if self._secure is not None:
            clean = self._divert_secure(clean)
        if self._log is not None and clean:
            self._log.write(clean)
            self._log.flush()
        self._buffer += clean
        self._seen = (self._seen + clean)[-8192:]
        if len(self._buffer) > 1 << 20:  # nobody is waiting for a megabyte of boot log
            self._buffer = self._buffer[-(1 << 19) :]

    def _divert_secure(self, text: str) -> str:
        """Move whole secure-world lines to the secure log; return the rest (see `__init__`)."""
        assert self._secure is not None
        text, self._held = self._held + text, ""
        out = []
        while text:
            nl = text.find("\n")
            if nl < 0:
                starts = not self._midline and len(text) < HELD_LINE_MAX
                if starts and (SECURE_LINE.match(text) or _SECURE_PARTIAL.fullmatch(text)):
                    self._held = text
                else:
                    out.append(text)
                    self._midline = True
                break
            line, text = text[: nl + 1], text[nl + 1 :]
            if not self._midline and SECURE_LINE.match(line):
                self._secure.write(line)
                self._secure.flush()
            else:
                out.append(line)
            self._midline = False
        return "".join(out)

    def tail(self, lines: int | None = None) -> str:
        """The last lines of clean text seen on this console (for error messages)."""
        n = lines or self.tail_lines
        return "\n".join(self._seen.rstrip("\n").splitlines()[-n:])

    def read_available(self, timeout: float = 0.0) -> str:
        """Read whatever arrives within `timeout` and return (and consume) the buffered text."""
        self._fill(timeout)
        out, self._buffer = self._buffer, ""
        return out

    def _fill(self, timeout: float) -> bool:
        """Read once (waiting up to `timeout`); True if something arrived."""
        data = self._read(65536, max(timeout, 0.0))
        if data:
            self._feed(data)
            return True
        return False

    def expect(
        self, patterns: str | re.Pattern[str] | Sequence[str | re.Pattern[str]], timeout: float | None = None
    ) -> tuple[int, re.Match[str]]:
        """Wait until one of `patterns` matches the unconsumed text.

        Returns (index of the pattern, match); consumes the text up to the end of the match.
        Raises `ConsoleTimeout` (with the tail of what was seen) or `ConsoleClosed`.
        """
        if isinstance(patterns, str | re.Pattern):
            patterns = [patterns]
        compiled = [re.compile(p) if isinstance(p, str) else p for p in patterns]
        limit = self.default_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            best: tuple[int, re.Match[str]] | None = None
            for i, pattern in enumerate(compiled):
                m = pattern.search(self._buffer)
                if m and (best is None or m.start() < best[1].start()):
                    best = (i, m)
            if best:
                self._buffer = self._buffer[best[1].end() :]
                return best
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                wanted = " or ".join(repr(p.pattern) for p in compiled)
                raise ConsoleTimeout(
                    f"{self.name}: waited {limit:g} s for {wanted}; last output:\n{self.tail()}",
                    hint="see the normal-world log (`foc-deploy qemu logs`)",
                )
            try:
                self._fill(min(remaining, 0.5))
            except ConsoleClosed as exc:
                raise ConsoleClosed(f"{exc.message}; last output:\n{self.tail()}") from None

    def send(self, text: str) -> None:
        """Send text as typed (no newline added)."""
        self._record("in", text)
        self._write(text.encode())

    def sendline(self, line: str = "") -> None:
        """Send one line followed by a carriage return (what a terminal sends for Enter)."""
        self.send(line + "\r")

    def _next_nonce(self) -> str:
        return secrets.token_hex(4)

    # -- shell -----------------------------------------------------------------------------
    def wait_for_shell(self, timeout: float | None = None) -> None:
        """Wait until a shell executes commands; log in if a login prompt appears first.

        Works whatever the prompt looks like: it asks the shell to print a marker.
        """
        limit = self.default_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        nonce = self._next_nonce()
        ready = re.compile(rf"__FOC_READY_{re.escape(nonce)}__")
        probe = f'echo __FOC_READY_"{nonce}"__'
        logged_in = False
        # A getty would take our probe for a user name: look for a login prompt first.
        try:
            self.expect([DEFAULT_LOGIN_PROMPT], timeout=min(0.5, limit))
            self.sendline(self.login_name)
            logged_in = True
            self._answer_password(timeout=min(1.0, limit))
        except ConsoleTimeout:
            pass
        self.sendline(probe)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                remaining = 0.01  # one last look, then expect() raises with the tail
            # Re-probe every few seconds: the first line may have been eaten by a getty or by boot.
            step = min(remaining, 3.0)
            try:
                index, _ = self.expect([ready, DEFAULT_LOGIN_PROMPT, DEFAULT_PASSWORD_PROMPT], timeout=step)
            except ConsoleTimeout:
                if time.monotonic() >= deadline:
                    raise ConsoleTimeout(
                        f"{self.name}: no shell answered within {limit:.0f} s; last output:\n{self.tail()}"
                    ) from None
                self.sendline(probe)
                continue
            if index == 0:
                self._buffer = ""  # drop the rest of the probe's echo and the prompt
                return
            if index == 1:
                if logged_in:
                    raise TargetError(f"{self.name}: login as {self.login_name!r} was refused")
                self.sendline(self.login_name)
                logged_in = True
            else:
                if self.password is None:
                    raise TargetError(f"{self.name}: the device asks for a password and none was given")
                self.sendline(self.password)
            self.sendline(probe)

    def _answer_password(self, timeout: float) -> None:
        try:
            self.expect([DEFAULT_PASSWORD_PROMPT], timeout=timeout)
        except ConsoleTimeout:
            return  # no password asked
        if self.password is None:
            raise TargetError(f"{self.name}: the device asks for a password and none was given")
        self.sendline(self.password)

    def run(self, cmd: str, timeout: float | None = None) -> CommandResult:
        """Run one shell command line; returns (exit_code, output).

        The output is clean text with the trailing newline removed. Raises `ConsoleTimeout`
        if the command does not finish within `timeout` seconds.
        """
        if "\n" in cmd or "\r" in cmd:
            raise UsageError("Console.run takes one command line (no newlines)")
        nonce = self._next_nonce()
        begin, end = marker_patterns(nonce)
        line = wrap_command(cmd, nonce)
        if len(line) > MAX_LINE:
            raise UsageError(
                f"command line too long for the device's shell ({len(line)} > {MAX_LINE} characters)",
                hint="busybox line editing truncates at 1024; use Console.write_file for data",
            )
        self.sendline(line)
        self.expect(begin, timeout)
        _, m = self.expect(end, timeout)
        output = m.string[: m.start()]
        # The text between the markers is exactly the command's output; drop the prompt residue.
        return CommandResult(int(m.group(1)), output.rstrip("\n"))

    def write_file(self, remote_path: str, data: bytes, *, chunk: int = 640) -> None:
        """Create `remote_path` on the device with `data` (base64 over the line, in chunks)."""
        import base64
        import shlex

        target = shlex.quote(remote_path)
        self.check(f": > {target}")
        encoded = base64.b64encode(data).decode()
        for i in range(0, len(encoded), chunk):
            self.check(f"echo {encoded[i : i + chunk]} | base64 -d >> {target}")

    def check(self, cmd: str, timeout: float | None = None) -> str:
        """Run `cmd` and return its output; raise `TargetError` if it exits non-zero."""
        rc, out = self.run(cmd, timeout)
        if rc != 0:
            tail = "\n".join(out.splitlines()[-self.tail_lines :])
            raise TargetError(f"{self.name}: `{cmd}` exited with {rc}:\n{tail}")
        return out


class PexpectConsole(Console):
    """A console over a file descriptor read by pexpect: a QEMU unix chardev socket or a pty.

    `PexpectConsole.unix_socket(path)` connects to QEMU's `-chardev socket,server=on` (one client
    at a time: QEMU refuses a second). `PexpectConsole.pty(path)` opens a pty slave.
    """

    name = "qemu console"

    def __init__(self, opener: Callable[[], tuple[int, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._opener = opener
        self._keep: Any = None
        self.spawn: Any = None  # pexpect.fdpexpect.fdspawn once open

    @classmethod
    def unix_socket(cls, path: Path, *, connect_timeout: float = 10.0, **kwargs: Any) -> PexpectConsole:
        """A console on a QEMU chardev unix socket (retries while QEMU creates it)."""

        def opener() -> tuple[int, Any]:
            deadline = time.monotonic() + connect_timeout
            while True:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(str(path))
                    return sock.fileno(), sock
                except (FileNotFoundError, ConnectionRefusedError) as exc:
                    sock.close()
                    if time.monotonic() >= deadline:
                        raise TargetError(
                            f"cannot connect to the console socket {path}: {exc.strerror}",
                            hint="is the target up? (`foc-deploy qemu status`)",
                        ) from None
                    time.sleep(0.1)

        return cls(opener, **kwargs)

    @classmethod
    def pty(cls, path: Path, **kwargs: Any) -> PexpectConsole:
        """A console on a pty slave device (e.g. QEMU's `-serial pty`)."""

        def opener() -> tuple[int, Any]:
            try:
                fd = os.open(str(path), os.O_RDWR | os.O_NOCTTY)
            except OSError as exc:
                raise TargetError(f"cannot open {path}: {exc.strerror}") from None
            return fd, fd

        return cls(opener, **kwargs)

    def _open(self) -> None:
        import pexpect.fdpexpect

        fd, self._keep = self._opener()
        self.spawn = pexpect.fdpexpect.fdspawn(fd, timeout=self.default_timeout, use_poll=True)

    def _close(self) -> None:
        if isinstance(self._keep, socket.socket):
            self._keep.close()
        elif isinstance(self._keep, int):
            try:
                os.close(self._keep)
            except OSError:
                pass
        self._keep = None
        self.spawn = None

    def _read(self, size: int, timeout: float) -> bytes:
        import pexpect

        if self.spawn is None:
            raise ConsoleClosed(f"{self.name} is not open")
        try:
            return self.spawn.read_nonblocking(size, timeout)
        except pexpect.TIMEOUT:
            return b""
        except pexpect.EOF:
            raise ConsoleClosed(f"{self.name}: the other end closed the line") from None

    def _write(self, data: bytes) -> None:
        if self.spawn is None:
            raise ConsoleClosed(f"{self.name} is not open")
        try:
            self.spawn.send(data)
        except OSError as exc:
            raise ConsoleClosed(f"{self.name}: write failed: {exc.strerror}") from None


class SerialConsole(Console):
    """A console on a real serial port (e.g. a USB-UART on a Raspberry Pi 3) via pyserial."""

    name = "serial console"

    def __init__(self, port: str, baudrate: int = 115200, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.port = port
        self.baudrate = baudrate
        self._serial: Any = None

    def _open(self) -> None:
        import serial

        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=0)
        except serial.SerialException as exc:
            raise TargetError(f"cannot open serial port {self.port}: {exc}") from None

    def _close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def _read(self, size: int, timeout: float) -> bytes:
        import serial

        if self._serial is None:
            raise ConsoleClosed(f"{self.name} {self.port} is not open")
        self._serial.timeout = timeout
        try:
            first = self._serial.read(1)  # blocks up to `timeout`
            if not first:
                return b""
            waiting = self._serial.in_waiting
            return first + (self._serial.read(min(waiting, size - 1)) if waiting else b"")
        except serial.SerialException as exc:
            raise ConsoleClosed(f"{self.name} {self.port}: {exc}") from None

    def _write(self, data: bytes) -> None:
        if self._serial is None:
            raise ConsoleClosed(f"{self.name} {self.port} is not open")
        self._serial.write(data)


ShellHandler = Callable[[str], tuple[int, str]]


class FakeConsole(Console):
    """A scripted shell for unit tests: behaves like busybox on a serial line.

    `commands` maps a command line to (exit_code, output) or is a function doing so; unknown
    commands answer `sh: CMD: not found` with 127. The fake echoes what is typed (with the
    `ESC[6n` noise busybox adds), prints `banner` first, asks `login:` if `login_prompt` is set,
    and can inject `noise` (e.g. a kernel message) into a command's output.
    `hang` lists commands that never finish. Everything written is kept in `written`.
    """

    name = "fake console"

    def __init__(
        self,
        commands: dict[str, tuple[int, str]] | ShellHandler | None = None,
        *,
        banner: str = "",
        prompt: str = "optee# ",
        login_prompt: bool = False,
        echo: bool = True,
        hang: Iterable[str] = (),
        closed_after: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("default_timeout", 2.0)
        super().__init__(**kwargs)
        self._commands = commands or {}
        self.prompt = prompt
        self.echo = echo
        self.hang = set(hang)
        self.written = ""
        self._line = ""
        self._outbox = bytearray(banner.encode())
        self._needs_login = login_prompt
        self._last_rc = 0
        self._closed_after = closed_after
        if login_prompt:
            self._outbox += b"\r\noptee login: "
        else:
            self._outbox += self._prompt_bytes()

    def _prompt_bytes(self) -> bytes:
        return self.prompt.encode() + b"\x1b[6n"

    def _read(self, size: int, timeout: float) -> bytes:
        if not self._outbox:
            if self._closed_after is not None and len(self.written) >= self._closed_after:
                raise ConsoleClosed(f"{self.name}: closed")
            time.sleep(min(timeout, 0.001))  # nothing will come: the fake is single-threaded
            return b""
        chunk = bytes(self._outbox[: min(size, 7)])  # small chunks exercise reassembly
        del self._outbox[: len(chunk)]
        return chunk

    def _write(self, data: bytes) -> None:
        text = data.decode()
        self.written += text
        for ch in text:
            if ch == "\r":
                self._execute(self._line)
                self._line = ""
            else:
                self._line += ch

    def _answer(self, cmd: str) -> tuple[int, str]:
        if callable(self._commands):
            return self._commands(cmd)
        if cmd in self._commands:
            return self._commands[cmd]
        return 127, f"sh: {cmd.split()[0] if cmd.split() else cmd}: not found\n"

    def _echo_word(self, word: str) -> str:
        # Enough of the shell for our markers: quotes vanish, $? expands.
        return word.replace('"', "").replace("$?", str(self._last_rc))

    def _execute(self, line: str) -> None:
        out = self._outbox
        if self.echo:
            out += line.encode() + b"\r\n"
        if self._needs_login:
            self._needs_login = False
            out += b"\r\n" + self._prompt_bytes()
            return
        for part in [p.strip() for p in line.split(";")]:
            if not part:
                continue
            if part in self.hang:
                return  # never prints the end marker or a prompt
            if part.startswith("echo ") and not any(c in part for c in "|>"):
                out += self._echo_word(part[5:]).encode() + b"\r\n"
                self._last_rc = 0
                continue
            rc, text = self._answer(part)
            out += text.replace("\n", "\r\n").encode()
            self._last_rc = rc
        out += self._prompt_bytes()


class TranscriptConsole(Console):
    """Replays a transcript recorded by a real console (`Console(transcript=...)`).

    The transcript is JSON lines `{"dir": "in"|"out", "data": ...}`. Output is released up to
    the next recorded input; each input must match what the code under test writes, except
    for the marker nonces, which are replayed in the recorded order.
    """

    name = "transcript console"

    def __init__(self, path: Path, **kwargs: Any) -> None:
        kwargs.setdefault("default_timeout", 2.0)
        super().__init__(**kwargs)
        self.path = path
        try:
            self._events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read transcript {path}: {exc}") from None
        for event in self._events:
            if event.get("dir") not in ("in", "out") or not isinstance(event.get("data"), str):
                raise UsageError(f"transcript {path}: bad event {event!r}")
        nonce_re = re.compile(r'__FOC_(?:B|READY)_"([0-9a-f]+)"__')
        self._nonces = [m for e in self._events if e["dir"] == "in" for m in nonce_re.findall(e["data"])]
        self._index = 0
        self._written = ""

    def _next_nonce(self) -> str:
        if not self._nonces:
            raise TargetError(f"{self.name}: the transcript has no more commands")
        return self._nonces.pop(0)

    def _read(self, size: int, timeout: float) -> bytes:
        if self._index < len(self._events) and self._events[self._index]["dir"] == "out":
            data = self._events[self._index]["data"]
            self._index += 1
            return data.encode()
        if self._index >= len(self._events):
            raise ConsoleClosed(f"{self.name}: end of transcript {self.path.name}")
        time.sleep(min(timeout, 0.001))
        return b""

    def _write(self, data: bytes) -> None:
        self._written += data.decode()
        while self._written:
            if self._index >= len(self._events) or self._events[self._index]["dir"] != "in":
                raise TargetError(f"{self.name}: unexpected input {self._written!r}")
            expected = self._events[self._index]["data"]
            if self._written.startswith(expected):
                self._written = self._written[len(expected) :]
                self._index += 1
            elif expected.startswith(self._written):
                return  # wait for the rest
            else:
                raise TargetError(f"{self.name}: wrote {self._written!r}, transcript expects {expected!r}")
