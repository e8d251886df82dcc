"""Provisioning logic against a fake board shell (the real one: tests/rpi3, an OpenSSH server)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from foc.deploy.console import CommandResult, FakeConsole
from foc.deploy.rpi3 import provision as prov
from foc.deploy.rpi3.identity import BoardIdentity
from foc.errors import ConfigError, TargetError


class FakeBoard:
    """A `Shell` that keeps files in a dict and answers the commands provisioning sends."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {"/opt/foc/src/.digest": b"image-digest\n"}
        self.commands: list[str] = []
        self.proxy_starts = 0
        self.proxy_fails = False

    def run(self, cmd: str, timeout: float = 120.0) -> CommandResult:
        self.commands.append(cmd)
        if cmd.startswith("sha256sum "):
            path = cmd.split()[1]
            data = self.files.get(path)
            return (
                CommandResult(0, f"{hashlib.sha256(data).hexdigest()}  {path}")
                if data
                else CommandResult(1, "")
            )
        if cmd.startswith("cat ") and ".digest" in cmd:
            for path in (prov.SRC_DIGEST, prov.IMAGE_SRC_DIGEST):
                if path in self.files:
                    return CommandResult(0, self.files[path].decode().strip())
            return CommandResult(1, "")
        if cmd.startswith("cp "):
            src, dst = cmd.split()[1:3]
            self.files[dst] = self.files[src]
        if "tar -xzf" in cmd:
            with tarfile.open(fileobj=io.BytesIO(self.files[f"{prov.DATA}/foc-src.tar.gz"])) as tar:
                names = tar.getnames()
            digest = cmd.split("echo ", 1)[1].split(" ", 1)[0]
            self.files[prov.SRC_DIGEST] = f"{digest}\n".encode()
            self.files["unpacked"] = "\n".join(names).encode()
        if cmd.startswith("chmod ") and "mv -f" in cmd:
            tmp, final = cmd.split("mv -f ", 1)[1].split()
            self.files[final] = self.files.pop(tmp)
        if cmd in ("foc-proxy-service start", "foc-proxy-service restart"):  # restart: the TAs changed
            self.proxy_starts += 1
            return CommandResult(3, "no TLS certificate") if self.proxy_fails else CommandResult(0, "4242")
        if cmd.startswith("foc-proxy-service stop"):
            return CommandResult(0, "1234")
        return CommandResult(0, "")

    def check(self, cmd: str, timeout: float = 120.0) -> str:
        rc, out = self.run(cmd, timeout)
        if rc:
            raise TargetError(f"{cmd} exited {rc}")
        return out

    def put_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        self.files[remote] = data
        self.commands.append(f"put {remote} {mode:o}")

    def read(self, remote: str) -> bytes:
        return self.files[remote]


@pytest.fixture
def identity(tmp_path: Path) -> BoardIdentity:
    return BoardIdentity.of("fake", home=tmp_path / "home")


def _package(tmp_path: Path) -> Path:
    pkg = tmp_path / "foc"
    (pkg / "sub" / "__pycache__").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "mod.py").write_text("X = 1\n")
    (pkg / "sub" / "__pycache__" / "mod.cpython-313.pyc").write_bytes(b"junk")
    return pkg


def test_first_provisioning_installs_tls_copies_what_differs_and_restarts(
    tmp_path: Path, identity: BoardIdentity
) -> None:
    board = FakeBoard()
    ta = tmp_path / "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9.ta"
    ta.write_bytes(b"new TA")
    board.files[f"{prov.GUEST_TA_DIR}/{ta.name}"] = b"old TA"
    report = prov.provision(board, identity, tas=[ta], package=_package(tmp_path))
    assert report.tls == "installed" and report.tas == [ta.name] and report.package == "copied"
    assert board.files[f"{prov.TLS_DIR}/proxy.crt"] == identity.proxy_cert.read_bytes()  # pinned == installed
    assert f"put {prov.TLS_DIR}/proxy.key 600" in board.commands
    assert board.files[f"{prov.GUEST_TA_DIR}/{ta.name}"] == b"new TA"
    assert not any("__pycache__" in n for n in board.files["unpacked"].decode().split())
    assert report.proxy == "4242" and board.commands.index(prov.RESTART_SUPPLICANT) < len(board.commands)
    assert f"rm -f {prov.TLS_DIR}/client-ca.crt" in board.commands  # mutual TLS off
    assert "foc-proxy-service restart" in board.commands  # a running proxy would serve the old TA


def test_every_chaincode_ta_and_the_proxy_list_are_provisioned(
    tmp_path: Path, identity: BoardIdentity
) -> None:
    """An image with several chaincode TAs: all of them and the proxy's [[ta]] list beside them
    (share/ta/proxy.toml) reach the board; the list goes to /etc/foc/proxy.toml and /data/foc/ta."""
    board = FakeBoard()
    tas = []
    for uuid in ("6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9", "b071727b-aa15-4d91-bd70-2c86688ab9c8"):
        (tmp_path / f"{uuid}.ta").write_bytes(uuid.encode())
        tas.append(tmp_path / f"{uuid}.ta")
    (tmp_path / prov.PROXY_TAS_FILE).write_text('[[ta]]\nuuid = "b071727b-aa15-4d91-bd70-2c86688ab9c8"\n')
    report = prov.provision(board, identity, tas=tas, package=None)
    assert report.tas == [t.name for t in tas] + [prov.PROXY_TAS_FILE]
    for ta in tas:
        assert board.files[f"{prov.GUEST_TA_DIR}/{ta.name}"] == ta.read_bytes()
    listing = (tmp_path / prov.PROXY_TAS_FILE).read_bytes()
    assert board.files[f"/etc/foc/{prov.PROXY_TAS_FILE}"] == listing
    assert board.files[f"{prov.TA_DIR}/{prov.PROXY_TAS_FILE}"] == listing
    restarts = board.commands.count("foc-proxy-service restart")
    again = prov.provision(board, identity, tas=tas, package=None, new_tls=False)
    assert again.tas == [] and board.commands.count("foc-proxy-service restart") == restarts


def test_second_provisioning_copies_nothing_and_can_keep_tls(tmp_path: Path, identity: BoardIdentity) -> None:
    board = FakeBoard()
    ta = tmp_path / "x.ta"
    ta.write_bytes(b"TA")
    pkg = _package(tmp_path)
    prov.provision(board, identity, tas=[ta], package=pkg)
    puts = len([c for c in board.commands if c.startswith("put ")])
    report = prov.provision(board, identity, tas=[ta], package=pkg, new_tls=False)
    assert (report.tls, report.tas, report.package) == ("kept", [], "unchanged")
    assert len([c for c in board.commands if c.startswith("put ")]) == puts  # not one file more


def test_keeping_tls_refuses_a_board_certificate_that_is_not_the_pinned_one(
    tmp_path: Path, identity: BoardIdentity
) -> None:
    board = FakeBoard()
    prov.provision(board, identity, tas=[], package=None)
    board.files[f"{prov.TLS_DIR}/proxy.crt"] = b"someone else's certificate"
    with pytest.raises(ConfigError, match="not the one pinned"):
        prov.provision(board, identity, tas=[], package=None, new_tls=False)


def test_mutual_tls_installs_the_client_ca(tmp_path: Path, identity: BoardIdentity) -> None:
    board = FakeBoard()
    report = prov.provision(board, identity, tas=[], package=None, mutual_tls=True)
    assert (
        report.mutual_tls and board.files[f"{prov.TLS_DIR}/client-ca.crt"] == identity.client_ca.read_bytes()
    )


def test_a_proxy_that_does_not_start_is_an_error(tmp_path: Path, identity: BoardIdentity) -> None:
    board = FakeBoard()
    board.proxy_fails = True
    with pytest.raises(TargetError, match="did not start"):
        prov.provision(board, identity, tas=[], package=None)


def test_console_shell_moves_files_base64_encoded() -> None:
    store: dict[str, bytes] = {}

    def shell(cmd: str) -> tuple[int, str]:
        import base64
        import shlex

        words = shlex.split(cmd.replace(">>", " >> ").replace(">", " > "))
        if words[0] == ":":
            store[words[-1]] = b""
        elif words[0] == "echo" and "base64" in words:
            store[words[-1]] += base64.b64decode(words[1])
        elif words[0] == "chmod":
            store[words[-1]] = store.pop(words[-2])
        elif words[0] == "base64":
            return 0, base64.b64encode(store[words[1]]).decode() + "\n"
        return 0, ""

    console = FakeConsole(shell)
    with console:
        console.wait_for_shell()
        sh = prov.ConsoleShell(console)
        data = bytes(range(256)) * 8
        sh.put_bytes(data, "/data/foc/tls/proxy.key", 0o600)
        assert store["/data/foc/tls/proxy.key"] == data
        assert sh.read("/data/foc/tls/proxy.key") == data


def test_package_tarball_is_reproducible_and_skips_bytecode(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    first, digest = prov.package_tarball(pkg)
    second, digest2 = prov.package_tarball(pkg)
    assert first == second and digest == digest2
    (pkg / "sub" / "mod.py").write_text("X = 2\n")
    assert prov.package_tarball(pkg)[1] != digest
