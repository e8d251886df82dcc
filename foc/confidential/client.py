"""ConfidentialClient: encrypt a request for a chaincode, verify and decrypt the enclave's answer.

Lifecycle per transaction:
  pending = client.encrypt_request(["create", "alice", "0"])   fresh ephemeral + response keys
  ... send pending.request (`__invoke`), get the confidential_response ...
  result = client.open_response(pending, response)             verify, THEN decrypt
  ... to commit: submit `__endorse(pending.request, response)` ...

`open_response` trusts nothing before it has checked: the signing enclave is registered for this
chaincode (id, version, channel) in the registry, it holds the chaincode key the request was
encrypted to, its signature verifies, and the signed request hash is that of `pending.request`.
With `devices`, the client also re-verifies the enclave's attestation evidence itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from foc.confidential.attestation import verify_credentials
from foc.confidential.definitions import ChaincodeDefinition
from foc.confidential.devices import EnrolledDevice
from foc.confidential.formats import (
    ConfidentialRequest,
    EncryptedResponse,
    RequestPlaintext,
    ResponsePlaintext,
    SignedMessage,
)
from foc.confidential.registry import RegistryReader
from foc.confidential.suite import KEY_SIZE, REQUEST_LABEL, sha256, suite_for_chaincode_key
from foc.confidential.validation import verify_response
from foc.errors import ChaincodeError, VerificationError

OK = 200
ERROR_THRESHOLD = 400


@dataclass(frozen=True)
class PendingRequest:
    """A request on its way: the bytes to send, their hash, and the secret response key."""

    request: bytes
    request_hash: bytes
    chaincode_key: bytes
    response_key: bytes = field(repr=False)


@dataclass(frozen=True)
class ConfidentialResult:
    """A verified, decrypted answer: the chaincode's status and payload, and what was signed."""

    status: int
    payload: bytes = field(repr=False)
    signed: SignedMessage = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status < ERROR_THRESHOLD

    def value(self) -> bytes:
        """The payload; raises ChaincodeError ("CODE: message" from the enclave) on failure."""
        if self.ok:
            return self.payload
        text = self.payload.decode("utf-8", "replace")
        code, sep, message = text.partition(": ")
        if sep and code.isupper():
            raise ChaincodeError(code, message)
        raise ChaincodeError("CHAINCODE", text)


class ConfidentialClient:
    """Client side of confidential mode for one chaincode definition."""

    def __init__(
        self,
        definition: ChaincodeDefinition,
        registry: RegistryReader,
        *,
        devices: Iterable[EnrolledDevice] | None = None,
    ) -> None:
        self.definition = definition
        self._registry = registry
        self._devices = list(devices) if devices is not None else None

    def encrypt_request(self, args: Sequence[bytes | str]) -> PendingRequest:
        """Encrypt function + arguments to the chaincode key, with fresh ephemeral/response keys."""
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
            tuple(a.encode("utf-8") if isinstance(a, str) else bytes(a) for a in args),
            response_key,
        ).encode()
        sealed = suite.seal(request_key, plaintext, REQUEST_LABEL)
        request = ConfidentialRequest(ephemeral_point, sealed.nonce, sealed.ciphertext).encode()
        return PendingRequest(request, sha256(request), chaincode_key, response_key)

    def open_response(self, pending: PendingRequest, response: bytes) -> ConfidentialResult:
        """Verify the enclave's signed response for `pending`, then decrypt it."""
        verified = verify_response(response, pending.request, self.definition, self._registry)
        attested = verified.credentials.attested_data
        if attested.chaincode_pub != pending.chaincode_key:
            raise VerificationError(
                f"enclave {verified.message.enclave_id} holds a different chaincode key than the one "
                "this request was encrypted to"
            )
        if self._devices is not None:
            verify_credentials(verified.credentials, self.definition, self._devices)
        suite = suite_for_chaincode_key(pending.chaincode_key)
        sealed = EncryptedResponse.decode(verified.message.encrypted_response)
        plaintext = suite.unseal(
            pending.response_key, sealed.nonce, sealed.ciphertext, pending.request_hash, what="response"
        )
        answer = ResponsePlaintext.decode(plaintext)
        return ConfidentialResult(answer.status, answer.payload, verified.message)
