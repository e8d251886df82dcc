"""LocalProxy: a `python -m foc.proxy` subprocess on 127.0.0.1, for `foc demo --tee native` and tests.

Lifecycle: `start()` (picks a free port once, waits until Health answers) -> use `address` ->
`kill()` (SIGKILL, to simulate a crash) / `stop()` (SIGTERM, graceful) -> `start()` again reuses
the same port -> `close()`. As a context manager it always stops the process it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import IO

from foc.deploy.paths import cache_root
from foc.errors import ProxyUnavailable

START_TIMEOUT_S = 180.0  # the first start may build libfoc_core.so with gcc


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LocalProxy:
    """One foc-proxy daemon process started by us."""

    def __init__(self, tee: str = "native", *, port: int | None = None, pool: int = 4) -> None:
        self.tee = tee
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.pool = pool
        self.log_path = cache_root() / "run" / "local-proxy" / f"proxy-{self.port}.log"
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

    def start(self, timeout: float = START_TIMEOUT_S) -> LocalProxy:
        """Start the daemon and wait until it answers Health; raises ProxyUnavailable otherwise."""
        if self.pid is not None:
            return self
        from foc.proxy.client import ProxyClient  # grpc import only when needed

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        cmd = [sys.executable, "-m", "foc.proxy", "--tee", self.tee, "--listen", self.address]
        cmd += ["--pool", str(self.pool)]
        self._process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        with ProxyClient(self.address) as client:
            while True:
                if self._process.poll() is not None:
                    raise ProxyUnavailable(
                        f"foc-proxy exited with status {self._process.returncode} during start",
                        hint=f"see {self.log_path}",
                    )
                try:
                    if client.health(timeout=2.0).serving:
                        return self
                except ProxyUnavailable:
                    pass
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
