"""The host-native trusted core (libfoc_core.so) driven through ctypes, as the proxy drives the TA.

The encoder/decoder here is deliberately independent of foc.tee.abi: it is a second,
minimal reading of the format in ta/include/foc_ta.h.
"""

from __future__ import annotations

import ctypes
import random
import shutil
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from foc.deploy.native_build import build_native_core

pytestmark = pytest.mark.native

MAGIC = 0x31434F46
CMD_INVOKE, CMD_RESUME, CMD_ABORT, CMD_INFO, CMD_PANIC = 0, 1, 2, 3, 0x7F
MSG_RESPONSE, MSG_GET_STATE, MSG_ERROR = 0, 1, 100
TEE_SUCCESS = 0
TEE_ERROR_BAD_PARAMETERS = 0xFFFF0006
TEE_ERROR_NOT_SUPPORTED = 0xFFFF000A
TEE_ERROR_SHORT_BUFFER = 0xFFFF0010
TEE_ERROR_TARGET_DEAD = 0xFFFF3024
ERR = {
    "BAD_REQUEST": 1,
    "UNKNOWN_FUNCTION": 2,
    "ARG_COUNT": 3,
    "BAD_ARGUMENT": 4,
    "LIMIT": 5,
    "EXISTS": 6,
    "NOT_FOUND": 7,
    "OVERFLOW": 8,
    "SEQUENCE": 9,
    "INCONSISTENT": 12,
}
MAX_OUTPUT = 393216
MAX_KEY = 256


def blob(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def encode_request(*args: bytes, magic: int = MAGIC) -> bytes:
    return struct.pack("<II", magic, len(args)) + b"".join(blob(a) for a in args)


def encode_answer(value: bytes | None) -> bytes:
    return (b"\x00" + blob(b"")) if value is None else (b"\x01" + blob(value))


class Reader:
    """Strict reader: every read is bounded, and `end()` insists the buffer is consumed."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        assert n <= len(self.data) - self.pos, "truncated TA output"
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def blob(self) -> bytes:
        return self.take(self.u32())

    def end(self) -> None:
        assert self.pos == len(self.data), "trailing bytes in TA output"


@dataclass
class Outcome:
    msg: int
    key: bytes = b""
    code: int = 0
    message: str = ""
    status: int = 0
    payload: bytes = b""
    reads: list[bytes] = field(default_factory=list)
    ranges: list[tuple[bytes, bytes]] = field(default_factory=list)
    writes: list[tuple[bytes, bool, bytes]] = field(default_factory=list)


def decode(msg: int, out: bytes) -> Outcome:
    r = Reader(out)
    if msg == MSG_GET_STATE:
        o = Outcome(msg, key=r.blob())
    elif msg == MSG_ERROR:
        o = Outcome(msg, code=r.u32(), message=r.blob().decode())
    elif msg == MSG_RESPONSE:
        o = Outcome(msg, status=r.u32(), payload=r.blob())
        o.reads = [r.blob() for _ in range(r.u32())]
        o.ranges = [(r.blob(), r.blob()) for _ in range(r.u32())]
        for _ in range(r.u32()):
            key, flag, value = r.blob(), r.take(1)[0], r.blob()
            assert flag in (0, 1)
            o.writes.append((key, flag == 1, value))
    else:
        raise AssertionError(f"unknown message type {msg}")
    r.end()
    return o


class NativeTa:
    """libfoc_core.so loaded with ctypes (one 'TA instance' per loaded copy)."""

    def __init__(self, path: Path) -> None:
        lib = ctypes.CDLL(str(path))
        lib.foc_native_open.restype = ctypes.c_void_p
        lib.foc_native_open.argtypes = []
        lib.foc_native_close.argtypes = [ctypes.c_void_p]
        lib.foc_native_close.restype = None
        lib.foc_native_invoke.restype = ctypes.c_uint32
        lib.foc_native_invoke.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_size_t),
            ctypes.POINTER(ctypes.c_uint32),
        ]
        self.lib = lib

    def open(self) -> Session:
        handle = self.lib.foc_native_open()
        assert handle
        return Session(self, handle)


class Session:
    def __init__(self, ta: NativeTa, handle: int) -> None:
        self.ta, self.handle = ta, handle
        self.round_trips = 0

    def raw(self, cmd: int, data: bytes | None, cap: int = MAX_OUTPUT) -> tuple[int, int, bytes, int]:
        """(TEE result, msg type, output bytes, out_len as returned)."""
        out = ctypes.create_string_buffer(max(cap, 1))
        out_len = ctypes.c_size_t(cap)
        msg = ctypes.c_uint32(0xDEAD)
        res = self.ta.lib.foc_native_invoke(
            self.handle, cmd, data, len(data or b""), out, ctypes.byref(out_len), ctypes.byref(msg)
        )
        return res, msg.value, out.raw[: min(out_len.value, cap)], out_len.value

    def call(self, cmd: int, data: bytes) -> Outcome:
        res, msg, out, _ = self.raw(cmd, data)
        assert res == TEE_SUCCESS, hex(res)
        return decode(msg, out)

    def run(self, ledger: dict[bytes, bytes], *args: bytes) -> Outcome:
        """Invoke and answer every GET_STATE from `ledger`; apply the final write set."""
        self.round_trips = 0
        o = self.call(CMD_INVOKE, encode_request(*args))
        while o.msg == MSG_GET_STATE:
            self.round_trips += 1
            o = self.call(CMD_RESUME, encode_answer(ledger.get(o.key)))
        if o.msg == MSG_RESPONSE:
            for key, is_delete, value in o.writes:
                if is_delete:
                    ledger.pop(key, None)
                else:
                    ledger[key] = value
        return o

    def close(self) -> None:
        self.ta.lib.foc_native_close(self.handle)


@pytest.fixture(scope="module")
def library() -> Path:
    return build_native_core()


@pytest.fixture(scope="module")
def ta(library: Path) -> NativeTa:
    return NativeTa(library)


@pytest.fixture
def session(ta: NativeTa):
    s = ta.open()
    yield s
    s.close()


def test_build_is_idempotent_and_returns_the_library(library: Path) -> None:
    assert library.name == "libfoc_core.so" and library.is_file()
    before = library.stat().st_mtime_ns
    assert build_native_core() == library
    assert library.stat().st_mtime_ns == before


def test_coffee_flow_matches_foc(session: Session) -> None:
    ledger: dict[bytes, bytes] = {}
    o = session.run(ledger, b"create", b"peter", b"0")
    assert (o.msg, o.status, o.payload) == (MSG_RESPONSE, 200, b"OK")
    assert o.reads == [b"peter"] and o.writes == [(b"peter", False, b"0")]
    assert session.round_trips == 1
    assert session.run(ledger, b"add", b"peter", b"3").payload == b"OK"
    o = session.run(ledger, b"query", b"peter")
    assert o.payload == b"person: peter, number of consumed coffees: 3"
    assert o.writes == [] and o.reads == [b"peter"]
    assert ledger == {b"peter": b"3"}


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        ((b"create", b"peter", b"1"), "EXISTS", "exists"),
        ((b"add", b"nobody", b"1"), "NOT_FOUND", "not found"),
        ((b"query", b"nobody"), "NOT_FOUND", "not found"),
        ((b"add", b"peter", b"18446744073709551615"), "OVERFLOW", ""),
        ((b"create", b"x", b"18446744073709551616"), "OVERFLOW", ""),
        ((b"create", b"x", b"-1"), "BAD_ARGUMENT", "decimal"),
        ((b"create", b"x", b"+1"), "BAD_ARGUMENT", "decimal"),
        ((b"create", b"x", b""), "BAD_ARGUMENT", "empty"),
        ((b"create", b"x"), "ARG_COUNT", "expected 2 arguments (person, count), got 1"),
        ((b"query",), "ARG_COUNT", "expected 1 argument (person), got 0"),
        ((b"transfer", b"a"), "UNKNOWN_FUNCTION", "create, add, query"),
        ((b"create", b"", b"1"), "BAD_ARGUMENT", "empty"),
        ((b"create", b"k" * (MAX_KEY + 1), b"1"), "LIMIT", "FOC_MAX_KEY"),
        ((b"create", b"a\x00b", b"1"), "BAD_ARGUMENT", "NUL"),
    ],
)
def test_coffee_errors_are_structured(
    session: Session, args: tuple[bytes, ...], code: str, text: str
) -> None:
    ledger = {b"peter": b"5"}
    o = session.run(ledger, *args)
    assert o.msg == MSG_ERROR
    assert o.code == ERR[code], o.message
    assert text in o.message
    assert ledger == {b"peter": b"5"}  # a failed invocation writes nothing


def test_key_of_max_length_works(session: Session) -> None:
    ledger: dict[bytes, bytes] = {}
    person = b"p" * MAX_KEY
    assert session.run(ledger, b"create", person, b"2").payload == b"OK"
    expected = b"person: " + person + b", number of consumed coffees: 2"
    assert session.run(ledger, b"query", person).payload == expected


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (b"", "BAD_REQUEST"),
        (encode_request(b"query", b"p", magic=0x12345678), "BAD_REQUEST"),
        (encode_request(b"query", b"p") + b"\x00", "BAD_REQUEST"),
        (encode_request(b"query", b"p")[:-1], "BAD_REQUEST"),
        (struct.pack("<II", MAGIC, 0), "BAD_REQUEST"),
        (encode_request(*([b"x"] * 17)), "LIMIT"),
        (encode_request(b"f" * 65), "LIMIT"),
        (encode_request(b"query", b"a" * 65537), "LIMIT"),
        (struct.pack("<II", MAGIC, 1) + struct.pack("<I", 0xFFFFFFFF), "BAD_REQUEST"),
    ],
)
def test_malformed_requests_are_refused(session: Session, request_bytes: bytes, code: str) -> None:
    o = session.call(CMD_INVOKE, request_bytes)
    assert o.msg == MSG_ERROR and o.code == ERR[code], o.message


def test_oversized_request_names_the_limit(session: Session) -> None:
    o = session.call(CMD_INVOKE, b"\x00" * (131072 + 1))
    assert o.code == ERR["LIMIT"] and "FOC_MAX_REQUEST" in o.message


def test_resume_sequence_and_answer_checks(session: Session) -> None:
    assert session.call(CMD_RESUME, encode_answer(None)).code == ERR["SEQUENCE"]
    o = session.call(CMD_INVOKE, encode_request(b"query", b"peter"))
    assert (o.msg, o.key) == (MSG_GET_STATE, b"peter")
    assert session.call(CMD_RESUME, b"\x00" + blob(b"5")).code == ERR["INCONSISTENT"]
    # the error ended the invocation
    assert session.call(CMD_RESUME, encode_answer(b"5")).code == ERR["SEQUENCE"]
    session.call(CMD_INVOKE, encode_request(b"query", b"peter"))
    assert session.call(CMD_RESUME, b"\x02" + blob(b"")).code == ERR["BAD_REQUEST"]
    session.call(CMD_INVOKE, encode_request(b"query", b"peter"))
    assert session.call(CMD_RESUME, b"\x01" + blob(b"1" * 65537)).code == ERR["LIMIT"]
    session.call(CMD_INVOKE, encode_request(b"query", b"peter"))
    res, _, _, _ = session.raw(CMD_ABORT, None, cap=0)
    assert res == TEE_SUCCESS
    assert session.call(CMD_RESUME, encode_answer(b"5")).code == ERR["SEQUENCE"]


def test_short_buffer_reports_size_and_retry_gives_same_answer(session: Session) -> None:
    session.call(CMD_INVOKE, encode_request(b"create", b"peter", b"7"))
    res, _, _, needed = session.raw(CMD_RESUME, encode_answer(None), cap=10)
    assert res == TEE_ERROR_SHORT_BUFFER and needed > 10
    res, msg, out, size = session.raw(CMD_RESUME, encode_answer(None), cap=needed)
    assert res == TEE_SUCCESS and size == needed
    o = decode(msg, out)
    assert o.payload == b"OK" and o.writes == [(b"peter", False, b"7")]


def test_info_and_parameter_errors(session: Session) -> None:
    res, msg, _, out_len = session.raw(CMD_INFO, None, cap=0)
    assert (res, msg, out_len) == (TEE_SUCCESS, 2, MAX_OUTPUT)  # ABI 2 (foc_ta.h)
    lib = session.ta.lib
    assert lib.foc_native_invoke(None, CMD_INFO, None, 0, None, None, None) == TEE_ERROR_BAD_PARAMETERS
    res = lib.foc_native_invoke(session.handle, CMD_INVOKE, b"x", 1, None, None, None)
    assert res == TEE_ERROR_BAD_PARAMETERS
    assert session.raw(0x55, None)[0] == TEE_ERROR_NOT_SUPPORTED


def test_panic_kills_existing_sessions_only(library: Path, tmp_path: Path) -> None:
    # A private copy of the library is a private TA instance: the panic cannot reach
    # sessions that other tests in this process hold.
    private = tmp_path / "libfoc_core_panic.so"
    shutil.copy(library, private)
    ta = NativeTa(private)
    old, victim = ta.open(), ta.open()
    assert old.raw(CMD_PANIC, None)[0] == TEE_ERROR_TARGET_DEAD
    assert old.raw(CMD_INFO, None)[0] == TEE_ERROR_TARGET_DEAD
    assert victim.raw(CMD_INVOKE, encode_request(b"query", b"p"))[0] == TEE_ERROR_TARGET_DEAD
    fresh = ta.open()
    assert fresh.run({}, b"create", b"p", b"1").payload == b"OK"
    for s in (old, victim, fresh):
        s.close()


def test_sessions_on_threads_are_isolated(ta: NativeTa) -> None:
    errors: list[str] = []

    def worker(n: int) -> None:
        s = ta.open()
        ledger: dict[bytes, bytes] = {}
        person = f"t{n}".encode()
        try:
            if s.run(ledger, b"create", person, b"0").payload != b"OK":
                errors.append("create")
            for _ in range(100):
                if s.run(ledger, b"add", person, b"2").payload != b"OK":
                    errors.append("add")
            o = s.run(ledger, b"query", person)
            if o.payload != b"person: " + person + b", number of consumed coffees: 200":
                errors.append(o.payload.decode())
        finally:
            s.close()

    crashed: list[BaseException] = []

    def run(n: int) -> None:
        try:
            worker(n)
        except BaseException as exc:  # an exception in a thread would only be a warning
            crashed.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a worker thread hangs"
    assert crashed == [], f"worker threads raised: {crashed!r}"
    assert errors == []


def test_random_inputs_never_break_the_output_format(session: Session) -> None:
    rng = random.Random(1234)
    valid = encode_request(b"add", b"peter", b"12")
    for _ in range(2000):
        data = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        res, msg, out, _ = session.raw(CMD_INVOKE, bytes(data))
        assert res == TEE_SUCCESS
        decode(msg, out)  # well-formed whatever the input
        if msg == MSG_GET_STATE:
            blob_len = rng.randrange(8)
            answer = bytes([rng.randrange(3)]) + struct.pack("<I", blob_len) + bytes(rng.randrange(3))
            res, msg, out, _ = session.raw(CMD_RESUME, answer)
            assert res == TEE_SUCCESS
            decode(msg, out)
