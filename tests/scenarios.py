"""Invocation-path scenarios shared by the native tier and the qemu tier.

Each function drives a `DevPeer` whose "foc" chaincode is a `FocWrapper` pointed at some proxy
(the host-native one in tests/native, the one inside the QEMU guest on real OP-TEE in tests/qemu)
and asserts what must hold whichever TEE runs the trusted core.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from foc.chaincode.stub import ChaincodeStub, Response
from foc.errors import MvccConflict
from foc.ledger.peer import DevPeer
from foc.protocol import limits
from foc.wrapper.plaintext import FocWrapper

# The TA header's limits (ta/include/foc_ta.h), from the one generated definition
MAX_ARGS, MAX_FUNCTION, MAX_KEY = limits.FOC_MAX_ARGS, limits.FOC_MAX_FUNCTION, limits.FOC_MAX_KEY
MAX_VALUE = limits.FOC_MAX_VALUE
MAX_REQUEST = limits.FOC_MAX_REQUEST  # encoded request: u32 magic, u32 nargs, u32 length + bytes per argument

# ["create", "b", x, y]: 8 + (4 + 6) + (4 + 1) + (4 + len x) + (4 + len y) = 31 + len x + len y
_REQ_MAX_TAIL = MAX_REQUEST - 31 - MAX_VALUE

# (arguments, expected outcome): "OK" commits; anything else is the error code that must come back.
LIMIT_CASES: list[tuple[list[str], str]] = [
    (["create", "k" * MAX_KEY, "1"], "OK"),
    (["create", "k" * (MAX_KEY + 1), "1"], "LIMIT"),
    (["create", "a"] + ["1"] * (MAX_ARGS - 2), "ARG_COUNT"),  # 16 in all: reaches the chaincode
    (["create", "a"] + ["1"] * (MAX_ARGS - 1), "LIMIT"),  # 17
    (["f" * MAX_FUNCTION], "UNKNOWN_FUNCTION"),
    (["f" * (MAX_FUNCTION + 1)], "LIMIT"),
    (["create", "b", "1" * MAX_VALUE], "OVERFLOW"),  # the argument fits; the number does not
    (["create", "b", "1" * (MAX_VALUE + 1)], "LIMIT"),
    (["create", "b", "1" * MAX_VALUE, "2" * _REQ_MAX_TAIL], "ARG_COUNT"),  # exactly FOC_MAX_REQUEST
    (["create", "b", "1" * MAX_VALUE, "2" * (_REQ_MAX_TAIL + 1)], "LIMIT"),  # one byte more
    (["create", "b", "1" * MAX_VALUE, "2" * MAX_VALUE, "3"], "LIMIT"),  # > FOC_MAX_REQUEST in all
    # issue 8's instance: 589,9xx bytes, over the proxy's gRPC cap (was RESOURCE_EXHAUSTED, "unavailable")
    (["create", "b"] + ["1" * MAX_VALUE] * 9, "LIMIT"),
]
LIMIT_IDS = [
    "key-max",
    "key-over",
    "args-max",
    "args-over",
    "fn-max",
    "fn-over",
    "arg-max",
    "arg-over",
    "req-max",
    "req-over-by-one",
    "req-over",
    "req-9x64KiB",
]


def expect_error(peer: DevPeer, args: Sequence[str], code: str) -> str:
    """Invoke; assert a status-500 `code` error and that the ledger did not change. Returns the message."""
    height, dump = peer.ledger.height, peer.ledger.state_dump()
    result = peer.invoke("foc", list(args))
    assert result.response.status == 500, result.response
    assert result.response.message.startswith(f"{code}: "), result.response.message
    assert len(result.response.message) > len(f"{code}: "), "the error carries a message"
    assert not result.committed
    assert peer.ledger.height == height and peer.ledger.state_dump() == dump
    return result.response.message


def coffee_scenario_and_error_cases(peer: DevPeer) -> None:
    """create/add/query on an empty ledger, then every chaincode refusal; nothing commits on error."""
    created = peer.invoke("foc", ["create", "alice", "0"]).response
    assert created == Response(200, "", b"OK"), created
    added = peer.invoke("foc", ["add", "alice", "3"]).response
    assert added.payload == b"OK", added
    query = peer.query("foc", ["query", "alice"])
    assert query.response.payload == b"person: alice, number of consumed coffees: 3"
    assert not query.committed
    assert "alice" not in expect_error(peer, ["create", "alice", "1"], "EXISTS")
    expect_error(peer, ["add", "bob", "1"], "NOT_FOUND")
    expect_error(peer, ["query", "bob"], "NOT_FOUND")
    expect_error(peer, ["drink", "alice"], "UNKNOWN_FUNCTION")
    expect_error(peer, ["add", "alice"], "ARG_COUNT")
    expect_error(peer, ["add", "alice", "-5"], "BAD_ARGUMENT")
    expect_error(peer, ["create", "", "1"], "BAD_ARGUMENT")
    assert peer.ledger.read("foc", "alice")[0] == b"3"  # type: ignore[index]
    assert peer.ledger.height == 3 and peer.ledger.verify().ok


def arguments_that_are_not_utf8_reach_the_ta_as_bytes(peer: DevPeer) -> None:
    """Issue 8, kind 2: arguments are the bytes Fabric carries. The TA's stub refuses a state key that is
    not UTF-8 (as a Fabric peer does) and the chaincode refuses a count that is not a number, both with
    BAD_ARGUMENT; nothing commits; valid non-ASCII text is an ordinary key."""
    message = expect_error(peer, [b"create", b"\xff\xfe", b"1"], "BAD_ARGUMENT")  # type: ignore[list-item]
    assert "UTF-8" in message, message
    expect_error(peer, [b"create", b"bytes-person", b"1\xff"], "BAD_ARGUMENT")  # type: ignore[list-item]
    assert peer.invoke("foc", [b"create", "caf\u00e9".encode(), b"2"]).committed
    assert peer.ledger.read("foc", "caf\u00e9")[0] == b"2"  # type: ignore[index]


def count_overflow_is_refused(peer: DevPeer) -> None:
    """A count at 2**64-1 commits; adding one more is OVERFLOW and leaves it unchanged."""
    assert peer.invoke("foc", ["create", "max", str(2**64 - 1)]).committed
    expect_error(peer, ["add", "max", "1"], "OVERFLOW")
    assert peer.ledger.read("foc", "max")[0] == str(2**64 - 1).encode()  # type: ignore[index]


def check_limit(peer: DevPeer, args: list[str], outcome: str) -> None:
    """One LIMIT_CASES row."""
    if outcome == "OK":
        result = peer.invoke("foc", args)
        assert result.response.payload == b"OK" and result.committed
        assert peer.ledger.read("foc", args[1])[0] == b"1"  # type: ignore[index]
    else:
        message = expect_error(peer, args, outcome)
        assert len(message) < 200  # the error names the limit, it does not echo the argument
        if outcome == "LIMIT":
            assert "FOC_MAX_" in message, message  # ... by the header's name, whichever hop found it


class RawWriter:
    """A chaincode that stores its two arguments as key and value: plants state values of any size
    in a namespace, as another chaincode version could have written them (the coffee chaincode
    only ever writes counts of up to 20 digits)."""

    def init(self, stub: ChaincodeStub) -> Response:
        return Response.success()

    def invoke(self, stub: ChaincodeStub) -> Response:
        key, value = stub.get_args()
        stub.put_state(key.decode(), value)
        return Response.success()


def plant(peer: DevPeer, namespace: str, key: str, value: bytes) -> None:
    """Commit `value` under `key` in `namespace` on `peer`'s ledger (RawWriter)."""
    assert DevPeer(peer.ledger, {namespace: RawWriter()}).invoke(namespace, [key, value]).committed


def value_at_the_limit_is_written_and_read_back(peer: DevPeer) -> None:
    """Plaintext, the real TA: `bench_rw` (ta/chaincode/bench.c) writes a FOC_MAX_VALUE-byte value
    (TA -> proxy -> wrapper -> ledger) and reads it back (ledger -> wrapper -> proxy -> TA)."""
    written = peer.invoke("foc", ["bench_rw", "zq-max", "0", "1", str(MAX_VALUE)])
    assert written.committed and written.response.payload == b"read 0 (0 found, 0 bytes), wrote 1", written
    assert len(peer.ledger.read("foc", "zq-max/k0")[0]) == MAX_VALUE  # type: ignore[index]
    read = peer.query("foc", ["bench_rw", "zq-max", "1", "0", "0"]).response
    assert read.payload == f"read 1 (1 found, {MAX_VALUE} bytes), wrote 0".encode(), read


def state_value_at_and_beyond_the_limit(peer: DevPeer) -> None:
    """Plaintext: a FOC_MAX_VALUE state value crosses wrapper, proxy and TA (the coffee chaincode
    itself then refuses a 65536-digit count: OVERFLOW); one byte more is LIMIT naming the limit."""
    at, over = b"1" * MAX_VALUE, b"1" * (MAX_VALUE + 1)
    plant(peer, "foc", "big", at)
    plant(peer, "foc", "huge", over)
    message = expect_error(peer, ["add", "big", "1"], "OVERFLOW")  # reached the chaincode in the TA
    assert len(message) < 200
    message = expect_error(peer, ["add", "huge", "1"], "LIMIT")  # refused before the TA
    assert f"limit {MAX_VALUE} (FOC_MAX_VALUE)" in message and len(message) < 200
    assert peer.ledger.read("foc", "big")[0] == at  # type: ignore[index]


def confidential_value_at_the_limit_is_written_and_read_back(
    peer: DevPeer, chaincode: str, submit: Callable[[list[str]], bytes]
) -> None:
    """Confidential, the real TA: `bench_rw` writes a FOC_MAX_VALUE-byte value, committed as a stored
    value of FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD bytes, and reads it back through the proxy
    (issue 8's instance: the proxy refused any stored value over 65536 bytes, so such a value could
    be written but never read). `submit(args)` runs one verified, committed transaction; its payload."""
    assert submit(["bench_rw", "zq-cmax", "0", "1", str(MAX_VALUE)]) == b"read 0 (0 found, 0 bytes), wrote 1"
    stored = peer.ledger.read(chaincode, "zq-cmax/k0")[0]  # type: ignore[index]
    assert len(stored) == limits.CONFIDENTIAL.state_value == MAX_VALUE + limits.FOC_CONF_STATE_OVERHEAD
    assert (
        submit(["bench_rw", "zq-cmax", "1", "0", "0"])
        == f"read 1 (1 found, {MAX_VALUE} bytes), wrote 0".encode()
    )


def confidential_stored_value_at_and_beyond_the_limit(
    peer: DevPeer, chaincode: str, request_for: Callable[[str], bytes]
) -> None:
    """Confidential: a GetState answer carries the stored (encrypted) value, up to FOC_MAX_VALUE +
    FOC_CONF_STATE_OVERHEAD bytes (issue 8: the proxy refused anything over 65536, so a value
    written at 65,500 bytes could never be read back).

    A well-formed stored_value of exactly that size under a foreign key crosses the wrapper and the
    proxy and reaches the TA, whose AES-GCM check then refuses it (INCONSISTENT: it is bound to
    another key); one byte more is LIMIT naming the confidential limit, before the TA.
    `request_for(key)` is an encrypted `query key` request to `chaincode`.
    """
    from foc.confidential.formats import StoredValue

    stored = StoredValue(b"n" * 12, b"c" * (MAX_VALUE + 16)).encode()
    assert len(stored) == limits.CONFIDENTIAL.state_value == MAX_VALUE + limits.FOC_CONF_STATE_OVERHEAD
    plant(peer, chaincode, "zq-big", stored)
    plant(peer, chaincode, "zq-huge", stored + b"x")
    at = peer.query(chaincode, ["__invoke", request_for("zq-big")]).response
    assert at.status == 500 and at.message.startswith("INCONSISTENT: "), at.message
    over = peer.query(chaincode, ["__invoke", request_for("zq-huge")]).response
    assert over.status == 500 and over.message.startswith("LIMIT: "), over.message
    assert "limit 65576 (FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD)" in over.message


def concurrent_invocations_distinct_keys_all_commit(peer: DevPeer, count: int = 8) -> None:
    """`count` threads create distinct keys on an empty ledger at once: every one commits."""
    names = [f"p{i}" for i in range(count)]
    results: dict[str, int] = {}

    def create(name: str) -> None:
        results[name] = peer.invoke("foc", ["create", name, "7"]).response.status

    _run_threads(create, [(n,) for n in names])
    assert results == {n: 200 for n in names}
    assert peer.ledger.height == count + 1 and peer.ledger.verify().ok
    assert all(peer.ledger.read("foc", n)[0] == b"7" for n in names)  # type: ignore[index]


class ReadBarrierStub:
    """Delegates to the real stub; after each read waits until every participant has read too."""

    def __init__(self, inner: ChaincodeStub, barrier: threading.Barrier) -> None:
        self._inner, self._barrier = inner, barrier

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    @property
    def tx_id(self) -> str:
        return self._inner.tx_id

    @property
    def channel_id(self) -> str:
        return self._inner.channel_id

    def get_state(self, key: str) -> bytes | None:
        value = self._inner.get_state(key)
        self._barrier.wait(timeout=120)
        return value


class Interposed:
    """A chaincode that runs `wrapper` on a stub wrapped by `make_stub`."""

    def __init__(self, wrapper: FocWrapper, make_stub: Callable[[ChaincodeStub], object]) -> None:
        self._wrapper, self._make_stub = wrapper, make_stub

    def init(self, stub: ChaincodeStub) -> Response:
        return Response.success()

    def invoke(self, stub: ChaincodeStub) -> Response:
        return self._wrapper.invoke(self._make_stub(stub))  # type: ignore[arg-type]


def concurrent_invocations_same_key_mvcc(peer: DevPeer, wrapper: FocWrapper, same: int = 3) -> None:
    """`same` adds race on one key (all read before any commits) beside 3 adds on distinct keys.

    Exactly one racer commits, the others fail with a clear MvccConflict that wrote nothing, the
    distinct ones all commit, and the final state is the committed transactions only. `same` must
    stay below the proxy's pool size: each racer holds a TA session while it waits at the barrier.
    """
    peer.invoke("foc", ["create", "shared", "10"])
    for i in range(3):
        peer.invoke("foc", ["create", f"d{i}", "0"])
    height = peer.ledger.height
    barrier = threading.Barrier(same)
    racing = DevPeer(peer.ledger, {"foc": Interposed(wrapper, lambda s: ReadBarrierStub(s, barrier))})
    outcomes: dict[str, object] = {}

    def add(name: str, via: DevPeer, key: str) -> None:
        try:
            outcomes[name] = via.invoke("foc", ["add", key, "1"]).response.status
        except MvccConflict as exc:
            outcomes[name] = exc

    jobs = [(f"same{i}", racing, "shared") for i in range(same)]
    jobs += [(f"dist{i}", peer, f"d{i}") for i in range(3)]
    _run_threads(add, jobs)
    assert [outcomes[f"dist{i}"] for i in range(3)] == [200, 200, 200]
    racers = [outcomes[f"same{i}"] for i in range(same)]
    assert racers.count(200) == 1, racers
    conflicts = [r for r in racers if isinstance(r, MvccConflict)]
    assert len(conflicts) == same - 1, racers
    assert all("changed before commit" in str(c) and "nothing was written" in str(c) for c in conflicts)
    # Final state = the committed transactions only.
    assert peer.ledger.read("foc", "shared")[0] == b"11"  # type: ignore[index]
    assert all(peer.ledger.read("foc", f"d{i}")[0] == b"1" for i in range(3))  # type: ignore[index]
    assert peer.ledger.height == height + 4 and peer.ledger.verify().ok
    assert peer.query("foc", ["query", "shared"]).response.payload.endswith(b": 11")


def _run_threads(target: Callable[..., None], argsets: Sequence[tuple[object, ...]]) -> None:
    threads = [threading.Thread(target=target, args=args) for args in argsets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
