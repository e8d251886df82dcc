"""ProxyEnclave: the TA behind foc-proxy as the enclave of a ConfidentialChaincode.

    proxy = ProxyClient("127.0.0.1:50051")
    chaincode = ConfidentialChaincode("coffee", ProxyEnclave(proxy), DefinitionStore())

`invoke` sends the opaque confidential_request to the proxy (FOC_CMD_CONFIDENTIAL_INVOKE in the
TA), answers the TA's reads with the *stored* (encrypted) ledger values, and returns the enclave's
signed confidential_response. Nothing here sees plaintext: the request, the state values and the
response are all encrypted for the TA or the client.

Enclave lifecycle helpers (`create`, `credentials`) go through the same proxy; they return the
credentials bytes the registry (`ercc`) verifies.
"""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from foc.confidential.chaincode import GetState
from foc.confidential.formats import EnclaveConfig

log = logging.getLogger(__name__)


class EnclaveProxy(Protocol):
    """What ProxyEnclave needs from `foc.proxy.client.ProxyClient` (tests may pass a fake)."""

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


class ProxyEnclave:
    """`foc.confidential.chaincode.ConfidentialEnclave` over foc-proxy."""

    def __init__(self, proxy: EnclaveProxy, *, channel_id: str = "", timeout: float | None = None) -> None:
        self._proxy = proxy
        self._channel_id = channel_id
        self._timeout = timeout

    def invoke(self, confidential_request: bytes, get_state: GetState) -> bytes:
        """Run the request in the TA; raises ChaincodeError (TA refusal) or ProxyUnavailable."""
        # The enclave interface carries no transaction id; a fresh one names the proxy stream in logs.
        transaction_id = f"conf-{uuid.uuid4().hex}"
        return self._proxy.invoke_confidential(
            confidential_request,
            get_state=get_state,
            transaction_id=transaction_id,
            channel_id=self._channel_id,
            timeout=self._timeout,
        )

    def create(self, config: EnclaveConfig) -> bytes:
        """Create the enclave in the TA (config.force replaces an existing one); the credentials."""
        return self._proxy.create_enclave(config.encode())

    def credentials(self) -> bytes:
        """The TA's stored credentials (ChaincodeError NOT_FOUND before any create)."""
        return self._proxy.credentials()
