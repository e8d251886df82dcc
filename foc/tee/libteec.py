"""The GlobalPlatform TEE Client API (OP-TEE's libteec) through ctypes.

This is the ``optee`` backend of the proxy: it runs in the device's normal world (QEMU guest
or board) where libteec is ``/usr/lib/aarch64-linux-gnu/libteec.so.2``. The module imports
everywhere; the library is loaded only when a backend is created, with a clear
``HostSetupError`` when it is missing. ``FOC_LIBTEEC`` overrides the library path.

Per session the two shared buffers (request in, TA output out) are allocated once with
TEEC_AllocateSharedMemory and reused by every call as MEMREF_PARTIAL_* references, so a
transaction costs no allocation and no OpenSession.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import uuid as _uuid
from ctypes import (
    POINTER,
    Structure,
    Union,
    byref,
    c_bool,
    c_char_p,
    c_int,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_void_p,
    sizeof,
)
from typing import TYPE_CHECKING

from foc.errors import HostSetupError, TaCrashed, TeeError
from foc.tee import abi

if TYPE_CHECKING:
    from foc.tee.device_key import DeviceKey

log = logging.getLogger(__name__)

# --- constants (GP TEE Client API v1.0, as in OP-TEE's tee_client_api.h) ---------------------

TEEC_NONE = 0x0
TEEC_VALUE_INPUT = 0x1
TEEC_VALUE_OUTPUT = 0x2
TEEC_VALUE_INOUT = 0x3
TEEC_MEMREF_TEMP_INPUT = 0x5
TEEC_MEMREF_TEMP_OUTPUT = 0x6
TEEC_MEMREF_TEMP_INOUT = 0x7
TEEC_MEMREF_WHOLE = 0xC
TEEC_MEMREF_PARTIAL_INPUT = 0xD
TEEC_MEMREF_PARTIAL_OUTPUT = 0xE
TEEC_MEMREF_PARTIAL_INOUT = 0xF

TEEC_MEM_INPUT = 0x1
TEEC_MEM_OUTPUT = 0x2

TEEC_LOGIN_PUBLIC = 0x0

TEEC_SUCCESS = 0x00000000
TEEC_RESULT_NAMES: dict[int, str] = {
    0x00000000: "TEEC_SUCCESS",
    0xF0100003: "TEEC_ERROR_STORAGE_NOT_AVAILABLE",
    0xFFFF0000: "TEEC_ERROR_GENERIC",
    0xFFFF0001: "TEEC_ERROR_ACCESS_DENIED",
    0xFFFF0002: "TEEC_ERROR_CANCEL",
    0xFFFF0003: "TEEC_ERROR_ACCESS_CONFLICT",
    0xFFFF0004: "TEEC_ERROR_EXCESS_DATA",
    0xFFFF0005: "TEEC_ERROR_BAD_FORMAT",
    0xFFFF0006: "TEEC_ERROR_BAD_PARAMETERS",
    0xFFFF0007: "TEEC_ERROR_BAD_STATE",
    0xFFFF0008: "TEEC_ERROR_ITEM_NOT_FOUND",
    0xFFFF0009: "TEEC_ERROR_NOT_IMPLEMENTED",
    0xFFFF000A: "TEEC_ERROR_NOT_SUPPORTED",
    0xFFFF000B: "TEEC_ERROR_NO_DATA",
    0xFFFF000C: "TEEC_ERROR_OUT_OF_MEMORY",
    0xFFFF000D: "TEEC_ERROR_BUSY",
    0xFFFF000E: "TEEC_ERROR_COMMUNICATION",
    0xFFFF000F: "TEEC_ERROR_SECURITY",
    0xFFFF0010: "TEEC_ERROR_SHORT_BUFFER",
    0xFFFF0011: "TEE_ERROR_EXTERNAL_CANCEL",
    0xFFFF300F: "TEE_ERROR_OVERFLOW",
    0xFFFF3024: "TEE_ERROR_TARGET_DEAD",
    0xFFFF3041: "TEE_ERROR_STORAGE_NO_SPACE",
    0xFFFF3071: "TEE_ERROR_MAC_INVALID",
    0xFFFF3072: "TEE_ERROR_SIGNATURE_INVALID",
    0xFFFF5000: "TEE_ERROR_TIME_NOT_SET",
    0xFFFF5001: "TEE_ERROR_TIME_NEEDS_RESET",
}
TEEC_ERROR_BAD_PARAMETERS = 0xFFFF0006
TEEC_ERROR_ITEM_NOT_FOUND = 0xFFFF0008
TEEC_ERROR_SHORT_BUFFER = 0xFFFF0010
TEEC_ERROR_TARGET_DEAD = 0xFFFF3024

TEEC_ORIGIN_API = 1
TEEC_ORIGIN_COMMS = 2
TEEC_ORIGIN_TEE = 3
TEEC_ORIGIN_TRUSTED_APP = 4
TEEC_ORIGIN_NAMES: dict[int, str] = {
    TEEC_ORIGIN_API: "TEEC_ORIGIN_API",
    TEEC_ORIGIN_COMMS: "TEEC_ORIGIN_COMMS",
    TEEC_ORIGIN_TEE: "TEEC_ORIGIN_TEE",
    TEEC_ORIGIN_TRUSTED_APP: "TEEC_ORIGIN_TRUSTED_APP",
}


def result_name(code: int) -> str:
    """The GP name of a TEEC_Result, or its hex value."""
    return TEEC_RESULT_NAMES.get(code, f"0x{code:08x}")


def origin_name(origin: int) -> str:
    """The GP name of a TEEC_ErrorOrigin, or its number."""
    return TEEC_ORIGIN_NAMES.get(origin, f"origin {origin}")


def param_types(p0: int, p1: int = TEEC_NONE, p2: int = TEEC_NONE, p3: int = TEEC_NONE) -> int:
    """TEEC_PARAM_TYPES()."""
    return p0 | (p1 << 4) | (p2 << 8) | (p3 << 12)


def tee_error(what: str, code: int, origin: int) -> TeeError:
    """The typed exception for a failed TEEC call (TaCrashed for a dead TA)."""
    text = f"{what} failed: {result_name(code)} (0x{code:08x}) from {origin_name(origin)}"
    if code == TEEC_ERROR_TARGET_DEAD:
        return TaCrashed(
            text, code=code, origin=origin, hint="the TA panicked; its sessions must be reopened"
        )
    hint: str | None = None
    if code == TEEC_ERROR_ITEM_NOT_FOUND and what.startswith("TEEC_OpenSession"):
        hint = "is the TA installed in /lib/optee_armtz and tee-supplicant running?"
    return TeeError(text, code=code, origin=origin, hint=hint)


# --- structures (layouts of OP-TEE's tee_client_api.h; sizes asserted below) -----------------


class TEEC_UUID(Structure):  # noqa: N801 - GP name
    _fields_ = [
        ("timeLow", c_uint32),
        ("timeMid", c_uint16),
        ("timeHiAndVersion", c_uint16),
        ("clockSeqAndNode", c_uint8 * 8),
    ]

    @classmethod
    def from_uuid(cls, value: _uuid.UUID) -> TEEC_UUID:
        """Build from a Python UUID (fields in host order, like FOC's set_uuid)."""
        b = value.bytes
        return cls(
            int.from_bytes(b[0:4], "big"),
            int.from_bytes(b[4:6], "big"),
            int.from_bytes(b[6:8], "big"),
            (c_uint8 * 8)(*b[8:16]),
        )


class TEEC_Context(Structure):  # noqa: N801
    _fields_ = [("fd", c_int), ("reg_mem", c_bool), ("memref_null", c_bool)]


class TEEC_Session(Structure):  # noqa: N801
    _fields_ = [("ctx", POINTER(TEEC_Context)), ("session_id", c_uint32)]


class TEEC_SharedMemory(Structure):  # noqa: N801
    _fields_ = [
        ("buffer", c_void_p),
        ("size", c_size_t),
        ("flags", c_uint32),
        ("id", c_int),
        ("alloced_size", c_size_t),
        ("shadow_buffer", c_void_p),
        ("registered_fd", c_int),
        ("internal", c_uint8),
    ]


class TEEC_TempMemoryReference(Structure):  # noqa: N801
    _fields_ = [("buffer", c_void_p), ("size", c_size_t)]


class TEEC_RegisteredMemoryReference(Structure):  # noqa: N801
    _fields_ = [("parent", POINTER(TEEC_SharedMemory)), ("size", c_size_t), ("offset", c_size_t)]


class TEEC_Value(Structure):  # noqa: N801
    _fields_ = [("a", c_uint32), ("b", c_uint32)]


class TEEC_Parameter(Union):  # noqa: N801
    _fields_ = [
        ("tmpref", TEEC_TempMemoryReference),
        ("memref", TEEC_RegisteredMemoryReference),
        ("value", TEEC_Value),
    ]


class TEEC_Operation(Structure):  # noqa: N801
    _fields_ = [
        ("started", c_uint32),
        ("paramTypes", c_uint32),
        ("params", TEEC_Parameter * 4),
        ("session", POINTER(TEEC_Session)),
    ]


_LP64 = sizeof(c_void_p) == 8
# Expected sizes on LP64 (aarch64, x86_64) and ILP32 (armhf).
EXPECTED_SIZES = {
    "TEEC_UUID": 16,
    "TEEC_Context": 8,
    "TEEC_Session": 16 if _LP64 else 8,
    "TEEC_SharedMemory": 48 if _LP64 else 32,
    "TEEC_Parameter": 24 if _LP64 else 12,
    "TEEC_Operation": 112 if _LP64 else 60,
}
for _name, _size in EXPECTED_SIZES.items():
    _actual = sizeof(globals()[_name])
    assert _actual == _size, f"sizeof({_name}) is {_actual}, expected {_size}"

# Implementation-defined structs may grow in a future libteec; the library writes into the
# ones we allocate, so give each some slack past the layout we know.
_SLACK = 64


def _with_slack(struct_type: type[Structure]) -> type[Structure]:
    return type(
        f"_Padded{struct_type.__name__}",
        (Structure,),
        {"_fields_": [("s", struct_type), ("_slack", c_uint8 * _SLACK)]},
    )


_PaddedContext = _with_slack(TEEC_Context)
_PaddedSession = _with_slack(TEEC_Session)
_PaddedSharedMemory = _with_slack(TEEC_SharedMemory)


# --- library loading ---------------------------------------------------------------------------

LIBTEEC_NAMES = ("libteec.so.2", "libteec.so.1", "libteec.so")
_lib_lock = threading.Lock()
_lib_cache: dict[str, ctypes.CDLL] = {}


def load_libteec(path: str | None = None) -> ctypes.CDLL:
    """Load libteec (``path``, else $FOC_LIBTEEC, else by soname) and declare its signatures."""
    candidates = [path] if path else ([os.environ["FOC_LIBTEEC"]] if os.environ.get("FOC_LIBTEEC") else [])
    if not candidates:
        candidates = list(LIBTEEC_NAMES)
        found = ctypes.util.find_library("teec")
        if found:
            candidates.append(found)
    errors = []
    with _lib_lock:
        for name in candidates:
            if name in _lib_cache:
                return _lib_cache[name]
            try:
                lib = ctypes.CDLL(name)
            except OSError as exc:
                errors.append(str(exc))
                continue
            _declare(lib)
            _lib_cache[name] = lib
            return lib
    raise HostSetupError(
        f"cannot load the TEE Client library (tried {', '.join(candidates)})",
        hint="install libteec2 and run tee-supplicant (Debian: apt install libteec2 tee-supplicant), "
        "or set FOC_LIBTEEC to the library path; on a host without OP-TEE use --tee native",
    )


def _declare(lib: ctypes.CDLL) -> None:
    lib.TEEC_InitializeContext.argtypes = [c_char_p, c_void_p]
    lib.TEEC_InitializeContext.restype = c_uint32
    lib.TEEC_FinalizeContext.argtypes = [c_void_p]
    lib.TEEC_FinalizeContext.restype = None
    lib.TEEC_OpenSession.argtypes = [
        c_void_p,
        c_void_p,
        POINTER(TEEC_UUID),
        c_uint32,
        c_void_p,
        POINTER(TEEC_Operation),
        POINTER(c_uint32),
    ]
    lib.TEEC_OpenSession.restype = c_uint32
    lib.TEEC_CloseSession.argtypes = [c_void_p]
    lib.TEEC_CloseSession.restype = None
    lib.TEEC_InvokeCommand.argtypes = [c_void_p, c_uint32, POINTER(TEEC_Operation), POINTER(c_uint32)]
    lib.TEEC_InvokeCommand.restype = c_uint32
    lib.TEEC_AllocateSharedMemory.argtypes = [c_void_p, c_void_p]
    lib.TEEC_AllocateSharedMemory.restype = c_uint32
    lib.TEEC_ReleaseSharedMemory.argtypes = [c_void_p]
    lib.TEEC_ReleaseSharedMemory.restype = None


# --- backend and session ------------------------------------------------------------------------


class LibteecBackend:
    """The ``optee`` backend: one TEEC_Context for the process, sessions with the FOC TA."""

    name = "optee"

    def __init__(self, ta_uuid: str | _uuid.UUID = abi.FOC_TA_UUID, *, library: str | None = None) -> None:
        self.ta_uuid = ta_uuid if isinstance(ta_uuid, _uuid.UUID) else _uuid.UUID(ta_uuid)
        self._lib = load_libteec(library)
        self._ctx = _PaddedContext()
        rc = self._lib.TEEC_InitializeContext(None, byref(self._ctx))
        if rc != TEEC_SUCCESS:
            raise TeeError(
                f"TEEC_InitializeContext failed: {result_name(rc)} (0x{rc:08x})",
                code=rc,
                origin=TEEC_ORIGIN_API,
                hint="is the optee driver loaded (/dev/tee0) and tee-supplicant running?",
            )
        self._open = True
        self._lock = threading.Lock()

    def open_session(self) -> LibteecSession:
        """TEEC_OpenSession with TEEC_LOGIN_PUBLIC, then allocate the session's shared buffers."""
        if not self._open:
            raise TeeError("the TEE context is finalized")
        return LibteecSession(self)

    def device_key(self) -> DeviceKey:
        """The device attestation public key from OP-TEE's attestation PTA.

        A short-lived session (OpenSession, PTA_ATTESTATION_GET_PUBKEY, CloseSession): callers
        cache the answer, the key does not change while the device's secure storage lives.
        """
        from foc.tee.device_key import (
            ATTESTATION_PTA_UUID,
            PTA_ATTESTATION_GET_PUBKEY,
            device_key_from_rsa,
        )

        if not self._open:
            raise TeeError("the TEE context is finalized")
        sess = _PaddedSession()
        origin = c_uint32(0)
        pta = TEEC_UUID.from_uuid(ATTESTATION_PTA_UUID)
        rc = self._lib.TEEC_OpenSession(
            byref(self._ctx), byref(sess), byref(pta), TEEC_LOGIN_PUBLIC, None, None, byref(origin)
        )
        if rc != TEEC_SUCCESS:
            err = tee_error(f"TEEC_OpenSession(attestation PTA {ATTESTATION_PTA_UUID})", rc, origin.value)
            err.hint = "is OP-TEE built with CFG_ATTESTATION_PTA=y?"
            raise err
        try:
            e, n = (c_uint8 * 16)(), (c_uint8 * 1024)()
            op = TEEC_Operation()
            op.paramTypes = param_types(TEEC_MEMREF_TEMP_OUTPUT, TEEC_MEMREF_TEMP_OUTPUT, TEEC_VALUE_OUTPUT)
            op.params[0].tmpref.buffer = ctypes.cast(e, c_void_p)
            op.params[0].tmpref.size = len(e)
            op.params[1].tmpref.buffer = ctypes.cast(n, c_void_p)
            op.params[1].tmpref.size = len(n)
            rc = self._lib.TEEC_InvokeCommand(
                byref(sess), PTA_ATTESTATION_GET_PUBKEY, byref(op), byref(origin)
            )
            if rc != TEEC_SUCCESS:
                raise tee_error("TEEC_InvokeCommand(PTA_ATTESTATION_GET_PUBKEY)", rc, origin.value)
            e_len, n_len = op.params[0].tmpref.size, op.params[1].tmpref.size
            if not 0 < e_len <= len(e) or not 0 < n_len <= len(n):
                raise TeeError(f"the attestation PTA returned e of {e_len} and n of {n_len} bytes")
            return device_key_from_rsa(bytes(e[:e_len]), bytes(n[:n_len]), op.params[2].value.a)
        finally:
            self._lib.TEEC_CloseSession(byref(sess))

    def close(self) -> None:
        """TEEC_FinalizeContext (idempotent)."""
        with self._lock:
            if self._open:
                self._open = False
                self._lib.TEEC_FinalizeContext(byref(self._ctx))


class LibteecSession:
    """An open TEEC_Session with the FOC TA and its two reusable shared-memory buffers."""

    def __init__(self, backend: LibteecBackend) -> None:
        self._lib = backend._lib
        self._backend = backend
        self._sess = _PaddedSession()
        self._in = _PaddedSharedMemory()
        self._out = _PaddedSharedMemory()
        self._have_in = self._have_out = False
        self.dead = False
        self._closed = False
        origin = c_uint32(0)
        uuid = TEEC_UUID.from_uuid(backend.ta_uuid)
        rc = self._lib.TEEC_OpenSession(
            byref(backend._ctx), byref(self._sess), byref(uuid), TEEC_LOGIN_PUBLIC, None, None, byref(origin)
        )
        if rc != TEEC_SUCCESS:
            raise tee_error(f"TEEC_OpenSession({backend.ta_uuid})", rc, origin.value)
        self._open = True
        try:
            version, max_output = self.info()
            if version != abi.FOC_ABI_VERSION:
                raise TeeError(
                    f"the TA speaks ABI version {version}, this proxy speaks {abi.FOC_ABI_VERSION}",
                    hint="install a TA and proxy from the same FOC release",
                )
            self.max_output = min(max(max_output, 1), abi.FOC_MAX_OUTPUT)
            self._allocate(self._in, abi.FOC_MAX_REQUEST, TEEC_MEM_INPUT)
            self._have_in = True
            self._allocate(self._out, self.max_output, TEEC_MEM_OUTPUT)
            self._have_out = True
        except BaseException:
            self.close()
            raise

    def _allocate(self, shm: Structure, size: int, flags: int) -> None:
        shm.s.size = size
        shm.s.flags = flags
        rc = self._lib.TEEC_AllocateSharedMemory(byref(self._backend._ctx), byref(shm))
        if rc != TEEC_SUCCESS:
            raise tee_error(f"TEEC_AllocateSharedMemory({size} bytes)", rc, TEEC_ORIGIN_API)

    def _call(self, cmd: int, op: TEEC_Operation) -> None:
        if self._closed:
            raise TeeError("the session is closed")
        if self.dead:
            raise TaCrashed(
                "the TA session is dead (the TA panicked earlier)",
                code=TEEC_ERROR_TARGET_DEAD,
                origin=TEEC_ORIGIN_TEE,
            )
        origin = c_uint32(0)
        rc = self._lib.TEEC_InvokeCommand(byref(self._sess), cmd, byref(op), byref(origin))
        if rc == TEEC_ERROR_SHORT_BUFFER:
            raise _ShortBuffer(rc, origin.value)
        if rc != TEEC_SUCCESS:
            if rc == TEEC_ERROR_TARGET_DEAD:
                self.dead = True
            raise tee_error(f"TEEC_InvokeCommand({_command_name(cmd)})", rc, origin.value)

    def info(self) -> tuple[int, int]:
        """FOC_CMD_INFO: (ABI version, largest output)."""
        op = TEEC_Operation()
        op.paramTypes = param_types(TEEC_VALUE_OUTPUT)
        self._call(abi.FOC_CMD_INFO, op)
        return op.params[0].value.a, op.params[0].value.b

    def invoke(self, cmd: int, data: bytes = b"") -> tuple[int, bytes]:
        """Run a FOC_CMD_*; see foc.tee.api.TeeSession.invoke."""
        if cmd not in abi.OUTPUT_COMMANDS:
            op = TEEC_Operation()  # all params NONE
            self._call(cmd, op)
            return 0, b""
        if len(data) > self._in.s.size:
            raise abi.AbiError(f"input is {len(data)} bytes, the shared buffer holds {self._in.s.size}")
        ctypes.memmove(self._in.s.buffer, data, len(data))
        for attempt in range(2):
            op = TEEC_Operation()
            has_input = cmd != abi.FOC_CMD_ENCLAVE_CREDENTIALS
            op.paramTypes = param_types(
                TEEC_MEMREF_PARTIAL_INPUT if has_input else TEEC_NONE,
                TEEC_VALUE_OUTPUT,
                TEEC_MEMREF_PARTIAL_OUTPUT,
            )
            if has_input:
                op.params[0].memref.parent = ctypes.cast(byref(self._in), POINTER(TEEC_SharedMemory))
                op.params[0].memref.size = len(data)
                op.params[0].memref.offset = 0
            op.params[2].memref.parent = ctypes.cast(byref(self._out), POINTER(TEEC_SharedMemory))
            op.params[2].memref.size = self._out.s.size
            op.params[2].memref.offset = 0
            try:
                self._call(cmd, op)
            except _ShortBuffer as sb:
                needed = op.params[2].memref.size
                # Only commands that restart from scratch may be repeated safely.
                growable = self._out.s.size < needed <= abi.FOC_MAX_OUTPUT
                if attempt or cmd not in abi.RESTARTABLE_COMMANDS or not growable:
                    raise TeeError(
                        f"TEEC_InvokeCommand({_command_name(cmd)}) failed: TEEC_ERROR_SHORT_BUFFER, "
                        f"the TA needs {needed} bytes and the buffer holds {self._out.s.size}",
                        code=sb.code,
                        origin=sb.origin,
                    ) from None
                # The TA under-reported its largest output (FOC_CMD_INFO): take the ABI's maximum,
                # so this happens at most once per session.
                log.warning(
                    "the TA needs %d output bytes; growing the buffer to %d", needed, abi.FOC_MAX_OUTPUT
                )
                self._lib.TEEC_ReleaseSharedMemory(byref(self._out))
                self._have_out = False
                self._allocate(self._out, abi.FOC_MAX_OUTPUT, TEEC_MEM_OUTPUT)
                self._have_out = True
                continue
            msg_type, written = op.params[1].value.a, op.params[1].value.b
            if written > self._out.s.size:
                raise abi.AbiError(
                    f"the TA reports {written} output bytes in a {self._out.s.size}-byte buffer"
                )
            return msg_type, ctypes.string_at(self._out.s.buffer, written)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Release the shared buffers and close the session (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._have_in:
            self._lib.TEEC_ReleaseSharedMemory(byref(self._in))
            self._have_in = False
        if self._have_out:
            self._lib.TEEC_ReleaseSharedMemory(byref(self._out))
            self._have_out = False
        if getattr(self, "_open", False):
            self._open = False
            self._lib.TEEC_CloseSession(byref(self._sess))


class _ShortBuffer(Exception):
    def __init__(self, code: int, origin: int) -> None:
        super().__init__("short buffer")
        self.code = code
        self.origin = origin


def _command_name(cmd: int) -> str:
    try:
        return f"FOC_CMD_{abi.Command(cmd).name}"
    except ValueError:
        return f"command {cmd}"
