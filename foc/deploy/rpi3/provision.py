"""Provisioning a board without re-flashing: over SSH with `fabric`, or over its serial console.

Two shells offer the same small interface (`Shell`: run, check, put_bytes, read):
- `SshShell(host, port, identity)` logs in as root with FOC's deploy key (fabric over paramiko)
  and checks the board's host key against the one pinned for it (`BoardIdentity`); an unknown
  or changed key is refused (paramiko's RejectPolicy; fabric's own default, AutoAddPolicy, would
  accept any key).
- `ConsoleShell(console)` does the same over the UART (files travel base64-encoded): for a
  board without network, and to learn the host key over a physical line.

`provision(shell, identity, ...)` then, in order: sets the board's clock from the host's (no RTC),
installs the proxy's TLS identity (made on the host, its certificate pinned there), copies a rebuilt
TA and the `foc` package when they differ from what the board runs, restarts tee-supplicant and the
proxy, and returns the tail of the logs.
Everything lands on the SD card's data partition, so it survives a reboot.
"""

from __future__ import annotations

import hashlib
import io
import shlex
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from foc.deploy.console import CommandResult, Console
from foc.deploy.rpi3.identity import BoardIdentity, deploy_key
from foc.errors import ConfigError, TargetError

DATA = "/data/foc"
TLS_DIR = f"{DATA}/tls"
TA_DIR = f"{DATA}/ta"
SRC_DIR = f"{DATA}/src"
SRC_DIGEST = f"{SRC_DIR}/.digest"
IMAGE_SRC_DIGEST = "/opt/foc/src/.digest"  # the package the image was built with (initramfs overlay)
GUEST_TA_DIR = "/lib/optee_armtz"
PROXY_TAS_FILE = "proxy.toml"  # foc.deploy.chaincodes.PROXY_TAS_FILE: the proxy's [[ta]] list
PROXY_LOG = "/var/log/foc-proxy.log"
TEE_FS = "/var/lib/optee-client/data/tee"
RESTART_SUPPLICANT = (
    "foc-proxy-service stop; "
    "if pid=$(pidof tee-supplicant); then kill $pid; "
    "n=0; while pidof tee-supplicant >/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done; fi; "
    f"tee-supplicant -d --fs-parent-path={TEE_FS} && sleep 0.2 && pidof tee-supplicant"
)


class Shell(Protocol):
    """What provisioning needs from a board: commands and files."""

    def run(self, cmd: str, timeout: float = 120.0) -> CommandResult: ...

    def check(self, cmd: str, timeout: float = 120.0) -> str: ...

    def put_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None: ...

    def read(self, remote: str) -> bytes: ...


class SshShell:
    """An SSH session to a board as root (fabric `Connection`), host key checked against the pin.

    Lifecycle: construct -> `open()` (or `with`) -> `run()` / `put_bytes()` / `read()` -> `close()`.
    """

    def __init__(
        self, host: str, port: int, identity: BoardIdentity, *, connect_timeout: float = 15.0
    ) -> None:
        self.host = host
        self.port = port
        self.identity = identity
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self._known_hosts: tempfile._TemporaryFileWrapper[str] | None = None

    def open(self) -> SshShell:
        from fabric import Config, Connection
        from paramiko import RejectPolicy
        from paramiko.ssh_exception import SSHException

        if self._conn is not None:
            return self
        key_file, _ = deploy_key(self.identity.home)
        self._known_hosts = tempfile.NamedTemporaryFile("w", prefix="foc-known-hosts-", suffix=".txt")
        self._known_hosts.write(self.identity.known_hosts_line(self.host, self.port))
        self._known_hosts.flush()
        conn = Connection(
            self.host,
            user="root",
            port=self.port,
            config=Config(overrides={"load_ssh_configs": False}),
            connect_timeout=int(self.connect_timeout),
            connect_kwargs={"key_filename": [str(key_file)], "look_for_keys": False, "allow_agent": False},
        )
        conn.client.load_host_keys(self._known_hosts.name)
        conn.client.set_missing_host_key_policy(RejectPolicy())  # host-key checking: on
        try:
            conn.open()
        except SSHException as exc:
            self.close()
            raise TargetError(
                f"SSH to {self.host}:{self.port} refused: {exc}",
                hint=f"the board's host key must match the one pinned in {self.identity.host_key_pub}",
            ) from None
        except OSError as exc:
            self.close()
            raise TargetError(f"cannot reach {self.host}:{self.port} over SSH: {exc}") from None
        self._conn = conn
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._known_hosts is not None:
            self._known_hosts.close()
            self._known_hosts = None

    def __enter__(self) -> SshShell:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, cmd: str, timeout: float = 120.0) -> CommandResult:
        """Run one shell command on the board: (exit code, stdout+stderr)."""
        if self._conn is None:
            raise TargetError("the SSH session is not open")
        result = self._conn.run(cmd, hide=True, warn=True, timeout=timeout, pty=False, in_stream=False)
        return CommandResult(result.exited, (result.stdout + result.stderr).rstrip("\n"))

    def check(self, cmd: str, timeout: float = 120.0) -> str:
        """Run `cmd`; TargetError (with its output) unless it exits 0."""
        rc, out = self.run(cmd, timeout)
        if rc != 0:
            raise TargetError(f"`{cmd}` on {self.host} exited {rc}: {out[-2000:]}")
        return out

    def put_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        """Write `data` to `remote` (atomically: a temporary name, then rename) with `mode`."""
        if self._conn is None:
            raise TargetError("the SSH session is not open")
        tmp = f"{remote}.foc-tmp"
        self._conn.put(io.BytesIO(data), remote=tmp)
        self.check(f"chmod {mode:o} {shlex.quote(tmp)} && mv -f {shlex.quote(tmp)} {shlex.quote(remote)}")

    def read(self, remote: str) -> bytes:
        """The content of `remote`."""
        if self._conn is None:
            raise TargetError("the SSH session is not open")
        buf = io.BytesIO()
        self._conn.get(remote, local=buf)
        return buf.getvalue()


class ConsoleShell:
    """`Shell` over a logged-in serial console (files base64-encoded over the line)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def run(self, cmd: str, timeout: float = 120.0) -> CommandResult:
        return self.console.run(cmd, timeout)

    def check(self, cmd: str, timeout: float = 120.0) -> str:
        return self.console.check(cmd, timeout)

    def put_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        tmp = f"{remote}.foc-tmp"
        self.console.write_file(tmp, data)
        self.check(f"chmod {mode:o} {shlex.quote(tmp)} && mv -f {shlex.quote(tmp)} {shlex.quote(remote)}")

    def read(self, remote: str) -> bytes:
        import base64

        return base64.b64decode(self.check(f"base64 {shlex.quote(remote)}"))


def connect(host: str, port: int, identity: BoardIdentity, *, timeout: float = 120.0) -> SshShell:
    """An open `SshShell`, retrying while the board's sshd is not up yet (refusals are final)."""
    deadline = time.monotonic() + timeout
    while True:
        shell = SshShell(host, port, identity)
        try:
            return shell.open()
        except TargetError as exc:
            if "refused:" in exc.message or time.monotonic() >= deadline:
                raise
            time.sleep(2.0)


def package_tarball(package: Path) -> tuple[bytes, str]:
    """(gzip'd tar of the `foc` package's Python sources, their sha256 digest) for the board."""
    from foc.deploy.build.cache import tree_digest

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        name = Path(info.name)
        if "__pycache__" in name.parts or name.suffix in (".pyc", ".pyo", ".so"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 1_700_000_000
        return info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(package, arcname="foc", filter=keep)
    digest = tree_digest(
        package, exclude=lambda rel: "__pycache__" in rel.parts or rel.suffix in (".pyc", ".pyo", ".so")
    )
    return buf.getvalue(), digest


@dataclass
class ProvisionReport:
    """What `provision` changed on the board."""

    tls: str = ""  # "installed" | "kept"
    mutual_tls: bool = False
    tas: list[str] = field(default_factory=list)  # TA files copied
    package: str = ""  # "copied" | "unchanged" | "skipped"
    supplicant: str = ""  # its pid after the restart
    proxy: str = ""  # its pid after the restart
    log_tail: str = ""

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def provision(
    shell: Shell,
    identity: BoardIdentity,
    *,
    tas: list[Path],
    package: Path | None,
    new_tls: bool = True,
    mutual_tls: bool = False,
) -> ProvisionReport:
    """Bring the board's FOC up to date (see the module docstring); TargetError on failure."""
    report = ProvisionReport(mutual_tls=mutual_tls)
    shell.check(f"mkdir -p {TLS_DIR} {TA_DIR} {SRC_DIR} && grep -q ' /data ' /proc/mounts")
    # A Pi has no RTC (and CI's raspi3b none either): without this its clock says 1970 and, with
    # mutual TLS, the proxy would find every client certificate "not yet valid".
    shell.check(f"date -u -s @{int(time.time())} >/dev/null")
    if new_tls or not identity.proxy_cert.exists():
        cert, key = identity.make_proxy_tls()
        shell.put_bytes(key, f"{TLS_DIR}/proxy.key", 0o600)
        shell.put_bytes(cert, f"{TLS_DIR}/proxy.crt")
        report.tls = "installed"
    else:
        board_cert = shell.read(f"{TLS_DIR}/proxy.crt")
        if board_cert != identity.proxy_cert.read_bytes():
            raise ConfigError(
                "the board's proxy certificate is not the one pinned here",
                hint="provision a new one (--new-tls)",
            )
        report.tls = "kept"
    if mutual_tls:
        shell.put_bytes(identity.make_client_tls(), f"{TLS_DIR}/client-ca.crt")
    else:
        shell.run(f"rm -f {TLS_DIR}/client-ca.crt")
    # every chaincode TA of the image, and the proxy's list of them (/init copies both at boot)
    listing = tas[0].parent / PROXY_TAS_FILE if tas else None
    files = [(ta, f"{GUEST_TA_DIR}/{ta.name}") for ta in tas]
    if listing is not None and listing.is_file():
        files.append((listing, f"/etc/foc/{PROXY_TAS_FILE}"))
    for local, installed in files:
        data = local.read_bytes()
        remote = shell.run(f"sha256sum {installed} 2>/dev/null").output.split(" ", 1)[0]
        if remote != hashlib.sha256(data).hexdigest():
            shell.put_bytes(data, f"{TA_DIR}/{local.name}")
            shell.check(f"cp {TA_DIR}/{local.name} {installed}")
            report.tas.append(local.name)
    if package is None:
        report.package = "skipped"
    else:
        tarball, digest = package_tarball(package)
        effective = shell.run(f"cat {SRC_DIGEST} 2>/dev/null || cat {IMAGE_SRC_DIGEST}").output.strip()
        if effective == digest:
            report.package = "unchanged"
        else:
            shell.put_bytes(tarball, f"{DATA}/foc-src.tar.gz")
            shell.check(
                f"rm -rf {SRC_DIR}.new && mkdir -p {SRC_DIR}.new "
                f"&& tar -xzf {DATA}/foc-src.tar.gz -C {SRC_DIR}.new "
                f"&& echo {digest} > {SRC_DIR}.new/.digest && rm -rf {SRC_DIR} && mv {SRC_DIR}.new {SRC_DIR} "
                f"&& rm -f {DATA}/foc-src.tar.gz"
            )
            # the proxy's PYTHONPATH puts the provisioned package first from now on
            shell.check(
                "grep -q '^FOC_PYTHONPATH=/data/foc/src:' /etc/foc/proxy.env || "
                "sed -i 's|^FOC_PYTHONPATH=|FOC_PYTHONPATH=/data/foc/src:|' /etc/foc/proxy.env"
            )
            report.package = "copied"
    report.supplicant = shell.check(RESTART_SUPPLICANT).strip().splitlines()[-1]
    # a running proxy serves the TAs it was started with: restart it when they changed
    rc, out = shell.run("foc-proxy-service " + ("restart" if report.tas else "start"))
    if rc != 0:
        raise TargetError(f"the board's proxy did not start: {out}", hint=f"its log: {PROXY_LOG}")
    report.proxy = out.strip()
    report.log_tail = read_logs(shell, lines=20)
    return report


def read_logs(shell: Shell, lines: int = 40) -> str:
    """The tail of the proxy's log and of the kernel log on the board."""
    return shell.run(
        f"tail -n {lines} {PROXY_LOG} 2>/dev/null; echo '--- dmesg'; dmesg | tail -n {lines}"
    ).output
