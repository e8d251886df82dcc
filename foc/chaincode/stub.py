"""The chaincode stub interface: what a chaincode may ask of the ledger during one transaction.

Every ledger back end implements `ChaincodeStub`: the Fabric shim (a later issue), the embedded
dev ledger's transaction simulator (`foc.ledger.simulator`) and the in-memory fake used by unit
tests (`foc.chaincode.memory`). Chaincodes (`FocWrapper`, the enclave registry) are written against
this protocol only, never against a concrete back end.

Semantics follow Fabric's shim (see docs/architecture.md):

* `get_state` returns the *committed* value (``None`` if absent); a transaction does not read its
  own writes.
* `put_state` / `del_state` only buffer a write; it reaches the ledger when the transaction is
  validated and committed. Writing an empty value is a delete (Fabric records it with
  IsDelete = true).
* `get_state_by_range` iterates committed keys in ``[start, end)`` in byte order of the UTF-8
  key; an empty ``end`` means "no upper bound", an empty ``start`` the first simple key (Fabric's
  shims send U+0001, so composite keys are never in a simple range). The bounds are simple keys, or
  those of a partial composite key query (`foc.protocol.keys.partial_key_range`).
* Composite keys (`foc.protocol.keys.create_composite_key`) are read and written like other keys.
* `Response.status` has Fabric's meaning: below 400 the transaction is endorsed and its write set
  committed; 400..499 is returned to the client without endorsement; 500 and above is a failure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from foc.errors import UsageError
from foc.protocol import keys
from foc.protocol.context import Creator

OK = 200
ERROR_THRESHOLD = 400
ERROR = 500


@dataclass(frozen=True)
class Response:
    """A chaincode's answer: Fabric's `peer.Response` (status, message, payload)."""

    status: int
    message: str = ""
    payload: bytes = b""

    @classmethod
    def success(cls, payload: bytes = b"") -> Response:
        """Status 200 with `payload`."""
        return cls(OK, "", payload)

    @classmethod
    def error(cls, message: str, status: int = ERROR) -> Response:
        """A failure (default status 500) with a human-readable `message`."""
        if status < ERROR_THRESHOLD:
            raise ValueError(f"an error response needs a status >= {ERROR_THRESHOLD}, not {status}")
        return cls(status, message, b"")

    @property
    def endorsed(self) -> bool:
        """True if Fabric would endorse this response and commit the transaction's writes."""
        return self.status < ERROR_THRESHOLD


@dataclass(frozen=True)
class StateEntry:
    """One key/value pair yielded by a range query."""

    key: str
    value: bytes


def check_key(key: str) -> None:
    """Reject keys Fabric rejects: empty, not text, or starting with NUL without being a well-formed
    composite key (`foc.protocol.keys`: Fabric's CreateCompositeKey form is allowed)."""
    if not isinstance(key, str):
        raise UsageError(f"a state key must be text, not {type(key).__name__}")
    if not key:
        raise UsageError("a state key must not be empty")
    if keys.is_composite(key):
        keys.check_composite_key(key)
        return
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError("a state key must be valid UTF-8") from exc


def check_value(value: bytes) -> None:
    """Reject state values that are not bytes."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise UsageError(f"a state value must be bytes, not {type(value).__name__}")


@runtime_checkable
class ChaincodeStub(Protocol):
    """The ledger as one transaction sees it.

    Lifecycle: a back end creates one stub per transaction, hands it to `Chaincode.invoke`, and
    after the chaincode returns an endorsed `Response` validates and commits the buffered writes.
    A stub is not shared between transactions or threads.
    """

    @property
    def tx_id(self) -> str:
        """The transaction id."""
        ...

    @property
    def channel_id(self) -> str:
        """The channel this transaction runs on."""
        ...

    def get_args(self) -> list[bytes]:
        """All invocation arguments, the function name first (Fabric's ChaincodeInput.args)."""
        ...

    def get_function_and_parameters(self) -> tuple[str, list[str]]:
        """The function name and the remaining arguments decoded as UTF-8 text."""
        ...

    def get_state(self, key: str) -> bytes | None:
        """The committed value of `key`, or None if it does not exist."""
        ...

    def put_state(self, key: str, value: bytes) -> None:
        """Buffer a write of `value` to `key`."""
        ...

    def del_state(self, key: str) -> None:
        """Buffer a deletion of `key`."""
        ...

    def get_state_by_range(self, start: str, end: str) -> Iterator[StateEntry]:
        """Committed entries with start <= key < end (end "" = unbounded), in key order.

        UsageError for bounds `foc.protocol.keys.check_range` refuses.
        """
        ...

    def get_creator(self) -> bytes:
        """The serialized identity of the transaction's submitter (msp.SerializedIdentity)."""
        ...

    def get_transient(self) -> Mapping[str, bytes]:
        """Transient data: sent with the proposal, never written to the ledger."""
        ...

    def invoke_chaincode(self, name: str, args: Sequence[bytes], channel: str = "") -> Response:
        """Call another chaincode in the same transaction (its reads/writes join this one's)."""
        ...


class Chaincode(Protocol):
    """A chaincode: Fabric calls `init` once per definition (if required) and `invoke` per transaction."""

    def init(self, stub: ChaincodeStub) -> Response:
        """Initialise; must not depend on anything but the stub."""
        ...

    def invoke(self, stub: ChaincodeStub) -> Response:
        """Run one transaction."""
        ...


def decode_text_args(args: Sequence[bytes]) -> tuple[str, list[str]]:
    """Split Fabric-style arguments into (function, parameters) as text; clear error if not UTF-8."""
    if not args:
        raise UsageError("an invocation needs at least a function name")
    try:
        texts = [bytes(a).decode("utf-8") for a in args]
    except UnicodeDecodeError as exc:
        raise UsageError("invocation arguments must be valid UTF-8 text") from exc
    return texts[0], texts[1:]


def parse_creator(serialized: bytes) -> Creator | None:
    """The creator `ChaincodeStub.get_creator` returns, as its MSP id and certificate.

    `serialized` is Fabric's msp.SerializedIdentity{mspid=1, id_bytes=2}; empty means no creator
    (None). UsageError for bytes that are not a SerializedIdentity with both fields.
    """
    if not serialized:
        return None
    from fabric_protos.msp import identities_pb2  # the official generated message (no type stubs)
    from google.protobuf.message import DecodeError

    messages: Any = identities_pb2
    try:
        identity = messages.SerializedIdentity.FromString(bytes(serialized))
    except DecodeError:
        raise UsageError("the transaction's creator is not an msp.SerializedIdentity") from None
    if not identity.mspid or not identity.id_bytes:
        raise UsageError("the transaction's creator lacks its MSP id or its certificate")
    return Creator(identity.mspid, bytes(identity.id_bytes))


def read_range(stub: ChaincodeStub, start: str, end: str, max_entries: int) -> list[tuple[str, bytes]]:
    """The entries of a range as (key, value) pairs, from the stub (which records the range read).

    Reads at most `max_entries` + 1 entries (the shim pages through the peer's results), so a caller
    sees a range over its limit without reading all of it, and closes the query as Fabric's shims
    do. UsageError for bounds `foc.protocol.keys.check_range` refuses.
    """
    iterator = stub.get_state_by_range(start, end)
    entries: list[tuple[str, bytes]] = []
    try:
        for entry in iterator:
            entries.append((entry.key, entry.value))
            if len(entries) > max_entries:
                break
    finally:
        closer = getattr(iterator, "close", None)
        if callable(closer):
            closer()
    return entries
