"""`Network`: one object for a FOC network, from `foc.connect(...)`.

    import foc

    with foc.connect(ledger="dev.sqlite", target="qemu") as net:
        net.contract("coffee").invoke("add", ["alice", "1"])     # confidential by default

A `Network` owns what every FOC operation needs and nothing else decides again:

* the ledger back end: the embedded dev ledger (``ledger=PATH``; the peer hosts the chaincodes
  of `foc.wrapper.catalogue`) or a Fabric network through a peer's gateway (``gateway=HOST:PORT``,
  ``identity=`` an `Identity` or ``msp_dir=``/``mspid=``; the chaincodes run in `foc serve`);
* FOC home (``home=``, default $FOC_HOME): definitions, enrolled devices, enclave credentials;
* the device: ``target="qemu"`` (the running QEMU instance, booted if needed), ``target="native"``
  (a host-native proxy started and stopped with the network: NOT a TEE) or ``proxy=HOST:PORT``.
  Only the dev ledger's peer and the enclave administration talk to the device; a Fabric client
  needs no proxy (the peer's `foc serve` does).

It hands out contracts (`contract(name)`: a `ConfidentialContract` verifying every response;
``plaintext=True`` for the chaincode as the ledger sees it) and administers confidential mode:
`enroll_device`, `define_chaincode`, `create_enclave`, `register_enclave`, `list_enclaves`, and
`set_up_enclave` for all four in order.

Several organisations, one peer and one device each (``organisations=[Organisation("Org1",
target="qemu", instance="a"), Organisation("Org2", proxy="127.0.0.1:7001")]``): on the dev ledger
every organisation gets its own peer (one `DevPeer` over the shared ledger, hosting the chaincodes
with its own device as the enclave); on Fabric (``gateway=``) each organisation's peer runs its own
`foc serve` and the client reaches it through the gateway (``target_organizations``). A contract
then collects endorsements from the organisations' enclaves as the chaincode's endorsement policy
requires. Administration takes ``organisation=`` to pick the device; `join_enclave` gives an
enclave on another device the chaincode's keys by attested key transfer between the two TAs,
`revoke_enclave` stops an enclave's endorsements, and `set_up_enclaves` does it all for every
organisation.

Lifecycle: `connect(...)` -> any number of calls -> `close()` (closes the ledger, the gateway and
proxy channels it opened, and stops a proxy it started). Use it as a context manager.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, cast

from foc.admin.credentials import CredentialStore
from foc.admin.definitions import ChaincodeDefinition, DefinedDevice, DefinitionStore, define_chaincode
from foc.admin.devices import DeviceStore, EnrolledDevice
from foc.admin.home import foc_home
from foc.client.confidential import ConfidentialContract
from foc.client.contract import Contract, WrapperContract
from foc.confidential.formats import Credentials, EnclaveConfig, KeyExport, KeyImport
from foc.confidential.measurement import NATIVE_INSECURE_MEASUREMENT
from foc.confidential.suite import enclave_id
from foc.errors import ConfigError, EndorsementFailure, UsageError, VerificationError
from foc.registry.ercc import REGISTRY_NAME, RegisteredEnclave
from foc.wrapper.catalogue import WRAPPER_NAME, Catalogue, DeviceProxy
from foc.wrapper.confidential import ConfidentialEnclave, ProxyEnclave
from foc.wrapper.config import WrapperConfig

if TYPE_CHECKING:
    from foc.client.gateway import GatewayClient
    from foc.client.identity import Identity
    from foc.deploy.runtime import RunningTarget, TargetRuntime
    from foc.ledger.ledger import DevLedger
    from foc.ledger.peer import DevPeer

DEFAULT_CHANNEL = "dev"
#: The device key kind of the host-native build (foc.tee.device_key.KIND_NATIVE_INSECURE).
NATIVE_INSECURE_KIND = "native-insecure"


@dataclass(frozen=True)
class EnclaveInfo:
    """An enclave the TA created (public values only)."""

    enclave_id: str
    chaincode_id: str
    endpoint: str
    evidence_kind: str
    measurement: str  # hex, from the evidence
    credentials: bytes
    credentials_path: Path


@dataclass(frozen=True)
class Registration:
    """An enclave registered with `ercc`: its id and the registering transaction."""

    enclave_id: str
    tx_id: str | None
    block: int | None


@dataclass(frozen=True)
class EnclaveSetup:
    """What `set_up_enclave` did: the enrolled device, the definition and the registered enclave."""

    device: EnrolledDevice
    definition: ChaincodeDefinition
    enclave: EnclaveInfo


@dataclass(frozen=True)
class Organisation:
    """One organisation of a FOC network: one peer and one device.

    `name` is its MSP id, the principal of endorsement policies. Its device is a `target` (a
    `foc.deploy.runtime` name, with `instance`) or a `proxy` (HOST:PORT or a proxy client, which
    stays the caller's); on a Fabric network neither is needed by a client (the organisation's
    peer runs `foc serve` in front of its device). `device_name` is the name its device key is
    enrolled under in FOC home (default: the organisation's name in lower case).
    """

    name: str
    target: str | None = None
    instance: str | None = None
    proxy: str | DeviceProxy | None = None
    device_name: str | None = None

    @property
    def device(self) -> str:
        return self.device_name or self.name.lower()


@dataclass
class _Member:
    """An organisation as the network holds it: its device's proxy and where it came from."""

    organisation: Organisation
    proxy: DeviceProxy | None
    proxy_address: str | None
    device_kind: str | None
    runtime: TargetRuntime | None
    catalogue: Catalogue


class _Backend(Protocol):
    @property
    def channel(self) -> str: ...

    def contract(self, name: str, organisation: str = "") -> Contract: ...

    def close(self) -> None: ...


class _DevBackend:
    """The embedded dev ledger and one peer per organisation hosting its catalogue's chaincodes
    (one peer, organisation "", without organisations).

    The SQLite file is opened on first use, so administration that only touches FOC home
    (enroll, define, create) never creates a ledger.
    """

    def __init__(
        self, path: Path, channel: str | None, catalogues: dict[str, Catalogue], creator: bytes = b""
    ) -> None:
        self.path = path
        self._channel = channel
        self._catalogues = catalogues
        self._creator = creator  # the msp.SerializedIdentity every contract's transactions carry
        self._ledger: DevLedger | None = None
        self._peers: dict[str, DevPeer] = {}

    def _open(self, organisation: str = "") -> DevPeer:
        if self._ledger is None:
            from foc.ledger.ledger import DevLedger
            from foc.ledger.peer import DevPeer

            self._ledger = DevLedger(self.path, channel=self._channel)
            self._peers = {
                org: DevPeer(self._ledger, resolve=c.resolve) for org, c in self._catalogues.items()
            }
        return self._peers[organisation or next(iter(self._peers))]

    @property
    def ledger(self) -> DevLedger:
        return self._open().ledger

    @property
    def channel(self) -> str:
        return self.ledger.channel

    def contract(self, name: str, organisation: str = "") -> Contract:
        from foc.client.devledger import DevLedgerContract

        return DevLedgerContract(self._open(organisation), name, creator=self._creator)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()


class _FabricBackend:
    """A Fabric channel through one peer's gateway (which reaches the other organisations' peers)."""

    def __init__(self, client: GatewayClient, channel: str) -> None:
        self.client = client
        self.channel = channel

    def contract(self, name: str, organisation: str = "") -> Contract:
        from foc.client.gateway import GatewayContract

        return GatewayContract(
            self.client, self.channel, name, organizations=(organisation,) if organisation else ()
        )

    def close(self) -> None:
        self.client.close()


class Network:
    """A FOC network: ledger back end, FOC home, the device's proxy, the hosted chaincodes.

    Build it with `foc.connect(...)`; see the module docstring.
    """

    def __init__(
        self,
        *,
        backend: _Backend,
        home: Path,
        members: list[_Member],
        allow_insecure_native: bool,
        on_close: list[Callable[[], None]],
    ) -> None:
        self.home = home
        self.definitions = DefinitionStore(home)
        self.devices = DeviceStore(home)
        self.credentials = CredentialStore(home)
        self.allow_insecure_native = allow_insecure_native
        self._members = {m.organisation.name: m for m in members}
        self._backend = backend
        self._on_close = on_close
        first = members[0]
        #: the (first organisation's) device: its proxy client, address and the peer's catalogue
        self.proxy = first.proxy
        self.proxy_address = first.proxy_address
        self.catalogue = first.catalogue

    @property
    def organisations(self) -> list[str]:
        """The organisations' names, in the order given to `connect` ([] without organisations)."""
        return [name for name in self._members if name]

    def _member(self, organisation: str | None) -> _Member:
        if organisation is None:
            return next(iter(self._members.values()))
        try:
            return self._members[organisation]
        except KeyError:
            raise UsageError(
                f"organisation {organisation!r} is not part of this network",
                hint=f"its organisations: {', '.join(self.organisations) or '(none)'}",
            ) from None

    # -- what the network is -----------------------------------------------------------------------
    @property
    def channel(self) -> str:
        """The channel (the dev ledger's, or the Fabric channel given to `connect`)."""
        return self._backend.channel

    @property
    def ledger(self) -> DevLedger:
        """The dev ledger (UsageError on a Fabric network)."""
        if not isinstance(self._backend, _DevBackend):
            raise UsageError("this network is a Fabric network: it has no dev ledger")
        return self._backend.ledger

    @property
    def on_fabric(self) -> bool:
        """True when the back end is a Fabric network."""
        return isinstance(self._backend, _FabricBackend)

    def contract(self, name: str, *, plaintext: bool = False, organisation: str | None = None) -> Contract:
        """The chaincode `name`: confidential (verified, decrypted) unless `plaintext`.

        ``plaintext=True`` gives the chaincode as the ledger sees it (FOC's plaintext wrapper is
        ``foc``, the registry ``ercc``), at the peer of `organisation` (default: the first one),
        e.g. to run a confidential chaincode's ``__invoke`` on that organisation's enclave. A
        confidential contract raises ConfigError on first use if the chaincode has no definition in
        FOC home or no registered enclave. UsageError for an organisation not in this network.
        """
        if organisation is not None:
            self._member(organisation)  # UsageError when unknown
            if not plaintext:
                raise UsageError("organisation= picks a peer for plaintext=True contracts only")
            return self._backend.contract(name, organisation)
        raw = self._backend.contract(name)
        if name == WRAPPER_NAME:
            return WrapperContract(raw)  # its requests are checked against the TA's limits first
        if plaintext or name == REGISTRY_NAME:
            return raw
        endorsers = {org: self._backend.contract(name, org) for org in self.organisations}
        return ConfidentialContract(
            raw,
            chaincode_id=name,
            channel=self._channel_of(name),
            registry=self._backend.contract(REGISTRY_NAME),
            definitions=self.definitions,
            devices=self.devices,
            allow_insecure_native=self.allow_insecure_native,
            endorsers=endorsers or None,
        )

    def _channel_of(self, chaincode_id: str) -> str:
        return self.channel

    # -- the devices ---------------------------------------------------------------------------------
    def _device(self, organisation: str | None = None) -> DeviceProxy:
        member = self._member(organisation)
        if member.proxy is None:
            whose = f" of organisation {member.organisation.name!r}" if member.organisation.name else ""
            raise UsageError(
                f"this operation needs the device's foc-proxy{whose}",
                hint="connect with target='qemu' (or 'native') or proxy='HOST:PORT'",
            )
        return member.proxy

    def device_kind(self, organisation: str | None = None) -> str:
        """The device key's kind: ``optee-pta`` (a real OP-TEE device) or ``native-insecure``."""
        member = self._member(organisation)
        if member.device_kind is None:
            member.device_kind = str(self._device(organisation).device_key_info().kind)
        return member.device_kind

    @property
    def insecure_native(self) -> bool:
        """True when the (first) device is the host-native build (NOT a TEE)."""
        return self.device_kind() == NATIVE_INSECURE_KIND

    def device_key_der(self, organisation: str | None = None) -> bytes:
        """The device's attestation public key (DER SubjectPublicKeyInfo), read through its proxy."""
        return bytes(self._device(organisation).device_key_info().public_key_der)

    # -- administration ------------------------------------------------------------------------------
    def enroll_device(
        self, name: str, *, key: bytes | None = None, replace: bool = False, organisation: str | None = None
    ) -> EnrolledDevice:
        """Pin a device's attestation public key (PEM/DER `key`, or read from the proxy of the
        `organisation`'s device, default the first).

        Trust on first use: OP-TEE's attestation key has no vendor certificate. Raises UsageError
        for a name that is enrolled with another key (unless `replace`) or a key enrolled twice.
        """
        if key is None:
            from foc.tee.device_key import DeviceKey

            info = self._device(organisation).device_key_info()
            self._member(organisation).device_kind = str(info.kind)
            key = DeviceKey(info.public_key_der, info.tee_algorithm, info.kind).pem()
        return self.devices.enroll(name, key, replace=replace)

    def define_chaincode(
        self,
        chaincode_id: str,
        *,
        version: str | None = None,
        ta: Path | None = None,
        channel: str | None = None,
        devices: dict[str, str] | None = None,
        endorsement_policy: str = "",
        ta_uuid: str | None = None,
    ) -> ChaincodeDefinition:
        """Define (or upgrade) a confidential chaincode; its version is the expected TA measurement.

        The measurement is `version` (64 hex characters), computed offline from the signed `ta`
        file, or, with neither, the one the device's target expects for TA `ta_uuid` (the `.ta` of
        the image it booted; the native-insecure-v1 value for the host-native build). The
        definition names its TA: `ta_uuid`, else the uuid the `ta` file declares, else FOC's coffee
        TA; a `ta` file that declares another uuid than `ta_uuid` is refused. `devices` maps
        enrolled device names to their organisations: the devices that may host its enclaves and
        receive its keys; `endorsement_policy` (Fabric syntax, e.g. "OutOf(2, 'Org1', 'Org2',
        'Org3')") says whose enclaves must agree. ConfigError for a device that is not enrolled.
        """
        if ta is not None:
            from foc.confidential.measurement import ta_uuid as declared_uuid

            if not Path(ta).is_file():
                raise UsageError(f"TA file {ta} does not exist")
            declared = str(declared_uuid(Path(ta)))
            if ta_uuid is not None and str(ta_uuid).lower() != declared:
                raise UsageError(f"TA file {ta} is TA {declared}, not {ta_uuid}")
            ta_uuid = declared
        if version is None:
            if ta is not None:
                from foc.confidential.measurement import ta_measurement

                version = ta_measurement(Path(ta)).hex()
            elif self.insecure_native:
                version = NATIVE_INSECURE_MEASUREMENT.hex()
            elif (runtime := self._member(None).runtime) is not None and (
                expected := runtime.expected_measurement(*([ta_uuid] if ta_uuid else []))
            ) is not None:
                version = expected.hex()
            else:
                raise UsageError(
                    f"chaincode {chaincode_id!r} needs its expected TA measurement",
                    hint="pass ta=PATH.ta (measured offline) or version=HEX",
                )
        defined = tuple(
            DefinedDevice(self.devices.get(n).fingerprint, org) for n, org in (devices or {}).items()
        )
        return define_chaincode(
            chaincode_id,
            version,
            channel or self.channel,
            home=self.home,
            devices=defined,
            endorsement_policy=endorsement_policy,
            ta_uuid=ta_uuid,
        )

    def _enclave_config(
        self, chaincode_id: str, endpoint: str | None, organisation: str | None, *, force: bool, rekey: bool
    ) -> EnclaveConfig:
        definition = self.definitions.get(chaincode_id)
        endpoint = endpoint or self._member(organisation).proxy_address
        if not endpoint:
            raise UsageError("an enclave needs its host endpoint (HOST:PORT)")
        return EnclaveConfig(
            definition.chaincode_id,
            definition.version,
            definition.channel_id,
            endpoint,
            force,
            definition.key_policy(),
            rekey,
        )

    def _enclave_info(self, chaincode_id: str, raw: bytes) -> EnclaveInfo:
        eid, path = self.credentials.save(chaincode_id, raw)
        credentials = Credentials.decode(raw)
        evidence = credentials.evidence
        endpoint = credentials.attested_data.host_endpoint
        return EnclaveInfo(eid, chaincode_id, endpoint, evidence.kind, evidence.measurement.hex(), raw, path)

    def _ta_enclave(self, chaincode_id: str, organisation: str | None) -> ProxyEnclave:
        """The enclave commands of `chaincode_id`'s TA (its definition's uuid) on `organisation`'s device."""
        uuid_bytes = self.definitions.get(chaincode_id).ta_uuid_bytes
        return ProxyEnclave(self._device(organisation), chaincode_uuid=uuid_bytes)

    def create_enclave(
        self,
        chaincode_id: str,
        *,
        endpoint: str | None = None,
        force: bool = False,
        rekey: bool = False,
        organisation: str | None = None,
    ) -> EnclaveInfo:
        """Have the TA create (and attest) the enclave of `chaincode_id`; its credentials are stored.

        `endpoint` is the enclave's host endpoint (default: the proxy's address); `force` replaces
        an existing enclave (a new enclave key, the same chaincode keys); `rekey` also creates new
        chaincode keys (the state written under the old ones is then lost to this device). New
        chaincode keys are bound to the definition's devices (its key policy). Raises
        ChaincodeError EXISTS without `force`, BAD_REQUEST when the TA's keys are bound to other
        devices than the definition's.
        """
        config = self._enclave_config(chaincode_id, endpoint, organisation, force=force, rekey=rekey)
        raw = self._ta_enclave(chaincode_id, organisation).create(config)
        return self._enclave_info(chaincode_id, raw)

    def join_enclave(
        self,
        chaincode_id: str,
        *,
        organisation: str,
        source: str | None = None,
        endpoint: str | None = None,
        rekey: bool = False,
    ) -> EnclaveInfo:
        """Give the `organisation`'s device an enclave of `chaincode_id` with the chaincode's keys,
        by attested key transfer from the enclave of `source` (default: the first organisation).

        The joining TA attests a fresh transfer key (ENCLAVE_JOIN); the source TA checks that
        evidence (its device in the chaincode's key policy, the same TA measurement, the same
        definition and policy) and seals the keys to it (KEY_EXPORT); the joining TA checks the
        source's evidence the same way and opens them (KEY_IMPORT). This side only relays the
        messages and the two device public keys; each step goes to the chaincode's TA (its
        definition's uuid) on the device. `rekey` lets the joining TA replace chaincode keys it
        already holds. Returns the new enclave (credentials stored, not yet registered). Raises
        ChaincodeError UNTRUSTED when either TA refuses the other's evidence.
        """
        joining = self._ta_enclave(chaincode_id, organisation)
        holder = self._ta_enclave(chaincode_id, source)
        config = self._enclave_config(chaincode_id, endpoint, organisation, force=False, rekey=rekey)
        request = joining.join(config)
        package = holder.export_keys(KeyExport(request, self.device_key_der(organisation)).encode())
        raw = joining.import_keys(KeyImport(package, self.device_key_der(source)).encode())
        return self._enclave_info(chaincode_id, raw)

    def register_enclave(
        self, chaincode_id: str, *, enclave: str | None = None, credentials: bytes | None = None
    ) -> Registration:
        """Register an enclave with the `ercc` registry (which verifies its evidence).

        `credentials` are the raw bytes; else those of `enclave` (an id) or of the enclave created
        last, from FOC home. Raises VerificationError with the registry's reason on refusal.
        """
        raw = credentials if credentials is not None else self.credentials.load(chaincode_id, enclave)
        eid = enclave_id(Credentials.decode(raw).attested_data.enclave_pub)
        registry = self._backend.contract(REGISTRY_NAME)
        try:
            registry.invoke("registerEnclave", [base64.b64encode(raw)])
        except EndorsementFailure as exc:
            raise VerificationError(f"the registry refused enclave {eid}: {exc.chaincode_message}") from None
        return Registration(eid, getattr(registry, "last_tx_id", None), getattr(registry, "last_block", None))

    def list_enclaves(self, chaincode_id: str) -> list[Credentials]:
        """The credentials of every live (not revoked) enclave registered for `chaincode_id`."""
        try:
            payload = self._backend.contract(REGISTRY_NAME).query(
                "queryListEnclaveCredentials", [chaincode_id]
            )
        except EndorsementFailure as exc:
            raise VerificationError(f"the registry refused the query: {exc.chaincode_message}") from None
        return [Credentials.decode(base64.b64decode(entry)) for entry in json.loads(payload or b"[]")]

    def enclaves(self, chaincode_id: str) -> list[RegisteredEnclave]:
        """Every enclave registered for `chaincode_id`, revoked ones included, with its device and
        organisation."""
        try:
            payload = self._backend.contract(REGISTRY_NAME).query("queryListEnclaves", [chaincode_id])
        except EndorsementFailure as exc:
            raise VerificationError(f"the registry refused the query: {exc.chaincode_message}") from None
        return [RegisteredEnclave.from_json(entry) for entry in json.loads(payload or b"[]")]

    def revoke_enclave(self, chaincode_id: str, enclave: str) -> Registration:
        """Revoke a registered enclave: validators and clients refuse its signatures from the
        revoking transaction on (it keeps the keys it holds: see docs/confidential.md)."""
        registry = self._backend.contract(REGISTRY_NAME)
        try:
            registry.invoke("revokeEnclave", [chaincode_id, enclave])
        except EndorsementFailure as exc:
            raise VerificationError(
                f"the registry refused to revoke enclave {enclave}: {exc.chaincode_message}"
            ) from None
        return Registration(
            enclave, getattr(registry, "last_tx_id", None), getattr(registry, "last_block", None)
        )

    def set_up_enclave(
        self,
        chaincode_id: str,
        *,
        device_name: str,
        measurement: bytes | None = None,
        ta: Path | None = None,
        endpoint: str | None = None,
        progress: Callable[[str], None] | None = None,
        ta_uuid: str | None = None,
    ) -> EnclaveSetup:
        """Enroll the device, define the chaincode (in TA `ta_uuid`, default: the `ta` file's, else
        FOC's coffee TA), create its enclave (force) and register it."""
        say = progress or (lambda line: None)
        device = self.enroll_device(device_name, replace=True)
        say(
            f"device key of {device_name} enrolled (RSA-{device.public_key.key_size}, "
            f"SHA-256 fingerprint {device.fingerprint[:16]}...)"
        )
        definition = self.define_chaincode(
            chaincode_id,
            version=measurement.hex() if measurement is not None else None,
            ta=ta,
            ta_uuid=ta_uuid,
        )
        say(
            f"chaincode {chaincode_id} defined on channel {definition.channel_id}: version = expected TA "
            f"measurement {definition.version[:16]}..."
        )
        started = time.monotonic()
        info = self.create_enclave(chaincode_id, endpoint=endpoint, force=True)
        say(
            f"enclave {info.enclave_id[:16]}... created in the TA ({info.evidence_kind} evidence, "
            f"{(time.monotonic() - started) * 1000:.0f} ms)"
        )
        self.register_enclave(chaincode_id, credentials=info.credentials)
        say(
            f"enclave registered with {REGISTRY_NAME}: evidence verified under the enrolled device key, "
            "measurement = definition version"
        )
        return EnclaveSetup(device, definition, info)

    def set_up_enclaves(
        self,
        chaincode_id: str,
        *,
        endorsement_policy: str = "",
        measurement: bytes | None = None,
        ta: Path | None = None,
        rekey: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> list[EnclaveSetup]:
        """Every organisation's enclave of `chaincode_id`: enroll each device, define the chaincode
        with all of them and `endorsement_policy`, create the keys on the first organisation's
        device, join every other device by attested key transfer, register every enclave.

        `rekey` has the first TA create new chaincode keys even if it holds some (needed when its
        keys are bound to another set of devices). Returns one `EnclaveSetup` per organisation.
        """
        say = progress or (lambda line: None)
        orgs = self.organisations
        if not orgs:
            raise UsageError("set_up_enclaves needs a network of organisations (connect(organisations=...))")
        devices = {}
        for org in orgs:
            name = self._member(org).organisation.device
            devices[org] = self.enroll_device(name, replace=True, organisation=org)
            say(f"{org}: device key of {name} enrolled (fingerprint {devices[org].fingerprint[:16]}...)")
        definition = self.define_chaincode(
            chaincode_id,
            version=measurement.hex() if measurement is not None else None,
            ta=ta,
            devices={d.name: org for org, d in devices.items()},
            endorsement_policy=endorsement_policy,
        )
        say(
            f"chaincode {chaincode_id} defined: {len(orgs)} devices, "
            f"endorsement policy {endorsement_policy or '(any one enclave)'}"
        )
        setups = []
        for org in orgs:
            started = time.monotonic()
            if org == orgs[0]:
                info = self.create_enclave(chaincode_id, force=True, rekey=rekey, organisation=org)
                how = "created the chaincode keys"
            else:
                info = self.join_enclave(chaincode_id, organisation=org, source=orgs[0], rekey=True)
                how = f"joined: keys from {orgs[0]}'s enclave by attested transfer"
            self.register_enclave(chaincode_id, credentials=info.credentials)
            say(
                f"{org}: enclave {info.enclave_id[:16]}... {how}, registered "
                f"({time.monotonic() - started:.1f} s)"
            )
            setups.append(EnclaveSetup(devices[org], definition, info))
        return setups

    # -- lifecycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the back end and release what `connect` opened or started. Idempotent."""
        self._backend.close()
        while self._on_close:
            self._on_close.pop()()

    def __enter__(self) -> Network:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def default_ledger_path() -> Path:
    """$FOC_LEDGER, else <cache>/ledger/dev.sqlite."""
    from foc.deploy.paths import cache_root

    env = os.environ.get("FOC_LEDGER")
    return Path(env).expanduser() if env else cache_root() / "ledger" / "dev.sqlite"


def _start_target(
    target: str, instance: str, build: bool, on_close: list[Callable[[], None]]
) -> tuple[TargetRuntime, RunningTarget]:
    """The running `target` (its runtime brings it up if needed; a native proxy started here is
    stopped on close)."""
    from foc.deploy.runtime import get_runtime

    runtime = get_runtime(target, instance)
    if target == "native" and runtime.running() is None:
        on_close.append(lambda: None if runtime.down() else None)
    return runtime, runtime.ensure_up(build=build)


def _open_member(
    org: Organisation,
    *,
    build: bool,
    home: Path,
    wrapper_config: WrapperConfig | None,
    enclave: ConfidentialEnclave | None,
    allow_insecure_native: bool,
    on_close: list[Callable[[], None]],
) -> _Member:
    """Reach one organisation's device (target brought up, or proxy dialled) and build its catalogue."""
    address: str | None = None
    device: DeviceProxy | None = None
    runtime: TargetRuntime | None = None
    tls: dict[str, object] = {}
    if org.target is not None:
        runtime, running = _start_target(
            org.target, org.instance or os.environ.get("FOC_INSTANCE") or "default", build, on_close
        )
        address = running.proxy_address
        tls = running.proxy_tls()
    elif isinstance(org.proxy, str):
        address = org.proxy
    elif org.proxy is not None:
        device = org.proxy
        address = getattr(org.proxy, "address", None)
    if device is None and address is not None:
        from foc.wrapper.config import load_config
        from foc.wrapper.plaintext import default_client_factory

        wrapper_config = load_config(proxy_address=address, **tls)  # type: ignore[arg-type]
        client = default_client_factory(wrapper_config)
        on_close.append(getattr(client, "close", lambda: None))
        device = cast("DeviceProxy", client)
    catalogue = Catalogue(
        home,
        proxy=device,
        config=wrapper_config,
        enclave=enclave,
        allow_insecure_native=allow_insecure_native,
    )
    kind = NATIVE_INSECURE_KIND if org.target == "native" else None
    return _Member(org, device, address, kind, runtime, catalogue)


def connect(
    *,
    ledger: str | Path | None = None,
    gateway: str | None = None,
    identity: Identity | None = None,
    msp_dir: str | Path | None = None,
    mspid: str | None = None,
    tls_root_cert: str | Path | bytes | None = None,
    server_name: str | None = None,
    channel: str | None = None,
    target: str | None = None,
    instance: str | None = None,
    build: bool = True,
    proxy: str | DeviceProxy | None = None,
    wrapper_config: WrapperConfig | None = None,
    home: str | Path | None = None,
    allow_insecure_native: bool = False,
    enclave: ConfidentialEnclave | None = None,
    organisations: Sequence[Organisation | str] | None = None,
) -> Network:
    """Open a FOC network; see the module docstring.

    Back end: ``gateway=HOST:PORT`` (with ``identity`` or ``msp_dir``/``mspid``, ``channel``,
    optionally ``tls_root_cert``/``server_name``) for Fabric, else the dev ledger at ``ledger``
    (default $FOC_LEDGER or ~/.cache/foc/ledger/dev.sqlite) on ``channel`` (default: the ledger's,
    ``dev`` for a new one); there ``identity``, if given, is the creator of every transaction (the
    dev ledger checks no signature: chaincodes see it with foc_get_creator).
    Device: ``target`` (a `foc.deploy.runtime` name: "qemu", "rpi3" or
    "native", and its ``instance``, default $FOC_INSTANCE or "default"; brought up if needed, built
    if ``build``; "native" is a host-native proxy, NOT a TEE; a TLS proxy's pinned certificate comes
    from the target) or ``proxy`` (HOST:PORT or a
    proxy client object, which stays the caller's; ``wrapper_config`` is then the configuration it
    was made from: TA uuid, timeout). An address is reached with the wrapper configuration
    (`foc.wrapper.config.load_config`: TLS from $FOC_PROXY_TLS_CA, ...). ``enclave`` replaces the TA
    as the enclave of every confidential chaincode on the dev ledger (tests).

    Several organisations: ``organisations`` lists each with its device (`Organisation`; a plain
    name on a Fabric network, whose peers hold the devices) instead of ``target``/``proxy``. On the
    dev ledger each gets its own peer; the first one's peer hosts the registry and commits.

    Raises ConfigError / UsageError naming what is missing, ProxyUnavailable / TargetError when a
    device is unreachable.
    """
    if target is not None and proxy is not None:
        raise UsageError("pass target= or proxy=, not both")
    orgs = [o if isinstance(o, Organisation) else Organisation(o) for o in organisations or ()]
    if orgs and (target is not None or proxy is not None):
        raise UsageError("with organisations=, give each organisation its device (not target= or proxy=)")
    names = [o.name for o in orgs]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise UsageError("organisation names must be distinct and non-empty")
    home_path = Path(home).expanduser() if home is not None else foc_home()
    on_close: list[Callable[[], None]] = []
    try:
        members = [
            _open_member(
                org,
                build=build,
                home=home_path,
                wrapper_config=wrapper_config,
                enclave=enclave,
                allow_insecure_native=allow_insecure_native,
                on_close=on_close,
            )
            for org in orgs or [Organisation("", target=target, instance=instance, proxy=proxy)]
        ]
        backend: _Backend
        if gateway is not None:
            backend = _FabricBackend(
                _gateway_client(gateway, identity, msp_dir, mspid, tls_root_cert, server_name),
                _fabric_channel(channel),
            )
        else:
            backend = _DevBackend(
                Path(ledger) if ledger is not None else default_ledger_path(),
                channel,
                {m.organisation.name: m.catalogue for m in members},
                identity.serialized() if identity is not None else b"",
            )
        return Network(
            backend=backend,
            home=home_path,
            members=members,
            allow_insecure_native=allow_insecure_native,
            on_close=on_close,
        )
    except BaseException:
        while on_close:
            on_close.pop()()
        raise


def _gateway_client(
    gateway: str,
    identity: Identity | None,
    msp_dir: str | Path | None,
    mspid: str | None,
    tls_root_cert: str | Path | bytes | None,
    server_name: str | None,
) -> GatewayClient:
    from foc.client.gateway import GatewayClient
    from foc.client.identity import Identity

    if identity is None:
        missing = [flag for flag, value in (("--msp-dir", msp_dir), ("--mspid", mspid)) if not value]
        if missing:
            raise ConfigError(
                f"--gateway needs {', '.join(missing)}",
                hint="the client's MSP identity: --msp-dir DIR --mspid ID "
                "(or $FOC_FABRIC_MSP_DIR, $FOC_FABRIC_MSPID)",
            )
        identity = Identity.from_msp_dir(str(msp_dir), str(mspid))
    return GatewayClient(
        gateway, identity, tls_root_cert=tls_root_cert or None, server_name=server_name or None
    )


def _fabric_channel(channel: str | None) -> str:
    if not channel:
        raise ConfigError("--gateway needs --channel CH (or $FOC_FABRIC_CHANNEL)")
    return channel
