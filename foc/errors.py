"""Typed errors for every FOC component, each with a CLI exit code.

Messages are written for the person who has to act on them. They never carry
plaintext arguments, state values or key material.
"""

from __future__ import annotations


class FocError(Exception):
    """Base class. `exit_code` is what the `foc` / `foc-deploy` CLIs exit with."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(FocError):
    """The user asked for something malformed (bad flags, wrong argument count...)."""

    exit_code = 2


class ConfigError(FocError):
    """Configuration is missing or inconsistent."""

    exit_code = 3


class HostSetupError(FocError):
    """A host tool or package is missing; the hint names the exact install command."""

    exit_code = 4


class BuildError(FocError):
    """An image build step failed."""

    exit_code = 5


class TargetError(FocError):
    """The device (QEMU guest or board) did not boot, panicked, or stopped answering."""

    exit_code = 6


class ConsoleTimeout(TargetError):
    """A console expectation was not met in time."""


class ListenError(FocError):
    """A server could not listen on its address: another process listens there, or the host is
    not an address of this machine. FOC's servers never share a port (no SO_REUSEPORT)."""


class TeeError(FocError):
    """A GP TEE Client API call failed. `code` is the TEEC result, `origin` its origin."""

    exit_code = 7

    def __init__(self, message: str, *, code: int = 0, origin: int = 0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.origin = origin


class TaCrashed(TeeError):
    """The TA panicked or its session died (TEE_ERROR_TARGET_DEAD)."""


class ProxyUnavailable(FocError):
    """The proxy could not be reached or dropped the transaction."""

    exit_code = 8


class ChaincodeError(FocError):
    """The chaincode (inside the TA) refused the invocation: structured code + message."""

    exit_code = 9

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.reason = message


class LimitExceeded(ChaincodeError):
    """A size or count is over a documented limit (docs/limits.md): code ``LIMIT``, exit 9.

    Raised by the hop that found it before it sends anything on (the client, the wrapper's proxy
    client, the proxy, the CaaS shim, the gateway client), or mapped from a gRPC
    RESOURCE_EXHAUSTED (a message over a transport's size cap). `limit_name` is the limit's name
    (e.g. ``FOC_MAX_REQUEST``) and `limit` its value, when known.
    """

    def __init__(self, message: str, *, limit_name: str = "", limit: int = 0) -> None:
        super().__init__("LIMIT", message)
        self.limit_name = limit_name
        self.limit = limit


class LedgerError(FocError):
    """The ledger refused a commit (e.g. MVCC conflict) or is corrupt."""

    exit_code = 10


class MvccConflict(LedgerError):
    """A key read during execution changed before commit; nothing was written."""


class PeerRequestError(LedgerError):
    """The Fabric peer answered a chaincode shim request (GetState, PutState...) with ERROR.

    `peer_message` is the peer's own error text (e.g. "no ledger context").
    """

    def __init__(self, message: str, *, peer_message: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.peer_message = peer_message


class PeerStreamClosed(LedgerError):
    """The Fabric peer's chaincode stream ended (or never became ready) while a transaction needed it."""


class PeerProtocolError(LedgerError):
    """The Fabric peer sent a message the chaincode shim protocol does not allow here."""


class ConfidentialityError(FocError):
    """Confidential mode refused a message: malformed, failed to decrypt, or not what was sent.

    `reason` is the user-facing explanation (never contains plaintext or key material).
    """

    exit_code = 11

    def __init__(self, reason: str, *, hint: str | None = None) -> None:
        super().__init__(reason, hint=hint)
        self.reason = reason


class VerificationError(ConfidentialityError):
    """A signature, an enclave registration or a chaincode-definition check failed."""


class AttestationError(VerificationError):
    """Enclave evidence was rejected (unenrolled device, bad signature, wrong measurement...)."""


class MeasurementError(ConfidentialityError):
    """A signed `.ta` could not be measured (malformed, encrypted, or not loadable by OP-TEE)."""


class GatewayError(FocError):
    """The Fabric Gateway (`gateway.Gateway` on the peer) refused or failed a call.

    `grpc_code` is the gRPC status name (e.g. "ABORTED", "PERMISSION_DENIED"); `details` are the
    gateway's `ErrorDetail`s as (address, msp_id, message) of each peer or orderer that failed.
    """

    exit_code = 12

    def __init__(
        self,
        message: str,
        *,
        grpc_code: str = "",
        details: tuple[tuple[str, str, str], ...] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.grpc_code = grpc_code
        self.details = details


class GatewayUnavailable(GatewayError):
    """The gateway could not be reached (address, TLS settings, or the peer is down)."""


class GatewayTimeout(GatewayError):
    """A gateway call did not finish before its deadline."""


class EndorsementFailure(FocError):
    """The chaincode refused the proposal: its response had status >= 400, so nothing was endorsed.

    `status` and `chaincode_message` are the chaincode's own `peer.Response` status and message.
    Raised by the Fabric Gateway client and by the dev-ledger contract alike.
    """

    exit_code = 9

    def __init__(self, status: int, chaincode_message: str, *, hint: str | None = None) -> None:
        super().__init__(
            f"the chaincode refused the transaction (status {status}): {chaincode_message}", hint=hint
        )
        self.status = status
        self.chaincode_message = chaincode_message


class EndorsementPolicyFailure(FocError):
    """Too few enclaves, or not those of the right organisations, endorsed a confidential
    transaction for its endorsement policy; nothing was submitted (the reason names who failed)."""

    exit_code = 9


class TransactionInvalid(LedgerError):
    """The transaction was ordered but the committing peer marked it invalid; nothing was written.

    `validation_code` is Fabric's TxValidationCode name (e.g. "ENDORSEMENT_POLICY_FAILURE").
    """

    def __init__(
        self, tx_id: str, validation_code: str, block_number: int, *, hint: str | None = None
    ) -> None:
        super().__init__(
            f"transaction {tx_id[:12]}... was invalidated in block {block_number}: {validation_code}",
            hint=hint,
        )
        self.tx_id = tx_id
        self.validation_code = validation_code
        self.block_number = block_number


class TransactionMvccConflict(TransactionInvalid, MvccConflict):
    """MVCC_READ_CONFLICT: a key the transaction read changed before it committed. Retry it."""
