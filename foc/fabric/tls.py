"""TLS for the chaincode server: the peer connects as a TLS client, optionally with its own cert.

connection.json's `root_cert` must be the CA that signed `cert`; with the ccaas builder the
certificate must name the host of `address` (e.g. IP SAN 127.0.0.1), because the builder drops
`domain`. `client_ca` turns on mutual TLS (connection.json `client_auth_required: true`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from foc.errors import ConfigError


@dataclass(frozen=True)
class ServerTls:
    """PEM server certificate chain and key, and the CA of accepted client certificates (mutual TLS)."""

    cert: bytes
    key: bytes
    client_ca: bytes | None = None

    @property
    def mutual(self) -> bool:
        """True if the peer must present a client certificate signed by `client_ca`."""
        return self.client_ca is not None

    @classmethod
    def from_files(cls, cert: Path | str, key: Path | str, client_ca: Path | str | None = None) -> ServerTls:
        """Read the PEM files; `ConfigError` naming the file that is missing or not PEM."""

        def read(path: Path | str, what: str) -> bytes:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read the TLS {what} {path}: {exc.strerror}") from exc
            if b"-----BEGIN " not in data:
                raise ConfigError(f"the TLS {what} {path} is not PEM")
            return data

        return cls(
            read(cert, "certificate"),
            read(key, "private key"),
            read(client_ca, "client CA") if client_ca is not None else None,
        )

    def credentials(self) -> grpc.ServerCredentials:
        """gRPC server credentials (client certificates required iff `client_ca` is set)."""
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)],
            root_certificates=self.client_ca,
            require_client_auth=self.mutual,
        )
