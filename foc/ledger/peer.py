"""DevPeer: a one-node "network" on the dev ledger: simulate (endorse), validate, commit.

`invoke` runs the chaincode on a `TransactionSimulator`; an endorsed response (status < 400) has
its read/write set validated and committed as one block, anything else commits nothing. `query`
simulates only. Safe to call from many threads at once: simulations overlap, commits serialize.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from foc.chaincode.stub import Chaincode, Response
from foc.errors import UsageError
from foc.ledger.blocks import Block
from foc.ledger.ledger import DevLedger
from foc.ledger.simulator import TransactionSimulator
from foc.protocol.args import encode_arg


@dataclass(frozen=True)
class TxResult:
    """What happened to one invocation: the chaincode's response and, if committed, its block."""

    tx_id: str
    response: Response
    block: Block | None
    simulate_s: float
    commit_s: float

    @property
    def committed(self) -> bool:
        return self.block is not None


class DevPeer:
    """Runs installed chaincodes against one `DevLedger`.

    `chaincodes` are installed up front; `resolve(name)`, if given, supplies a chaincode that is not
    installed yet (None: not hosted) the first time a transaction names it.
    """

    def __init__(
        self,
        ledger: DevLedger,
        chaincodes: Mapping[str, Chaincode] | None = None,
        *,
        resolve: Callable[[str], Chaincode | None] | None = None,
    ) -> None:
        self.ledger = ledger
        self._chaincodes = dict(chaincodes or {})
        self._resolve = resolve
        self._lock = threading.Lock()

    def chaincode(self, name: str) -> Chaincode | None:
        """The chaincode hosted under `name`, or None."""
        with self._lock:
            found = self._chaincodes.get(name)
            if found is None and self._resolve is not None:
                found = self._resolve(name)
                if found is not None:
                    self._chaincodes[name] = found
            return found

    def _simulate(
        self,
        chaincode: str,
        args: Sequence[bytes | str],
        creator: bytes,
        transient: Mapping[str, bytes] | None,
        tx_id: str | None,
    ) -> tuple[TransactionSimulator, Response]:
        target = self.chaincode(chaincode)
        if target is None:
            raise UsageError(f"chaincode {chaincode!r} is not installed on the dev ledger")
        raw = [encode_arg(a, "function name" if i == 0 else f"argument {i - 1}") for i, a in enumerate(args)]
        stub = TransactionSimulator(
            self.ledger,
            chaincode,
            raw,
            tx_id=tx_id or uuid.uuid4().hex,
            creator=creator,
            transient=transient,
            chaincodes=self.chaincode,
        )
        return stub, target.invoke(stub)

    def invoke(
        self,
        chaincode: str,
        args: Sequence[bytes | str],
        *,
        creator: bytes = b"",
        transient: Mapping[str, bytes] | None = None,
        tx_id: str | None = None,
    ) -> TxResult:
        """Simulate and, if endorsed, commit. Raises MvccConflict if the commit conflicts."""
        started = time.monotonic()
        stub, response = self._simulate(chaincode, args, creator, transient, tx_id)
        simulated = time.monotonic()
        if not response.endorsed:
            return TxResult(stub.tx_id, response, None, simulated - started, 0.0)
        block = self.ledger.commit(stub.tx_id, chaincode, stub.rwset(), creator=creator)
        return TxResult(stub.tx_id, response, block, simulated - started, time.monotonic() - simulated)

    def query(
        self,
        chaincode: str,
        args: Sequence[bytes | str],
        *,
        creator: bytes = b"",
        transient: Mapping[str, bytes] | None = None,
    ) -> TxResult:
        """Simulate only: the response, nothing committed (any writes are discarded)."""
        started = time.monotonic()
        stub, response = self._simulate(chaincode, args, creator, transient, None)
        return TxResult(stub.tx_id, response, None, time.monotonic() - started, 0.0)
