"""foc-proxy configuration: where to listen, TLS, which TEE, and which TAs with which pools.

A proxy serves one or more chaincode TAs (`TaConfig`: uuid, name, pool size, checkout timeout and,
for the host-native backend, its library). A transaction names its TA by `chaincode_uuid`; an
empty one means the default TA (FOC's coffee TA when it is served, else the first listed).
`load_ta_file` reads them from a TOML file (`foc-proxy --config FILE`)::

    [[ta]]
    uuid = "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9"
    name = "coffee"
    pool = 4                  # optional: pre-opened sessions (default: --pool)
    checkout_timeout = 10.0   # optional: seconds a transaction waits for a free session
    # native_lib = "/path/libfoc_core.so"   # --tee native: the library that is this TA

Plaintext is served only on a loopback address unless `allow_plaintext` says otherwise: on a LAN
(a board) anyone who reaches the port could invoke the TA or pose as the proxy, so the proxy
serves TLS there (its certificate pinned by the wrapper, optionally mutual TLS with
`tls_client_ca`). QEMU's guest proxy listens on 0.0.0.0 inside the guest but is reachable only
through the host's loopback (QEMU hostfwd), so the guest's /init allows plaintext there.
"""

from __future__ import annotations

import ipaddress
import tomllib
import uuid as _uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from foc.errors import ConfigError
from foc.tee import abi

TEE_BACKENDS = ("optee", "native")
#: Most TAs one proxy serves (each holds its own pool of sessions, and OP-TEE its own instance).
MAX_TAS = 16
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass(frozen=True)
class TaConfig:
    """One TA the proxy serves: its uuid, a name for logs and Health, its own pool and limits.

    `pool_size` / `checkout_timeout` of None take the proxy-wide values; `native_library` is the
    host-native build of this TA (--tee native only: NOT a TEE).
    """

    uuid: _uuid.UUID
    name: str = ""
    pool_size: int | None = None
    checkout_timeout: float | None = None
    native_library: Path | None = None

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", str(self.uuid))
        if len(self.name) > 64 or not set(self.name) <= _NAME_CHARS:
            raise ConfigError(f"TA name {self.name!r}: 1..64 characters of letters, digits, '.', '_' and '-'")
        if self.pool_size is not None and not 1 <= self.pool_size <= 64:
            raise ConfigError(f"TA {self.name}: pool size {self.pool_size} is out of range 1..64")
        if self.checkout_timeout is not None and self.checkout_timeout <= 0:
            raise ConfigError(f"TA {self.name}: checkout timeout must be positive")


def parse_ta_spec(text: str) -> TaConfig:
    """`UUID[=NAME]` (foc-proxy --ta) as a TaConfig; ConfigError naming the bad part."""
    uuid_text, _, name = text.partition("=")
    try:
        value = _uuid.UUID(uuid_text.strip())
    except ValueError:
        raise ConfigError(f"--ta {text!r}: {uuid_text!r} is not a TA uuid", hint="--ta UUID[=NAME]") from None
    return TaConfig(value, name.strip())


def load_ta_file(path: Path) -> list[TaConfig]:
    """The `[[ta]]` tables of a TOML file (see the module docstring); ConfigError naming the file."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the proxy configuration {path}: {exc}") from None
    tables = data.get("ta", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: `ta` must be an array of tables ([[ta]])")
    out = []
    for i, table in enumerate(tables):
        out.append(_ta_from_table(table, f"{path}: [[ta]] #{i + 1}"))
    return out


def _ta_from_table(table: dict[str, Any], where: str) -> TaConfig:
    unknown = set(table) - {"uuid", "name", "pool", "checkout_timeout", "native_lib"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    try:
        value = _uuid.UUID(str(table["uuid"]))
    except KeyError:
        raise ConfigError(f"{where}: no uuid") from None
    except ValueError:
        raise ConfigError(f"{where}: {table['uuid']!r} is not a TA uuid") from None
    pool, timeout, lib = table.get("pool"), table.get("checkout_timeout"), table.get("native_lib")
    if pool is not None and not isinstance(pool, int):
        raise ConfigError(f"{where}: pool must be an integer")
    if timeout is not None and not isinstance(timeout, int | float):
        raise ConfigError(f"{where}: checkout_timeout must be a number of seconds")
    return TaConfig(
        value,
        str(table.get("name", "")),
        pool,
        float(timeout) if timeout is not None else None,
        Path(str(lib)) if lib else None,
    )


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
    #: the TA of a single-TA proxy (the old form); ignored when `tas` is given
    ta_uuid: _uuid.UUID = abi.FOC_TA_UUID
    #: every TA this proxy serves (default: just `ta_uuid`)
    tas: Sequence[TaConfig] = field(default_factory=tuple)
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
        single = TaConfig(self.ta_uuid, "coffee" if self.ta_uuid == abi.FOC_TA_UUID else "")
        tas = tuple(self.tas) or (single,)
        if len(tas) > MAX_TAS:
            raise ConfigError(f"{len(tas)} TAs: one proxy serves at most {MAX_TAS}")
        for kind, values in (("uuid", [str(t.uuid) for t in tas]), ("name", [t.name for t in tas])):
            doubles = sorted({v for v in values if values.count(v) > 1})
            if doubles:
                raise ConfigError(f"TA {kind} {', '.join(doubles)} is listed twice")
        if self.tee == "optee" and any(t.native_library is not None for t in tas):
            raise ConfigError("native_lib is for --tee native (the host build), not for OP-TEE")
        resolved = tuple(
            replace(
                t,
                pool_size=t.pool_size or self.pool_size,
                checkout_timeout=t.checkout_timeout or self.checkout_timeout,
                native_library=t.native_library or (self.native_library if len(tas) == 1 else None),
            )
            for t in tas
        )
        object.__setattr__(self, "tas", resolved)
        object.__setattr__(self, "ta_uuid", self.default_ta.uuid)

    @property
    def default_ta(self) -> TaConfig:
        """The TA an invocation without chaincode_uuid goes to: FOC's coffee TA if served, else the first."""
        for ta in self.tas:
            if ta.uuid == abi.FOC_TA_UUID:
                return ta
        return self.tas[0]

    @property
    def workers(self) -> int:
        """Worker threads for the gRPC server."""
        return self.max_workers or max(32, 8 * self.pool_size)
