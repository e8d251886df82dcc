"""The Python API of foc-deploy's runtime: bring a target up, find it, stop it, talk to it.

The CLI (`foc.deploy.cli`) and the qemu test tier are thin users of these functions.

    running = ensure_up("qemu", port=50061)   # builds if needed, boots, waits for the proxy
    with attach_console("qemu") as console:
        rc, out = console.run("ls /dev/tee0")
    down("qemu")

Readiness: if the guest's /init printed `FOC-BOOT: proxy started`, the target is ready when the
proxy's gRPC Health says serving ("proxy ready"); otherwise when /dev/tee0 exists and
tee-supplicant runs, checked over the console ("TEE ready (no proxy)").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from foc.deploy import paths
from foc.deploy.console import PexpectConsole
from foc.deploy.image import ImageSet
from foc.deploy.qemu import (
    DEFAULT_PORT,
    TEE_READY_COMMAND,
    Progress,
    QemuInstance,
    QemuMachine,
    load_state,
    pid_is_ours,
    proxy_health,
    read_pid,
    wait_for_proxy,
)
from foc.errors import FocError, TargetError, UsageError

READY_PROXY = "proxy ready"
READY_TEE = "TEE ready (no proxy)"

BOOT_TIMEOUT = 300.0  # TCG on a loaded 2-core host: the notes measured 4-7 s, leave room
PROXY_TIMEOUT = 180.0  # python + grpc import under TCG
CONSOLE_TIMEOUT = 60.0


@dataclass(frozen=True)
class RunningTarget:
    """A target that is up: where to reach it and how long it took."""

    target: str
    pid: int
    port: int
    proxy_address: str  # "127.0.0.1:PORT" (hostfwd to the guest's proxy)
    ready: str  # READY_PROXY or READY_TEE
    run_dir: Path
    logs: Path  # directory with normal-world.log, secure-world.log, qemu.log
    console_socket: Path
    timings: dict[str, float] = field(default_factory=dict)  # build_s, boot_s, ready_s, total_s
    reused: bool = False

    def console(self, **kwargs: Any) -> PexpectConsole:
        """A (not yet opened) console on the guest's normal-world UART."""
        return PexpectConsole.unix_socket(self.console_socket, **kwargs)

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "pid": self.pid,
            "port": self.port,
            "proxy_address": self.proxy_address,
            "ready": self.ready,
            "run_dir": str(self.run_dir),
            "logs": str(self.logs),
            "console_socket": str(self.console_socket),
            "timings": self.timings,
            "reused": self.reused,
        }


def _check_target(target: str) -> None:
    if target != "qemu":
        raise UsageError(f"foc-deploy can only run the qemu target so far, not {target!r}")


def _check_kernel_args(kernel_args: tuple[str, ...] | list[str]) -> None:
    for arg in kernel_args:
        if not arg or any(c.isspace() or c in "\"'" for c in arg):
            raise UsageError(f"kernel argument {arg!r} must be one non-empty word without quotes")


def with_kernel_args(machine: QemuMachine, kernel_args: tuple[str, ...] | list[str]) -> QemuMachine:
    """`machine` with `kernel_args` appended to its kernel command line (each one word, no spaces)."""
    _check_kernel_args(kernel_args)
    if not kernel_args:
        return machine
    return replace(machine, append=" ".join([machine.append, *kernel_args]))


def _machine(target: str) -> QemuMachine:
    from foc.deploy.targets import get_target

    return QemuMachine.from_facts(dict(get_target(target).machine))


def _require_host(target: str) -> None:
    try:
        from foc.deploy.host import require_host
    except ImportError:  # the host checks are optional until that module exists
        return
    require_host(target)


def build(
    target: str = "qemu", *, progress: Progress | None = None, verbose: bool = False, refresh: bool = False
) -> tuple[ImageSet, float]:
    """Build (or fetch from the cache) the target's image; returns it and the seconds it took."""
    _check_target(target)
    from foc.deploy.build import build_image

    _require_host(target)
    t0 = time.monotonic()
    image = build_image(target, progress=progress, verbose=verbose, refresh=refresh)
    return image, time.monotonic() - t0


_build = build  # `up` has a parameter called build


def _last_image(target: str) -> ImageSet:
    """The image the builder published last, even if the sources changed since (`--no-build`)."""
    from foc.deploy.build import current_image, image_dir

    image = current_image(target)
    if image is not None:
        return image
    record = image_dir(target) / "image.json"
    try:
        return ImageSet.load(record)
    except (OSError, ValueError, KeyError):
        raise TargetError(
            f"no image has been built for {target}", hint=f"`foc-deploy {target} build`"
        ) from None


def _step(progress: Progress | None, name: str, state: str, detail: str = "") -> None:
    if progress:
        progress(name, state, detail)


def check_tee_over_console(console_socket: Path, timeout: float = CONSOLE_TIMEOUT) -> str:
    """Check over the console that /dev/tee0 exists and tee-supplicant runs; returns its pid line."""
    with PexpectConsole.unix_socket(console_socket, default_timeout=timeout) as console:
        console.wait_for_shell()
        rc, out = console.run(TEE_READY_COMMAND)
    if rc != 0:
        raise TargetError(f"the TEE is not ready in the guest (`{TEE_READY_COMMAND}` exited {rc}): {out}")
    return out.strip()


GUEST_PROXY_LOG = "/var/log/foc-proxy.log"


def _guest_proxy_log(console_socket: Path, lines: int = 40) -> str:
    """The tail of the proxy's log inside the guest (best effort, for error messages)."""
    try:
        with PexpectConsole.unix_socket(console_socket, default_timeout=20.0) as console:
            console.wait_for_shell()
            _, out = console.run(
                f"tail -n {lines} {GUEST_PROXY_LOG}; pidof python3 || echo 'no python3 running'"
            )
    except FocError as exc:
        return f"(could not read {GUEST_PROXY_LOG} over the console: {exc.message})"
    return f"guest {GUEST_PROXY_LOG}:\n{out}"


def up(
    target: str = "qemu",
    *,
    port: int | None = None,
    build: bool = True,
    progress: Progress | None = None,
    verbose: bool = False,
    boot_timeout: float = BOOT_TIMEOUT,
    proxy_timeout: float = PROXY_TIMEOUT,
    instance: str = "default",
    kernel_args: tuple[str, ...] | list[str] = (),
) -> RunningTarget:
    """Build (if asked), boot in the background and wait until ready.

    ``kernel_args`` are appended to the guest kernel command line, e.g. ``("foc.persist=1",)``
    (secure storage on the 9p share, surviving a reboot; see qemu/README.md for the options).

    Raises TargetError if the target is already running (see `ensure_up`), fails to boot
    (panic, /init error, QEMU exit: the instance is stopped, the logs kept) or never gets ready.
    """
    _check_target(target)
    _check_kernel_args(kernel_args)  # before any build or boot
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    run_dir = paths.run_dir(target, instance)
    running_pid = read_pid(run_dir / "qemu.pid")
    if running_pid is not None and pid_is_ours(running_pid, run_dir):
        raise TargetError(
            f"{target} is already up (pid {running_pid})", hint=f"`foc-deploy {target} down` first"
        )
    if build:
        image, timings["build_s"] = _build(target, progress=progress, verbose=verbose)
        if "cold_build_seconds" in image.extra:  # the builder's last measured cold build
            timings["cold_build_s"] = float(image.extra["cold_build_seconds"])
    else:
        _require_host(target)
        image = _last_image(target)
    machine = with_kernel_args(_machine(target), kernel_args)
    inst = QemuInstance(image, run_dir=run_dir, port=port or DEFAULT_PORT, machine=machine)
    _step(progress, "boot", "start", " ".join(inst.command_line()) if verbose else "")
    t_boot = time.monotonic()
    inst.start()
    try:
        boot = inst.wait_for_boot(timeout=boot_timeout, progress=progress)
        timings["boot_s"] = time.monotonic() - t_boot
        _step(progress, "boot", "done", f"{timings['boot_s']:.1f} s")
        if boot.proxy == "started":
            _step(progress, "proxy", "start", inst.proxy_address)
            try:
                wait_for_proxy(inst.proxy_address, proxy_timeout, inst.is_running)
            except TargetError as exc:
                raise TargetError(
                    f"{exc.message}\n{_guest_proxy_log(inst.console_socket)}", hint=exc.hint
                ) from None
            ready = READY_PROXY
        else:
            _step(progress, "tee", "start", "checking /dev/tee0 and tee-supplicant over the console")
            check_tee_over_console(inst.console_socket)
            ready = READY_TEE
        timings["ready_s"] = time.monotonic() - t_boot
        _step(progress, "proxy" if ready == READY_PROXY else "tee", "done", ready)
    except BaseException:
        inst.stop()
        raise
    timings["total_s"] = time.monotonic() - t0
    timings = {k: round(v, 2) for k, v in timings.items()}
    assert inst.pid is not None
    inst.save_state({"ready": ready, "timings": timings, "proxy": boot.proxy})
    return RunningTarget(
        target=target,
        pid=inst.pid,
        port=inst.port,
        proxy_address=inst.proxy_address,
        ready=ready,
        run_dir=run_dir,
        logs=inst.logs_dir,
        console_socket=inst.console_socket,
        timings=timings,
    )


def _running_from_state(target: str, instance: str) -> RunningTarget | None:
    run_dir = paths.run_dir(target, instance)
    state = load_state(run_dir)
    pid = read_pid(run_dir / "qemu.pid")
    if state is None or pid is None or not pid_is_ours(pid, run_dir) or state.get("pid") != pid:
        return None
    port = int(state["port"])  # type: ignore[call-overload]
    return RunningTarget(
        target=target,
        pid=pid,
        port=port,
        proxy_address=str(state["proxy_address"]),
        ready=str(state.get("ready", "")),
        run_dir=run_dir,
        logs=Path(str(state["logs"])),
        console_socket=Path(str(state["console_socket"])),
        timings=dict(state.get("timings", {})),  # type: ignore[call-overload]
        reused=True,
    )


def _healthy(running: RunningTarget) -> bool:
    if running.ready == READY_PROXY:
        health = proxy_health(running.proxy_address, timeout=5.0)
        return bool(health is not None and getattr(health, "serving", False))
    return running.ready == READY_TEE


def ensure_up(
    target: str = "qemu",
    *,
    port: int | None = None,
    build: bool = True,
    progress: Progress | None = None,
    verbose: bool = False,
    instance: str = "default",
) -> RunningTarget:
    """Reuse a running healthy instance (on `port` if given), else (re)start one with `up`."""
    running = _running_from_state(target, instance)
    if running is not None and (port is None or running.port == port) and _healthy(running):
        _step(progress, "reuse", "done", f"pid {running.pid}, {running.ready}")
        return running
    if running is not None or read_pid(paths.run_dir(target, instance) / "qemu.pid") is not None:
        down(target, instance=instance)
    return up(target, port=port, build=build, progress=progress, verbose=verbose, instance=instance)


def down(target: str = "qemu", *, instance: str = "default") -> bool:
    """Stop the instance `up` started (only it: the pid must name our run dir). True if one ran."""
    _check_target(target)
    run_dir = paths.run_dir(target, instance)
    pid = read_pid(run_dir / "qemu.pid")
    from foc.deploy.qemu import stop_pid

    stopped = pid is not None and stop_pid(pid, run_dir)
    for name in ("qemu.pid", "console.sock", "state.json"):
        (run_dir / name).unlink(missing_ok=True)
    return stopped


def status(target: str = "qemu", *, instance: str = "default") -> dict[str, object]:
    """What runs and whether it answers; JSON-serialisable (the CLI's `status --json`)."""
    _check_target(target)
    run_dir = paths.run_dir(target, instance)
    pid = read_pid(run_dir / "qemu.pid")
    alive = pid is not None and pid_is_ours(pid, run_dir)
    state = load_state(run_dir) or {}
    out: dict[str, object] = {
        "target": target,
        "running": alive,
        "pid": pid if alive else None,
        "run_dir": str(run_dir),
        "logs": str(run_dir / "logs"),
    }
    if pid is not None and not alive:
        out["stale_pid_file"] = True
    if alive and state.get("pid") == pid:
        out.update(
            port=state.get("port"),
            proxy_address=state.get("proxy_address"),
            ready=state.get("ready"),
            timings=state.get("timings", {}),
            uptime_s=round(time.time() - float(state.get("started_at") or time.time()), 1),  # type: ignore[arg-type]
        )
        if state.get("ready") == READY_PROXY:
            health = proxy_health(str(state["proxy_address"]), timeout=3.0)
            out["proxy_serving"] = bool(health is not None and getattr(health, "serving", False))
            if health is not None:
                out["proxy"] = {
                    "tee": getattr(health, "tee", ""),
                    "version": getattr(health, "version", ""),
                    "sessions_open": getattr(health, "sessions_open", 0),
                    "transactions_total": getattr(health, "transactions_total", 0),
                }
    elif alive:
        out["ready"] = "booting or not ready"
    return out


def attach_console(target: str = "qemu", *, instance: str = "default", **kwargs: Any) -> PexpectConsole:
    """An open console on the running target's normal-world UART (close it when done)."""
    _check_target(target)
    run_dir = paths.run_dir(target, instance)
    pid = read_pid(run_dir / "qemu.pid")
    if pid is None or not pid_is_ours(pid, run_dir):
        raise TargetError(f"{target} is not running", hint=f"`foc-deploy {target} up`")
    console = PexpectConsole.unix_socket(run_dir / "console.sock", **kwargs)
    console.open()
    return console


def log_path(target: str = "qemu", *, secure: bool = False, instance: str = "default") -> Path:
    """The normal-world (or secure-world) UART log of the target's last boot."""
    _check_target(target)
    name = "secure-world.log" if secure else "normal-world.log"
    return paths.run_dir(target, instance) / "logs" / name


def booted_image(
    target: str = "qemu", *, instance: str | None = None, proxy_address: str | None = None
) -> ImageSet | None:
    """The image a running instance booted (by name, or by the proxy address it serves), or None."""
    root = paths.cache_root() / "run" / target
    names = [instance] if instance else sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    for name in names:
        run_dir = root / name
        state = load_state(run_dir)
        pid = read_pid(run_dir / "qemu.pid")
        if not state or pid is None or not pid_is_ours(pid, run_dir):
            continue
        if proxy_address is not None and state.get("proxy_address") != proxy_address:
            continue
        try:
            return ImageSet.from_json(state["image"])  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            return None
    return None


def expected_ta_measurement(
    target: str = "qemu", *, instance: str | None = None, proxy_address: str | None = None
) -> bytes:
    """The measurement FOC's TA must have on `target`, computed offline from the image's `.ta` file.

    What `foc chaincode define` pins as the chaincode version (FPC pins MRENCLAVE the same way).
    The image is the one a running instance booted (named by `instance`, or found by the
    `proxy_address` it serves), else the image built from this checkout's current inputs. Raises
    TargetError when there is neither, or the image holds no FOC TA.
    """
    from foc.confidential.measurement import ta_measurement
    from foc.deploy.build import current_image
    from foc.tee.abi import FOC_TA_UUID_STR

    _check_target(target)
    image = None
    if instance is not None or proxy_address is not None:
        image = booted_image(target, instance=instance, proxy_address=proxy_address)
    image = image or current_image(target)
    if image is None:
        raise TargetError(
            f"no {target} image has been built from this checkout's sources",
            hint=f"`foc-deploy {target} build`",
        )
    for path in image.ta_files:
        if path.name == f"{FOC_TA_UUID_STR}.ta":
            return ta_measurement(path)
    raise TargetError(
        f"the {target} image has no {FOC_TA_UUID_STR}.ta", hint=f"rebuild it: `foc-deploy {target} build`"
    )
