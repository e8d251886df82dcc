"""ConfidentialContract: a confidential chaincode seen through any `Contract` back end.

    coffee = ConfidentialContract(
        DevLedgerContract(peer, "coffee"),           # or GatewayContract(gateway, channel, "coffee")
        chaincode_id="coffee", channel="dev",
        registry=DevLedgerContract(peer, "ercc"),    # the enclave registry: a Contract or a RegistryReader
        definitions=DefinitionStore(), devices=DeviceStore(),
    )
    coffee.invoke("create", ["alice", "0"])   # -> b"OK", committed
    coffee.query("query", ["alice"])          # -> decrypted result, nothing committed

One transaction (FPC's client flow, docs/confidential-protocol.md):

1. encrypt function + arguments, the client's identity (the creator of the transactions it sends,
   which the chaincode sees with foc_get_creator) and its transient data to the chaincode key from
   the registry, with a fresh ephemeral key and a fresh response key
   (`foc.client.confidential.ConfidentialClient`); transient data never travels in clear (it is not
   passed to the ledger back end as Fabric transient data);
2. `__invoke(request)` as a query: the enclave runs it and returns its signed response; nothing is
   ordered or committed;
3. VERIFY before trusting anything: the signing enclave is registered for this chaincode
   definition (id, version = TA measurement, channel), its attestation evidence verifies under an
   enrolled device key (when `devices` is given), its signature is valid, the signed request hash
   is that of our request, the signed creator hash that of our identity, and it holds the
   chaincode key we encrypted to;
4. decrypt; a chaincode failure (EXISTS, NOT_FOUND, ...) raises `ConfidentialChaincodeError` with
   the TA's code, and nothing is submitted;
5. `invoke` only: submit `__endorse(request, response, ...)`; the ledger side validates it again
   (`validate_and_apply`: also that the `__endorse` transaction's creator is the signed one) and
   commits the enclave's encrypted writes; the payload is returned once
   that transaction is committed. `query` stops after step 4.

Several devices (``endorsers={"Org1": contract_at_org1_peer, ...}``, docs/confidential.md): `invoke`
runs steps 2-4 on one organisation's peer after another (a different one first each time) until
the verified enclaves' organisations satisfy the definition's endorsement policy, checks that
their answers agree (status, payload, read/write set: a disagreement raises, nothing is
submitted), and submits every endorsement in one `__endorse`. `query` asks one peer (each call the
next one): its enclave's signed answer is authenticated on its own.

`ConfidentialContract` is itself a `Contract`: scenarios written against that interface run on it
unchanged. Nothing here logs or stores arguments, results or keys; the response key lives only in
memory for the duration of one call.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from foc.admin.definitions import ChaincodeDefinition, DefinitionStore
from foc.admin.devices import DeviceStore, EnrolledDevice
from foc.chaincode.stub import Response, parse_creator
from foc.client.contract import Contract
from foc.confidential.formats import (
    ConfidentialRequest,
    EncryptedResponse,
    RequestPlaintext,
    ResponsePlaintext,
    SignedMessage,
)
from foc.confidential.suite import KEY_SIZE, REQUEST_LABEL, sha256, suite_for_chaincode_key
from foc.errors import (
    ChaincodeError,
    ConfigError,
    EndorsementFailure,
    EndorsementPolicyFailure,
    MvccConflict,
    ProxyUnavailable,
    VerificationError,
)
from foc.protocol.args import Arg, encode_args
from foc.protocol.context import Creator, creator_hash
from foc.registry.attestation import verify_credentials
from foc.registry.ercc import RegisteredEnclave, RegistryQuery, RegistryReader
from foc.registry.validation import verify_response
from foc.wrapper.confidential import ENDORSE, INVOKE
from foc.wrapper.errors import PROXY_UNAVAILABLE, STALE_READ, error_code

log = logging.getLogger(__name__)

OK = 200
ERROR_THRESHOLD = 400

ENCLAVE_HINT = (
    "create an enclave on the device and register it: `foc enclave create`, then `foc enclave register`"
)


class ConfidentialChaincodeError(EndorsementFailure, ChaincodeError):
    """The confidential chaincode refused the call, as told by the verified, decrypted response.

    `code` / `reason` are the TA's (e.g. "EXISTS", "person already exists"); `status` and
    `chaincode_message` ("<CODE>: <message>") mirror `EndorsementFailure`, so code written against
    the `Contract` interface handles it like any chaincode refusal. Unlike a refusal reported by a
    peer, this one is authenticated: it was signed by a registered enclave and encrypted to us.
    """

    def __init__(self, code: str, reason: str, status: int = 500) -> None:
        text = f"{code}: {reason}"
        ChaincodeError.__init__(self, code, reason)
        self.status = status
        self.chaincode_message = text
        self.message = text

    def __str__(self) -> str:
        return self.chaincode_message


@dataclass(frozen=True)
class PendingRequest:
    """A request on its way: the bytes to send, their hash, the secret response key, and the
    creator the request names (None: none)."""

    request: bytes
    request_hash: bytes
    chaincode_key: bytes
    response_key: bytes = field(repr=False)
    creator: Creator | None = None


@dataclass(frozen=True)
class ConfidentialResult:
    """A verified, decrypted answer: the chaincode's status and payload, and what was signed."""

    status: int
    payload: bytes = field(repr=False)
    signed: SignedMessage = field(repr=False)
    organisation: str = ""  # of the signing enclave, from the registry ("" if it names none)

    @property
    def ok(self) -> bool:
        return self.status < ERROR_THRESHOLD

    @property
    def enclave_id(self) -> str:
        """The enclave that signed this answer (an id, nothing secret)."""
        return self.signed.enclave_id

    def value(self) -> bytes:
        """The payload; raises ConfidentialChaincodeError ("CODE: message" from the enclave) on failure."""
        if self.ok:
            return self.payload
        text = self.payload.decode("utf-8", "replace")
        code, sep, message = text.partition(": ")
        if sep and code.isupper():
            raise ConfidentialChaincodeError(code, message, self.status)
        raise ConfidentialChaincodeError("CHAINCODE", text, self.status)


class ConfidentialClient:
    """Client side of confidential mode for one chaincode definition: encrypt, then verify and decrypt.

    Lifecycle per transaction::

        pending = client.encrypt_request(["create", "alice", "0"])   # fresh ephemeral + response keys
        ... send pending.request (`__invoke`), get the confidential_response ...
        result = client.open_response(pending, response)             # verify once, THEN decrypt
        ... to commit: submit `__endorse(pending.request, response)` ...

    `open_response` trusts nothing before it has checked: the signing enclave is registered for this
    chaincode (id, version, channel), its signature verifies, the signed request hash is that of
    `pending.request`, and it holds the chaincode key the request was encrypted to. With `devices`,
    the client also re-verifies the enclave's attestation evidence under the enrolled device keys
    (`allow_insecure_native` accepts the host-native build's evidence: NOT a TEE, tests only).
    """

    def __init__(
        self,
        definition: ChaincodeDefinition,
        registry: RegistryReader,
        *,
        devices: Iterable[EnrolledDevice] | None = None,
        allow_insecure_native: bool = False,
    ) -> None:
        self.definition = definition
        self._registry = registry
        self._devices = list(devices) if devices is not None else None
        self._allow_insecure_native = allow_insecure_native

    def encrypt_request(
        self,
        args: Sequence[Arg],
        *,
        creator: Creator | None = None,
        transient: Mapping[str, bytes] | None = None,
    ) -> PendingRequest:
        """Encrypt function + arguments, `creator` (the identity that will send the transactions:
        the TA refuses the request from anyone else) and `transient` data to the chaincode key, with
        fresh ephemeral/response keys. LimitExceeded for a request over the TA's limits."""
        chaincode_key = self._registry.chaincode_encryption_key(self.definition.chaincode_id)
        suite = suite_for_chaincode_key(chaincode_key)
        ephemeral = suite.generate_private_key()
        ephemeral_point = suite.encode_point(ephemeral)
        request_key = suite.request_key(
            ephemeral, chaincode_key, ephemeral_point=ephemeral_point, chaincode_point=chaincode_key
        )
        response_key = os.urandom(KEY_SIZE)
        plaintext = RequestPlaintext(
            self.definition.channel_id,
            self.definition.chaincode_id,
            tuple(encode_args(args)),
            response_key,
            creator,
            dict(transient or {}),
        ).encode()
        sealed = suite.seal(request_key, plaintext, REQUEST_LABEL)
        request = ConfidentialRequest(ephemeral_point, sealed.nonce, sealed.ciphertext).encode()
        return PendingRequest(request, sha256(request), chaincode_key, response_key, creator)

    def open_response(self, pending: PendingRequest, response: bytes) -> ConfidentialResult:
        """Verify the enclave's signed response for `pending` (once), then decrypt it.

        Raises VerificationError / AttestationError / ConfidentialityError naming the failed check;
        nothing is decrypted before every check has passed.
        """
        verified = verify_response(response, pending.request, self.definition, self._registry)
        if verified.message.creator_hash != creator_hash(pending.creator):
            raise VerificationError(
                f"enclave {verified.message.enclave_id} signed another creator than the one in this request"
            )
        attested = verified.credentials.attested_data
        if attested.chaincode_pub != pending.chaincode_key:
            raise VerificationError(
                f"enclave {verified.message.enclave_id} holds a different chaincode key than the one "
                "this request was encrypted to"
            )
        if self._devices is not None:
            verify_credentials(
                verified.credentials,
                self.definition,
                self._devices,
                allow_insecure_native=self._allow_insecure_native,
            )
        suite = suite_for_chaincode_key(pending.chaincode_key)
        sealed = EncryptedResponse.decode(verified.message.encrypted_response)
        plaintext = suite.unseal(
            pending.response_key, sealed.nonce, sealed.ciphertext, pending.request_hash, what="response"
        )
        answer = ResponsePlaintext.decode(plaintext)
        return ConfidentialResult(answer.status, answer.payload, verified.message, verified.organisation)


class ContractRegistry(RegistryQuery):
    """`RegistryReader` over a `Contract` for the registry chaincode (`ercc`): queries only."""

    def __init__(self, contract: Contract) -> None:
        def call(args: Sequence[bytes]) -> Response:
            function = bytes(args[0]).decode("utf-8")
            try:
                return Response.success(contract.query(function, list(args[1:])))
            except EndorsementFailure as exc:
                return Response.error(exc.chaincode_message, max(exc.status, 400))

        super().__init__(call)


class _Lookups:
    """A `RegistryReader` that asks the registry at most once per call for each answer."""

    def __init__(self, registry: RegistryReader) -> None:
        self._registry = registry
        self._keys: dict[str, bytes] = {}
        self._enclaves: dict[tuple[str, str], RegisteredEnclave] = {}

    def chaincode_encryption_key(self, chaincode_id: str) -> bytes:
        if chaincode_id not in self._keys:
            self._keys[chaincode_id] = self._registry.chaincode_encryption_key(chaincode_id)
        return self._keys[chaincode_id]

    def enclave(self, chaincode_id: str, enclave_id: str) -> RegisteredEnclave:
        key = (chaincode_id, enclave_id)
        if key not in self._enclaves:
            self._enclaves[key] = self._registry.enclave(chaincode_id, enclave_id)
        return self._enclaves[key]


def _as_reader(registry: RegistryReader | Contract) -> RegistryReader:
    if hasattr(registry, "enclave") and hasattr(registry, "chaincode_encryption_key"):
        return registry  # type: ignore[return-value]
    return ContractRegistry(registry)  # type: ignore[arg-type]


class ConfidentialContract:
    """A confidential chaincode over any `Contract` (dev ledger, Fabric Gateway, a fake).

    `definitions` supplies the chaincode definition (id, version = expected TA measurement,
    channel, endorsement policy); `devices`, when given, makes the client re-verify each signing
    enclave's attestation evidence itself (otherwise it relies on the registry having verified it
    at registration). `endorsers` maps organisations to the contract at their peer, whose enclave
    runs `__invoke` (default: `contract` alone). `allow_insecure_native` accepts the host-native
    build's evidence: NOT a TEE, tests only.
    """

    def __init__(
        self,
        contract: Contract,
        *,
        chaincode_id: str,
        channel: str,
        registry: RegistryReader | Contract,
        definitions: DefinitionStore | None = None,
        devices: DeviceStore | Iterable[EnrolledDevice] | None = None,
        allow_insecure_native: bool = False,
        endorsers: Mapping[str, Contract] | None = None,
    ) -> None:
        self.contract = contract
        self.endorsers: dict[str, Contract] = dict(endorsers) if endorsers else {"": contract}
        self._turn = itertools.count()
        self.chaincode_id = chaincode_id
        self.channel = channel
        self._registry = _as_reader(registry)
        self._definitions = definitions or DefinitionStore()
        self._devices = devices
        self._allow_insecure_native = allow_insecure_native
        #: the enclave that signed the last verified response (an id, nothing secret)
        self.last_enclave_id: str | None = None

    @property
    def last_tx_id(self) -> str | None:
        """The last committed transaction's id (from the contract beneath)."""
        return getattr(self.contract, "last_tx_id", None)

    @property
    def last_block(self) -> int | None:
        """The block number of the last committed transaction (from the contract beneath)."""
        return getattr(self.contract, "last_block", None)

    # -- the Contract interface ----------------------------------------------------------------
    def invoke(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Execute on enough enclaves for the endorsement policy, verify each, decrypt, check they
        agree; on success submit `__endorse` and return the payload once committed."""
        request, responses, result = self._endorse(function, args, transient)
        payload = result.value()
        try:
            # transient data stays inside the request
            self.contract.invoke(ENDORSE, [request, *responses])
        except EndorsementFailure as exc:
            if error_code(exc.chaincode_message) == STALE_READ:
                raise MvccConflict(
                    exc.chaincode_message.partition(": ")[2],
                    hint="another transaction changed a value this one read; nothing was committed, "
                    "run it again (foc invoke --retry N)",
                ) from None
            raise EndorsementFailure(
                exc.status,
                exc.chaincode_message,
                hint="the ledger refused the enclave's result at validation; nothing was committed, "
                "run the transaction again",
            ) from None
        return payload

    def query(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Execute on one enclave (the next endorser each call; the one after if it fails or does
        not verify, e.g. revoked), verify, decrypt; nothing is committed."""
        client, pending = self._prepare(function, args, transient)
        rotation = self._rotation()
        for i, (org, contract) in enumerate(rotation):
            try:
                return self._run(client, pending, contract)[1].value()
            except (EndorsementFailure, ProxyUnavailable, VerificationError) as exc:
                if i == len(rotation) - 1:
                    raise
                log.info("endorser %s failed: %s", org or "the peer", exc)
        raise AssertionError("unreachable: the rotation is never empty")

    # -- pieces --------------------------------------------------------------------------------
    def definition(self) -> ChaincodeDefinition:
        """The chaincode definition this contract verifies against (ConfigError if there is none)."""
        found = self._definitions.find(self.chaincode_id)
        if found is None:
            raise ConfigError(
                f"confidential chaincode {self.chaincode_id!r} has no definition "
                f"({self._definitions.path(self.chaincode_id)})",
                hint="define it with its expected TA measurement: `foc chaincode define`",
            )
        if found.channel_id != self.channel:
            raise ConfigError(
                f"chaincode {self.chaincode_id!r} is defined on channel {found.channel_id!r}, "
                f"not on {self.channel!r}",
                hint="use the ledger of that channel, or define the chaincode for this one",
            )
        return found

    def creator(self) -> Creator | None:
        """The identity the contract beneath sends transactions as (its `creator`: serialized
        msp.SerializedIdentity bytes; none: None), which the request names as its creator."""
        return parse_creator(getattr(self.contract, "creator", b"") or b"")

    def chaincode_key(self, registry: RegistryReader | None = None) -> bytes:
        """The chaincode's encryption key from the registry; ConfigError if no enclave is registered."""
        try:
            return (registry or self._registry).chaincode_encryption_key(self.chaincode_id)
        except VerificationError as exc:
            raise ConfigError(
                f"no enclave is registered for confidential chaincode {self.chaincode_id!r} "
                f"on channel {self.channel!r}",
                hint=ENCLAVE_HINT,
            ) from exc

    def _prepare(
        self, function: Arg, args: Sequence[Arg], transient: Mapping[str, bytes] | None = None
    ) -> tuple[ConfidentialClient, PendingRequest]:
        definition = self.definition()
        lookups = _Lookups(self._registry)
        self.chaincode_key(lookups)
        devices: list[EnrolledDevice] | None = None
        if self._devices is not None:
            source = self._devices.devices() if isinstance(self._devices, DeviceStore) else self._devices
            devices = list(source)
        client = ConfidentialClient(
            definition, lookups, devices=devices, allow_insecure_native=self._allow_insecure_native
        )
        pending = client.encrypt_request([function, *args], creator=self.creator(), transient=transient)
        return client, pending

    def _rotation(self) -> list[tuple[str, Contract]]:
        """The endorsers, starting with a different one each call (spreads the load)."""
        items = list(self.endorsers.items())
        start = next(self._turn) % len(items)
        return items[start:] + items[:start]

    def _run(
        self, client: ConfidentialClient, pending: PendingRequest, contract: Contract
    ) -> tuple[bytes, ConfidentialResult]:
        """`__invoke` on one peer, then verify and decrypt its enclave's response."""
        # A refusal here comes from the peer or the proxy before any enclave signed anything:
        # it is reported as the back end's EndorsementFailure, unauthenticated (an unreachable
        # proxy as ProxyUnavailable, as on the plaintext path).
        try:
            response = contract.query(INVOKE, [pending.request])  # never transient data in clear
        except EndorsementFailure as exc:
            if error_code(exc.chaincode_message) == PROXY_UNAVAILABLE:
                raise ProxyUnavailable(exc.chaincode_message.partition(": ")[2]) from None
            raise
        result = client.open_response(pending, response)
        self.last_enclave_id = result.enclave_id
        log.debug("verified response of enclave %s (%s)", result.enclave_id[:12], self.chaincode_id)
        return response, result

    def _endorse(
        self, function: Arg, args: Sequence[Arg], transient: Mapping[str, bytes] | None
    ) -> tuple[bytes, list[bytes], ConfidentialResult]:
        """Endorsements from enough organisations' enclaves for the policy, checked to agree."""
        client, pending = self._prepare(function, args, transient)
        policy = client.definition.policy
        collected: list[tuple[bytes, ConfidentialResult]] = []
        failures: list[str] = []
        for org, contract in self._rotation():
            try:
                response, result = self._run(client, pending, contract)
            except (EndorsementFailure, ProxyUnavailable, VerificationError) as exc:
                if len(self.endorsers) == 1:
                    raise
                failures.append(f"{org or 'the peer'}: {exc}")
                log.info("endorser %s failed: %s", org or "the peer", exc)
                continue
            if not result.ok:
                return pending.request, [response], result  # an authenticated refusal: nothing to commit
            collected.append((response, result))
            if policy is None or policy.satisfied_by([r.organisation for _, r in collected]):
                break
        else:
            got = ", ".join(sorted({r.organisation for _, r in collected})) or "none"
            raise EndorsementPolicyFailure(
                f"the endorsement policy {client.definition.endorsement_policy or '(any one enclave)'} of "
                f"chaincode {self.chaincode_id!r} is not satisfied (endorsed by: {got})"
                + (f"; failed: {'; '.join(failures)}" if failures else ""),
                hint="start the missing organisations' devices and register their enclaves",
            )
        first = collected[0][1]
        for _, other in collected[1:]:
            if (other.status, other.payload, other.signed.reads, other.signed.writes) != (
                first.status,
                first.payload,
                first.signed.reads,
                first.signed.writes,
            ):
                raise VerificationError(
                    f"the endorsing enclaves disagree: enclave {other.enclave_id[:16]}... "
                    f"({other.organisation or 'no organisation'}) answered differently from enclave "
                    f"{first.enclave_id[:16]}... ({first.organisation or 'no organisation'}); "
                    "nothing was submitted",
                    hint="an enclave saw other state or ran other code",
                )
        return pending.request, [r for r, _ in collected], first
