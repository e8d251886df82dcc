"""The enclave registry chaincode (FPC's ERCC) on the `ChaincodeStub` interface.

Functions (the first letter may be upper case, as with FPC's contractapi):

  registerEnclave(credentials_b64)            -> "OK"
  revokeEnclave(chaincode_id, enclave_id)     -> "OK"
  queryChaincodeEncryptionKey(chaincode_id)   -> base64 of the chaincode public key point
  queryListEnclaveCredentials(chaincode_id)   -> JSON array of base64 credentials (not revoked)
  queryEnclaveCredentials(chaincode_id, enclave_id) -> base64 credentials
  queryEnclave(chaincode_id, enclave_id)      -> JSON record (below)
  queryListEnclaves(chaincode_id)             -> JSON array of records, revoked ones included

`registerEnclave` verifies the credentials against the chaincode definition (id, version = the
expected TA measurement, channel = the transaction's channel, key policy = the definition's
devices) and the enrolled device keys, then stores them. A chaincode may have several enclaves on
several devices and organisations (each device named by the definition, when it names any), each
with its own signing key, all sharing one chaincode key: at most one live enclave per device and
one per host endpoint; registering the same enclave twice is refused. `revokeEnclave` marks an
enclave revoked: verifiers refuse its signatures from then on (its device may register a new one).

Ledger keys in the registry's namespace:
  credentials/<chaincode_id>/<enclave_id>  -> credentials (binary)
  enclave/<chaincode_id>/<enclave_id>      -> record: JSON {"enclave_id", "device" (fingerprint),
                                              "organisation", "revoked_by" (tx id, "" if live)}
  device/<chaincode_id>/<device fingerprint> -> enclave_id
  endpoint/<chaincode_id>/<host endpoint>  -> enclave_id

The definitions and enrolled devices come from `$FOC_HOME` (on Fabric they would be `_lifecycle`
and an admin-managed list on the channel).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from foc.admin.definitions import DefinitionStore
from foc.admin.devices import DeviceStore
from foc.chaincode.stub import ChaincodeStub, Response
from foc.confidential.formats import Credentials
from foc.confidential.suite import suite_for_chaincode_key
from foc.errors import ConfidentialityError, FocError, UsageError, VerificationError
from foc.registry.attestation import VerifiedEnclave, verify_credentials

log = logging.getLogger(__name__)

REGISTRY_NAME = "ercc"
NOT_FOUND = 404


def _credentials_prefix(chaincode_id: str) -> str:
    return f"credentials/{chaincode_id}/"


def _record_key(chaincode_id: str, enclave_id: str) -> str:
    return f"enclave/{chaincode_id}/{enclave_id}"


@dataclass(frozen=True)
class RegisteredEnclave:
    """An enclave as the registry knows it: credentials, device, organisation, revocation."""

    enclave_id: str
    credentials: Credentials
    device: str = ""  # fingerprint of the device key its evidence verified under
    organisation: str = ""  # the definition's organisation of that device ("" if it names none)
    revoked_by: str = ""  # the revoking transaction's id, "" while the enclave is live

    @property
    def revoked(self) -> bool:
        return bool(self.revoked_by)

    def to_json(self) -> dict[str, object]:
        return {
            "enclave_id": self.enclave_id,
            "credentials": base64.b64encode(self.credentials.encode()).decode(),
            "device": self.device,
            "organisation": self.organisation,
            "revoked_by": self.revoked_by,
        }

    @classmethod
    def from_json(cls, raw: object) -> RegisteredEnclave:
        """Parse a queryEnclave answer: a JSON object of exactly the five `RECORD_FIELDS`, each a
        string, the credentials strict base64 of well-formed credentials. ConfidentialityError
        when malformed (a missing `revoked_by` is not read as "live")."""
        if not isinstance(raw, dict) or sorted(raw) != sorted(RECORD_FIELDS):
            raise ConfidentialityError(
                f"the registry's enclave record is not a JSON object of the fields {', '.join(RECORD_FIELDS)}"
            )
        if not all(isinstance(raw[name], str) for name in RECORD_FIELDS):
            raise ConfidentialityError("the registry's enclave record has a field that is not a string")
        creds = Credentials.decode(_b64(raw["credentials"].encode(), "credentials"))
        return cls(raw["enclave_id"], creds, raw["device"], raw["organisation"], raw["revoked_by"])


#: The fields of an enclave record (`RegisteredEnclave.to_json`, the queryEnclave answer).
RECORD_FIELDS = ("enclave_id", "credentials", "device", "organisation", "revoked_by")


def _prefix_end(prefix: str) -> str:
    # Every key starting with `prefix` sorts before prefix[:-1] + chr(ord(prefix[-1]) + 1).
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class EnclaveRegistry:
    """The registry chaincode. `definitions` and `devices` are the pinned configuration."""

    def __init__(
        self, definitions: DefinitionStore, devices: DeviceStore, *, allow_insecure_native: bool = False
    ) -> None:
        self._definitions = definitions
        self._devices = devices
        self._allow_insecure_native = allow_insecure_native  # tests with the host-native build only

    def init(self, stub: ChaincodeStub) -> Response:
        """Nothing to initialise."""
        return Response.success()

    def invoke(self, stub: ChaincodeStub) -> Response:
        """Dispatch one registry call; every refusal is a status >= 400 with its reason."""
        args = stub.get_args()
        if not args:
            return Response.error("the registry needs a function name")
        try:
            function = args[0].decode("utf-8")
            params = [a.decode("utf-8") for a in args[1:]]
        except UnicodeDecodeError:
            return Response.error("registry arguments must be UTF-8 text (credentials in base64)")
        name = function[:1].lower() + function[1:]
        handlers: dict[str, tuple[int, Callable[..., bytes]]] = {
            "registerEnclave": (1, lambda c: self._register_text(stub, c)),
            "revokeEnclave": (2, lambda cc, eid: self._revoke(stub, cc, eid)),
            "queryChaincodeEncryptionKey": (1, lambda cc: self._query_key(stub, cc)),
            "queryListEnclaveCredentials": (1, lambda cc: self._query_list(stub, cc)),
            "queryEnclaveCredentials": (2, lambda cc, eid: self._query_one(stub, cc, eid)),
            "queryEnclave": (2, lambda cc, eid: json.dumps(self.enclave(stub, cc, eid).to_json()).encode()),
            "queryListEnclaves": (1, lambda cc: self._query_records(stub, cc)),
        }
        if name not in handlers:
            return Response.error(f"unknown registry function {function!r}")
        nparams, handler = handlers[name]
        if len(params) != nparams:
            return Response.error(f"{name} takes {nparams} argument(s), got {len(params)}")
        try:
            return Response.success(handler(*params))
        except LookupError as exc:
            return Response.error(str(exc.args[0]), NOT_FOUND)
        except FocError as exc:
            log.info("registry %s refused: %s", name, exc)
            return Response.error(str(exc))

    # -- registration ---------------------------------------------------------------------

    def _register_text(self, stub: ChaincodeStub, credentials_b64: str) -> bytes:
        try:
            raw = base64.b64decode(credentials_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UsageError("registerEnclave takes the credentials in base64") from exc
        verified = self.register(stub, Credentials.decode(raw))
        log.info(
            "registered enclave %s for chaincode %s", verified.enclave_id, verified.attested.chaincode_id
        )
        return b"OK"

    def register(self, stub: ChaincodeStub, credentials: Credentials) -> VerifiedEnclave:
        """Verify and store `credentials`; raises a typed error with the refusal's reason."""
        attested = credentials.attested_data
        if attested.channel_id != stub.channel_id:
            raise VerificationError(
                f"credentials are for channel {attested.channel_id!r}, but this registry runs on "
                f"channel {stub.channel_id!r}"
            )
        definition = self._definitions.find(attested.chaincode_id)
        if definition is None:
            raise VerificationError(
                f"chaincode {attested.chaincode_id!r} has no definition, so no enclave can be "
                "registered for it",
                hint="define it first (chaincode id, version = TA measurement, channel)",
            )
        verified = verify_credentials(
            credentials,
            definition,
            self._devices.devices(),
            allow_insecure_native=self._allow_insecure_native,
        )
        cc = definition.chaincode_id
        eid = verified.enclave_id
        organisation = definition.organisation_of(verified.device.fingerprint)
        if organisation is None:
            raise VerificationError(
                f"device {verified.device.name!r} is enrolled, but is not one of the devices of "
                f"chaincode {cc!r}",
                hint="add it to the chaincode definition (foc chaincode define --device NAME:ORG)",
            )
        key = _credentials_prefix(cc) + eid
        if stub.get_state(key) is not None:
            raise VerificationError(f"enclave {eid} is already registered for chaincode {cc!r}")
        device_key = f"device/{cc}/{verified.device.fingerprint}"
        self._check_slot(stub, cc, device_key, f"device {verified.device.name!r}", "one enclave per device")
        endpoint_key = f"endpoint/{cc}/{attested.host_endpoint}"
        self._check_slot(
            stub,
            cc,
            endpoint_key,
            f"host endpoint {attested.host_endpoint!r}",
            "one enclave per host endpoint",
        )
        registered = self._all(stub, cc)
        if registered and registered[0].attested_data.chaincode_pub != attested.chaincode_pub:
            raise VerificationError(
                f"the enclave's chaincode key differs from the one already registered for chaincode {cc!r}",
                hint="a further enclave obtains the keys from a registered one by attested key transfer "
                "(foc enclave join), it does not create its own",
            )
        stub.put_state(key, credentials.encode())
        record = RegisteredEnclave(eid, credentials, verified.device.fingerprint, organisation)
        stub.put_state(_record_key(cc, eid), json.dumps(record.to_json()).encode())
        stub.put_state(device_key, eid.encode())
        stub.put_state(endpoint_key, eid.encode())
        return verified

    def _check_slot(self, stub: ChaincodeStub, cc: str, slot: str, what: str, rule: str) -> None:
        """A device or endpoint serves one live enclave; a revoked one gives up its slot."""
        existing = stub.get_state(slot)
        if existing is not None and not self.enclave(stub, cc, existing.decode()).revoked:
            raise VerificationError(
                f"{what} already serves enclave {existing.decode()} for chaincode {cc!r} ({rule})",
                hint="revoke that enclave first (foc enclave revoke) to replace it",
            )

    def _revoke(self, stub: ChaincodeStub, chaincode_id: str, enclave_id: str) -> bytes:
        record = self.enclave(stub, chaincode_id, enclave_id)
        if record.revoked:
            raise VerificationError(
                f"enclave {enclave_id} of chaincode {chaincode_id!r} was already revoked "
                f"(transaction {record.revoked_by})"
            )
        revoked = RegisteredEnclave(
            record.enclave_id, record.credentials, record.device, record.organisation, stub.tx_id or "revoked"
        )
        stub.put_state(_record_key(chaincode_id, enclave_id), json.dumps(revoked.to_json()).encode())
        log.info("revoked enclave %s of chaincode %s", enclave_id, chaincode_id)
        return b"OK"

    def enclave(self, stub: ChaincodeStub, chaincode_id: str, enclave_id: str) -> RegisteredEnclave:
        """The registered enclave; LookupError if it is not registered."""
        raw = stub.get_state(_credentials_prefix(chaincode_id) + enclave_id)
        if raw is None:
            raise LookupError(f"enclave {enclave_id} is not registered for chaincode {chaincode_id!r}")
        record = stub.get_state(_record_key(chaincode_id, enclave_id))
        if record is None:  # registered before records existed: live, organisation unknown
            return RegisteredEnclave(enclave_id, Credentials.decode(raw))
        return RegisteredEnclave.from_json(json.loads(record))

    # -- queries --------------------------------------------------------------------------

    def _all(self, stub: ChaincodeStub, chaincode_id: str) -> list[Credentials]:
        prefix = _credentials_prefix(chaincode_id)
        return [Credentials.decode(e.value) for e in stub.get_state_by_range(prefix, _prefix_end(prefix))]

    def _records(self, stub: ChaincodeStub, chaincode_id: str) -> list[RegisteredEnclave]:
        prefix = _credentials_prefix(chaincode_id)
        ids = [e.key[len(prefix) :] for e in stub.get_state_by_range(prefix, _prefix_end(prefix))]
        return [self.enclave(stub, chaincode_id, eid) for eid in ids]

    def _query_key(self, stub: ChaincodeStub, chaincode_id: str) -> bytes:
        live = [r for r in self._records(stub, chaincode_id) if not r.revoked]
        if not live:
            raise LookupError(
                f"no enclave is registered for chaincode {chaincode_id!r} (or every one was revoked)"
            )
        return base64.b64encode(live[0].credentials.attested_data.chaincode_pub)

    def _query_list(self, stub: ChaincodeStub, chaincode_id: str) -> bytes:
        live = [r.credentials for r in self._records(stub, chaincode_id) if not r.revoked]
        return json.dumps([base64.b64encode(c.encode()).decode() for c in live]).encode()

    def _query_records(self, stub: ChaincodeStub, chaincode_id: str) -> bytes:
        return json.dumps([r.to_json() for r in self._records(stub, chaincode_id)]).encode()

    def _query_one(self, stub: ChaincodeStub, chaincode_id: str, enclave_id: str) -> bytes:
        raw = stub.get_state(_credentials_prefix(chaincode_id) + enclave_id)
        if raw is None:
            raise LookupError(f"enclave {enclave_id} is not registered for chaincode {chaincode_id!r}")
        return base64.b64encode(raw)


class RegistryReader(Protocol):
    """What clients and validators need from the registry."""

    def chaincode_encryption_key(self, chaincode_id: str) -> bytes:
        """The chaincode public key (suite-specific encoding); VerificationError if none."""
        ...

    def enclave(self, chaincode_id: str, enclave_id: str) -> RegisteredEnclave:
        """The registered enclave (credentials, device, organisation, revocation); VerificationError
        if it is not registered."""
        ...


RegistryCall = Callable[[Sequence[bytes]], Response]


class RegistryQuery:
    """`RegistryReader` over any way of calling the registry chaincode.

    E.g. ``RegistryQuery(lambda args: peer.query("ercc", args).response)`` for a client, or
    ``RegistryQuery(lambda args: stub.invoke_chaincode("ercc", args))`` inside a transaction
    (the registry reads then join the transaction's read set, as FPC's `__endorse` does).
    """

    def __init__(self, call: RegistryCall) -> None:
        self._call = call

    def _ask(self, *args: str) -> Response:
        return self._call([a.encode("utf-8") for a in args])

    def chaincode_encryption_key(self, chaincode_id: str) -> bytes:
        response = self._ask("queryChaincodeEncryptionKey", chaincode_id)
        if not response.endorsed:
            raise VerificationError(
                f"cannot get the encryption key of chaincode {chaincode_id!r}: {response.message}",
                hint="create and register an enclave for it first",
            )
        key = _b64(response.payload, "chaincode key")
        suite_for_chaincode_key(key)
        return key

    def enclave(self, chaincode_id: str, enclave_id: str) -> RegisteredEnclave:
        response = self._ask("queryEnclave", chaincode_id, enclave_id)
        if not response.endorsed:
            raise VerificationError(
                f"enclave {enclave_id} is not registered for chaincode {chaincode_id!r}: {response.message}"
            )
        try:
            return RegisteredEnclave.from_json(json.loads(response.payload))
        except (ValueError, KeyError) as exc:
            raise ConfidentialityError("the registry returned a malformed enclave record") from exc


def _b64(data: bytes, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfidentialityError(f"the registry returned {what} that are not base64") from exc
