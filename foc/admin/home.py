"""Where confidential-mode files live on disk (documented in docs/confidential.md, "Files").

    $FOC_HOME (default ~/.config/foc)
      devices/<name>.pem                    enrolled device attestation keys (RSA public, PEM)
      chaincodes/<chaincode_id>/definition.json
                                            chaincode definition: id, version (= expected TA
                                            measurement, hex), channel
      chaincodes/<chaincode_id>/enclaves/<enclave_id>.credentials
                                            enclave credentials written by `foc enclave create`
                                            (public: attested data + evidence)

Nothing secret is stored here: device keys are public keys pinned by an administrator, and the
client needs no long-term key (each request uses fresh ephemeral and response keys).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from foc.errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def foc_home() -> Path:
    """$FOC_HOME, else ~/.config/foc."""
    env = os.environ.get("FOC_HOME", "")
    return Path(env).expanduser() if env else Path.home() / ".config" / "foc"


def check_name(kind: str, name: str) -> str:
    """Reject names that are not safe as one path component (letters, digits, . _ -)."""
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
        raise UsageError(
            f"invalid {kind} {name!r}",
            hint="use 1-128 characters from A-Z a-z 0-9 . _ - starting with a letter or digit",
        )
    return name


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file and rename (no half-written files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
