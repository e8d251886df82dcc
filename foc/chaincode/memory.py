"""An in-memory `ChaincodeStub` for unit tests: Fabric's read/write semantics, no persistence.

Reads see the committed dict only (a transaction does not read its own writes, as on Fabric);
writes are buffered in `writes` until `commit()` applies them. Reads are recorded in `reads`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from types import MappingProxyType

from foc.chaincode.stub import (
    Chaincode,
    Response,
    StateEntry,
    check_key,
    check_value,
    decode_text_args,
)
from foc.errors import UsageError
from foc.protocol import keys


class MemoryStub:
    """A fake stub over a plain dict. One instance per transaction, like a real stub."""

    def __init__(
        self,
        args: Sequence[bytes | str],
        *,
        state: MutableMapping[str, bytes] | None = None,
        tx_id: str = "tx-0",
        channel_id: str = "dev",
        creator: bytes = b"",
        transient: Mapping[str, bytes] | None = None,
        chaincodes: Mapping[str, Chaincode] | None = None,
    ) -> None:
        self.state: MutableMapping[str, bytes] = {} if state is None else state
        self._args = [a.encode("utf-8") if isinstance(a, str) else bytes(a) for a in args]
        self._tx_id = tx_id
        self._channel_id = channel_id
        self._creator = creator
        self._transient = dict(transient or {})
        self._chaincodes = dict(chaincodes or {})
        self.reads: dict[str, bytes | None] = {}
        self.writes: dict[str, bytes | None] = {}  # None = delete
        self.range_queries: list[tuple[str, str]] = []

    @property
    def tx_id(self) -> str:
        return self._tx_id

    @property
    def channel_id(self) -> str:
        return self._channel_id

    def get_args(self) -> list[bytes]:
        return list(self._args)

    def get_function_and_parameters(self) -> tuple[str, list[str]]:
        return decode_text_args(self._args)

    def get_state(self, key: str) -> bytes | None:
        check_key(key)
        value = self.state.get(key)
        self.reads.setdefault(key, value)
        return value

    def put_state(self, key: str, value: bytes) -> None:
        check_key(key)
        check_value(value)
        self.writes[key] = bytes(value) or None  # an empty value is a delete, as on a Fabric peer

    def del_state(self, key: str) -> None:
        check_key(key)
        self.writes[key] = None

    def get_state_by_range(self, start: str, end: str) -> Iterator[StateEntry]:
        keys.check_range(start, end)
        start = start or keys.EMPTY_START_SUBSTITUTE
        self.range_queries.append((start, end))
        for key in sorted(self.state, key=lambda k: k.encode()):
            if keys.in_range(key, start, end):
                yield StateEntry(key, self.state[key])

    def get_creator(self) -> bytes:
        return self._creator

    def get_transient(self) -> Mapping[str, bytes]:
        return MappingProxyType(self._transient)

    def invoke_chaincode(self, name: str, args: Sequence[bytes], channel: str = "") -> Response:
        chaincode = self._chaincodes.get(name)
        if chaincode is None:
            raise UsageError(f"chaincode {name!r} is not installed on this fake ledger")
        # The callee shares this transaction's state view and write buffer, as on Fabric.
        callee = MemoryStub(
            list(args),
            state=self.state,
            tx_id=self._tx_id,
            channel_id=channel or self._channel_id,
            creator=self._creator,
            transient=self._transient,
            chaincodes=self._chaincodes,
        )
        callee.reads, callee.writes = self.reads, self.writes
        return chaincode.invoke(callee)

    def commit(self) -> None:
        """Apply the buffered writes to `state` and clear the buffer."""
        for key, value in self.writes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        self.writes.clear()
