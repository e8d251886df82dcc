"""Enclave credentials kept by the administrator who created the enclaves.

``$FOC_HOME/chaincodes/<chaincode_id>/enclaves/<enclave_id>.credentials`` holds the binary
`credentials` (docs/confidential-protocol.md) that `foc enclave create` received from the TA. They
are public (attested data + evidence, no secret) and are what `foc enclave register` submits.
"""

from __future__ import annotations

from pathlib import Path

from foc.admin.definitions import DefinitionStore
from foc.admin.home import check_name, write_atomically
from foc.confidential.formats import Credentials
from foc.confidential.suite import enclave_id
from foc.errors import ConfigError

SUFFIX = ".credentials"


class CredentialStore:
    """Credentials files of each chaincode's enclaves under ``<home>/chaincodes/<id>/enclaves``."""

    def __init__(self, home: Path | None = None) -> None:
        self._definitions = DefinitionStore(home)

    def directory(self, chaincode_id: str) -> Path:
        """Where the credentials of `chaincode_id`'s enclaves are written."""
        return self._definitions.path(chaincode_id).parent / "enclaves"

    def path(self, chaincode_id: str, enclave: str) -> Path:
        """The credentials file of enclave `enclave` (its id, 64 hex characters)."""
        return self.directory(chaincode_id) / f"{check_name('enclave id', enclave)}{SUFFIX}"

    def save(self, chaincode_id: str, raw: bytes) -> tuple[str, Path]:
        """Store `raw` credentials (decoded first: malformed bytes are refused); (enclave id, path)."""
        credentials = Credentials.decode(raw)
        eid = enclave_id(credentials.attested_data.enclave_pub)
        path = self.path(chaincode_id, eid)
        write_atomically(path, raw)
        return eid, path

    def load(self, chaincode_id: str, enclave: str | None = None) -> bytes:
        """The credentials of `enclave`, or of the enclave created last; ConfigError if there are none."""
        if enclave is not None:
            path = self.path(chaincode_id, enclave)
        else:
            candidates = sorted(
                self.directory(chaincode_id).glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime
            )
            if not candidates:
                raise ConfigError(
                    f"no credentials for chaincode {chaincode_id!r} in {self.directory(chaincode_id)}",
                    hint="run `foc enclave create` first, or pass --credentials FILE",
                )
            path = candidates[-1]
        return read_credentials_file(path)


def read_credentials_file(path: Path) -> bytes:
    """The bytes of a credentials file; ConfigError naming the file if it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read credentials {path}: {exc.strerror}") from None
