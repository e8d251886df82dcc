"""ConfidentialChaincode: the peer-side chaincode of a confidential chaincode (FPC's ECC split).

  __invoke(confidential_request)             runs the request in the enclave; the payload is the
                                              enclave's confidential_response; writes nothing
  __endorse(confidential_request, confidential_response)
                                              `validate_and_apply`: the enclave's writes are
                                              buffered only if every check passes

A client calls `__invoke` (a query), verifies and decrypts the response itself, and, to commit,
submits `__endorse` with the same request and the response. The enclave is anything with
`ConfidentialEnclave.invoke`: the proxy (TA on OP-TEE) or, in tests, a reference enclave.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from foc.confidential.definitions import DefinitionStore
from foc.confidential.validation import validate_and_apply
from foc.errors import FocError
from foc.wrapper.stub import ChaincodeStub, Response

log = logging.getLogger(__name__)

INVOKE = "__invoke"
ENDORSE = "__endorse"

GetState = Callable[[str], bytes | None]


class ConfidentialEnclave(Protocol):
    """Runs one confidential request; `get_state` answers the enclave's reads (stored bytes)."""

    def invoke(self, confidential_request: bytes, get_state: GetState) -> bytes:
        """Return the confidential_response; raise a FocError if the enclave refused the request."""
        ...


class ConfidentialChaincode:
    """Implements `foc.wrapper.stub.Chaincode` for one confidential chaincode."""

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
                return Response.success(self._enclave.invoke(args[1], stub.get_state))
            if function == ENDORSE and len(args) == 3:
                definition = self._definitions.get(self.chaincode_id)
                validate_and_apply(stub, definition, args[1], args[2], registry_name=self._registry_name)
                return Response.success(b"OK")
        except FocError as exc:
            log.info("confidential %s refused: %s", function, exc)
            return Response.error(str(exc))
        return Response.error(
            f"a confidential chaincode takes {INVOKE}(request) or {ENDORSE}(request, response), "
            f"not {function!r} with {max(len(args) - 1, 0)} argument(s)"
        )
