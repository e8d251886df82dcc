"""The chaincode a FOC process serves to a Fabric peer, whichever way the peer reaches it.

`foc serve` (chaincode-as-a-service: the peer dials it) and the external builder's `bin/run`
(peer-launched: it dials the peer) both build their chaincode here, from the same settings, through
`foc.wrapper.catalogue`:

    chaincode, close = hosted_chaincode(HostedSettings(kind="confidential", name="auction"))

A peer-launched package carries the settings as `foc.json` (`to_json` / `from_json`): what the peer
starts must know its chaincode, proxy and FOC home without the operator's environment, since the
peer runs the builder with a pruned one (Fabric propagates only PATH, LD_LIBRARY_PATH, LIBPATH,
TMPDIR and core.yaml's `propagateEnvironment`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foc.chaincode.stub import Chaincode
from foc.errors import UsageError

KINDS = ("wrapper", "confidential", "ercc")
LAUNCH_FORMAT = 1  # foc.json's "foc_launch" version
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class HostedSettings:
    """Which chaincode, and how it reaches the device.

    `kind`: wrapper (FOC's plaintext wrapper, for TA `ta_uuid`: default the wrapper configuration's),
    confidential (the chaincode `name`, whose definition in FOC home names its TA) or ercc (the
    registry). `proxy`, `proxy_tls_ca` (PEM file) and `proxy_tls_name` reach foc-proxy (default: the
    wrapper configuration, $FOC_PROXY_*); `home` is FOC home (default $FOC_HOME).
    """

    kind: str = "wrapper"
    name: str = "coffee"
    proxy: str | None = None
    proxy_tls_ca: Path | None = None
    proxy_tls_name: str | None = None
    ta_uuid: str | None = None
    home: Path | None = None
    registry: str = "ercc"
    allow_insecure_native: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"unknown chaincode kind {self.kind!r} (one of {', '.join(KINDS)})")
        for what, value in (("chaincode name", self.name), ("registry name", self.registry)):
            if not _NAME.match(value):
                raise UsageError(f"invalid {what} {value!r}")
        if self.home is not None and not Path(self.home).is_absolute():
            raise UsageError(f"FOC home {self.home} must be an absolute path (the peer runs elsewhere)")

    def to_json(self, *, proxy_tls_ca_pem: str = "") -> dict[str, Any]:
        """foc.json of a peer-launched package; the proxy's CA travels as PEM text."""
        doc: dict[str, Any] = {"foc_launch": LAUNCH_FORMAT, "kind": self.kind, "name": self.name}
        optional = {
            "proxy": self.proxy,
            "proxy_tls_ca": proxy_tls_ca_pem or None,
            "proxy_tls_name": self.proxy_tls_name,
            "ta_uuid": self.ta_uuid,
            "home": str(self.home) if self.home else None,
        }
        doc.update({k: v for k, v in optional.items() if v})
        doc["registry"] = self.registry
        doc["allow_insecure_native"] = self.allow_insecure_native
        return doc

    @classmethod
    def from_json(cls, doc: object, *, ca_file: Path | None = None) -> HostedSettings:
        """Settings from foc.json (UsageError naming what is wrong); `ca_file` is where the
        proxy's CA PEM was written (it travels inline)."""
        if not isinstance(doc, dict) or doc.get("foc_launch") != LAUNCH_FORMAT:
            raise UsageError(f"foc.json is not a FOC launch description (foc_launch {LAUNCH_FORMAT})")
        known = {"foc_launch", "kind", "name", "proxy", "proxy_tls_ca", "proxy_tls_name", "ta_uuid", "home"}
        unknown = set(doc) - known - {"registry", "allow_insecure_native"}
        if unknown:
            raise UsageError(f"foc.json has unknown keys {', '.join(sorted(unknown))}")
        text = {k: doc[k] for k in known - {"foc_launch"} if k in doc}
        if not all(isinstance(v, str) for v in text.values()) or not isinstance(
            doc.get("allow_insecure_native", False), bool
        ):
            raise UsageError("foc.json: every setting is a string, allow_insecure_native a boolean")
        if "proxy_tls_ca" in text and "BEGIN CERTIFICATE" not in text["proxy_tls_ca"]:
            raise UsageError("foc.json: proxy_tls_ca must be the PEM certificate the proxy is pinned to")
        return cls(
            kind=str(doc.get("kind", "")),
            name=str(doc.get("name", "coffee")),
            proxy=text.get("proxy"),
            proxy_tls_ca=ca_file if "proxy_tls_ca" in text else None,
            proxy_tls_name=text.get("proxy_tls_name"),
            ta_uuid=text.get("ta_uuid"),
            home=Path(text["home"]) if "home" in text else None,
            registry=str(doc.get("registry", "ercc")),
            allow_insecure_native=bool(doc.get("allow_insecure_native", False)),
        )


def read_launch(path: Path, *, ca_file: Path | None = None) -> HostedSettings:
    """`HostedSettings.from_json` of the file at `path` (UsageError if unreadable)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return HostedSettings.from_json(doc, ca_file=ca_file)


def hosted_chaincode(settings: HostedSettings) -> tuple[Chaincode, Callable[[], None]]:
    """The chaincode `settings` name, and how to release what it opened (the proxy channel)."""
    from foc.wrapper.catalogue import Catalogue

    if settings.kind == "ercc":
        catalogue = Catalogue(
            settings.home,
            allow_insecure_native=settings.allow_insecure_native,
            registry_name=settings.registry,
        )
        return catalogue.registry(), lambda: None
    from foc.admin.definitions import DefinitionStore
    from foc.wrapper.config import load_config
    from foc.wrapper.plaintext import default_client_factory

    if settings.kind == "confidential":
        DefinitionStore(settings.home).get(settings.name)  # fail at start naming the missing file
    config = load_config(
        proxy_address=settings.proxy,
        tls_ca=settings.proxy_tls_ca,
        tls_server_name=settings.proxy_tls_name,
        ta_uuid=settings.ta_uuid,
    )
    client = default_client_factory(config)
    catalogue = Catalogue(settings.home, proxy=client, config=config, registry_name=settings.registry)  # type: ignore[arg-type]
    return catalogue.chaincode(settings.kind, settings.name), getattr(client, "close", lambda: None)
