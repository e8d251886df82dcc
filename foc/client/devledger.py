"""The embedded dev ledger as a `Contract` back end (`foc.connect(ledger=...)` builds it).

`DevLedgerContract` is the dev-ledger implementation of `foc.client.contract.Contract`: invoke =
simulate + commit one block, query = simulate only; a chaincode refusal raises
`EndorsementFailure` (status, message) exactly as the Fabric Gateway client does, and a commit
conflict raises `MvccConflict`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from foc.errors import EndorsementFailure
from foc.ledger.peer import DevPeer
from foc.protocol.args import Arg, encode_arg, encode_args

if TYPE_CHECKING:
    pass

WRAPPER_NAME = "foc"  # FOC's plaintext wrapper chaincode (and its ledger namespace)


class DevLedgerContract:
    """`Contract` on a `DevPeer`: invoke = simulate and commit; query = simulate only."""

    def __init__(self, peer: DevPeer, chaincode_name: str, *, creator: bytes = b"") -> None:
        self.peer = peer
        self.chaincode_name = chaincode_name
        self.creator = creator
        #: the last committed transaction (id and block number), for callers that report it
        self.last_tx_id: str | None = None
        self.last_block: int | None = None

    def invoke(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Simulate and commit; the chaincode's payload, or `EndorsementFailure` (nothing committed)."""
        result = self.peer.invoke(
            self.chaincode_name,
            [encode_arg(function, "function name"), *encode_args(args)],
            creator=self.creator,
            transient=transient,
        )
        if not result.response.endorsed:
            raise EndorsementFailure(result.response.status, result.response.message)
        self.last_tx_id = result.tx_id
        self.last_block = result.block.number if result.block is not None else None
        return result.response.payload

    def query(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Simulate only; the chaincode's payload, or `EndorsementFailure`."""
        result = self.peer.query(
            self.chaincode_name,
            [encode_arg(function, "function name"), *encode_args(args)],
            creator=self.creator,
            transient=transient,
        )
        if not result.response.endorsed:
            raise EndorsementFailure(result.response.status, result.response.message)
        return result.response.payload
