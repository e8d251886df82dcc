"""A board's credentials on the host: who may log in, which host key to trust, which proxy to pin.

Layout (under $FOC_HOME, default ~/.config/foc; private keys are 0600):

    rpi3/id_ed25519, id_ed25519.pub     FOC's deploy key: root login on every board flashed here
    boards/<name>/ssh_host_ed25519_key.pub
                                        the board's SSH host key, made at flash time and pinned
    boards/<name>/proxy.crt             the board proxy's TLS certificate, made at provisioning
                                        and pinned by the wrapper (FOC_PROXY_TLS_CA); its key
                                        goes to the board only
    boards/<name>/client-ca.crt, client.crt, client.key
                                        mutual TLS (optional): the proxy accepts only clients
                                        certified by this CA

All keys are made with `cryptography` (Ed25519 for SSH, ECDSA P-256 for TLS). The board's host
private key travels once, inside the personalised SD image; the proxy's TLS key once, over SSH.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from foc.errors import ConfigError

#: the name the proxy's certificate carries and the wrapper checks (FOC_PROXY_TLS_NAME)
PROXY_SERVER_NAME = "foc-proxy"
CERT_DAYS = 3650


def foc_home() -> Path:
    """$FOC_HOME, else ~/.config/foc (as foc.admin.home)."""
    from foc.admin.home import foc_home as home

    return home()


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def new_ssh_key(comment: str) -> tuple[bytes, str]:
    """(OpenSSH private key PEM, `ssh-ed25519 AAAA... comment` public line) of a fresh Ed25519 key."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}"


def deploy_key(home: Path | None = None) -> tuple[Path, str]:
    """FOC's deploy key (made on first use): (private key file, public line for authorized_keys)."""
    d = (home or foc_home()) / "rpi3"
    private = d / "id_ed25519"
    public = d / "id_ed25519.pub"
    if not private.exists() or not public.exists():
        key, line = new_ssh_key("foc-deploy")
        _write_private(private, key)
        public.write_text(line + "\n")
    return private, public.read_text().strip()


def _check_name(name: str) -> str:
    from foc.deploy.paths import check_instance

    return check_instance(name)


@dataclass(frozen=True)
class BoardIdentity:
    """The host-side files of one board (see the module docstring)."""

    name: str
    home: Path

    @classmethod
    def of(cls, name: str, home: Path | None = None) -> BoardIdentity:
        return cls(_check_name(name), home or foc_home())

    @property
    def dir(self) -> Path:
        return self.home / "boards" / self.name

    @property
    def host_key_pub(self) -> Path:
        return self.dir / "ssh_host_ed25519_key.pub"

    @property
    def proxy_cert(self) -> Path:
        return self.dir / "proxy.crt"

    @property
    def client_ca(self) -> Path:
        return self.dir / "client-ca.crt"

    @property
    def client_cert(self) -> Path:
        return self.dir / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.dir / "client.key"

    def pinned_host_key(self) -> str | None:
        """`ssh-ed25519 AAAA...` of the board, if pinned."""
        try:
            parts = self.host_key_pub.read_text().split()
        except OSError:
            return None
        return " ".join(parts[:2]) if len(parts) >= 2 else None

    def pin_host_key(self, public_line: str) -> None:
        """Pin the board's SSH host key (`ssh-ed25519 AAAA...`)."""
        parts = public_line.split()
        if len(parts) < 2 or parts[0] != "ssh-ed25519":
            raise ConfigError(f"not an ssh-ed25519 public key: {public_line[:40]!r}")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host_key_pub.write_text(" ".join(parts[:2]) + f" {self.name}\n")

    def flash_files(self) -> dict[str, bytes]:
        """The files `flash` writes into the image's FAT `foc/`: a new host key (pinned here) and
        the deploy key as authorized_keys."""
        private, public = new_ssh_key(f"foc-{self.name}")
        _, authorized = deploy_key(self.home)
        self.pin_host_key(public)
        return {"ssh_host_ed25519_key": private, "authorized_keys": (authorized + "\n").encode()}

    def known_hosts_line(self, host: str, port: int) -> str:
        """The known_hosts line pinning this board at host:port (ConfigError if nothing is pinned)."""
        key = self.pinned_host_key()
        if key is None:
            raise ConfigError(
                f"no SSH host key is pinned for board {self.name!r}",
                hint=f"flash the card with `foc-deploy rpi3 flash --board {self.name}` (it pins the key), or "
                "give --serial DEVICE so the key the board prints at boot is read from its console",
            )
        where = host if port == 22 else f"[{host}]:{port}"
        return f"{where} {key}\n"

    def make_proxy_tls(self) -> tuple[bytes, bytes]:
        """A fresh TLS identity for the board's proxy: (certificate PEM, key PEM); the
        certificate is pinned here (the wrapper trusts exactly it), the key is for the board."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(
            key, key.public_key(), f"FOC proxy on {self.name}", None, [PROXY_SERVER_NAME],
            purpose=ExtendedKeyUsageOID.SERVER_AUTH,
        )  # fmt: skip
        self.dir.mkdir(parents=True, exist_ok=True)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self.proxy_cert.write_bytes(cert_pem)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert_pem, key_pem

    def make_client_tls(self) -> bytes:
        """Mutual TLS: a client CA and one client certificate (kept here); returns the CA PEM
        for the board."""
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate(
            ca_key, ca_key.public_key(), f"FOC wrapper CA for {self.name}", None, [], purpose=None
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(
            ca_key,
            key.public_key(),
            f"FOC wrapper for {self.name}",
            ca,
            [],
            purpose=ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        ca_pem = ca.public_bytes(serialization.Encoding.PEM)
        self.client_ca.write_bytes(ca_pem)
        self.client_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private(
            self.client_key,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        return ca_pem


def _certificate(
    signing_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    common_name: str,
    issuer: x509.Certificate | None,
    dns: list[str],
    *,
    purpose: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    """A certificate for `public_key`, signed by `signing_key` (`issuer` None: self-signed, and then
    a trust anchor of its own: the peer pins exactly it); `purpose` None makes a CA."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    anchor = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=anchor, path_length=0 if anchor else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=anchor,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    )
    if dns:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False
        )
    if purpose is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())
