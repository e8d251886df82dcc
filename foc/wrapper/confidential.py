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
proxy, so the proxy's log line and the ledger's block name the same transaction.

`ProxyEnclave` sees no plaintext: the request, the state values it relays for the TA's reads and
the response are all encrypted for the TA or the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from foc.admin.definitions import DefinitionStore
from foc.chaincode.stub import ChaincodeStub, Response
from foc.confidential.formats import MAX_TRUSTED_DEVICES, EnclaveConfig
from foc.errors import FocError
from foc.registry.validation import validate_and_apply
from foc.wrapper.errors import error_response

log = logging.getLogger(__name__)

INVOKE = "__invoke"
ENDORSE = "__endorse"

GetState = Callable[[str], bytes | None]


class ConfidentialEnclave(Protocol):
    """Runs one confidential request; `get_state` answers the enclave's reads (stored bytes)."""

    def invoke(
        self, confidential_request: bytes, get_state: GetState, *, transaction_id: str, channel_id: str
    ) -> bytes:
        """Return the confidential_response; raise a FocError if the enclave refused the request."""
        ...


class EnclaveProxy(Protocol):
    """What `ProxyEnclave` needs from `foc.proxy.client.ProxyClient` (tests may pass a fake)."""

    def invoke_confidential(
        self,
        request: bytes,
        *,
        get_state: GetState,
        transaction_id: str,
        channel_id: str = "",
        timeout: float | None = None,
    ) -> bytes: ...

    def create_enclave(self, config: bytes) -> bytes: ...

    def credentials(self) -> bytes: ...

    def key_transfer(self, step: str, message: bytes) -> bytes: ...


class ProxyEnclave:
    """`ConfidentialEnclave` over foc-proxy: FOC_CMD_CONFIDENTIAL_INVOKE in the TA.

    Also the enclave lifecycle through the same proxy: `create` and `credentials` return the
    credentials bytes the registry (`ercc`) verifies.
    """

    def __init__(self, proxy: EnclaveProxy, *, timeout: float | None = None) -> None:
        self._proxy = proxy
        self._timeout = timeout

    def invoke(
        self, confidential_request: bytes, get_state: GetState, *, transaction_id: str, channel_id: str
    ) -> bytes:
        """Run the request in the TA; raises ChaincodeError (TA refusal) or ProxyUnavailable."""
        return self._proxy.invoke_confidential(
            confidential_request,
            get_state=get_state,
            transaction_id=transaction_id,
            channel_id=channel_id,
            timeout=self._timeout,
        )

    def create(self, config: EnclaveConfig) -> bytes:
        """Create the enclave in the TA (config.force replaces an existing one); the credentials."""
        return self._proxy.create_enclave(config.encode())

    def credentials(self) -> bytes:
        """The TA's stored credentials (ChaincodeError NOT_FOUND before any create)."""
        return self._proxy.credentials()

    def join(self, config: EnclaveConfig) -> bytes:
        """FOC_CMD_ENCLAVE_JOIN: a new enclave without keys; its key_request."""
        return self._proxy.key_transfer("join", config.encode())

    def export_keys(self, key_export: bytes) -> bytes:
        """FOC_CMD_KEY_EXPORT on a key holder: the key_package (ChaincodeError UNTRUSTED if refused)."""
        return self._proxy.key_transfer("export", key_export)

    def import_keys(self, key_import: bytes) -> bytes:
        """FOC_CMD_KEY_IMPORT on the joining TA: its credentials (ChaincodeError UNTRUSTED if refused)."""
        return self._proxy.key_transfer("import", key_import)


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
                        args[1], stub.get_state, transaction_id=stub.tx_id, channel_id=stub.channel_id
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
