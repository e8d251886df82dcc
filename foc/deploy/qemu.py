"""The qemu target: one QEMU instance (command line, background start, boot watching, stop) and
`QemuRuntime`, the target's `TargetRuntime` (build / up / down / status / console / measurement).

Lifecycle: `QemuInstance(image, run_dir=..., port=...)` -> `start()` (detached: survives the CLI,
pid file in the run dir) -> `wait_for_boot()` (markers from the guest's /init, fail fast on a
panic) -> ... -> `stop()`. A later process finds the instance again with `QemuInstance.find()`.

Both UARTs always go to files in `<run dir>/logs`: the normal world through a unix chardev
socket with `logfile=` (so `foc-deploy qemu console` can attach while the log keeps growing),
the secure world (OP-TEE's console) with `-serial file:`.

`stop()` signals a pid only after checking that `/proc/<pid>/cmdline` names our run directory:
a stale pid file can never make us kill somebody else's process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from foc.deploy.console import Console, PexpectConsole
from foc.deploy.health import proxy_health, wait_for_proxy
from foc.deploy.image import ImageSet
from foc.deploy.runtime import READY_PROXY, READY_TEE, ImageRuntime, Progress, RunningTarget
from foc.errors import ConfigError, FocError, TargetError, UsageError

DEFAULT_PORT = 50051  # host side of the proxy's hostfwd; the guest side comes from the target
UNIX_PATH_MAX = 107

# Guest console markers printed by /init (contract with the image builder, see qemu/init).
MARKER_RE = re.compile(r"FOC-BOOT: (?P<what>[^\r\n]*)")
PROXY_STARTED_RE = re.compile(r"proxy started(?: pid=(?P<pid>\d+))?")
# Fail-fast patterns: a Linux panic in the normal world, an OP-TEE core or TF-A panic in the secure world.
NORMAL_PANIC_RE = re.compile(r"Kernel panic")
SECURE_PANIC_RE = re.compile(r"\bPanic\b|\bPANIC\b")


@dataclass
class BootState:
    """What the boot logs have shown so far (see `scan_boot_logs`)."""

    markers: list[str] = field(default_factory=list)
    modules_loaded: bool = False
    supplicant_started: bool = False
    proxy: str = "unknown"  # "unknown" | "started" | "disabled" | "waiting" (rpi3: not provisioned)
    proxy_pid: int | None = None
    ready: bool = False
    ssh_host_key: str | None = None  # rpi3: "ssh-ed25519 AAAA..." as the board printed it
    network: str | None = None  # rpi3: "usb0 10.0.2.15/24" once DHCP answered
    errors: list[str] = field(default_factory=list)  # "FOC-BOOT: ERROR ..." lines
    panic: str | None = None  # which log panicked: "normal world" | "secure world"
    panic_context: str = ""  # the log lines around the panic

    @property
    def failed(self) -> bool:
        return bool(self.errors) or self.panic is not None


def _context(text: str, start: int, before: int = 8, after: int = 12) -> str:
    lines = text.splitlines()
    line_no = text.count("\n", 0, start)
    return "\n".join(lines[max(0, line_no - before) : line_no + after])


def scan_boot_logs(normal: str, secure: str = "") -> BootState:
    """Parse the normal-world and secure-world logs of one boot into a `BootState`."""
    state = BootState()
    clean = normal.replace("\r", "")
    for m in MARKER_RE.finditer(clean):
        what = m.group("what").strip()
        state.markers.append(what)
        if what == "modules loaded":
            state.modules_loaded = True
        elif what == "tee-supplicant started":
            state.supplicant_started = True
        elif what.startswith("ERROR"):
            state.errors.append(what[len("ERROR") :].strip() or "unspecified")
        elif what == "proxy disabled":
            state.proxy = "disabled"
        elif what.startswith("proxy waiting"):
            state.proxy = "waiting"
        elif what.startswith("ssh host key "):
            state.ssh_host_key = what[len("ssh host key ") :].strip()
        elif what.startswith("network "):
            state.network = what[len("network ") :].strip()
        elif (p := PROXY_STARTED_RE.fullmatch(what)) is not None:
            state.proxy = "started"
            state.proxy_pid = int(p.group("pid")) if p.group("pid") else None
        elif what == "ready":
            state.ready = True
    secure_clean = secure.replace("\r", "")
    if (kernel := NORMAL_PANIC_RE.search(clean)) is not None:
        state.panic, state.panic_context = "normal world", _context(clean, kernel.start())
    elif (optee := SECURE_PANIC_RE.search(secure_clean)) is not None:
        state.panic, state.panic_context = "secure world", _context(secure_clean, optee.start())
    return state


@dataclass(frozen=True)
class QemuMachine:
    """How the qemu target boots: the target's `machine` facts, with the defaults that work."""

    binary: str = "qemu-system-aarch64"
    machine: str = "virt,secure=on,virtualization=off,gic-version=3"
    cpu: str = "cortex-a57"  # `max` hangs the first user TA under QEMU 7.2 (see notes)
    smp: int = 2
    memory_mb: int = 1024
    append: str = "console=ttyAMA0 rdinit=/init"
    guest_proxy_port: int = DEFAULT_PORT

    @classmethod
    def from_facts(cls, facts: dict[str, str]) -> QemuMachine:
        """Build from `Target.machine` (string facts); unknown keys are ignored."""
        kwargs: dict[str, object] = {}
        aliases = {
            "qemu": "binary",
            "qemu_binary": "binary",
            "binary": "binary",
            "machine": "machine",
            "cpu": "cpu",
            "smp": "smp",
            "memory": "memory_mb",
            "memory_mb": "memory_mb",
            "append": "append",
            "cmdline": "append",
            "proxy_port": "guest_proxy_port",
            "guest_proxy_port": "guest_proxy_port",
        }
        for key, value in facts.items():
            name = aliases.get(key)
            if name is None:
                continue
            if name in ("smp", "memory_mb", "guest_proxy_port"):
                try:
                    kwargs[name] = int(str(value).removesuffix("M"))
                except ValueError:
                    raise ConfigError(f"target machine fact {key}={value!r} is not a number") from None
            else:
                kwargs[name] = str(value)
        return cls(**kwargs)  # type: ignore[arg-type]


# -- pid-file safety -----------------------------------------------------------------------------

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # QEMUs started by this process, to reap them


def read_pid(pid_file: Path) -> int | None:
    """The pid in `pid_file`, or None if the file is missing or does not hold a positive integer."""
    try:
        text = pid_file.read_text().strip()
    except OSError:
        return None
    if not text.isdigit() or int(text) <= 0:
        return None
    return int(text)


def _proc_state(pid: int, proc: Path) -> str | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]  # the field after "(comm)"


def pid_is_ours(pid: int, run_dir: Path, proc: Path = Path("/proc")) -> bool:
    """True if `pid` is a live (not zombie) process whose command line names `run_dir`."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    state = _proc_state(pid, proc)
    if state is None or state in ("Z", "X"):
        return False
    try:
        cmdline = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    needle = str(run_dir).encode()
    return any(needle in arg for arg in cmdline)


def _gone(pid: int, run_dir: Path) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is not None
    return not pid_is_ours(pid, run_dir)


def stop_pid(pid: int, run_dir: Path, *, grace: float = 10.0) -> bool:
    """Stop our QEMU `pid`: SIGTERM, then SIGKILL after `grace` seconds.

    Returns False (and signals nothing) if `pid` is not a QEMU of `run_dir`.
    """
    if not pid_is_ours(pid, run_dir):
        return False
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _gone(pid, run_dir):
                break
            time.sleep(0.05)
        if _gone(pid, run_dir):
            break
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait(timeout=5)
    return True


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on host:port (so QEMU's hostfwd can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for tests and parallel instances)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the instance -------------------------------------------------------------------------------


class QemuInstance:
    """A QEMU guest of one image, owned through its run directory."""

    def __init__(
        self, image: ImageSet, *, run_dir: Path, port: int = DEFAULT_PORT, machine: QemuMachine | None = None
    ) -> None:
        if not 0 < port < 65536:
            raise ConfigError(f"port {port} is out of range (1..65535)")
        self.image = image
        self.run_dir = run_dir
        self.port = port
        self.machine = machine or QemuMachine()
        self.pid: int | None = None
        self.started_at: float | None = None  # time.time() of start()

    # paths ------------------------------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.run_dir / "qemu.pid"

    @property
    def console_socket(self) -> Path:
        return self.run_dir / "console.sock"

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def secure_storage(self) -> Path:
        """This instance's OP-TEE REE FS directory on the host (survives reboots; ciphertext)."""
        return self.run_dir / "secure-storage"

    @property
    def normal_log(self) -> Path:
        return self.logs_dir / "normal-world.log"

    @property
    def secure_log(self) -> Path:
        return self.logs_dir / "secure-world.log"

    @property
    def qemu_log(self) -> Path:
        return self.logs_dir / "qemu.log"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def proxy_address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # command line -----------------------------------------------------------------------------
    def command_line(self) -> list[str]:
        """The full QEMU argv (also what `--verbose` prints)."""
        m, img = self.machine, self.image
        guest_port = m.guest_proxy_port
        args = [
            m.binary,
            "-name", f"foc-{img.target}",
            "-machine", m.machine,
            "-cpu", m.cpu,
            "-smp", str(m.smp),
            "-m", str(m.memory_mb),
            "-display", "none",
            "-monitor", "none",
            "-bios", str(img.bios),
        ]  # fmt: skip
        if img.pflash1 is not None:
            args += ["-drive", f"if=pflash,unit=1,format=raw,readonly=on,file={img.pflash1}"]
        args += [
            "-chardev",
            f"socket,id=nw,path={self.console_socket},server=on,wait=off,"
            f"logfile={self.normal_log},logappend=off",
            "-serial", "chardev:nw",
            "-serial", f"file:{self.secure_log}",
            "-kernel", str(img.kernel),
            "-initrd", str(img.initrd),
            "-append", f"{m.append} foc.proxy_port={guest_port}",
            "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{self.port}-:{guest_port}",
            "-device", "virtio-net-device,netdev=n0",
            "-fsdev", f"local,id=fs0,path={img.share},security_model=none",
            "-device", "virtio-9p-device,fsdev=fs0,mount_tag=host0",
            # This instance's REE FS secure storage (qemu/init mounts it unless foc.persist=0).
            "-fsdev", f"local,id=fs1,path={self.secure_storage},security_model=none",
            "-device", "virtio-9p-device,fsdev=fs1,mount_tag=foc_state",
        ]  # fmt: skip
        return args

    def _check_startable(self) -> None:
        if len(str(self.console_socket)) > UNIX_PATH_MAX:
            raise ConfigError(
                f"the console socket path is too long for a unix socket: {self.console_socket}",
                hint="set FOC_CACHE to a shorter directory",
            )
        missing = [str(p) for p in (self.image.bios, self.image.kernel, self.image.initrd) if not p.is_file()]
        if self.image.pflash1 is not None and not self.image.pflash1.is_file():
            missing.append(str(self.image.pflash1))
        if missing:
            raise TargetError(
                "the image is incomplete: missing " + ", ".join(missing),
                hint="rebuild it with `foc-deploy qemu build`",
            )
        if not self.image.share.is_dir():
            raise TargetError(f"the 9p share directory {self.image.share} does not exist")
        running = read_pid(self.pid_file)
        if running is not None and pid_is_ours(running, self.run_dir):
            raise TargetError(
                f"{self.image.target} is already running (pid {running})",
                hint=f"`foc-deploy {self.image.target} down` first",
            )
        if not port_is_free(self.port):
            raise TargetError(
                f"port 127.0.0.1:{self.port} is already in use", hint="choose another one with --port"
            )

    # lifecycle --------------------------------------------------------------------------------
    def start(self) -> int:
        """Start QEMU detached from this process; returns its pid (also in the pid file)."""
        self._check_startable()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.secure_storage.mkdir(parents=True, exist_ok=True)
        for stale in (self.normal_log, self.secure_log, self.console_socket, self.state_file):
            stale.unlink(missing_ok=True)
        self.normal_log.touch()
        self.secure_log.touch()
        with self.qemu_log.open("wb") as qemu_out:
            try:
                proc = subprocess.Popen(
                    self.command_line(),
                    stdin=subprocess.DEVNULL,
                    stdout=qemu_out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # survives the CLI and its terminal's Ctrl-C
                    close_fds=True,
                    cwd=self.run_dir,
                )
            except FileNotFoundError:
                raise TargetError(
                    f"{self.machine.binary} not found", hint="apt-get install -y qemu-system-arm"
                ) from None
        _CHILDREN[proc.pid] = proc
        self.pid = proc.pid
        self.started_at = time.time()
        self.pid_file.write_text(f"{proc.pid}\n")
        # Until exec() the child's cmdline is ours; wait so is_running()/stop() recognise it.
        deadline = time.monotonic() + 10.0
        while not pid_is_ours(proc.pid, self.run_dir) and proc.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        return proc.pid

    def is_running(self) -> bool:
        """True if our QEMU is alive."""
        pid = self.pid if self.pid is not None else read_pid(self.pid_file)
        return pid is not None and pid_is_ours(pid, self.run_dir)

    def stop(self, grace: float = 10.0) -> bool:
        """Stop our QEMU (only ours); returns True if one was running. Removes pid and socket."""
        pid = self.pid if self.pid is not None else read_pid(self.pid_file)
        stopped = pid is not None and stop_pid(pid, self.run_dir, grace=grace)
        self.pid_file.unlink(missing_ok=True)
        self.console_socket.unlink(missing_ok=True)
        self.pid = None
        return stopped

    @classmethod
    def find(
        cls, image: ImageSet, run_dir: Path, port: int, machine: QemuMachine | None = None
    ) -> QemuInstance:
        """The instance described by a run directory (its pid from the pid file)."""
        inst = cls(image, run_dir=run_dir, port=port, machine=machine)
        inst.pid = read_pid(inst.pid_file)
        return inst

    # boot -------------------------------------------------------------------------------------
    def read_logs(self) -> tuple[str, str]:
        """The normal-world and secure-world logs as text (empty if absent)."""

        def read(p: Path) -> str:
            try:
                return p.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                return ""

        return read(self.normal_log), read(self.secure_log)

    def _exit_detail(self) -> str:
        try:
            out = self.qemu_log.read_text(errors="replace").strip()
        except OSError:
            out = ""
        normal, _ = self.read_logs()
        tail = "\n".join(normal.replace("\r", "").splitlines()[-15:])
        return (f"qemu said:\n{out}\n" if out else "") + (f"last console output:\n{tail}" if tail else "")

    def wait_for_boot(self, timeout: float = 180.0, progress: Progress | None = None) -> BootState:
        """Follow the logs until /init prints `FOC-BOOT: ready`.

        Fails fast (TargetError) on a kernel or OP-TEE panic, a `FOC-BOOT: ERROR`, or QEMU exiting.
        """
        deadline = time.monotonic() + timeout
        reported: set[str] = set()
        while True:
            normal, secure = self.read_logs()
            state = scan_boot_logs(normal, secure)
            if progress:
                for marker in state.markers:
                    if marker not in reported:
                        reported.add(marker)
                        progress("boot", "progress", marker)
            if state.panic:
                raise TargetError(
                    f"{state.panic} panic while booting {self.image.target}:\n{state.panic_context}",
                    hint=f"full logs in {self.logs_dir}",
                )
            if state.errors:
                raise TargetError(
                    f"guest /init failed: {'; '.join(state.errors)}\n"
                    + "\n".join(normal.replace("\r", "").splitlines()[-15:]),
                    hint=f"full logs in {self.logs_dir}",
                )
            if state.ready:
                return state
            if not self.is_running():
                raise TargetError(f"QEMU exited during boot.\n{self._exit_detail()}")
            if time.monotonic() >= deadline:
                raise TargetError(
                    f"{self.image.target} did not print `FOC-BOOT: ready` within {timeout:g} s; "
                    f"markers so far: {state.markers or 'none'}\n{self._exit_detail()}",
                    hint=f"full logs in {self.logs_dir}",
                )
            time.sleep(0.2)

    # state ------------------------------------------------------------------------------------
    def save_state(self, extra: dict[str, object]) -> None:
        """Record what `status` reports about this instance (atomically)."""
        data: dict[str, object] = {
            "target": self.image.target,
            "pid": self.pid,
            "port": self.port,
            "proxy_address": self.proxy_address,
            "started_at": self.started_at,
            "run_dir": str(self.run_dir),
            "logs": str(self.logs_dir),
            "console_socket": str(self.console_socket),
            "image": self.image.to_json(),
            "machine": self.machine.__dict__,
        }
        data.update(extra)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.state_file)


def load_state(run_dir: Path) -> dict[str, object] | None:
    """The state an `up` recorded in `run_dir`, or None."""
    try:
        data = json.loads((run_dir / "state.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


# -- the qemu target's runtime ------------------------------------------------------------------

TEE_READY_COMMAND = "test -c /dev/tee0 && test -c /dev/teepriv0 && pidof tee-supplicant"
GUEST_PROXY_LOG = "/var/log/foc-proxy.log"
BOOT_TIMEOUT = 300.0  # TCG on a loaded 2-core host: the notes measured 4-7 s, leave room
PROXY_TIMEOUT = 180.0  # python + grpc import under TCG
CONSOLE_TIMEOUT = 60.0


def check_kernel_args(kernel_args: tuple[str, ...] | list[str]) -> None:
    """Each guest kernel argument must be one non-empty word without quotes (UsageError)."""
    for arg in kernel_args:
        if not arg or any(c.isspace() or c in "\"'" for c in arg):
            raise UsageError(f"kernel argument {arg!r} must be one non-empty word without quotes")


def with_kernel_args(machine: QemuMachine, kernel_args: tuple[str, ...] | list[str]) -> QemuMachine:
    """`machine` with `kernel_args` appended to its kernel command line (each one word, no spaces)."""
    check_kernel_args(kernel_args)
    if not kernel_args:
        return machine
    return replace(machine, append=" ".join([machine.append, *kernel_args]))


class QemuRuntime(ImageRuntime):
    """OP-TEE in QEMU `virt,secure=on`: one detached QEMU per instance, its proxy on a forwarded port.

    Readiness: if the guest's /init printed `FOC-BOOT: proxy started`, the target is ready when the
    proxy's gRPC Health says serving ("proxy ready"); otherwise when /dev/tee0 exists and
    tee-supplicant runs, checked over the console ("TEE ready (no proxy)").
    """

    name = "qemu"
    description = "OP-TEE in QEMU aarch64 virt,secure=on (TF-A, OP-TEE 4.10, Debian kernel)"

    def machine(self) -> QemuMachine:
        from foc.deploy.targets import get_target

        return QemuMachine.from_facts(dict(get_target(self.name).machine))

    def up(
        self,
        *,
        build: bool = True,
        port: int | None = None,
        progress: Progress | None = None,
        verbose: bool = False,
        boot_timeout: float = BOOT_TIMEOUT,
        proxy_timeout: float = PROXY_TIMEOUT,
        kernel_args: tuple[str, ...] | list[str] = (),
        tas: Sequence[str | Path] = (),
    ) -> RunningTarget:
        """Build (if asked, with the chaincode TAs `tas` beside FOC's own), boot in the background
        and wait until ready.

        ``kernel_args`` are appended to the guest kernel command line, e.g. ``("foc.persist=0",)``
        (see qemu/README.md for the options). Raises TargetError if the target is already running
        (see `ensure_up`), fails to boot (panic, /init error, QEMU exit: the instance is stopped,
        the logs kept) or never gets ready.
        """
        check_kernel_args(kernel_args)  # before any build or boot
        t0 = time.monotonic()
        timings: dict[str, float] = {}
        run_dir = self.run_dir
        running_pid = read_pid(run_dir / "qemu.pid")
        if running_pid is not None and pid_is_ours(running_pid, run_dir):
            raise TargetError(
                f"{self.name} is already up (pid {running_pid})", hint=f"`foc-deploy {self.name} down` first"
            )
        image = self.image_for_up(build, progress, verbose, timings, tas)
        machine = with_kernel_args(self.machine(), kernel_args)
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
                    wait_for_proxy(
                        inst.proxy_address,
                        proxy_timeout,
                        inst.is_running,
                        what="QEMU",
                        hint="look for the proxy's errors in `foc-deploy qemu logs`",
                    )
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
            target=self.name,
            proxy_address=inst.proxy_address,
            ready=ready,
            run_dir=run_dir,
            logs=inst.logs_dir,
            pid=inst.pid,
            port=inst.port,
            console_socket=inst.console_socket,
            timings=timings,
        )

    def running(self) -> RunningTarget | None:
        run_dir = self.run_dir
        state = load_state(run_dir)
        pid = read_pid(run_dir / "qemu.pid")
        if state is None or pid is None or not pid_is_ours(pid, run_dir) or state.get("pid") != pid:
            return None
        return RunningTarget(
            target=self.name,
            proxy_address=str(state["proxy_address"]),
            ready=str(state.get("ready", "")),
            run_dir=run_dir,
            logs=Path(str(state["logs"])),
            pid=pid,
            port=int(state["port"]),  # type: ignore[call-overload]
            console_socket=Path(str(state["console_socket"])),
            timings=dict(state.get("timings", {})),  # type: ignore[call-overload]
            reused=True,
        )

    def down(self) -> bool:
        run_dir = self.run_dir
        pid = read_pid(run_dir / "qemu.pid")
        stopped = pid is not None and stop_pid(pid, run_dir)
        for name in ("qemu.pid", "console.sock", "state.json"):
            (run_dir / name).unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, object]:
        run_dir = self.run_dir
        pid = read_pid(run_dir / "qemu.pid")
        alive = pid is not None and pid_is_ours(pid, run_dir)
        state = load_state(run_dir) or {}
        out: dict[str, object] = {
            "target": self.name,
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
                out.update(proxy_status(str(state["proxy_address"])))
        elif alive:
            out["ready"] = "booting or not ready"
        return out

    def console(self, **kwargs: Any) -> Console:
        run_dir = self.run_dir
        pid = read_pid(run_dir / "qemu.pid")
        if pid is None or not pid_is_ours(pid, run_dir):
            raise TargetError(f"{self.name} is not running", hint=f"`foc-deploy {self.name} up`")
        console = PexpectConsole.unix_socket(run_dir / "console.sock", **kwargs)
        console.open()
        return console

    def log_path(self, *, secure: bool = False) -> Path:
        return self.run_dir / "logs" / ("secure-world.log" if secure else "normal-world.log")


def proxy_status(
    address: str,
    *,
    tls_ca: Path | None = None,
    server_name: str | None = None,
    client: tuple[Path, Path] | None = None,
) -> dict[str, object]:
    """`proxy_serving` and the Health counters of the proxy at `address` (for `status`); TLS as in
    `foc.deploy.health.proxy_health`."""
    health = proxy_health(address, timeout=3.0, tls_ca=tls_ca, server_name=server_name, client=client)
    out: dict[str, object] = {"proxy_serving": bool(health is not None and getattr(health, "serving", False))}
    if health is not None:
        out["proxy"] = {
            "tee": getattr(health, "tee", ""),
            "version": getattr(health, "version", ""),
            "sessions_open": getattr(health, "sessions_open", 0),
            "transactions_total": getattr(health, "transactions_total", 0),
            # every chaincode TA the proxy serves, with its own pool
            "tas": [
                {
                    "name": ta.name,
                    "uuid": str(uuid.UUID(bytes=bytes(ta.uuid))) if len(ta.uuid) == 16 else "",
                    "default": ta.is_default,
                    "sessions_open": ta.sessions_open,
                    "transactions_total": ta.transactions_total,
                }
                for ta in getattr(health, "tas", ())
            ],
        }
    return out


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
