"""`foc-deploy`: a thin command line over `foc.deploy.api` (build, boot and inspect targets).

    foc-deploy doctor [--target qemu|rpi3] [--tests]
    foc-deploy TARGET build [--refresh] [--ta FILE.ta ...]   TARGET: native, qemu, rpi3
    foc-deploy TARGET up [--port N] [--no-build] [--instance NAME] [--ta FILE.ta ...]
    foc-deploy TARGET down | status | console
    foc-deploy TARGET logs [--follow] [--secure]
    foc-deploy rpi3 up [--host ADDR] [--serial DEV]     a board (SSH/UART) or, without --host, raspi3b
    foc-deploy rpi3 flash --device /dev/sdX [--dry-run] the SD image to a card (or an image file)
    foc-deploy rpi3 inspect                             static checks of the built SD image

Global options (before or after the subcommand): `--verbose`, `--json` (one JSON document on
stdout, nothing else there). Exit codes come from `foc.errors` (e.g. 4 = host setup, 6 = target).
Colour follows the terminal and `NO_COLOR`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console as RichConsole
from rich.markup import escape
from rich.table import Table

from foc.errors import FocError, HostSetupError, TargetError, UsageError


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit code 2, our message format) instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint=f"see `{self.prog} --help`")


def _global_options(defaults: bool) -> _ArgumentParser:
    # Used on the root parser (with defaults) and on every subparser (SUPPRESS keeps the root's
    # value unless the flag is given there), so `--json` works before or after the subcommand.
    p = _ArgumentParser(add_help=False)
    kw: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    p.add_argument("--verbose", "-v", action="store_true", help="show every step and command", **kw)
    p.add_argument("--json", action="store_true", help="print one machine-readable JSON document", **kw)
    return p


def _instance_option() -> _ArgumentParser:
    p = _ArgumentParser(add_help=False)
    p.add_argument(
        "--instance",
        default="default",
        help="which QEMU instance (each has its own run dir, pid file and logs; default %(default)s)",
    )
    return p


def _target_parser(commands: Any, name: str, description: str, sub_globals: _ArgumentParser) -> None:
    """`foc-deploy NAME ACTION ...` for one target (its extra actions and options included)."""
    target = commands.add_parser(name, help=description, parents=[sub_globals])
    actions = target.add_subparsers(dest="action", metavar="ACTION", parser_class=_ArgumentParser)
    what = "the native library" if name == "native" else "the image"
    build = actions.add_parser("build", help=f"build (or fetch from the cache) {what}", parents=[sub_globals])
    build.add_argument("--refresh", action="store_true", help="rebuild every step, ignoring the cache")
    ta_help = (
        "a chaincode TA to install beside coffee and the examples (`foc chaincode build` output; repeat "
        "for several; native: the host-native library built beside it)"
    )
    build.add_argument("--ta", action="append", default=[], type=Path, metavar="FILE.ta", help=ta_help)
    inst = _instance_option()
    up = actions.add_parser(
        "up", help="start in the background and wait until the proxy answers", parents=[sub_globals, inst]
    )
    up.add_argument("--port", type=int, default=None, help="host port of the proxy (default: the target's)")
    up.add_argument("--no-build", dest="build", action="store_false", help="use the last build")
    up.add_argument("--ta", action="append", default=[], type=Path, metavar="FILE.ta", help=ta_help)
    actions.add_parser("down", help="stop what `up` started", parents=[sub_globals, inst])
    actions.add_parser("status", help="is it running, is the proxy serving", parents=[sub_globals, inst])
    actions.add_parser(
        "console", help="attach to the device's shell (Ctrl-] detaches)", parents=[sub_globals, inst]
    )
    logs = actions.add_parser("logs", help="print the log of the last start", parents=[sub_globals, inst])
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--secure", action="store_true", help="the secure-world (OP-TEE) UART instead")
    if name == "rpi3":
        from foc.deploy.rpi3 import cli as rpi3_cli

        rpi3_cli.add_options(up, actions, sub_globals, inst)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for tests and docs)."""
    from foc.deploy.runtime import _registry

    sub_globals = _global_options(defaults=False)
    parser = _ArgumentParser(
        prog="foc-deploy",
        description="Build and run FOC targets: native (host build, not a TEE), qemu (OP-TEE in QEMU), "
        "rpi3 (Raspberry Pi 3 board or its SD image under QEMU raspi3b).",
        parents=[_global_options(defaults=True)],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    doctor = commands.add_parser(
        "doctor", help="check that this host can build and boot targets", parents=[sub_globals]
    )
    doctor.add_argument("--target", default="qemu", choices=("qemu", "rpi3"))
    doctor.add_argument(
        "--tests", action="store_true", help="also check what the test suite needs (clang, libFuzzer, ...)"
    )
    for name, cls in sorted(_registry().items()):
        _target_parser(commands, name, cls.description, sub_globals)
    return parser


class ProgressView:
    """Renders `progress(step, state, detail)` callbacks on stderr (quiet in --json mode)."""

    def __init__(self, err: RichConsole, *, verbose: bool, enabled: bool) -> None:
        self.err = err
        self.verbose = verbose
        self.enabled = enabled
        self._status: Any = None
        self._started: dict[str, float] = {}

    def __enter__(self) -> ProgressView:
        if self.enabled and self.err.is_terminal:
            self._status = self.err.status("starting")
            self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __call__(self, step: str, state: str, detail: str = "") -> None:
        if not self.enabled:
            return
        step, detail = escape(str(step)), escape(str(detail))
        now = time.monotonic()
        if state in ("start", "running"):
            self._started[step] = now
            if self._status is not None:
                self._status.update(f"{step} {detail}".strip())
            if self.verbose or self._status is None:
                self.err.print(f"[bold]…[/] {step} {detail}".rstrip(), highlight=False)
        elif state in ("done", "cached", "ok"):
            self._started.pop(step, None)
            if state == "cached":
                shown = f"{detail} (cached)" if self.verbose else "(cached)"
                self.err.print(f"[cyan]≡[/] {step} {shown}", highlight=False)
            else:
                self.err.print(f"[green]✓[/] {step} {detail}".rstrip(), highlight=False)
        elif state in ("fail", "failed", "error"):
            self.err.print(f"[red]✗[/] {step} {detail}".rstrip(), highlight=False)
        else:  # "progress", log lines, anything the builder adds
            if self._status is not None:
                self._status.update(f"{step}: {detail}".strip())
            if self.verbose or self._status is None:
                self.err.print(f"  [dim]{step}: {detail}[/]", highlight=False)


class Output:
    """Where results go: rich text on stdout, or one JSON document."""

    def __init__(self, *, json_mode: bool, verbose: bool) -> None:
        no_color = bool(os.environ.get("NO_COLOR"))
        self.json_mode = json_mode
        self.verbose = verbose
        self.out = RichConsole(no_color=no_color, highlight=False, soft_wrap=True)
        self.err = RichConsole(stderr=True, no_color=no_color, highlight=False, soft_wrap=True)

    def progress(self) -> ProgressView:
        return ProgressView(self.err, verbose=self.verbose, enabled=not self.json_mode)

    def result(self, data: dict[str, object], text: str) -> None:
        if self.json_mode:
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        else:
            self.out.print(text, highlight=False)


def _fmt_timings(timings: dict[str, Any]) -> str:
    labels = {
        "build_s": "image build",
        "cold_build_s": "last cold build",
        "boot_s": "boot",
        "ready_s": "boot to ready",
        "total_s": "total",
    }
    return ", ".join(f"{labels.get(k, k)} {float(v):.1f} s" for k, v in timings.items())


def _doctor(args: argparse.Namespace, out: Output) -> int:
    from foc.deploy.host import check_host

    checks = check_host(args.target, tests=args.tests)
    bad = [c for c in checks if not c.ok]
    data = {
        "target": args.target,
        "ok": not bad,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail, "fix": c.fix} for c in checks],
    }
    if out.json_mode:
        out.result(data, "")
    else:
        table = Table(title=f"host checks for {args.target}", show_lines=False)
        table.add_column("check")
        table.add_column("ok")
        table.add_column("detail / fix")
        for c in checks:
            fix = c.detail if c.ok else c.fix or c.detail
            table.add_row(escape(c.name), "[green]yes[/]" if c.ok else "[red]NO[/]", escape(fix))
        out.out.print(table)
    return HostSetupError.exit_code if bad else 0


def _build(args: argparse.Namespace, out: Output) -> int:
    from foc.deploy import api

    with out.progress() as progress:
        built = api.build(
            args.command, progress=progress, verbose=args.verbose, refresh=args.refresh, tas=args.ta
        )
    out.result(
        built.to_json(),
        f"{escape(args.command)} build ready in {escape(str(built.root))}\nbuild time: {built.seconds:.1f} s",
    )
    return 0


def _up(args: argparse.Namespace, out: Output) -> int:
    from foc.deploy import api

    options: dict[str, Any] = {}
    if args.command == "rpi3":
        from foc.deploy.rpi3 import cli as rpi3_cli

        options = rpi3_cli.up_options(args)
    with out.progress() as progress:
        running = api.up(
            args.command,
            port=args.port,
            build=args.build,
            progress=progress,
            verbose=args.verbose,
            instance=args.instance,
            **options,
            **({"tas": args.ta} if args.ta else {}),
        )
    pid = f"pid {running.pid}, " if running.pid is not None else ""
    tls = " (TLS, pinned certificate " + escape(str(running.tls_ca)) + ")" if running.tls_ca else ""
    out.result(
        running.to_json(),
        f"[bold green]{escape(running.ready)}[/] — {escape(args.command)} {pid}proxy at "
        f"{escape(running.proxy_address)}{tls}\n"
        f"timings: {_fmt_timings(running.timings)}\nlogs: {escape(str(running.logs))}",
    )
    return 0


def _down(args: argparse.Namespace, out: Output) -> int:
    from foc.deploy import api

    stopped = api.down(args.command, instance=args.instance)
    name = args.command
    out.result(
        {"target": name, "stopped": stopped}, f"{name} stopped" if stopped else f"{name} was not running"
    )
    return 0


def _status(args: argparse.Namespace, out: Output) -> int:
    from foc.deploy import api

    name = args.command
    st = api.status(name, instance=args.instance)
    if st.get("running"):
        pid = f" (pid {st['pid']})" if st.get("pid") is not None else ""
        lines = [f"{name} running{pid}: {st.get('ready', '?')}"]
        if st.get("proxy_address"):
            serving = st.get("proxy_serving")
            health = "" if serving is None else (" serving" if serving else " NOT answering")
            lines.append(f"proxy {st['proxy_address']}{health}")
        proxy = st.get("proxy")
        if isinstance(proxy, dict) and proxy.get("tas"):
            served = ", ".join(f"{t['name']} ({t['uuid']})" for t in proxy["tas"])
            lines.append(f"chaincode TAs: {served}")
        if st.get("uptime_s") is not None:
            lines.append(f"up {st['uptime_s']} s; {_fmt_timings(st.get('timings') or {})}")  # type: ignore[arg-type]
        if st.get("logs"):
            lines.append(f"logs: {st['logs']}")
        text = escape("\n".join(lines))
    else:
        text = f"{name} is not running" + (" (stale pid file)" if st.get("stale_pid_file") else "")
    out.result(st, text)
    return 0


def _console(args: argparse.Namespace, out: Output) -> int:
    from foc.deploy import api

    if out.json_mode:
        raise UsageError("`console` is interactive and has no --json output")
    if not sys.stdin.isatty():
        raise UsageError(
            "`console` needs a terminal on stdin", hint=f"use `foc-deploy {args.command} logs` to read output"
        )
    console = api.attach_console(args.command, instance=args.instance)
    out.err.print(f"connected to the {args.command} console; press Ctrl-] to detach", highlight=False)
    try:
        console.interact()
    finally:
        console.close()
    out.err.print("\ndetached", highlight=False)
    return 0


def _logs(args: argparse.Namespace, out: Output) -> int:
    from foc.deploy import api

    path = api.log_path(args.command, secure=args.secure, instance=args.instance)
    if not path.is_file():
        raise TargetError(f"no log yet at {path}", hint=f"`foc-deploy {args.command} up` first")
    if out.json_mode:
        text = path.read_bytes().decode("utf-8", errors="replace")
        out.result({"path": str(path), "log": text}, "")
        return 0
    with path.open("rb") as f:
        sys.stdout.buffer.write(f.read())
        sys.stdout.flush()
        if not args.follow:
            return 0
        try:
            while True:
                chunk = f.read()
                if chunk:
                    sys.stdout.buffer.write(chunk)
                    sys.stdout.flush()
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return 0


ACTIONS = {
    "build": _build,
    "up": _up,
    "down": _down,
    "status": _status,
    "console": _console,
    "logs": _logs,
}


def run(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command, return the exit code (errors printed, never raised)."""
    json_mode = "--json" in (argv if argv is not None else sys.argv[1:])
    out = Output(json_mode=json_mode, verbose=False)
    try:
        args = build_parser().parse_args(argv)
        out = Output(json_mode=args.json, verbose=args.verbose)
        if args.command == "doctor":
            return _doctor(args, out)
        if args.command is None:
            raise UsageError(
                "no command given", hint="`foc-deploy doctor` or `foc-deploy qemu up`; see --help"
            )
        if not getattr(args, "action", None):
            raise UsageError(
                f"say what to do with {args.command}", hint="see `foc-deploy " + args.command + " --help`"
            )
        if args.action in ACTIONS:
            return ACTIONS[args.action](args, out)
        from foc.deploy.rpi3 import cli as rpi3_cli

        return rpi3_cli.run_action(args, out)
    except FocError as exc:
        if out.json_mode:
            error = {"ok": False, "error": exc.message, "hint": exc.hint, "exit_code": exc.exit_code}
            sys.stdout.write(json.dumps(error) + "\n")
        else:
            out.err.print(f"[red]error:[/] {escape(exc.message)}", highlight=False)
            if exc.hint:
                out.err.print(f"[yellow]hint:[/] {escape(exc.hint)}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        out.err.print("interrupted", highlight=False)
        return 130


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (`foc-deploy`)."""
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
