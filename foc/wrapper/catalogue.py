"""Which chaincodes a FOC peer hosts, and how each is built: one place for every back end.

A FOC peer (the embedded dev ledger, or a Fabric peer through `foc serve`) can host three kinds:

  wrapper       FOC's plaintext wrapper (`FocWrapper`), chaincode name `foc`
  confidential  a confidential chaincode (`ConfidentialChaincode`: `__invoke` / `__endorse`) whose
                enclave is the TA behind the device's proxy; its definition comes from FOC home
  ercc          the enclave registry (`EnclaveRegistry`), checking enclaves against FOC home's
                definitions and enrolled devices

`Catalogue` builds them from one configuration (FOC home, the proxy client, whether the host-native
build's evidence is accepted), so the dev network, `foc serve` and the tests agree on what a
chaincode is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from foc.admin.definitions import DefinitionStore
from foc.admin.devices import DeviceStore
from foc.chaincode.stub import Chaincode
from foc.errors import UsageError
from foc.registry.ercc import REGISTRY_NAME, EnclaveRegistry
from foc.wrapper.confidential import ConfidentialChaincode, ConfidentialEnclave, EnclaveProxy, ProxyEnclave
from foc.wrapper.config import WrapperConfig
from foc.wrapper.plaintext import FocWrapper, ProxyInvoker

if TYPE_CHECKING:
    from foc.protocol.invocation_pb2 import DeviceKeyResponse

WRAPPER_NAME = "foc"  # FOC's plaintext wrapper chaincode (and its ledger namespace)
KINDS = ("wrapper", "confidential", "ercc")


class DeviceProxy(ProxyInvoker, EnclaveProxy, Protocol):
    """A client of the device's foc-proxy (`foc.proxy.client.ProxyClient`): plaintext invocations,
    the confidential commands and the device's attestation key."""

    def device_key_info(self) -> DeviceKeyResponse:
        """The device attestation key: DER public key, PTA algorithm, kind."""
        ...


@dataclass
class Catalogue:
    """The chaincodes of one peer.

    `proxy` is the device's proxy client (None: no wrapper and no TA-backed enclave) and `config`
    the wrapper configuration it was made from (TA uuid, timeout); `enclave`
    replaces the TA as every confidential chaincode's enclave (tests use a reference enclave).
    `allow_insecure_native` lets the registry accept the host-native build's evidence (NOT a TEE:
    development and tests only).
    """

    home: Path | None = None
    proxy: DeviceProxy | None = None
    config: WrapperConfig | None = None
    enclave: ConfidentialEnclave | None = None
    allow_insecure_native: bool = False
    registry_name: str = REGISTRY_NAME
    definitions: DefinitionStore = field(init=False)
    devices: DeviceStore = field(init=False)

    def __post_init__(self) -> None:
        self.definitions = DefinitionStore(self.home)
        self.devices = DeviceStore(self.home)

    def registry(self) -> EnclaveRegistry:
        """The enclave registry chaincode (`ercc`)."""
        return EnclaveRegistry(
            self.definitions, self.devices, allow_insecure_native=self.allow_insecure_native
        )

    def wrapper(self) -> FocWrapper:
        """FOC's plaintext wrapper over the device's proxy."""
        if self.proxy is None:
            raise UsageError("the plaintext wrapper needs the device's proxy")
        return FocWrapper(self.config, client=self.proxy)

    def confidential(self, chaincode_id: str) -> ConfidentialChaincode:
        """The confidential chaincode `chaincode_id`; its enclave is the TA its definition names
        (`ta_uuid`) behind the proxy, so chaincodes on one device never share a TA."""
        enclave = self.enclave
        if enclave is None:
            if self.proxy is None:
                raise UsageError(
                    f"confidential chaincode {chaincode_id!r} needs an enclave or the device's proxy"
                )
            definition = self.definitions.get(chaincode_id)
            enclave = ProxyEnclave(self.proxy, chaincode_uuid=definition.ta_uuid_bytes)
        return ConfidentialChaincode(
            chaincode_id, enclave, self.definitions, registry_name=self.registry_name
        )

    def chaincode(self, kind: str, name: str = "") -> Chaincode:
        """One chaincode by kind (`foc serve --kind`): wrapper, confidential (named) or ercc."""
        if kind == "ercc":
            return self.registry()
        if kind == "wrapper":
            return self.wrapper()
        if kind == "confidential":
            if not name:
                raise UsageError("a confidential chaincode needs its chaincode id")
            return self.confidential(name)
        raise UsageError(f"unknown chaincode kind {kind!r} (one of {', '.join(KINDS)})")

    def resolve(self, name: str) -> Chaincode | None:
        """The chaincode a dev-ledger peer hosts under `name`, or None: the registry, the wrapper
        (with a proxy), or a confidential chaincode defined in FOC home (with an enclave or a proxy).
        Resolved on demand, so a chaincode defined after the peer started is hosted too."""
        if name == self.registry_name:
            return self.registry()
        if name == WRAPPER_NAME:
            return self.wrapper() if self.proxy is not None else None
        if self.proxy is None and self.enclave is None:
            return None
        try:
            defined = self.definitions.find(name)
        except UsageError:  # not a valid chaincode id at all
            return None
        return self.confidential(name) if defined is not None else None
