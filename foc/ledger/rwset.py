"""Read/write sets: what a simulated transaction read (with versions) and wants to write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foc.errors import LedgerError


@dataclass(frozen=True, order=True)
class Version:
    """The height at which a key was last written: (block number, tx index in the block)."""

    block: int
    tx: int

    def to_json(self) -> list[int]:
        return [self.block, self.tx]

    @classmethod
    def from_json(cls, data: Any) -> Version | None:
        if data is None:
            return None
        block, tx = data
        return cls(int(block), int(tx))


@dataclass(frozen=True)
class KeyRead:
    """A key read during simulation and the version it had (None = the key did not exist)."""

    namespace: str
    key: str
    version: Version | None


@dataclass(frozen=True)
class RangeRead:
    """A range query and the (key, version) pairs it returned, re-checked at commit (phantoms)."""

    namespace: str
    start: str
    end: str
    results: tuple[tuple[str, Version], ...]


@dataclass(frozen=True)
class KeyWrite:
    """A buffered write; `value` None means delete.

    As on a Fabric peer, writing an empty value is a delete: Fabric's read/write set builder records
    ``IsDelete = len(value) == 0`` (core/ledger/kvledger/txmgmt/rwsetutil), so the key is gone after
    commit; the value is normalised to None here.
    """

    namespace: str
    key: str
    value: bytes | None

    def __post_init__(self) -> None:
        if self.value is not None and len(self.value) == 0:
            object.__setattr__(self, "value", None)

    @property
    def is_delete(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class ReadWriteSet:
    """Everything MVCC validation and commit need from one transaction."""

    reads: tuple[KeyRead, ...] = ()
    ranges: tuple[RangeRead, ...] = ()
    writes: tuple[KeyWrite, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form with a fixed field order (used in the block's canonical encoding)."""
        return {
            "reads": [
                {"ns": r.namespace, "key": r.key, "version": r.version.to_json() if r.version else None}
                for r in self.reads
            ],
            "ranges": [
                {
                    "ns": q.namespace,
                    "start": q.start,
                    "end": q.end,
                    "results": [[k, v.to_json()] for k, v in q.results],
                }
                for q in self.ranges
            ],
            "writes": [
                {"ns": w.namespace, "key": w.key, "delete": w.is_delete, "value": (w.value or b"").hex()}
                for w in self.writes
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReadWriteSet:
        try:
            return cls(
                reads=tuple(
                    KeyRead(r["ns"], r["key"], Version.from_json(r["version"])) for r in data["reads"]
                ),
                ranges=tuple(
                    RangeRead(
                        q["ns"],
                        q["start"],
                        q["end"],
                        tuple((k, Version(*v)) for k, v in q["results"]),
                    )
                    for q in data["ranges"]
                ),
                writes=tuple(
                    KeyWrite(w["ns"], w["key"], None if w["delete"] else bytes.fromhex(w["value"]))
                    for w in data["writes"]
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerError(f"malformed read/write set in the block log: {exc}") from exc
