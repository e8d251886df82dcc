"""The embedded dev ledger: versions, MVCC, atomic commit, restart, hash-chain verification."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from foc.chaincode.stub import Response
from foc.errors import LedgerError, MvccConflict
from foc.ledger.blocks import GENESIS_PREV_HASH, Block
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.ledger.rwset import KeyRead, KeyWrite, ReadWriteSet, Version
from foc.ledger.simulator import TransactionSimulator


def writes(*pairs: tuple[str, bytes | None], ns: str = "cc") -> ReadWriteSet:
    return ReadWriteSet(writes=tuple(KeyWrite(ns, k, v) for k, v in pairs))


@pytest.fixture
def ledger(tmp_path: Path):
    with DevLedger(tmp_path / "l.sqlite") as led:
        yield led


def test_new_ledger_has_only_a_genesis_block(ledger: DevLedger) -> None:
    assert ledger.height == 1
    genesis = ledger.block(0)
    assert genesis.prev_hash == GENESIS_PREV_HASH and genesis.transactions == ()
    assert ledger.verify().ok
    assert ledger.channel == "dev"


def test_commit_sets_versions_block_and_tx_index(ledger: DevLedger) -> None:
    b1 = ledger.commit("t1", "cc", writes(("a", b"1"), ("b", b"2")))
    b2 = ledger.commit("t2", "cc", writes(("a", b"3")))
    assert (b1.number, b2.number) == (1, 2)
    assert b2.prev_hash == b1.hash
    assert ledger.read("cc", "a") == (b"3", Version(2, 0))
    assert ledger.read("cc", "b") == (b"2", Version(1, 0))
    assert ledger.read("other", "a") is None  # namespaces are separate
    assert ledger.has_transaction("t1") and not ledger.has_transaction("t3")
    assert ledger.block(2).transactions[0].rwset.writes == (KeyWrite("cc", "a", b"3"),)


def test_delete_removes_key(ledger: DevLedger) -> None:
    ledger.commit("t1", "cc", writes(("a", b"1")))
    ledger.commit("t2", "cc", writes(("a", None)))
    assert ledger.read("cc", "a") is None
    assert ledger.verify().ok


def test_empty_value_is_a_delete_as_on_a_fabric_peer(ledger: DevLedger) -> None:
    ledger.commit("t1", "cc", writes(("a", b"1")))
    ledger.commit("t2", "cc", writes(("a", b"")))
    assert ledger.read("cc", "a") is None
    assert ledger.block(2).transactions[0].rwset.writes[0].is_delete
    assert ledger.verify().ok


def test_range_is_half_open_and_sorted(ledger: DevLedger) -> None:
    ledger.commit("t1", "cc", writes(("b", b"2"), ("a", b"1"), ("c", b"3"), ("d", b"4")))
    assert [k for k, _, _ in ledger.range("cc", "b", "d")] == ["b", "c"]
    assert [k for k, _, _ in ledger.range("cc", "", "")] == ["a", "b", "c", "d"]


def test_duplicate_tx_id_is_refused(ledger: DevLedger) -> None:
    ledger.commit("t1", "cc", writes(("a", b"1")))
    with pytest.raises(LedgerError, match="already committed"):
        ledger.commit("t1", "cc", writes(("a", b"2")))
    assert ledger.read("cc", "a") == (b"1", Version(1, 0))


def test_mvcc_conflict_on_changed_read_writes_nothing(ledger: DevLedger) -> None:
    ledger.commit("t1", "cc", writes(("a", b"1")))
    stale = ReadWriteSet(
        reads=(KeyRead("cc", "a", Version(1, 0)),), writes=(KeyWrite("cc", "a", b"from-stale"),)
    )
    ledger.commit("t2", "cc", writes(("a", b"2")))
    height, dump = ledger.height, ledger.state_dump()
    with pytest.raises(MvccConflict) as info:
        ledger.commit("t3", "cc", stale)
    assert "nothing was written" in str(info.value)
    assert "from-stale" not in str(info.value)
    assert ledger.height == height and ledger.state_dump() == dump
    assert not ledger.has_transaction("t3")


def test_mvcc_conflict_when_absent_key_appears(ledger: DevLedger) -> None:
    rw = ReadWriteSet(reads=(KeyRead("cc", "new", None),), writes=(KeyWrite("cc", "new", b"x"),))
    ledger.commit("t1", "cc", writes(("new", b"y")))
    with pytest.raises(MvccConflict):
        ledger.commit("t2", "cc", rw)
    assert ledger.read("cc", "new") == (b"y", Version(1, 0))


def test_phantom_in_range_is_a_conflict(ledger: DevLedger) -> None:
    ledger.commit("t1", "cc", writes(("a", b"1")))
    sim = TransactionSimulator(ledger, "cc", [b"f"], tx_id="t2")
    assert [e.key for e in sim.get_state_by_range("a", "z")] == ["a"]
    sim.put_state("summary", b"1")
    ledger.commit("t3", "cc", writes(("m", b"phantom")))
    with pytest.raises(MvccConflict, match="phantom"):
        ledger.commit("t2", "cc", sim.rwset())


def test_simulator_reads_committed_state_only_and_buffers_writes(ledger: DevLedger) -> None:
    ledger.commit("t1", "cc", writes(("a", b"1")))
    sim = TransactionSimulator(ledger, "cc", [b"f", b"x"], tx_id="t2", creator=b"me")
    assert sim.get_function_and_parameters() == ("f", ["x"])
    assert sim.get_state("a") == b"1"
    sim.put_state("a", b"2")
    sim.del_state("b")
    assert sim.get_state("a") == b"1"  # no read-your-writes, as on Fabric
    assert ledger.read("cc", "a") == (b"1", Version(1, 0))  # nothing applied before commit
    rw = sim.rwset()
    assert rw.reads == (KeyRead("cc", "a", Version(1, 0)),)
    assert set(rw.writes) == {KeyWrite("cc", "a", b"2"), KeyWrite("cc", "b", None)}
    assert sim.get_creator() == b"me" and sim.channel_id == "dev" and sim.tx_id == "t2"


def test_atomic_commit_exception_after_half_the_writes(
    ledger: DevLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.commit("t1", "cc", writes(("k0", b"old")))
    before_dump, before_height = ledger.state_dump(), ledger.height
    applied: list[str] = []
    real = DevLedger._apply_write

    def crashing(self: DevLedger, write: KeyWrite, version: Version) -> None:
        if len(applied) == 2:
            raise RuntimeError("power cut")
        applied.append(write.key)
        real(self, write, version)

    monkeypatch.setattr(DevLedger, "_apply_write", crashing)
    rw = writes(*[(f"k{i}", b"new") for i in range(4)])
    with pytest.raises(RuntimeError, match="power cut"):
        ledger.commit("t2", "cc", rw)
    assert applied == ["k0", "k1"]  # half were applied inside the SQLite transaction ...
    assert ledger.state_dump() == before_dump  # ... and rolled back
    assert ledger.height == before_height and not ledger.has_transaction("t2")
    assert ledger.verify().ok
    monkeypatch.setattr(DevLedger, "_apply_write", real)
    assert ledger.commit("t2", "cc", rw).number == 2  # and the ledger keeps working


def test_process_killed_mid_commit_leaves_nothing_half_applied(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    with DevLedger(path) as led:
        led.commit("t1", "cc", writes(("k0", b"old")))
        before = led.state_dump()
    script = textwrap.dedent(
        f"""
        import os
        from foc.ledger.ledger import DevLedger
        from foc.ledger.rwset import KeyWrite, ReadWriteSet
        n = []
        real = DevLedger._apply_write
        def dying(self, write, version):
            if len(n) == 2:
                os._exit(42)  # no cleanup, no rollback: like SIGKILL
            n.append(1)
            real(self, write, version)
        DevLedger._apply_write = dying
        led = DevLedger({str(path)!r})
        batch = tuple(KeyWrite("cc", f"k{{i}}", b"new") for i in range(4))
        led.commit("t2", "cc", ReadWriteSet(writes=batch))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 42, proc.stderr.decode()
    with DevLedger(path) as led:
        assert led.state_dump() == before
        assert led.height == 2 and not led.has_transaction("t2")
        assert led.verify().ok


def test_restart_keeps_state_blocks_and_channel(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    with DevLedger(path, channel="mychannel") as led:
        led.commit("t1", "cc", writes(("a", b"1")))
        led.commit("t2", "cc", writes(("b", b"2")))
        dump, tip = led.state_dump(), led.block(2).hash
    with DevLedger(path) as led:
        assert led.channel == "mychannel"
        assert led.state_dump() == dump and led.height == 3 and led.block(2).hash == tip
        assert led.verify().ok
        assert led.commit("t3", "cc", writes(("c", b"3"))).prev_hash == tip
    with pytest.raises(LedgerError, match="channel"):
        DevLedger(path, channel="other")


def _tamper(path: Path, sql: str, *params: object) -> None:
    db = sqlite3.connect(path)
    db.execute(sql, params)
    db.commit()
    db.close()


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    path = tmp_path / "t.sqlite"
    with DevLedger(path) as led:
        for i in range(3):
            led.commit(f"t{i}", "cc", writes((f"k{i}", b"v")))
    return path


def test_verify_detects_edited_block_content(chain: Path) -> None:
    with DevLedger(chain) as led:
        data = led.block(1).encode().replace(b"76", b"77")  # hex of the value "v" -> "w"
    _tamper(chain, "UPDATE blocks SET data=? WHERE number=1", data)
    with DevLedger(chain) as led:
        report = led.verify()
    assert not report.ok
    assert any("does not match its stored hash" in p for p in report.problems)


def test_verify_detects_rehashed_block_via_broken_link(chain: Path) -> None:
    with DevLedger(chain) as led:
        b = led.block(1)
    forged = Block(b.number, b.prev_hash, b.channel, b.timestamp_ns + 1, b.transactions)
    _tamper(chain, "UPDATE blocks SET data=?, hash=? WHERE number=1", forged.encode(), forged.hash)
    with DevLedger(chain) as led:
        problems = led.verify().problems
    assert any("block 2: previous-hash link is broken" in p for p in problems)


def test_verify_detects_state_edited_behind_the_log(chain: Path) -> None:
    _tamper(chain, "UPDATE state SET value=? WHERE key='k1'", b"forged")
    with DevLedger(chain) as led:
        problems = led.verify().problems
    assert len(problems) == 1 and "world state differs" in problems[0]
    assert "forged" not in problems[0] and "k1" not in problems[0]


def test_verify_detects_deleted_block(chain: Path) -> None:
    _tamper(chain, "DELETE FROM blocks WHERE number=1")
    with DevLedger(chain) as led:
        assert any("missing" in p for p in led.verify().problems)


class Counter:
    """A plain-Python chaincode: `inc KEY` adds one to a counter."""

    def init(self, stub):  # type: ignore[no-untyped-def]
        return Response.success()

    def invoke(self, stub):  # type: ignore[no-untyped-def]
        fn, params = stub.get_function_and_parameters()
        current = int(stub.get_state(params[0]) or b"0")
        stub.put_state(params[0], str(current + 1).encode())
        return Response.success(str(current + 1).encode())


def test_concurrent_commits_distinct_keys_all_commit_same_key_serialize(ledger: DevLedger) -> None:
    peer = DevPeer(ledger, {"cc": Counter()})
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(index: int, key: str) -> None:
        stub = TransactionSimulator(ledger, "cc", [b"inc", key.encode()], tx_id=f"tx-{index}")
        Counter().invoke(stub)
        barrier.wait()  # all simulated before anyone commits
        try:
            ledger.commit(stub.tx_id, "cc", stub.rwset())
            result = "ok"
        except MvccConflict:
            result = "conflict"
        with lock:
            outcomes.append(result)

    keys = [f"d{i}" for i in range(4)] + ["same"] * 4
    threads = [threading.Thread(target=run, args=(i, k)) for i, k in enumerate(keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 5 and outcomes.count("conflict") == 3
    assert ledger.read("cc", "same")[0] == b"1"  # type: ignore[index]
    assert all(ledger.read("cc", f"d{i}")[0] == b"1" for i in range(4))  # type: ignore[index]
    assert ledger.height == 6 and ledger.verify().ok
    assert peer.query("cc", ["inc", "same"]).response.payload == b"2"
    assert ledger.read("cc", "same")[0] == b"1"  # type: ignore[index]  # query commits nothing


def test_peer_commits_endorsed_only(ledger: DevLedger) -> None:
    class Failing:
        def init(self, stub):  # type: ignore[no-untyped-def]
            return Response.success()

        def invoke(self, stub):  # type: ignore[no-untyped-def]
            stub.put_state("x", b"1")
            return Response.error("NOPE: refused")

    peer = DevPeer(ledger, {"cc": Counter(), "bad": Failing()})
    result = peer.invoke("bad", ["f"])
    assert not result.committed and result.response.status == 500
    assert ledger.read("bad", "x") is None and ledger.height == 1
    ok = peer.invoke("cc", ["inc", "a"])
    assert ok.committed and ok.block is not None and ok.block.number == 1


def test_a_chaincode_writing_an_empty_value_deletes_the_key_as_on_fabric(ledger: DevLedger) -> None:
    class Writer:
        def init(self, stub):  # type: ignore[no-untyped-def]
            return Response.success()

        def invoke(self, stub):  # type: ignore[no-untyped-def]
            key, value = (a.decode() for a in stub.get_args()[1:])
            stub.put_state(key, value.encode())
            return Response.success()

    peer = DevPeer(ledger, {"cc": Writer()})
    assert peer.invoke("cc", ["put", "k", "v"]).committed
    assert ledger.read("cc", "k") is not None
    assert peer.invoke("cc", ["put", "k", ""]).committed
    assert ledger.read("cc", "k") is None
    assert [k for k, _, _ in ledger.range("cc", "", "")] == []


def test_ledger_open_failure_is_a_ledger_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(LedgerError, match="cannot open ledger"):
        DevLedger(tmp_path / "dir.sqlite")


def test_wal_mode(ledger: DevLedger) -> None:
    assert os.path.exists(str(ledger.path) + "-wal")
