"""ConfidentialChaincode: the peer-side chaincode of a confidential chaincode (FPC's ECC split).

  __invoke(confidential_request)             runs the request in the enclave; the payload is the
                                              enclave's confidential_response; writes nothing
  __endorse(confidential_request, confidential_response, ...)
                                              `validate_and_apply`: the enclaves' writes are
                                              buffered only if every check passes (several
                                              responses: several enclaves' endorsements, which
                                              must agree and satisfy the endorsement policy)

A client calls `__invoke` (a query), verifies and decrypts the response itself, and, to commit,
submits `__endorse` with the same request and the response. The enclave is anything with
`ConfidentialEnclave.invoke`: `ProxyEnclave` (the TA on OP-TEE behind foc-proxy) or, in tests, a
reference enclave. The transaction id and channel of the stub travel with the request to the
proxy, so the proxy's log line and the ledger's block name the same transaction; so does the
transaction's creator (the stub's, as the peer reports it), which the TA compares with the creator
inside the encrypted request.

`ProxyEnclave` sees no plaintext: the request, the state values and range entries it relays for the
TA's reads and the response are all encrypted for the TA or the client. The range reads are made on
the stub, so the ledger records them like the chaincode's own (and `__endorse` re-runs them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from foc.admin.definitions import DefinitionStore
from foc.chaincode.stub import ChaincodeStub, Response, parse_creator, read_range
from foc.confidential.formats import MAX_TRUSTED_DEVICES, EnclaveConfig
from foc.errors import FocError
from foc.protocol.context import Creator
from foc.protocol.limits import CONFIDENTIAL
from foc.registry.validation import validate_and_apply
from foc.wrapper.errors import error_response

log = logging.getLogger(__name__)

INVOKE = "__invoke"
ENDORSE = "__endorse"

GetState = Callable[[str], bytes | None]
GetStateByRange = Callable[[str, str], Sequence[tuple[str, bytes]]]


class ConfidentialEnclave(Protocol):
    """Runs one confidential request; `get_state` answers the enclave's reads (stored bytes) and
    `get_state_by_range` its range reads; `creator` is the transaction's, as the peer reports it."""

    def invoke(
        self,
        confidential_request: bytes,
        get_state: GetState,
        *,
        transaction_id: str,
        channel_id: str,
        creator: Creator | None = None,
        get_state_by_range: GetStateByRange | None = None,
    ) -> bytes:
        """Return the confidential_response; raise a FocError if the enclave refused the request."""
        ...


class EnclaveProxy(Protocol):
    """What `ProxyEnclave` needs from `foc.proxy.client.ProxyClient` (tests may pass a fake).

    `chaincode_uuid` (16 bytes; empty = the proxy's default TA) picks the TA on a device that hosts
    several."""

    def invoke_confidential(
        self,
        request: bytes,
        *,
        get_state: GetState,
        get_state_by_range: GetStateByRange | None = None,
        transaction_id: str,
        channel_id: str = "",
        chaincode_uuid: bytes = b"",
        creator: Creator | None = None,
        timeout: float | None = None,
    ) -> bytes: ...

    def create_enclave(self, config: bytes, *, chaincode_uuid: bytes = b"") -> bytes: ...

    def credentials(self, *, chaincode_uuid: bytes = b"") -> bytes: ...

    def key_transfer(self, step: str, message: bytes, *, chaincode_uuid: bytes = b"") -> bytes: ...


class ProxyEnclave:
    """`ConfidentialEnclave` over foc-proxy: FOC_CMD_CONFIDENTIAL_INVOKE in the TA `chaincode_uuid`
    names (16 bytes; empty = the proxy's default TA, FOC's coffee TA).

    Also the enclave lifecycle through the same proxy: `create` and `credentials` return the
    credentials bytes the registry (`ercc`) verifies.
    """

    def __init__(
        self, proxy: EnclaveProxy, *, timeout: float | None = None, chaincode_uuid: bytes = b""
    ) -> None:
        self._proxy = proxy
        self._timeout = timeout
        self.chaincode_uuid = chaincode_uuid

    def invoke(
        self,
        confidential_request: bytes,
        get_state: GetState,
        *,
        transaction_id: str,
        channel_id: str,
        creator: Creator | None = None,
        get_state_by_range: GetStateByRange | None = None,
    ) -> bytes:
        """Run the request in the TA; raises ChaincodeError (TA refusal) or ProxyUnavailable."""
        return self._proxy.invoke_confidential(
            confidential_request,
            get_state=get_state,
            get_state_by_range=get_state_by_range,
            transaction_id=transaction_id,
            channel_id=channel_id,
            chaincode_uuid=self.chaincode_uuid,
            creator=creator,
            timeout=self._timeout,
        )

    def create(self, config: EnclaveConfig) -> bytes:
        """Create the enclave in the TA (config.force replaces an existing one); the credentials."""
        return self._proxy.create_enclave(config.encode(), chaincode_uuid=self.chaincode_uuid)

    def credentials(self) -> bytes:
        """The TA's stored credentials (ChaincodeError NOT_FOUND before any create)."""
        return self._proxy.credentials(chaincode_uuid=self.chaincode_uuid)

    def join(self, config: EnclaveConfig) -> bytes:
        """FOC_CMD_ENCLAVE_JOIN: a new enclave without keys; its key_request."""
        return self._proxy.key_transfer("join", config.encode(), chaincode_uuid=self.chaincode_uuid)

    def export_keys(self, key_export: bytes) -> bytes:
        """FOC_CMD_KEY_EXPORT on a key holder: the key_package (ChaincodeError UNTRUSTED if refused)."""
        return self._proxy.key_transfer("export", key_export, chaincode_uuid=self.chaincode_uuid)

    def import_keys(self, key_import: bytes) -> bytes:
        """FOC_CMD_KEY_IMPORT on the joining TA: its credentials (ChaincodeError UNTRUSTED if refused)."""
        return self._proxy.key_transfer("import", key_import, chaincode_uuid=self.chaincode_uuid)


class ConfidentialChaincode:
    """Implements `foc.chaincode.stub.Chaincode` for one confidential chaincode."""

    def __init__(
        self,
        chaincode_id: str,
        enclave: ConfidentialEnclave,
        definitions: DefinitionStore,
        *,
        registry_name: str = "ercc",
    ) -> None:
        self.chaincode_id = chaincode_id
        self._enclave = enclave
        self._definitions = definitions
        self._registry_name = registry_name

    def init(self, stub: ChaincodeStub) -> Response:
        """Nothing to initialise: enclaves are created and registered separately."""
        return Response.success()

    def invoke(self, stub: ChaincodeStub) -> Response:
        """Dispatch `__invoke` / `__endorse` (exact argument counts, as FPC checks)."""
        args = stub.get_args()
        function = args[0].decode("utf-8", "replace") if args else ""
        try:
            if function == INVOKE and len(args) == 2:
                return Response.success(
                    self._enclave.invoke(
                        args[1],
                        stub.get_state,
                        transaction_id=stub.tx_id,
                        channel_id=stub.channel_id,
                        creator=parse_creator(stub.get_creator()),
                        get_state_by_range=lambda start, end: read_range(
                            stub, start, end, CONFIDENTIAL.range_entries
                        ),
                    )
                )
            if function == ENDORSE and 3 <= len(args) <= 2 + MAX_TRUSTED_DEVICES:
                definition = self._definitions.get(self.chaincode_id)
                validate_and_apply(stub, definition, args[1], args[2:], registry_name=self._registry_name)
                return Response.success(b"OK")
        except FocError as exc:
            log.info("confidential %s refused: %s", function, exc)
            return error_response(exc)
        return Response.error(
            f"a confidential chaincode takes {INVOKE}(request) or {ENDORSE}(request, response, ...), "
            f"not {function!r} with {max(len(args) - 1, 0)} argument(s)"
        )
