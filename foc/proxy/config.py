"""foc-proxy configuration: where to listen, TLS, pool size, which TEE and which TA.

Plaintext is served only on a loopback address unless `allow_plaintext` says otherwise: on a LAN
(a board) anyone who reaches the port could invoke the TA or pose as the proxy, so the proxy
serves TLS there (its certificate pinned by the wrapper, optionally mutual TLS with
`tls_client_ca`). QEMU's guest proxy listens on 0.0.0.0 inside the guest but is reachable only
through the host's loopback (QEMU hostfwd), so the guest's /init allows plaintext there.
"""

from __future__ import annotations

import ipaddress
import uuid as _uuid
from dataclasses import dataclass
from pathlib import Path

from foc.errors import ConfigError
from foc.tee import abi

TEE_BACKENDS = ("optee", "native")


def parse_listen(address: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[v6]:PORT`` too); port 0 picks a free port."""
    host, sep, port = address.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"listen address {address!r} is not HOST:PORT")
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"listen address {address!r}: port {port!r} is not a number") from None
    if not 0 <= number <= 65535:
        raise ConfigError(f"listen address {address!r}: port {number} is out of range")
    return host, number


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (bracketed or not)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ProxyConfig:
    """Everything ``foc-proxy`` needs to start."""

    listen: str = "127.0.0.1:50051"
    tee: str = "optee"
    pool_size: int = 4
    ta_uuid: _uuid.UUID = abi.FOC_TA_UUID
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: mutual TLS: wrappers must present a certificate signed by this CA (PEM)
    tls_client_ca: Path | None = None
    #: serve plaintext on a non-loopback address (refused otherwise)
    allow_plaintext: bool = False
    #: longest a transaction waits for a free session when the client set no shorter deadline
    checkout_timeout: float = 10.0
    #: gRPC worker threads; each open transaction stream holds one
    max_workers: int | None = None
    #: native backend only: libfoc_core.so to load (default: build/cached build)
    native_library: Path | None = None

    def __post_init__(self) -> None:
        parse_listen(self.listen)
        if self.tee not in TEE_BACKENDS:
            raise ConfigError(f"unknown TEE backend {self.tee!r}; choose one of {', '.join(TEE_BACKENDS)}")
        if not 1 <= self.pool_size <= 64:
            raise ConfigError(f"pool size {self.pool_size} is out of range 1..64")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both a certificate and a key (--tls-cert and --tls-key)")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ConfigError("mutual TLS (--tls-client-ca) needs the proxy's own --tls-cert and --tls-key")
        for p in (self.tls_cert, self.tls_key, self.tls_client_ca):
            if p is not None and not Path(p).is_file():
                raise ConfigError(f"TLS file {p} does not exist")
        host, _ = parse_listen(self.listen)
        if self.tls_cert is None and not self.allow_plaintext and not is_loopback(host):
            raise ConfigError(
                f"refusing to serve plaintext on {host}: anyone on that network could invoke the TA "
                "or pose as the proxy",
                hint="give --tls-cert/--tls-key (the wrapper pins the certificate), listen on 127.0.0.1, "
                "or pass --allow-plaintext if the network is trusted (QEMU's hostfwd)",
            )
        if self.checkout_timeout <= 0:
            raise ConfigError("checkout timeout must be positive")

    @property
    def workers(self) -> int:
        """Worker threads for the gRPC server."""
        return self.max_workers or max(32, 8 * self.pool_size)
