"""`Contract`: one chaincode on one channel, whatever the ledger back end.

The small interface a scenario is written against, so the same code runs on the embedded dev
ledger (`foc.client.devledger.DevLedgerContract`), on Fabric (`foc.client.gateway.GatewayContract`)
and confidentially over either (`foc.client.confidential.ConfidentialContract`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from foc.protocol import sizes
from foc.protocol.args import Arg, encode_arg, encode_args


class Contract(Protocol):
    """One chaincode on one channel, as a scenario sees it, whatever the ledger back end.

    `invoke` runs a transaction and commits it; `query` runs it without committing. Both return
    the chaincode's payload and raise `EndorsementFailure` (chaincode status >= 400, with its
    status and message) or `MvccConflict` (a read key changed before commit); a request over a
    limit the client knows is refused before it is sent (`LimitExceeded`). Arguments are bytes
    (Fabric's ChaincodeInput.args); text is UTF-8 encoded.
    """

    def invoke(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Submit a transaction; the chaincode's payload once it is committed."""
        ...

    def query(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Evaluate without committing; the chaincode's payload."""
        ...


class WrapperContract:
    """FOC's plaintext wrapper (chaincode ``foc``) as a `Contract`: the request is checked against
    the TA's limits (`foc.protocol.sizes.check_request`) before anything is sent, so a request of
    any size over a limit gets the LIMIT error naming that limit, never a transport's cap.

    Everything else is the back end's contract (`last_tx_id`, `last_block`, ...).
    """

    def __init__(self, contract: Contract) -> None:
        self.contract = contract

    def __getattr__(self, name: str) -> object:
        return getattr(self.contract, name)

    def invoke(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Check the request, then submit it; the chaincode's payload."""
        sizes.check_request([encode_arg(function, "function name"), *encode_args(args)])
        return self.contract.invoke(function, args, transient=transient)

    def query(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Check the request, then evaluate it; the chaincode's payload."""
        sizes.check_request([encode_arg(function, "function name"), *encode_args(args)])
        return self.contract.query(function, args, transient=transient)
