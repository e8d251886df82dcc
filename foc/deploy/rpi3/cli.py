"""The rpi3 parts of the `foc-deploy` command line (wired in by `foc.deploy.cli`).

foc-deploy rpi3 up [--host ADDR [--serial DEV] [--board NAME] [--ssh-port N]] [--mutual-tls]
foc-deploy rpi3 flash --device /dev/sdX [--dry-run] [--board NAME] [override flags]
foc-deploy rpi3 inspect                  static checks of the built SD image
foc-deploy rpi3 provision [--logs]       copy a rebuilt TA / foc package, restart, read logs
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from foc.errors import TargetError, UsageError


def add_options(up: Any, actions: Any, sub_globals: Any, inst: Any) -> None:
    """rpi3's `up` options and its extra actions."""
    up.add_argument(
        "--host", help="a real board's address (SSH); without it the SD image is emulated (raspi3b)"
    )
    up.add_argument(
        "--serial", help="the board's UART (e.g. /dev/ttyUSB0): host key and fallback provisioning"
    )
    up.add_argument("--ssh-port", type=int, default=None, help="the board's SSH port (default 22)")
    up.add_argument("--board", help="the board's name for its pinned keys (default: the host address)")
    up.add_argument("--mutual-tls", action="store_true", help="the proxy also requires a client certificate")
    up.add_argument(
        "--keep-tls", action="store_true", help="keep the board's proxy certificate (default: a new one)"
    )
    flash = actions.add_parser(
        "flash", help="write the SD image to a card (or an image file)", parents=[sub_globals]
    )
    flash.add_argument(
        "--device", required=True, help="the card (/dev/sdX, /dev/mmcblkN) or an image file path"
    )
    flash.add_argument("--dry-run", action="store_true", help="do every check, write nothing")
    flash.add_argument(
        "--board", default="rpi3", help="name of the board's pinned SSH host key (default rpi3)"
    )
    flash.add_argument(
        "--no-identity", action="store_true", help="write the image unchanged (no SSH host key, no keys)"
    )
    flash.add_argument(
        "--allow-non-removable", action="store_true", help="accept a fixed (non-removable, non-USB) disk"
    )
    flash.add_argument("--allow-mounted", action="store_true", help="accept a device with mounted partitions")
    flash.add_argument(
        "--allow-system-disk", action="store_true", help="accept the disk the running system is on"
    )
    flash.add_argument("--max-size", default="128G", help="refuse devices larger than this (default 128G)")
    actions.add_parser("inspect", help="static checks of the built SD image", parents=[sub_globals])
    provision = actions.add_parser(
        "provision",
        help="copy a rebuilt TA / foc package to the running board, restart",
        parents=[sub_globals, inst],
    )
    provision.add_argument("--logs", action="store_true", help="only print the board's proxy and kernel logs")
    provision.add_argument("--keep-tls", action="store_true", help="keep the board's proxy certificate")


def up_options(args: argparse.Namespace) -> dict[str, Any]:
    """`api.up` keyword arguments from rpi3's `up` options."""
    return {
        "host": args.host,
        "serial": args.serial,
        "ssh_port": args.ssh_port,
        "board": args.board,
        "mutual_tls": args.mutual_tls,
        "new_tls": not args.keep_tls,
    }


def run_action(args: argparse.Namespace, out: Any) -> int:
    """flash / inspect / provision."""
    if args.command != "rpi3" or args.action not in ("flash", "inspect", "provision"):
        raise UsageError(f"{args.command} has no action {args.action!r}")
    return {"flash": _flash, "inspect": _inspect, "provision": _provision}[args.action](args, out)


def _image() -> Any:
    from foc.deploy.runtime import last_image

    return last_image("rpi3")


def _flash(args: argparse.Namespace, out: Any) -> int:
    from pathlib import Path

    from foc.deploy.paths import cache_root
    from foc.deploy.rpi3 import flash
    from foc.deploy.rpi3.identity import BoardIdentity

    image = _image()
    if image.sd_image is None:
        raise TargetError("the last rpi3 build has no SD image", hint="`foc-deploy rpi3 build`")
    overrides = flash.Overrides(
        allow_non_removable=args.allow_non_removable,
        allow_mounted=args.allow_mounted,
        allow_system_disk=args.allow_system_disk,
        max_size=flash.parse_size(args.max_size),
    )
    identity = None if args.no_identity or args.dry_run else BoardIdentity.of(args.board)
    files = identity.flash_files() if identity is not None else None
    bar: Progress | None = None
    tasks: dict[str, Any] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if bar is None:
            return
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done)

    if not out.json_mode and not args.dry_run:
        bar = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=out.err,
        )  # fmt: skip
    if bar is not None:
        bar.start()
    try:
        report = flash.flash(
            image.sd_image,
            Path(args.device),
            personalize=files,
            overrides=overrides,
            dry_run=args.dry_run,
            progress=progress,
            workdir=cache_root() / "tmp",
        )
    finally:
        if bar is not None:
            bar.stop()
    if args.dry_run:
        text = (f"dry run: would write {report.bytes} bytes ({escape(report.image)}) to "
                f"{escape(report.target)} "
                f"({report.kind}); every check passed")  # fmt: skip
    else:
        pinned = (
            f"; board {identity.name}'s SSH host key pinned in {identity.host_key_pub}" if identity else ""
        )
        text = (f"wrote and verified {report.bytes} bytes to {escape(report.target)} ({report.kind}), "
                f"sha256 {report.sha256[:16]}...{escape(pinned)}")  # fmt: skip
    out.result(report.to_json(), text)
    return 0


def _inspect(args: argparse.Namespace, out: Any) -> int:
    from foc.deploy.rpi3 import sdimage

    image = _image()
    if image.sd_image is None:
        raise TargetError("the last rpi3 build has no SD image", hint="`foc-deploy rpi3 build`")
    checks = sdimage.inspect(image.sd_image, image.manifest)
    failed = [c for c in checks if not c.ok]
    data = {"image": str(image.sd_image), "ok": not failed, "checks": [c.__dict__ for c in checks]}
    if out.json_mode:
        out.result(data, "")
    else:
        table = Table(title=f"static checks of {image.sd_image}")
        table.add_column("check")
        table.add_column("ok")
        table.add_column("evidence")
        for c in checks:
            table.add_row(escape(c.name), "[green]yes[/]" if c.ok else "[red]NO[/]", escape(c.detail[:300]))
        out.out.print(table)
    if failed:
        raise TargetError(
            f"{len(failed)} of {len(checks)} static checks failed: " + "; ".join(c.name for c in failed)
        )
    return 0


def _provision(args: argparse.Namespace, out: Any) -> int:
    from foc.deploy.paths import REPO_ROOT
    from foc.deploy.rpi3 import provision as prov
    from foc.deploy.rpi3.runtime import Rpi3Runtime

    runtime = Rpi3Runtime(args.instance)
    with runtime.shell() as shell:
        if args.logs:
            logs = prov.read_logs(shell)
            out.result({"logs": logs}, escape(logs))
            return 0
        image = _image()
        tas = list(image.ta_files)  # every chaincode TA of the image
        report = prov.provision(
            shell,
            runtime.identity(),
            tas=tas,
            package=REPO_ROOT / "foc",
            new_tls=not args.keep_tls,
        )
    out.result(
        report.to_json(),
        escape(
            f"provisioned: TLS {report.tls}, TAs copied {report.tas or 'none'}, "
            f"foc package {report.package}, "
            f"tee-supplicant pid {report.supplicant}, proxy pid {report.proxy}\n{report.log_tail}"
        ),
    )
    return 0
