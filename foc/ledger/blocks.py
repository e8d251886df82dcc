"""Blocks of the dev ledger's hash-chained log and their canonical encoding.

A block's hash is sha256 over its canonical encoding: UTF-8 JSON with sorted keys, no
whitespace and ASCII-only escapes, bytes as lowercase hex. The encoding includes the previous
block's hash, so changing any committed block breaks every later link (`DevLedger.verify`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from foc.errors import LedgerError
from foc.ledger.rwset import ReadWriteSet

VALID = "VALID"
GENESIS_PREV_HASH = bytes(32)
FORMAT = "foc-dev-ledger/1"


@dataclass(frozen=True)
class Transaction:
    """One transaction in a block: id, chaincode (namespace), read/write set, validation code."""

    tx_id: str
    chaincode: str
    rwset: ReadWriteSet
    validation: str = VALID
    creator: bytes = b""

    def to_json(self) -> dict[str, Any]:
        return {
            "tx_id": self.tx_id,
            "chaincode": self.chaincode,
            "creator": self.creator.hex(),
            "validation": self.validation,
            "rwset": self.rwset.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transaction:
        return cls(
            tx_id=str(data["tx_id"]),
            chaincode=str(data["chaincode"]),
            rwset=ReadWriteSet.from_json(data["rwset"]),
            validation=str(data["validation"]),
            creator=bytes.fromhex(data["creator"]),
        )


@dataclass(frozen=True)
class Block:
    """A block: number, previous hash, channel, commit time and its transactions."""

    number: int
    prev_hash: bytes
    channel: str
    timestamp_ns: int
    transactions: tuple[Transaction, ...] = ()

    def encode(self) -> bytes:
        """The canonical encoding the hash is computed over."""
        data = {
            "format": FORMAT,
            "number": self.number,
            "prev_hash": self.prev_hash.hex(),
            "channel": self.channel,
            "timestamp_ns": self.timestamp_ns,
            "transactions": [t.to_json() for t in self.transactions],
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    @property
    def hash(self) -> bytes:
        """sha256 over `encode()`."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes) -> Block:
        """Parse a canonical encoding; raises LedgerError if it is not one."""
        try:
            obj = json.loads(data)
            if obj.get("format") != FORMAT:
                raise ValueError(f"unknown block format {obj.get('format')!r}")
            block = cls(
                number=int(obj["number"]),
                prev_hash=bytes.fromhex(obj["prev_hash"]),
                channel=str(obj["channel"]),
                timestamp_ns=int(obj["timestamp_ns"]),
                transactions=tuple(Transaction.from_json(t) for t in obj["transactions"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LedgerError(f"malformed block in the block log: {exc}") from exc
        return block
