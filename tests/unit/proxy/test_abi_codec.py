"""The TA ABI codec: round trips, limits at and beyond the edge, every malformed case."""

from __future__ import annotations

import struct

import pytest

from foc.protocol.result import InvocationError, InvocationResult, StateWrite
from foc.tee import abi
from foc.tee.abi import AbiError


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def blob(b: bytes) -> bytes:
    return u32(len(b)) + b


# --- requests -------------------------------------------------------------------------------


def test_request_round_trip_and_layout() -> None:
    args = [b"create", b"peter", b"0"]
    enc = abi.encode_request(args)
    assert enc == u32(abi.FOC_REQ_MAGIC) + u32(3) + blob(b"create") + blob(b"peter") + blob(b"0")
    assert enc[:4] == b"FOC1"
    assert abi.decode_request(enc) == args


def test_request_accepts_binary_and_empty_arguments() -> None:
    args = [b"f", b"", bytes(range(256))]
    assert abi.decode_request(abi.encode_request(args)) == args


def test_request_limits_at_the_edge_pass() -> None:
    args = [b"f" * abi.FOC_MAX_FUNCTION, b"v" * abi.FOC_MAX_VALUE] + [b""] * (abi.FOC_MAX_ARGS - 2)
    assert abi.decode_request(abi.encode_request(args)) == args


@pytest.mark.parametrize(
    "args, fragment",
    [
        ([], "arguments"),
        ([b"f"] * (abi.FOC_MAX_ARGS + 1), "arguments"),
        ([b""], "empty function name"),
        ([b"f" * (abi.FOC_MAX_FUNCTION + 1)], "function name"),
        ([b"f", b"v" * (abi.FOC_MAX_VALUE + 1)], "argument 1"),
        ([b"f", b"v" * abi.FOC_MAX_VALUE, b"w" * abi.FOC_MAX_VALUE], "encoded size"),
        ([b"f", "text"], "expected bytes"),
    ],
)
def test_request_encoder_refuses(args, fragment) -> None:
    with pytest.raises(AbiError, match=fragment):
        abi.encode_request(args)


GOOD_REQ = u32(abi.FOC_REQ_MAGIC) + u32(2) + blob(b"query") + blob(b"peter")


@pytest.mark.parametrize(
    "buf, fragment",
    [
        (b"", "truncated at magic"),
        (u32(0xDEADBEEF) + u32(1) + blob(b"f"), "bad magic"),
        (u32(abi.FOC_REQ_MAGIC), "truncated at nargs"),
        (u32(abi.FOC_REQ_MAGIC) + u32(0), "nargs 0"),
        (u32(abi.FOC_REQ_MAGIC) + u32(abi.FOC_MAX_ARGS + 1), "nargs"),
        (u32(abi.FOC_REQ_MAGIC) + u32(1) + u32(5) + b"ab", "truncated at argument 0"),
        (u32(abi.FOC_REQ_MAGIC) + u32(1) + u32(0xFFFFFFFF), "limit"),
        (u32(abi.FOC_REQ_MAGIC) + u32(1) + blob(b""), "empty function name"),
        (GOOD_REQ + b"\x00", "trailing"),
        (GOOD_REQ[:-1], "truncated"),
        (b"\x00" * (abi.FOC_MAX_REQUEST + 1), "limit"),
    ],
)
def test_request_decoder_refuses(buf, fragment) -> None:
    with pytest.raises(AbiError, match=fragment):
        abi.decode_request(buf)


# --- state answers -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, b"", b"42", b"\x00\xff" * 10, b"x" * abi.FOC_MAX_VALUE])
def test_state_answer_round_trip(value) -> None:
    assert abi.decode_state_answer(abi.encode_state_answer(value)) == value


def test_state_answer_absent_differs_from_empty() -> None:
    assert abi.encode_state_answer(None) == b"\x00" + u32(0)
    assert abi.encode_state_answer(b"") == b"\x01" + u32(0)


def test_state_answer_value_beyond_limit_is_refused() -> None:
    with pytest.raises(AbiError, match="limit"):
        abi.encode_state_answer(b"x" * (abi.FOC_MAX_VALUE + 1))


@pytest.mark.parametrize(
    "buf, fragment",
    [
        (b"", "truncated at found"),
        (b"\x02" + blob(b""), "found flag"),
        (b"\x00" + blob(b"x"), "found=0"),
        (b"\x01" + u32(3) + b"ab", "truncated at value"),
        (b"\x01" + blob(b"ab") + b"!", "trailing"),
        (b"\x01" + u32(abi.FOC_MAX_VALUE + 1), "limit"),
    ],
)
def test_state_answer_decoder_refuses(buf, fragment) -> None:
    with pytest.raises(AbiError, match=fragment):
        abi.decode_state_answer(buf)


# --- GET_STATE -------------------------------------------------------------------------------------


def test_get_state_round_trip_and_key_limits() -> None:
    key = b"k" * abi.FOC_MAX_KEY
    assert abi.decode_get_state(abi.encode_get_state(key)) == key
    for bad, fragment in [(b"", "empty"), (b"k" * (abi.FOC_MAX_KEY + 1), "limit"), (b"a\x00b", "NUL")]:
        with pytest.raises(AbiError, match=fragment):
            abi.encode_get_state(bad)
        with pytest.raises(AbiError, match=fragment):
            abi.decode_get_state(blob(bad))


@pytest.mark.parametrize("buf", [b"", b"\x01\x00", u32(4) + b"abc", blob(b"abc") + b"x"])
def test_get_state_decoder_refuses_malformed(buf) -> None:
    with pytest.raises(AbiError):
        abi.decode_get_state(buf)


# --- RESPONSE -------------------------------------------------------------------------------------


def test_response_round_trip() -> None:
    resp = InvocationResult(
        status=200,
        payload=b"OK\x00\xff",
        reads=("peter", "anna"),
        writes=(StateWrite("peter", b"7"), StateWrite("gone", b"", is_delete=True), StateWrite("e", b"")),
    )
    enc = abi.encode_response(resp)
    assert enc.startswith(u32(200) + blob(b"OK\x00\xff") + u32(2) + blob(b"peter"))
    assert abi.decode_response(enc) == resp


def test_response_at_limits_round_trips() -> None:
    reads = tuple(f"r{i:03d}" for i in range(abi.FOC_MAX_READS))
    value = b"v" * (abi.FOC_MAX_WRITE_BYTES // 2 - 4)
    writes = (StateWrite("w1", value), StateWrite("w2", value))
    resp = InvocationResult(200, b"p" * abi.FOC_MAX_PAYLOAD, reads, writes)
    assert abi.decode_response(abi.encode_response(resp)) == resp


def _response(status=200, payload=b"", reads=(), writes=(), ranges=()) -> bytes:
    out = u32(status) + blob(payload) + u32(len(reads)) + b"".join(blob(k) for k in reads)
    out += u32(len(ranges)) + b"".join(blob(start) + blob(end) for start, end in ranges)
    out += u32(len(writes))
    for key, flag, value in writes:
        out += blob(key) + bytes([flag]) + blob(value)
    return out


@pytest.mark.parametrize(
    "buf, fragment",
    [
        (b"", "truncated at status"),
        (u32(200), "truncated at payload"),
        (u32(200) + u32(abi.FOC_MAX_PAYLOAD + 1), "payload is"),
        (u32(200) + blob(b"") + u32(abi.FOC_MAX_READS + 1), "reads, limit"),
        (u32(200) + blob(b"") + u32(1), "truncated at read 0"),
        (_response(reads=[b""]), "empty state key"),
        (_response(reads=[b"a\x00"]), "NUL"),
        (_response(reads=[b"a", b"a"]), "repeats"),
        (_response(reads=[b"k" * (abi.FOC_MAX_KEY + 1)]), "limit"),
        (u32(200) + blob(b"") + u32(0) + u32(abi.FOC_MAX_RANGES + 1), "ranges, limit"),
        (u32(200) + blob(b"") + u32(0) + u32(1), "truncated at range 0 start"),
        (_response(ranges=[(b"", b"b")]), "empty start"),
        (_response(ranges=[(b"a", b"k" * (abi.FOC_MAX_KEY + 1))]), "range 0 end is"),
        (u32(200) + blob(b"") + u32(0) + u32(0) + u32(abi.FOC_MAX_WRITES + 1), "writes, limit"),
        (_response(writes=[(b"a", 2, b"")]), "is_delete flag"),
        (_response(writes=[(b"a", 1, b"v")]), "delete with a value"),
        (_response(writes=[(b"a", 0, b"1"), (b"a", 0, b"2")]), "repeats"),
        (
            _response(writes=[(b"a", 0, b"v" * abi.FOC_MAX_VALUE), (b"b", 0, b"v" * abi.FOC_MAX_VALUE)]),
            "write set exceeds",
        ),
        (_response(writes=[(b"a", 0, b"1")]) + b"\x00", "trailing"),
        (_response(writes=[(b"a", 0, b"1")])[:-1], "truncated"),
        (b"\x00" * (abi.FOC_MAX_OUTPUT + 1), "limit"),
    ],
)
def test_response_decoder_refuses(buf, fragment) -> None:
    with pytest.raises(AbiError, match=fragment):
        abi.decode_response(buf)


def test_response_encoder_refuses_what_the_decoder_would() -> None:
    for resp in [
        InvocationResult(200, b"p" * (abi.FOC_MAX_PAYLOAD + 1)),
        InvocationResult(200, b"", reads=tuple(f"r{i}" for i in range(abi.FOC_MAX_READS + 1))),
        InvocationResult(200, b"", writes=(StateWrite("k", b"v", is_delete=True),)),
        InvocationResult(-1, b""),
    ]:
        with pytest.raises(AbiError):
            abi.encode_response(resp)


# --- ERROR ----------------------------------------------------------------------------------------


def test_error_round_trip_and_names() -> None:
    err = InvocationError("EXISTS", "person already exists")
    enc = abi.encode_error(err)
    assert enc.startswith(u32(abi.FOC_ERR_EXISTS))
    assert abi.decode_error(enc) == err
    assert abi.decode_error(u32(999) + blob(b"x")).code == "UNKNOWN(999)"
    with pytest.raises(AbiError, match="not a FOC_ERR_"):
        abi.encode_error(InvocationError("TA_CRASHED", "proxy-side codes are not the TA's"))


def test_response_key_that_is_not_utf8_is_the_chaincodes_fault() -> None:
    with pytest.raises(abi.KeyNotText, match="not UTF-8"):
        abi.decode_response(_response(writes=[(b"\xff\xfe", 0, b"1")]))


def test_error_message_with_invalid_utf8_is_decoded_leniently() -> None:
    assert abi.decode_error(u32(1) + blob(b"bad \xff")).message == "bad \ufffd"


@pytest.mark.parametrize(
    "buf", [b"", u32(1), u32(1) + u32(abi.FOC_MAX_PAYLOAD + 1), u32(1) + blob(b"m") + b"x"]
)
def test_error_decoder_refuses_malformed(buf) -> None:
    with pytest.raises(AbiError):
        abi.decode_error(buf)


def test_abi_error_is_a_tee_error() -> None:
    from foc.errors import TeeError

    assert issubclass(AbiError, TeeError)


def test_confidential_commands_use_the_invoke_layout() -> None:
    from foc.tee import abi as _abi

    confidential = {
        _abi.FOC_CMD_ENCLAVE_CREATE,
        _abi.FOC_CMD_ENCLAVE_CREDENTIALS,
        _abi.FOC_CMD_CONFIDENTIAL_INVOKE,
    }
    assert confidential < _abi.OUTPUT_COMMANDS
    assert confidential < _abi.RESTARTABLE_COMMANDS  # each starts from scratch: SHORT_BUFFER may retry
    assert _abi.FOC_CMD_RESUME not in _abi.RESTARTABLE_COMMANDS
    assert _abi.FOC_CMD_ABORT not in _abi.OUTPUT_COMMANDS and _abi.FOC_CMD_PANIC not in _abi.OUTPUT_COMMANDS
    assert _abi.MsgType(3) is _abi.MsgType.CONFIDENTIAL_RESPONSE
    assert _abi.Command(6).name == "CONFIDENTIAL_INVOKE"
