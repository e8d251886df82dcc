"""`Contract` on the embedded dev ledger: the adapter the dev-ledger SDK can adopt as is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from foc.client.gateway import encode_args
from foc.errors import EndorsementFailure
from foc.ledger.peer import DevPeer


class DevLedgerContract:
    """invoke = `DevPeer.invoke` (commits; `MvccConflict` raises), query = `DevPeer.query`."""

    def __init__(self, peer: DevPeer, chaincode_name: str, *, creator: bytes = b"") -> None:
        self.peer = peer
        self.chaincode_name = chaincode_name
        self.creator = creator

    def invoke(
        self, function: str, args: Sequence[bytes | str], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Simulate and commit; the chaincode's payload, or `EndorsementFailure`."""
        result = self.peer.invoke(
            self.chaincode_name, [function, *encode_args(args)], creator=self.creator, transient=transient
        )
        if not result.response.endorsed:
            raise EndorsementFailure(result.response.status, result.response.message)
        return result.response.payload

    def query(
        self, function: str, args: Sequence[bytes | str], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Simulate only; the chaincode's payload, or `EndorsementFailure`."""
        result = self.peer.query(
            self.chaincode_name, [function, *encode_args(args)], creator=self.creator, transient=transient
        )
        if not result.response.endorsed:
            raise EndorsementFailure(result.response.status, result.response.message)
        return result.response.payload
