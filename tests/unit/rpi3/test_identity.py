"""A board's credentials on the host: deploy key, pinned SSH host key, pinned proxy certificate."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from foc.deploy.rpi3.identity import PROXY_SERVER_NAME, BoardIdentity, deploy_key
from foc.errors import ConfigError, UsageError


def test_deploy_key_is_private_and_reused(tmp_path: Path) -> None:
    key, public = deploy_key(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert public.startswith("ssh-ed25519 ") and public.endswith(" foc-deploy")
    assert deploy_key(tmp_path) == (key, public)
    serialization.load_ssh_private_key(key.read_bytes(), password=None)


def test_flash_files_pin_the_new_host_key_and_authorize_the_deploy_key(tmp_path: Path) -> None:
    board = BoardIdentity.of("bench-pi", home=tmp_path)
    files = board.flash_files()
    private = serialization.load_ssh_private_key(files["ssh_host_ed25519_key"], password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert board.pinned_host_key() == public.decode()
    assert files["authorized_keys"].decode().strip() == deploy_key(tmp_path)[1]
    assert board.known_hosts_line("192.0.2.7", 22) == f"192.0.2.7 {public.decode()}\n"
    assert board.known_hosts_line("127.0.0.1", 2222) == f"[127.0.0.1]:2222 {public.decode()}\n"
    again = board.flash_files()  # re-flashing makes (and pins) a new host key
    assert again["ssh_host_ed25519_key"] != files["ssh_host_ed25519_key"]


def test_nothing_pinned_is_an_error_that_says_how_to_pin(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no SSH host key is pinned") as info:
        BoardIdentity.of("new", home=tmp_path).known_hosts_line("h", 22)
    assert "flash" in (info.value.hint or "") and "--serial" in (info.value.hint or "")


def test_pinning_refuses_what_is_not_an_ed25519_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        BoardIdentity.of("b", home=tmp_path).pin_host_key("ssh-rsa AAAA")


@pytest.mark.parametrize("name", ["", "../x", "a/b", "x" * 65])
def test_board_names_are_one_path_component(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        BoardIdentity.of(name, home=tmp_path)


def test_proxy_certificate_names_the_pinned_server_and_is_its_own_anchor(tmp_path: Path) -> None:
    board = BoardIdentity.of("b", home=tmp_path)
    cert_pem, key_pem = board.make_proxy_tls()
    assert board.proxy_cert.read_bytes() == cert_pem
    cert = x509.load_pem_x509_certificate(cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [PROXY_SERVER_NAME]
    assert cert.issuer == cert.subject
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
    assert not (board.dir / "proxy.key").exists()  # the key is for the board only
    ca_pem = board.make_client_tls()
    client = x509.load_pem_x509_certificate(board.client_cert.read_bytes())
    assert client.issuer == x509.load_pem_x509_certificate(ca_pem).subject
    assert stat.S_IMODE(board.client_key.stat().st_mode) == 0o600


def test_the_default_home_is_foc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOC_HOME", str(tmp_path / "home"))
    board = BoardIdentity.of("default-home")
    assert board.dir == tmp_path / "home" / "boards" / "default-home"
    assert deploy_key()[0] == tmp_path / "home" / "rpi3" / "id_ed25519"
