"""Checking an enclave's signed response, and validation before commit (FPC's `__endorse`).

`verify_response` is shared by clients and validators: the enclave that signed must be registered
for this chaincode and not revoked, its registered attested data must match the current chaincode
definition, the signature must verify, and the signed request hash must be the hash of the
request in hand.

`verify_endorsements` checks several enclaves' responses to one request: each verifies, the
enclaves are distinct, their signed creator hash, read/write sets and range reads are identical (a
disagreeing enclave makes the transaction invalid), and their organisations satisfy the
definition's endorsement policy.

`validate_and_apply` then re-checks, on the transaction's stub, that the transaction's creator is
the one the enclaves signed (the creator inside the request), that every value the enclaves read is
still the current one, that every range they read still holds the same keys and values (no
phantom), and that this request was never committed before, and only then buffers the writes. Any
failure raises before the first write, so nothing is written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from foc.admin.definitions import ChaincodeDefinition
from foc.chaincode.stub import ChaincodeStub, parse_creator, read_range
from foc.confidential.formats import (
    ConfidentialResponse,
    Credentials,
    SignedMessage,
    StoredValue,
    range_results_hash,
)
from foc.confidential.suite import EC_P256, enclave_id, sha256
from foc.errors import AttestationError, MvccConflict, VerificationError
from foc.protocol.context import creator_hash
from foc.protocol.limits import CONFIDENTIAL
from foc.registry.attestation import check_attested_data
from foc.registry.ercc import RegisteredEnclave, RegistryQuery, RegistryReader

log = logging.getLogger(__name__)

# Keys under this prefix belong to FOC, not to the chaincode: a TA write set may not touch them.
RESERVED_PREFIX = "~foc/"
REQUEST_MARKER_PREFIX = RESERVED_PREFIX + "request/"


@dataclass(frozen=True)
class VerifiedResponse:
    """A confidential response whose signature, enclave and request binding were checked."""

    message: SignedMessage
    credentials: Credentials
    enclave: RegisteredEnclave | None = None  # the registry's record (organisation, device)

    @property
    def organisation(self) -> str:
        return self.enclave.organisation if self.enclave is not None else ""


def verify_response(
    response: bytes,
    request: bytes,
    definition: ChaincodeDefinition,
    registry: RegistryReader,
) -> VerifiedResponse:
    """Verify `response` (confidential_response bytes) for `request` (confidential_request bytes).

    Raises VerificationError (or ConfidentialityError for malformed input) with the reason.
    """
    envelope = ConfidentialResponse.decode(response)
    # Parsed before the signature is checked only to learn which enclave claims to have signed.
    claimed = SignedMessage.decode(envelope.signed_message)
    record = registry.enclave(definition.chaincode_id, claimed.enclave_id)
    if record.revoked:
        raise VerificationError(
            f"enclave {claimed.enclave_id} of chaincode {definition.chaincode_id!r} was revoked "
            f"(transaction {record.revoked_by}): its signatures are refused"
        )
    credentials = record.credentials
    attested = credentials.attested_data
    try:
        check_attested_data(attested, definition)
    except AttestationError as exc:
        raise VerificationError(
            f"enclave {claimed.enclave_id} is registered, but not for the current definition of "
            f"chaincode {definition.chaincode_id!r}: {exc.reason}"
        ) from exc
    if enclave_id(attested.enclave_pub) != claimed.enclave_id:
        raise VerificationError(
            f"the registry's credentials for enclave {claimed.enclave_id} carry a different key"
        )
    EC_P256.verify(attested.enclave_pub, envelope.signed_message, envelope.signature, what="enclave response")
    if claimed.request_hash != sha256(request):
        raise VerificationError(
            "the enclave's signed response is for a different request than the one in this transaction"
        )
    return VerifiedResponse(claimed, credentials, record)


def verify_endorsements(
    responses: Sequence[bytes],
    request: bytes,
    definition: ChaincodeDefinition,
    registry: RegistryReader,
) -> list[VerifiedResponse]:
    """Verify several enclaves' responses to one request (at least one).

    Each must pass `verify_response`; the enclaves must be distinct; every signed creator hash,
    read/write set and range read must be identical to the first (a disagreeing enclave makes the
    whole transaction invalid, whatever the others say); the endorsing enclaves' organisations must
    satisfy the definition's endorsement policy (none: any one enclave). Raises VerificationError
    naming the failed check.
    """
    if not responses:
        raise VerificationError("a confidential transaction needs at least one enclave's response")
    verified = [verify_response(r, request, definition, registry) for r in responses]
    ids = [v.message.enclave_id for v in verified]
    if len(set(ids)) != len(ids):
        raise VerificationError("the same enclave endorsed the transaction twice")
    first = verified[0].message
    for other in verified[1:]:
        theirs = other.message
        if (
            theirs.creator_hash != first.creator_hash
            or theirs.reads != first.reads
            or theirs.ranges != first.ranges
            or theirs.writes != first.writes
        ):
            raise VerificationError(
                f"the endorsing enclaves disagree: enclave {theirs.enclave_id[:16]}...'s creator, read/write "
                f"set or range reads differ from enclave {first.enclave_id[:16]}...'s; the transaction is "
                "invalid",
                hint="an enclave saw other state or ran other code; nothing was committed",
            )
    policy = definition.policy
    organisations = [v.organisation for v in verified]
    if policy is not None and not policy.satisfied_by(organisations):
        named = ", ".join(sorted(set(organisations))) or "no organisation"
        raise VerificationError(
            f"endorsement policy {definition.endorsement_policy} of chaincode {definition.chaincode_id!r} "
            f"is not satisfied by the enclaves of {named}",
            hint="collect endorsements from the enclaves of more organisations",
        )
    return verified


def request_marker_key(request_hash: bytes) -> str:
    """The ledger key that records a committed request (replay protection)."""
    return REQUEST_MARKER_PREFIX + request_hash.hex()


def validate_and_apply(
    stub: ChaincodeStub,
    definition: ChaincodeDefinition,
    request: bytes,
    response: bytes | Sequence[bytes],
    registry: RegistryReader | None = None,
    *,
    registry_name: str = "ercc",
) -> VerifiedResponse:
    """Validate enclave responses (one, or several endorsements) in this transaction and buffer
    their writes on `stub`.

    Steps (docs/confidential-protocol.md, "Validation before commit"): every signature by a live
    enclave registered for `definition`; request hash = SHA-256(`request`); the endorsements agree
    and satisfy the endorsement policy (`verify_endorsements`); the signed creator hash is that of
    the transaction's creator (`stub.get_creator()`), else VerificationError; the request was not
    committed before; every read value unchanged and every range read the same (else MvccConflict,
    MVCC_READ_CONFLICT); writes well-formed and outside the reserved prefix; then the writes and the
    request marker are buffered. The registry is queried through
    `stub.invoke_chaincode(registry_name, ...)` unless `registry` is given.
    """
    reader = registry or RegistryQuery(lambda args: stub.invoke_chaincode(registry_name, args))
    responses = [response] if isinstance(response, bytes | bytearray) else list(response)
    verified = verify_endorsements(responses, request, definition, reader)[0]
    message = verified.message
    if message.creator_hash != creator_hash(parse_creator(stub.get_creator())):
        raise VerificationError(
            "the enclave ran this request for another creator than this transaction's; nothing was written",
            hint="the identity that sends __invoke must also send __endorse",
        )
    marker = request_marker_key(message.request_hash)
    if stub.get_state(marker) is not None:
        raise VerificationError(
            "this request was already committed once; a confidential request cannot be replayed",
            hint="send a new request (each one carries fresh keys)",
        )
    for read in message.reads:
        current = stub.get_state(read.key)
        if (current is not None) != read.found or sha256(current or b"") != read.value_hash:
            raise MvccConflict(
                f"read value of {read.key} changed since execution; nothing was written",
                hint="run the transaction again",
            )
    for bounds in message.ranges:
        entries = read_range(stub, bounds.start, bounds.end, CONFIDENTIAL.range_entries)
        if len(entries) > CONFIDENTIAL.range_entries or range_results_hash(entries) != bounds.results_hash:
            raise MvccConflict(
                "a range the enclave read changed since execution (a key was added, changed or removed: "
                "phantom read); nothing was written",
                hint="run the transaction again",
            )
    for write in message.writes:
        if write.key.startswith(RESERVED_PREFIX):
            raise VerificationError(f"the enclave wrote to the reserved key prefix {RESERVED_PREFIX!r}")
        if not write.is_delete:
            StoredValue.decode(write.stored_value)
    for write in message.writes:
        if write.is_delete:
            stub.del_state(write.key)
        else:
            stub.put_state(write.key, write.stored_value)
    stub.put_state(marker, stub.tx_id.encode("utf-8"))
    log.info(
        "validated %d endorsement(s), enclave %s first: %d read(s), %d range(s), %d write(s)",
        len(responses),
        message.enclave_id,
        len(message.reads),
        len(message.ranges),
        len(message.writes),
    )
    return verified
