"""TransactionSimulator: the dev ledger's `ChaincodeStub` for one transaction.

It reads committed state from the `DevLedger` and records each key's version at first read (and
each range query's results), buffers writes, and hands the resulting `ReadWriteSet` to
`DevLedger.commit`, which re-checks the versions (MVCC). As on Fabric, a transaction does not see
its own writes. Many simulators may run concurrently on one ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType

from foc.chaincode.stub import Response, StateEntry, check_key, check_value, decode_text_args
from foc.errors import UsageError
from foc.ledger.ledger import DevLedger
from foc.ledger.rwset import KeyRead, KeyWrite, RangeRead, ReadWriteSet, Version
from foc.protocol import keys

ChaincodeLookup = Callable[[str], object | None]


class _Recorder:
    """The read/write set shared by a transaction and the chaincodes it invokes."""

    def __init__(self) -> None:
        self.reads: dict[tuple[str, str], Version | None] = {}
        self.ranges: list[RangeRead] = []
        self.writes: dict[tuple[str, str], bytes | None] = {}

    def rwset(self) -> ReadWriteSet:
        return ReadWriteSet(
            reads=tuple(KeyRead(ns, k, v) for (ns, k), v in self.reads.items()),
            ranges=tuple(self.ranges),
            writes=tuple(KeyWrite(ns, k, v) for (ns, k), v in self.writes.items()),
        )


class TransactionSimulator:
    """Implements `foc.chaincode.stub.ChaincodeStub` over a `DevLedger` for one transaction."""

    def __init__(
        self,
        ledger: DevLedger,
        namespace: str,
        args: Sequence[bytes],
        *,
        tx_id: str,
        creator: bytes = b"",
        transient: Mapping[str, bytes] | None = None,
        chaincodes: ChaincodeLookup | None = None,
        _recorder: _Recorder | None = None,
    ) -> None:
        self._ledger = ledger
        self.namespace = namespace
        self._args = [bytes(a) for a in args]
        self._tx_id = tx_id
        self._creator = creator
        self._transient = dict(transient or {})
        self._chaincodes = chaincodes
        self._recorder = _recorder or _Recorder()

    @property
    def tx_id(self) -> str:
        return self._tx_id

    @property
    def channel_id(self) -> str:
        return self._ledger.channel

    def get_args(self) -> list[bytes]:
        return list(self._args)

    def get_function_and_parameters(self) -> tuple[str, list[str]]:
        return decode_text_args(self._args)

    def get_state(self, key: str) -> bytes | None:
        check_key(key)
        entry = self._ledger.read(self.namespace, key)
        value, version = (None, None) if entry is None else entry
        # Keep the version of the first read: a later, different version is itself a conflict
        # that commit-time validation of the first version will catch.
        self._recorder.reads.setdefault((self.namespace, key), version)
        return value

    def put_state(self, key: str, value: bytes) -> None:
        check_key(key)
        check_value(value)
        self._recorder.writes[(self.namespace, key)] = bytes(value)

    def del_state(self, key: str) -> None:
        check_key(key)
        self._recorder.writes[(self.namespace, key)] = None

    def get_state_by_range(self, start: str, end: str) -> Iterator[StateEntry]:
        keys.check_range(start, end)
        start = start or keys.EMPTY_START_SUBSTITUTE  # as Fabric's shims: no composite keys
        entries = self._ledger.range(self.namespace, start, end)
        self._recorder.ranges.append(
            RangeRead(self.namespace, start, end, tuple((k, ver) for k, _, ver in entries))
        )
        return iter([StateEntry(k, v) for k, v, _ in entries])

    def get_creator(self) -> bytes:
        return self._creator

    def get_transient(self) -> Mapping[str, bytes]:
        return MappingProxyType(self._transient)

    def invoke_chaincode(self, name: str, args: Sequence[bytes], channel: str = "") -> Response:
        if channel and channel != self._ledger.channel:
            raise UsageError(f"the dev ledger has one channel ({self._ledger.channel!r}), not {channel!r}")
        chaincode = self._chaincodes(name) if self._chaincodes else None
        if chaincode is None:
            raise UsageError(f"chaincode {name!r} is not installed on the dev ledger")
        callee = TransactionSimulator(
            self._ledger,
            name,
            args,
            tx_id=self._tx_id,
            creator=self._creator,
            transient=self._transient,
            chaincodes=self._chaincodes,
            _recorder=self._recorder,
        )
        return chaincode.invoke(callee)  # type: ignore[attr-defined, no-any-return]

    def rwset(self) -> ReadWriteSet:
        """What this transaction (and the chaincodes it invoked) read and wrote so far."""
        return self._recorder.rwset()
