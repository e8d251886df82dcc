"""Where the wrapper finds its proxy: address, TLS and TA uuid come from configuration, never code.

Precedence (first wins): explicit values passed to `load_config`, environment variables, the
config file, built-in defaults. The proxy address has no default: without one, `ConfigError`.

Environment variables:
  FOC_PROXY_ADDRESS   host:port of foc.proxy (e.g. 127.0.0.1:50051)
  FOC_PROXY_TLS_CA    PEM file of the CA that signed the proxy's certificate (enables TLS)
  FOC_PROXY_TLS_NAME  server name to check in the proxy's certificate (default: the host)
  FOC_PROXY_TLS_CERT, FOC_PROXY_TLS_KEY  this client's certificate and key (PEM), for a proxy that
                      requires mutual TLS (`foc-proxy --tls-client-ca`, `foc-deploy rpi3 up --mutual-tls`)
  FOC_PROXY_ALLOW_PLAINTEXT=1  talk plaintext to a proxy that is not on this host's loopback
  FOC_TA_UUID         the chaincode TA's uuid (default: FOC's coffee TA)
  FOC_PROXY_TIMEOUT   seconds one invocation may take (default 30)
  FOC_CONFIG          path of the config file (default ~/.config/foc/foc.toml)

Config file (TOML)::

  [proxy]
  address = "127.0.0.1:50051"
  tls_ca = "/etc/foc/proxy-ca.pem"     # a board's pinned proxy certificate
  tls_server_name = "foc-proxy"
  tls_cert = "/etc/foc/client.crt"     # mutual TLS only, with tls_key
  tls_key = "/etc/foc/client.key"
  ta_uuid = "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9"
  timeout = 30
"""

from __future__ import annotations

import os
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foc.errors import ConfigError

FOC_TA_UUID = uuid.UUID("6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9")  # ta/include/foc_ta.h
DEFAULT_TIMEOUT_S = 30.0
_HINT = "set FOC_PROXY_ADDRESS=host:port, pass --proxy, or add [proxy] address to the config file"


@dataclass(frozen=True)
class WrapperConfig:
    """Everything the wrapper needs to reach its proxy."""

    proxy_address: str
    ta_uuid: uuid.UUID = FOC_TA_UUID
    tls_ca: Path | None = None
    tls_server_name: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None

    @property
    def tls_client(self) -> tuple[Path, Path] | None:
        """(key, certificate) for mutual TLS, or None."""
        return client_pair(self.tls_client_cert, self.tls_client_key)

    @property
    def tls(self) -> bool:
        """True if the channel to the proxy is TLS-protected."""
        return self.tls_ca is not None


def client_pair(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    """(key, certificate) PEM files a client presents to a proxy that requires mutual TLS, or None
    unless both are set (the order of `ProxyClient`'s `tls_client` and `proxy_health`'s `client`)."""
    return None if cert is None or key is None else (key, cert)


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """$FOC_CONFIG, else ~/.config/foc/foc.toml."""
    env = os.environ if env is None else env
    if env.get("FOC_CONFIG"):
        return Path(env["FOC_CONFIG"]).expanduser()
    return Path.home() / ".config" / "foc" / "foc.toml"


def parse_address(text: str) -> str:
    """Validate "host:port" (IPv6 as "[::1]:port") and return it normalised."""
    text = text.strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port:
        raise ConfigError(f"proxy address {text!r} is not host:port", hint=_HINT)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"proxy address {text!r} has an invalid port (1..65535)")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        raise ConfigError(f"proxy address {text!r}: write IPv6 hosts in brackets, e.g. [::1]:{port}")
    return f"{host}:{int(port)}"


def parse_ta_uuid(text: str | bytes) -> uuid.UUID:
    """A TA uuid from its text form (with or without dashes, as FOC's `setup` took) or 16 raw bytes."""
    try:
        if isinstance(text, bytes):
            return uuid.UUID(bytes=text)
        return uuid.UUID(hex=text.strip())
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{text!r} is not a TA uuid (32 hex digits, dashes optional)") from exc


def _parse_timeout(value: Any) -> float:
    try:
        timeout = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"proxy timeout {value!r} is not a number of seconds") from exc
    if not timeout > 0:
        raise ConfigError(f"proxy timeout must be positive, not {value!r}")
    return timeout


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes")


def _loopback(address: str) -> bool:
    from foc.proxy.config import is_loopback

    return is_loopback(address.rpartition(":")[0])


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    section = data.get("proxy", {})
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [proxy] must be a table")
    return section


def load_config(
    *,
    proxy_address: str | None = None,
    ta_uuid: str | None = None,
    tls_ca: str | Path | None = None,
    tls_server_name: str | None = None,
    timeout_s: float | None = None,
    allow_plaintext: bool | None = None,
    tls_client_cert: str | Path | None = None,
    tls_client_key: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> WrapperConfig:
    """Assemble a `WrapperConfig`; raises `ConfigError` with an actionable message if incomplete.

    A proxy address off this host's loopback needs TLS (`tls_ca`: the proxy's pinned certificate)
    unless plaintext is explicitly allowed: on a LAN anyone could pose as the proxy.
    """
    env = os.environ if env is None else env
    file_path = path or default_config_path(env)
    file = _read_file(file_path)

    def pick(explicit: Any, env_name: str, file_key: str) -> Any:
        if explicit is not None:
            return explicit
        if env.get(env_name):
            return env[env_name]
        return file.get(file_key)

    address = pick(proxy_address, "FOC_PROXY_ADDRESS", "address")
    if not address:
        raise ConfigError("no proxy address configured", hint=_HINT)
    uuid_text = pick(ta_uuid, "FOC_TA_UUID", "ta_uuid")
    ca = pick(tls_ca, "FOC_PROXY_TLS_CA", "tls_ca")
    ca_path = Path(str(ca)).expanduser() if ca else None
    if ca_path is not None and not ca_path.is_file():
        raise ConfigError(f"proxy TLS CA file {ca_path} does not exist")
    client_cert = _existing(pick(tls_client_cert, "FOC_PROXY_TLS_CERT", "tls_cert"), "client certificate")
    client_key = _existing(pick(tls_client_key, "FOC_PROXY_TLS_KEY", "tls_key"), "client key")
    if (client_cert is None) != (client_key is None):
        raise ConfigError(
            "mutual TLS to the proxy needs both the client certificate and its key",
            hint="set FOC_PROXY_TLS_CERT and FOC_PROXY_TLS_KEY ([proxy] tls_cert and tls_key), or neither",
        )
    if client_cert is not None and ca_path is None:
        raise ConfigError(
            "a client certificate for the proxy needs TLS",
            hint="pin the proxy's certificate as well (FOC_PROXY_TLS_CA / [proxy] tls_ca)",
        )
    timeout = pick(timeout_s, "FOC_PROXY_TIMEOUT", "timeout")
    timeout_value = _parse_timeout(timeout) if timeout is not None else DEFAULT_TIMEOUT_S
    address = parse_address(str(address))
    plaintext_ok = pick(allow_plaintext, "FOC_PROXY_ALLOW_PLAINTEXT", "allow_plaintext")
    if ca_path is None and not _truthy(plaintext_ok) and not _loopback(address):
        raise ConfigError(
            f"refusing plaintext to the proxy at {address}: "
            "off this host anyone on the network could pose as it",
            hint="pin its certificate (FOC_PROXY_TLS_CA / [proxy] tls_ca; `foc-deploy rpi3 up` prints it) "
            "or set FOC_PROXY_ALLOW_PLAINTEXT=1 on a trusted network",
        )
    return WrapperConfig(
        proxy_address=address,
        ta_uuid=parse_ta_uuid(str(uuid_text)) if uuid_text else FOC_TA_UUID,
        tls_ca=ca_path,
        tls_server_name=pick(tls_server_name, "FOC_PROXY_TLS_NAME", "tls_server_name") or None,
        timeout_s=timeout_value,
        tls_client_cert=client_cert,
        tls_client_key=client_key,
    )


def _existing(value: Any, what: str) -> Path | None:
    if not value:
        return None
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise ConfigError(f"proxy TLS {what} file {path} does not exist")
    return path
