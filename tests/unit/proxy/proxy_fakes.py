"""An in-test fake of the FOC TA behind the TeeBackend protocol (pure Python, ABI-exact).

Functions: ``get K`` (reads K; payload = value or "absent"), ``put K V`` (writes),
``copy A B`` (reads A, writes its value to B), ``badout`` (answers with malformed bytes),
anything else -> UNKNOWN_FUNCTION. Like the real TA it is single-instance: FOC_CMD_PANIC
kills every session opened before it (TEE_ERROR_TARGET_DEAD).
"""

from __future__ import annotations

import threading

from foc.errors import TaCrashed, TeeError
from foc.protocol.result import InvocationError, InvocationResult, StateWrite
from foc.tee import abi

TARGET_DEAD = 0xFFFF3024


class FakeTaBackend:
    """TeeBackend over a Python model of the TA; counts OpenSession calls."""

    name = "fake"

    def __init__(self) -> None:
        self.instance = 1
        self.opened = 0
        self.closed_sessions = 0
        self.aborts = 0
        self.fail_open = False
        self.lock = threading.Lock()

    def open_session(self) -> FakeTaSession:
        if self.fail_open:
            raise TeeError("TEEC_OpenSession failed: TEEC_ERROR_ITEM_NOT_FOUND", code=0xFFFF0008)
        with self.lock:
            self.opened += 1
            return FakeTaSession(self, self.instance)

    def close(self) -> None:
        pass


class FakeTaSession:
    def __init__(self, backend: FakeTaBackend, instance: int) -> None:
        self.backend = backend
        self.instance = instance
        self.args: list[bytes] | None = None
        self.cache: dict[bytes, bytes | None] = {}
        self.pending: bytes | None = None
        self.closed = False

    def info(self) -> tuple[int, int]:
        return abi.FOC_ABI_VERSION, abi.FOC_MAX_OUTPUT

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.backend.closed_sessions += 1

    def invoke(self, cmd: int, data: bytes = b"") -> tuple[int, bytes]:
        if self.closed:
            raise TeeError("closed session")
        with self.backend.lock:
            if self.instance != self.backend.instance:
                raise TaCrashed("TEE_ERROR_TARGET_DEAD", code=TARGET_DEAD)
            if cmd == abi.FOC_CMD_PANIC:
                self.backend.instance += 1
                raise TaCrashed("TEE_ERROR_TARGET_DEAD", code=TARGET_DEAD)
        if cmd == abi.FOC_CMD_ABORT:
            self.backend.aborts += 1
            self.args, self.pending = None, None
            return 0, b""
        if cmd == abi.FOC_CMD_INVOKE:
            try:
                self.args = abi.decode_request(data)
            except abi.AbiError as exc:
                return abi.FOC_MSG_ERROR, abi.encode_error(InvocationError("BAD_REQUEST", str(exc)))
            self.cache = {}
        elif cmd == abi.FOC_CMD_RESUME:
            if self.pending is None or self.args is None:
                return abi.FOC_MSG_ERROR, abi.encode_error(InvocationError("SEQUENCE", "nothing pending"))
            self.cache[self.pending] = abi.decode_state_answer(data)
            self.pending = None
        else:
            raise TeeError("TEEC_ERROR_NOT_SUPPORTED", code=0xFFFF000A)
        return self._run()

    def _read(self, key: bytes) -> bytes | None:
        if key not in self.cache:
            raise _Need(key)
        return self.cache[key]

    def _run(self) -> tuple[int, bytes]:
        assert self.args is not None
        fn, rest = self.args[0], self.args[1:]
        try:
            if fn == b"get" and len(rest) == 1:
                value = self._read(rest[0])
                resp = InvocationResult(200, value if value is not None else b"absent", (rest[0].decode(),))
            elif fn == b"put" and len(rest) == 2:
                resp = InvocationResult(200, b"OK", (), (StateWrite(rest[0].decode(), rest[1]),))
            elif fn == b"copy" and len(rest) == 2:
                value = self._read(rest[0])
                if value is None:
                    return abi.FOC_MSG_ERROR, abi.encode_error(InvocationError("NOT_FOUND", "source missing"))
                write = StateWrite(rest[1].decode(), value)
                resp = InvocationResult(200, b"OK", (rest[0].decode(),), (write,))
            elif fn == b"badout":
                return abi.FOC_MSG_RESPONSE, b"\x01\x02\x03"
            else:
                return abi.FOC_MSG_ERROR, abi.encode_error(
                    InvocationError("UNKNOWN_FUNCTION", "no such function")
                )
        except _Need as need:
            self.pending = need.key
            return abi.FOC_MSG_GET_STATE, abi.encode_get_state(need.key)
        self.args = None
        return abi.FOC_MSG_RESPONSE, abi.encode_response(resp)


class _Need(Exception):
    def __init__(self, key: bytes) -> None:
        self.key = key
