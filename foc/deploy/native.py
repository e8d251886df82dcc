"""The `native` target: the host build of the trusted core (libfoc_core.so) behind a local foc-proxy.

NOT a TEE: the TA's C code runs in an ordinary host process, its "sealed" keys are plain files and
its evidence is signed with a published key. It exists for fast development and tests.

- `LocalProxy`: one `python -m foc.proxy --tee native` subprocess on 127.0.0.1. Lifecycle:
  `start()` (builds the library, picks a free port once, waits until Health answers) -> use
  `address` -> `kill()` (SIGKILL, a crash) / `stop()` (SIGTERM, graceful) -> `start()` again reuses
  the same port. As a context manager it always stops the process it started.
- `NativeRuntime`: the `TargetRuntime` of `foc-deploy native ...` and `foc demo --target native`;
  `up` starts a detached LocalProxy and records it in the run dir so `status`/`down` find it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from foc.deploy import paths
from foc.deploy.console import Console
from foc.deploy.runtime import READY_PROXY, BuildResult, Progress, RunningTarget, TargetRuntime
from foc.errors import ProxyUnavailable, TargetError

START_TIMEOUT_S = 180.0  # the first start may build libfoc_core.so with gcc


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def simulated_device(
    root: Path, *, pool: int = 2, storage: Path | None = None, key_file: Path | None = None
) -> LocalProxy:
    """A (not yet started) host-native foc-proxy playing one device of a multi-device network:
    its own "sealed" objects (`storage`, default root/sealed: its FOC_NATIVE_STORAGE, each TA's
    objects in storage/<ta uuid>/) and its own simulated attestation key
    (`key_file`, default root/device-key.pem, created once), log in root/proxy.log. Plain files:
    NOT a device, NOT a TEE (tests and `foc bench --devices` only)."""
    from foc.tee.device_key import NATIVE_DEVICE_KEY_ENV, write_simulated_device_key

    storage = storage or root / "sealed"
    storage.mkdir(parents=True, exist_ok=True)
    key_file = key_file or write_simulated_device_key(root / "device-key.pem")
    env = {"FOC_NATIVE_STORAGE": str(storage), NATIVE_DEVICE_KEY_ENV: str(key_file)}
    return LocalProxy("native", pool=pool, log_path=root / "proxy.log", env=env)


class LocalProxy:
    """One foc-proxy daemon process started by us (native backend unless `tee` says otherwise)."""

    def __init__(
        self,
        tee: str = "native",
        *,
        port: int | None = None,
        pool: int = 4,
        log_path: Path | None = None,
        native_library: Path | None = None,
        env: dict[str, str] | None = None,
        extra_libraries: Sequence[Path] = (),
    ) -> None:
        self.tee = tee
        #: variables added to the daemon's environment (e.g. FOC_NATIVE_STORAGE, FOC_NATIVE_DEVICE_KEY:
        #: one simulated native device per proxy)
        self.env = dict(env or {})
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.pool = pool
        self.log_path = log_path or paths.cache_root() / "run" / "local-proxy" / f"proxy-{self.port}.log"
        self.native_library = native_library
        self.extra_libraries = list(extra_libraries)  # more TAs: chaincode projects' native builds
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        """HOST:PORT the proxy listens on."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The running process id, if any."""
        return self._process.pid if self._process and self._process.poll() is None else None

    def command_line(self) -> list[str]:
        """The proxy's argv (the native library is built first if none was given)."""
        cmd = [sys.executable, "-m", "foc.proxy", "--tee", self.tee, "--listen", self.address]
        cmd += ["--pool", str(self.pool)]
        if self.tee == "native":
            if self.native_library is None and not os.environ.get("FOC_NATIVE_LIB"):
                from foc.deploy.native_build import build_native_core

                self.native_library = build_native_core()
            if self.native_library is not None:
                cmd += ["--native-lib", str(self.native_library)]
            for lib in self.extra_libraries:
                cmd += ["--native-lib", str(lib)]
        return cmd

    def start(self, timeout: float = START_TIMEOUT_S) -> LocalProxy:
        """Start the daemon and wait until it answers Health; raises ProxyUnavailable otherwise."""
        if self.pid is not None:
            return self
        from foc.deploy.health import proxy_health

        cmd = self.command_line()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **self.env} if self.env else None,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise ProxyUnavailable(
                    f"foc-proxy exited with status {self._process.returncode} during start",
                    hint=f"see {self.log_path}",
                )
            health = proxy_health(self.address, timeout=2.0)
            if health is not None and getattr(health, "serving", False):
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise ProxyUnavailable(
                    f"foc-proxy did not answer on {self.address} within {timeout:.0f} s",
                    hint=f"see {self.log_path}",
                )
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the daemon (no cleanup: a crash) and reap it."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=30)
        self._close_log()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful drain), then SIGKILL if it does not exit in time."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    close = stop

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def __enter__(self) -> LocalProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def is_local_proxy(pid: int, address: str, proc: Path = Path("/proc")) -> bool:
    """True if `pid` is a live `python -m foc.proxy` listening on `address` (so we may signal it)."""
    try:
        argv = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
        state = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X") and b"foc.proxy" in argv and address.encode() in argv


class NativeRuntime(TargetRuntime):
    """The native target: a detached local proxy on the host build of the trusted core (NOT a TEE)."""

    name = "native"
    description = "host build of the trusted core behind a local foc-proxy (NOT a TEE: development only)"

    @property
    def storage(self) -> Path:
        """This instance's plain-file "sealed" objects (FOC_NATIVE_STORAGE of its proxy)."""
        return self.run_dir / "native-storage"

    @property
    def device_key_file(self) -> Path:
        """This instance's simulated device key (FOC_NATIVE_DEVICE_KEY of its proxy): each native
        instance plays its own "device", so several can endorse one chaincode. A plain file."""
        return self.run_dir / "device-key.pem"

    def build(
        self,
        *,
        progress: Progress | None = None,
        verbose: bool = False,
        refresh: bool = False,
        tas: Sequence[str | Path] = (),
    ) -> BuildResult:
        from foc.deploy.native_build import build_native_core, native_build_dir

        libraries = _native_libraries(tas)  # UsageError before building anything

        if progress:
            progress("native", "start", "make -C ta/native lib")
        t0 = time.monotonic()
        lib = build_native_core()
        seconds = time.monotonic() - t0
        if progress:
            progress("native", "done", f"{seconds:.1f}s")
        files = {"libfoc_core.so": lib, **{f"{uuid}.so": path for uuid, path in libraries.items()}}
        return BuildResult(self.name, native_build_dir(), files, seconds)

    def up(
        self,
        *,
        build: bool = True,
        port: int | None = None,
        progress: Progress | None = None,
        verbose: bool = False,
        tas: Sequence[str | Path] = (),
    ) -> RunningTarget:
        """Start a local proxy on the native build of coffee and, for each chaincode TA in `tas`, the
        host-native library its build made beside it (`foc chaincode build`)."""
        if self.running() is not None:
            raise TargetError(
                f"native ({self.instance}) is already up", hint="`foc-deploy native down` first"
            )
        t0 = time.monotonic()
        lib = self.build(progress=progress).files["libfoc_core.so"] if build else None
        extra = list(_native_libraries(tas).values())
        self.storage.mkdir(parents=True, exist_ok=True)
        logs = self.run_dir / "logs"
        proxy = LocalProxy(
            "native", port=port, log_path=logs / "proxy.log", native_library=lib, extra_libraries=extra
        )
        if progress:
            progress("proxy", "start", proxy.address)
        from foc.tee.device_key import NATIVE_DEVICE_KEY_ENV, write_simulated_device_key

        env = {
            "FOC_NATIVE_STORAGE": str(self.storage),
            NATIVE_DEVICE_KEY_ENV: str(write_simulated_device_key(self.device_key_file)),
        }
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # inherited by the proxy process
        try:
            proxy.start()
        finally:
            for k, v in old.items():
                if v is None:
                    del os.environ[k]
                else:
                    os.environ[k] = v
        assert proxy.pid is not None
        proxy._close_log()  # the child keeps its own descriptor; the process outlives us
        running = RunningTarget(
            target=self.name,
            proxy_address=proxy.address,
            ready=READY_PROXY,
            run_dir=self.run_dir,
            logs=logs,
            pid=proxy.pid,
            port=proxy.port,
            timings={"total_s": round(time.monotonic() - t0, 2)},
        )
        self.save_state(running.to_json())
        if progress:
            progress("proxy", "done", READY_PROXY)
        return running

    def running(self) -> RunningTarget | None:
        try:
            running = RunningTarget.from_json(self.read_state(), reused=True)
        except (ValueError, KeyError, TypeError):
            return None
        if running.pid is None or not is_local_proxy(running.pid, running.proxy_address):
            return None
        return running

    def down(self) -> bool:
        running = self.running()
        stopped = False
        if running is not None and running.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(running.pid, signal.SIGTERM)
            deadline = time.monotonic() + 15.0
            while is_local_proxy(running.pid, running.proxy_address) and time.monotonic() < deadline:
                time.sleep(0.1)
            if is_local_proxy(running.pid, running.proxy_address):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(running.pid, signal.SIGKILL)
            stopped = True
        self.state_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, object]:
        running = self.running()
        out: dict[str, object] = {
            "target": self.name,
            "running": running is not None,
            "run_dir": str(self.run_dir),
        }
        if running is not None:
            out.update(pid=running.pid, proxy_address=running.proxy_address, ready=running.ready)
            out["proxy_serving"] = self.healthy(running)
        return out

    def console(self, **kwargs: Any) -> Console:
        raise TargetError("the native target has no device console: it is a process on this host")

    def serves_tas(self, tas: Sequence[str | Path]) -> bool:
        """True if the running proxy was started with each TA's native library."""
        if not tas:
            return True
        running = self.running()
        if running is None or running.pid is None:
            return False
        try:
            argv = Path(f"/proc/{running.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return all(str(lib).encode() in argv for lib in _native_libraries(tas).values())

    def expected_measurement(self, ta_uuid: str | None = None) -> bytes | None:
        return None  # nothing is measured: the host build is not a TEE

    def log_path(self, *, secure: bool = False) -> Path:
        if secure:
            raise TargetError("the native target has no secure world (it is not a TEE)")
        return self.run_dir / "logs" / "proxy.log"


def _native_libraries(tas: Sequence[str | Path]) -> dict[str, Path]:
    """uuid -> host-native library of each chaincode TA (from the chaincode.json beside the .ta)."""
    from foc.deploy.chaincodes import chaincode_ta, check_distinct
    from foc.errors import UsageError

    resolved = [chaincode_ta(t) for t in tas]
    check_distinct(resolved)
    out = {}
    for ta in resolved:
        if ta.native_lib is None:
            raise UsageError(
                f"{ta.path} has no host-native library beside it (the native target runs that, not the TA)",
                hint="`foc chaincode build DIR` builds both",
            )
        out[str(ta.uuid)] = ta.native_lib
    return out
