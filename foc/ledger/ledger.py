"""The embedded dev ledger: SQLite world state with versions plus a hash-chained block log.

One SQLite file (WAL mode) holds three tables:
  state(namespace, key, value, block, tx)  the world state; (block, tx) is the key's version
  blocks(number, hash, data)               the block log; `data` is the block's canonical encoding
  txs(tx_id, block)                        committed transaction ids (duplicates are refused)

`commit` runs MVCC validation (every key read still has the version it was read at, every range
query still returns the same keys and versions) and then applies the writes and appends the block
inside ONE SQLite transaction (`BEGIN IMMEDIATE` ... `COMMIT`): a failure or a crash at any point
leaves either the whole transaction or none of it. Commits are serialized (a lock in-process,
SQLite's write lock across processes); reads for concurrent simulations may run at any time.
A conflicting transaction raises `MvccConflict` and writes nothing (it is not recorded in a block:
unlike Fabric, the dev ledger commits one transaction per block and drops invalid ones).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from foc.errors import LedgerError, MvccConflict
from foc.ledger.blocks import GENESIS_PREV_HASH, VALID, Block, Transaction
from foc.ledger.rwset import KeyWrite, ReadWriteSet, Version

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (
  namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
  block INTEGER NOT NULL, tx INTEGER NOT NULL,
  PRIMARY KEY (namespace, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash BLOB NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txs (tx_id TEXT PRIMARY KEY, block INTEGER NOT NULL);
"""

StateDump = dict[tuple[str, str], tuple[bytes, Version]]


@dataclass(frozen=True)
class VerifyReport:
    """Result of `DevLedger.verify`: ok iff `problems` is empty."""

    blocks: int
    transactions: int
    keys: int
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def _v(version: Version | None) -> str:
    return "absent" if version is None else f"{version.block}.{version.tx}"


def _upper_bound_sql(end: str) -> tuple[str, tuple[str, ...]]:
    return ("", ()) if not end else (" AND key < ?", (end,))


class DevLedger:
    """A single-channel dev ledger in one SQLite file. Thread-safe; use as a context manager.

    Lifecycle: `DevLedger(path)` opens (creating the file and the genesis block if needed) ->
    read / range / commit / verify ... -> `close()`. Reopening the same path restores everything
    committed.
    """

    def __init__(self, path: str | Path, *, channel: str | None = None) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Text keys compare by code point in SQLite (BINARY collation on UTF-8), i.e. byte order.
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        self.channel = self._init_channel(channel)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the database (committed data is already durable)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> DevLedger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _init_channel(self, channel: str | None) -> str:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT value FROM meta WHERE name='channel'").fetchone()
                if row is None:
                    stored = channel or "dev"
                    self._db.execute("INSERT INTO meta VALUES ('channel', ?)", (stored,))
                    genesis = Block(0, GENESIS_PREV_HASH, stored, time.time_ns())
                    self._db.execute("INSERT INTO blocks VALUES (0, ?, ?)", (genesis.hash, genesis.encode()))
                else:
                    stored = str(row[0])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if channel is not None and channel != stored:
            raise LedgerError(f"ledger {self.path} belongs to channel {stored!r}, not {channel!r}")
        return stored

    # -- world state ---------------------------------------------------------------------

    def read(self, namespace: str, key: str) -> tuple[bytes, Version] | None:
        """The committed value and version of a key, or None if absent."""
        with self._lock:
            row = self._db.execute(
                "SELECT value, block, tx FROM state WHERE namespace=? AND key=?", (namespace, key)
            ).fetchone()
        return None if row is None else (bytes(row[0]), Version(row[1], row[2]))

    def range(self, namespace: str, start: str, end: str) -> list[tuple[str, bytes, Version]]:
        """Committed entries with start <= key < end (end "" = unbounded), in key order."""
        bound, params = _upper_bound_sql(end)
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value, block, tx FROM state WHERE namespace=? AND key >= ?"
                + bound
                + " ORDER BY key",
                (namespace, start, *params),
            ).fetchall()
        return [(k, bytes(v), Version(b, t)) for k, v, b, t in rows]

    def state_dump(self) -> StateDump:
        """The whole world state: {(namespace, key): (value, version)}."""
        with self._lock:
            rows = self._db.execute("SELECT namespace, key, value, block, tx FROM state").fetchall()
        return {(ns, k): (bytes(v), Version(b, t)) for ns, k, v, b, t in rows}

    # -- block log -----------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Number of blocks, genesis included."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0])

    def block(self, number: int) -> Block:
        """One block by number."""
        with self._lock:
            row = self._db.execute("SELECT data FROM blocks WHERE number=?", (number,)).fetchone()
        if row is None:
            raise LedgerError(f"block {number} does not exist (height {self.height})")
        return Block.decode(bytes(row[0]))

    def blocks(self, start: int = 0) -> Iterator[Block]:
        """Blocks from `start` to the tip."""
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM blocks WHERE number >= ? ORDER BY number", (start,)
            ).fetchall()
        for (data,) in rows:
            yield Block.decode(bytes(data))

    def has_transaction(self, tx_id: str) -> bool:
        """True if a transaction with this id was committed."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM txs WHERE tx_id=?", (tx_id,)).fetchone() is not None

    # -- commit --------------------------------------------------------------------------

    def commit(self, tx_id: str, chaincode: str, rwset: ReadWriteSet, *, creator: bytes = b"") -> Block:
        """Validate `rwset` against the current state and commit it as a new block, atomically.

        Raises MvccConflict (nothing written) if anything it read has changed since, LedgerError for
        a duplicate transaction id or a database failure (nothing written either).
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot start a commit on {self.path}: {exc}") from exc
            try:
                block = self._commit_locked(tx_id, chaincode, rwset, creator)
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise LedgerError(f"commit of {tx_id} failed, nothing written: {exc}") from exc
                raise
        return block

    def _commit_locked(self, tx_id: str, chaincode: str, rwset: ReadWriteSet, creator: bytes) -> Block:
        if self._db.execute("SELECT 1 FROM txs WHERE tx_id=?", (tx_id,)).fetchone():
            raise LedgerError(f"transaction {tx_id} was already committed")
        self._validate(tx_id, rwset)
        number, prev_hash = self._db.execute(
            "SELECT number + 1, hash FROM blocks ORDER BY number DESC LIMIT 1"
        ).fetchone()
        block = Block(
            number=int(number),
            prev_hash=bytes(prev_hash),
            channel=self.channel,
            timestamp_ns=time.time_ns(),
            transactions=(Transaction(tx_id, chaincode, rwset, VALID, creator),),
        )
        version = Version(block.number, 0)
        for write in rwset.writes:
            self._apply_write(write, version)
        self._db.execute("INSERT INTO blocks VALUES (?, ?, ?)", (block.number, block.hash, block.encode()))
        self._db.execute("INSERT INTO txs VALUES (?, ?)", (tx_id, block.number))
        return block

    def _validate(self, tx_id: str, rwset: ReadWriteSet) -> None:
        for read in rwset.reads:
            row = self._db.execute(
                "SELECT block, tx FROM state WHERE namespace=? AND key=?", (read.namespace, read.key)
            ).fetchone()
            current = None if row is None else Version(row[0], row[1])
            if current != read.version:
                # Key names can be plaintext arguments: name the versions, never the key.
                raise MvccConflict(
                    f"transaction {tx_id} conflicts: a key it read changed before commit "
                    f"(read at version {_v(read.version)}, now {_v(current)}); nothing was written",
                    hint="retry the transaction",
                )
        for query in rwset.ranges:
            bound, params = _upper_bound_sql(query.end)
            rows = self._db.execute(
                "SELECT key, block, tx FROM state WHERE namespace=? AND key >= ?" + bound + " ORDER BY key",
                (query.namespace, query.start, *params),
            ).fetchall()
            if tuple((k, Version(b, t)) for k, b, t in rows) != query.results:
                raise MvccConflict(
                    f"transaction {tx_id} conflicts: a range it queried changed before commit "
                    "(phantom read); nothing was written",
                    hint="retry the transaction",
                )

    def _apply_write(self, write: KeyWrite, version: Version) -> None:
        """Apply one write inside the open commit transaction (a seam for crash tests)."""
        if write.value is None:
            self._db.execute("DELETE FROM state WHERE namespace=? AND key=?", (write.namespace, write.key))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?, ?)",
                (write.namespace, write.key, write.value, version.block, version.tx),
            )

    # -- verification --------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Re-check the hash chain and that replaying the block log gives exactly the world state."""
        problems: list[str] = []
        replay: StateDump = {}
        tx_blocks: dict[str, int] = {}
        with self._lock:
            rows = self._db.execute("SELECT number, hash, data FROM blocks ORDER BY number").fetchall()
            tx_rows = dict(self._db.execute("SELECT tx_id, block FROM txs").fetchall())
        prev_hash = GENESIS_PREV_HASH
        for expected, (number, stored_hash, data) in enumerate(rows):
            data = bytes(data)
            if number != expected:
                problems.append(f"block {expected} is missing (found {number})")
                break
            try:
                block = Block.decode(data)
            except LedgerError as exc:
                problems.append(f"block {number}: {exc}")
                break
            if block.encode() != data:
                problems.append(f"block {number} is not in canonical encoding")
            if block.hash != bytes(stored_hash):
                problems.append(f"block {number}: content does not match its stored hash")
            if block.number != number:
                problems.append(f"block {number} claims to be block {block.number}")
            if block.prev_hash != prev_hash:
                problems.append(f"block {number}: previous-hash link is broken")
            if block.channel != self.channel:
                problems.append(f"block {number} belongs to channel {block.channel!r}")
            prev_hash = bytes(stored_hash)
            for index, tx in enumerate(block.transactions):
                tx_blocks[tx.tx_id] = number
                if tx.validation != VALID:
                    continue
                for w in tx.rwset.writes:
                    if w.value is None:
                        replay.pop((w.namespace, w.key), None)
                    else:
                        replay[(w.namespace, w.key)] = (w.value, Version(number, index))
        if not rows:
            problems.append("the block log is empty (no genesis block)")
        state = self.state_dump()
        if state != replay:
            changed = sorted({k for k in state.keys() | replay.keys() if state.get(k) != replay.get(k)})
            namespaces = ", ".join(sorted({ns for ns, _ in changed}))
            problems.append(
                f"world state differs from the block log for {len(changed)} key(s) in {namespaces}"
            )
        if tx_rows != tx_blocks:
            problems.append("the transaction index differs from the block log")
        return VerifyReport(len(rows), len(tx_blocks), len(state), tuple(problems))
