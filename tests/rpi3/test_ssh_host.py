"""The SSH layer of provisioning against a real OpenSSH server (Debian openssh-server) on 127.0.0.1,
started by the test on the host: key login, host-key pinning (a stranger's key is refused), files.

The full provisioning runs against the OpenSSH inside the raspi3b guest (test_raspi3b.py); this
one is quick and needs no image."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from foc.deploy.qemu import free_port
from foc.deploy.rpi3.identity import BoardIdentity, deploy_key
from foc.deploy.rpi3.provision import SshShell, connect
from foc.errors import ConfigError, TargetError

SSHD = "/usr/sbin/sshd"


@pytest.fixture
def sshd(tmp_path: Path, foc_home: Path) -> Iterator[tuple[BoardIdentity, int]]:
    if not Path(SSHD).exists():
        pytest.fail("openssh-server is not installed: scripts/setup-host installs it", pytrace=False)
    if os.geteuid() != 0:
        pytest.skip("the test's sshd logs in as root (as on the board): needs root; CI runs as root")
    board = BoardIdentity.of(f"host-sshd-{os.getpid()}", home=foc_home)
    files = board.flash_files()  # what flash writes to a card: host key (pinned) and authorized_keys
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    (keys / "host").write_bytes(files["ssh_host_ed25519_key"])
    (keys / "host").chmod(0o600)
    (keys / "authorized_keys").write_bytes(files["authorized_keys"])
    port = free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {keys / 'host'}\n"
        f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PidFile {tmp_path / 'sshd.pid'}\nSubsystem sftp internal-sftp\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=(tmp_path / "sshd.log").open("wb"))
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "sshd.pid").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, (tmp_path / "sshd.log").read_text()
        yield board, port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_key_login_runs_commands_and_moves_files(sshd: tuple[BoardIdentity, int], tmp_path: Path) -> None:
    board, port = sshd
    with connect("127.0.0.1", port, board, timeout=30) as shell:
        assert shell.run("echo hello; exit 3") == (3, "hello")
        target = tmp_path / "remote" / "proxy.key"
        target.parent.mkdir()
        data = os.urandom(70_000)
        shell.put_bytes(data, str(target), 0o600)
        assert target.read_bytes() == data and (target.stat().st_mode & 0o777) == 0o600
        assert shell.read(str(target)) == data
        with pytest.raises(TargetError, match="exited 1"):
            shell.check("false")


def test_a_host_key_other_than_the_pinned_one_is_refused(
    sshd: tuple[BoardIdentity, int], foc_home: Path
) -> None:
    _, port = sshd
    impostor = BoardIdentity.of(f"impostor-{os.getpid()}", home=foc_home)
    impostor.flash_files()  # pins some other key for "this" board
    with pytest.raises(TargetError, match="refused") as info:
        SshShell("127.0.0.1", port, impostor).open()
    assert "pinned" in (info.value.hint or "")


def test_nothing_pinned_means_no_connection(sshd: tuple[BoardIdentity, int], foc_home: Path) -> None:
    _, port = sshd
    with pytest.raises(ConfigError, match="no SSH host key is pinned"):
        SshShell("127.0.0.1", port, BoardIdentity.of("never-flashed", home=foc_home)).open()


def test_a_key_that_is_not_authorized_is_refused(sshd: tuple[BoardIdentity, int], foc_home: Path) -> None:
    board, port = sshd
    key, _ = deploy_key(foc_home)
    saved = key.read_bytes()
    other = foc_home / "other"
    other.mkdir(exist_ok=True)
    shutil.copy(deploy_key(other)[0], key)  # another user's deploy key
    try:
        with pytest.raises(TargetError, match="refused: Authentication failed"):
            SshShell("127.0.0.1", port, board).open()
    finally:
        key.write_bytes(saved)
