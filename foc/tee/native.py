"""The ``native`` backend: the host-native build of the trusted core (libfoc_core.so).

This is NOT a TEE. It is the same chaincode and trusted-core C code as the TA, linked into a
host shared library so the proxy and the tests run without OP-TEE (see ta/native/foc_native.h).
It keeps the TA's behaviour behind TEEC_InvokeCommand, including TEE_ERROR_TARGET_DEAD after
FOC_CMD_PANIC, so the proxy's recovery code is exercised by the same tests.

Like OP-TEE with a single-instance TA, the library serialises all calls itself (one mutex);
ctypes releases the GIL around each call, so other proxy threads keep running.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import uuid as _uuid
from ctypes import POINTER, byref, c_char_p, c_size_t, c_uint8, c_uint32, c_void_p
from pathlib import Path

from foc.errors import HostSetupError, TeeError
from foc.tee import abi
from foc.tee.device_key import NATIVE_DEVICE_KEY_ENV, DeviceKey, native_insecure_device_key
from foc.tee.libteec import (
    TEEC_ERROR_SHORT_BUFFER,
    TEEC_ERROR_TARGET_DEAD,
    TEEC_ORIGIN_API,
    TEEC_ORIGIN_TEE,
    TEEC_SUCCESS,
    result_name,
    tee_error,
)

log = logging.getLogger(__name__)

DESCRIPTION = "native (host build, not a TEE)"

_load_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL] = {}


def load_native_core(path: str | os.PathLike[str]) -> ctypes.CDLL:
    """Load libfoc_core.so and declare the foc_native_* signatures."""
    key = str(Path(path).resolve())
    with _load_lock:
        if key in _loaded:
            return _loaded[key]
        try:
            lib = ctypes.CDLL(key)
        except OSError as exc:
            raise HostSetupError(
                f"cannot load the native trusted core {key}: {exc}",
                hint="build it with `foc-deploy native build` (needs gcc)",
            ) from None
        lib.foc_native_open.argtypes = []
        lib.foc_native_open.restype = c_void_p
        lib.foc_native_close.argtypes = [c_void_p]
        lib.foc_native_close.restype = None
        lib.foc_native_invoke.argtypes = [
            c_void_p,
            c_uint32,
            POINTER(c_uint8),
            c_size_t,
            POINTER(c_uint8),
            POINTER(c_size_t),
            POINTER(c_uint32),
        ]
        lib.foc_native_invoke.restype = c_uint32
        for name in ("foc_native_ta_uuid", "foc_native_chaincode_name"):
            if hasattr(lib, name):  # libraries built before a device served several TAs lack them
                getattr(lib, name).argtypes = []
                getattr(lib, name).restype = c_char_p
        _loaded[key] = lib
        return lib


def default_native_core() -> Path:
    """$FOC_NATIVE_LIB; the device runtime never builds anything (`foc.deploy.native_build` does).

    Raises HostSetupError when it is not set.
    """
    env = os.environ.get("FOC_NATIVE_LIB")
    if env:
        return Path(env)
    raise HostSetupError(
        "no native trusted core given: pass --native-lib PATH or set FOC_NATIVE_LIB",
        hint="`foc-deploy native build` builds libfoc_core.so and prints its path",
    )


class NativeBackend:
    """Sessions on the host-native trusted core. ``name`` is "native" (not a TEE)."""

    name = "native"
    description = DESCRIPTION

    def __init__(self, library: str | os.PathLike[str] | None = None) -> None:
        self.library_path = Path(library) if library is not None else default_native_core()
        self._lib = load_native_core(self.library_path)
        self._closed = False

    @property
    def ta_uuid(self) -> _uuid.UUID:
        """The uuid of the TA this library was built as (FOC's coffee TA for an older library)."""
        if not hasattr(self._lib, "foc_native_ta_uuid"):
            return abi.FOC_TA_UUID
        text = self._lib.foc_native_ta_uuid().decode("ascii", "replace")
        try:
            return _uuid.UUID(text)
        except ValueError:
            raise TeeError(f"{self.library_path} reports TA uuid {text!r}, which is not a uuid") from None

    @property
    def chaincode_name(self) -> str:
        """The name of the chaincode linked into the library (its `struct foc_chaincode`), or ""."""
        if not hasattr(self._lib, "foc_native_chaincode_name"):
            return ""
        return str(self._lib.foc_native_chaincode_name().decode("utf-8", "replace"))

    def open_session(self) -> NativeSession:
        """foc_native_open (the analogue of TEEC_OpenSession)."""
        if self._closed:
            raise TeeError("the native backend is closed")
        return NativeSession(self)

    def device_key(self) -> DeviceKey:
        """The key the native evidence is signed with: $FOC_NATIVE_DEVICE_KEY's (a simulated
        device's file, for multi-device tests) or the published test key. Not a device identity:
        proves nothing."""
        return native_insecure_device_key(private_key=os.environ.get(NATIVE_DEVICE_KEY_ENV) or None)

    def close(self) -> None:
        """Nothing to finalise; sessions must be closed first."""
        self._closed = True


class NativeSession:
    """One foc_native session with a reusable output buffer."""

    def __init__(self, backend: NativeBackend) -> None:
        self._lib = backend._lib
        handle = self._lib.foc_native_open()
        if not handle:
            raise TeeError("foc_native_open failed (out of memory)", code=0xFFFF000C, origin=TEEC_ORIGIN_API)
        self._handle: int | None = handle
        self.dead = False
        try:
            version, max_output = self.info()
        except BaseException:
            self.close()
            raise
        if version != abi.FOC_ABI_VERSION:
            self.close()
            raise TeeError(f"the native core speaks ABI version {version}, expected {abi.FOC_ABI_VERSION}")
        self._out = (c_uint8 * min(max(max_output, 1), abi.FOC_MAX_OUTPUT))()

    def _raw(self, cmd: int, data: bytes, out: ctypes.Array | None) -> tuple[int, int, int]:
        if self._handle is None:
            raise TeeError("the session is closed")
        inbuf = (c_uint8 * len(data)).from_buffer_copy(data) if data else None
        out_len = c_size_t(len(out) if out is not None else 0)
        msg_type = c_uint32(0)
        rc = self._lib.foc_native_invoke(
            self._handle, cmd, inbuf, len(data), out, byref(out_len), byref(msg_type)
        )
        return rc, out_len.value, msg_type.value

    def info(self) -> tuple[int, int]:
        """FOC_CMD_INFO: (ABI version, largest output)."""
        rc, out_len, msg_type = self._raw(abi.FOC_CMD_INFO, b"", None)
        self._check(rc, abi.FOC_CMD_INFO)
        return msg_type, out_len

    def invoke(self, cmd: int, data: bytes = b"") -> tuple[int, bytes]:
        """Run a FOC_CMD_*; see foc.tee.api.TeeSession.invoke."""
        if cmd not in abi.OUTPUT_COMMANDS:
            rc, _, _ = self._raw(cmd, b"", None)
            self._check(rc, cmd)
            return 0, b""
        if len(data) > abi.FOC_MAX_REQUEST:
            raise abi.AbiError(f"input is {len(data)} bytes, limit {abi.FOC_MAX_REQUEST}")
        rc, out_len, msg_type = self._raw(cmd, data, self._out)
        if rc == TEEC_ERROR_SHORT_BUFFER:
            raise TeeError(
                f"foc_native_invoke({_cmd(cmd)}) failed: TEEC_ERROR_SHORT_BUFFER, the core needs {out_len} "
                f"bytes and the buffer holds {len(self._out)}",
                code=rc,
                origin=TEEC_ORIGIN_TEE,
            )
        self._check(rc, cmd)
        if out_len > len(self._out):
            raise abi.AbiError(f"the core reports {out_len} output bytes in a {len(self._out)}-byte buffer")
        return msg_type, bytes(self._out[:out_len])

    def _check(self, rc: int, cmd: int) -> None:
        if rc == TEEC_SUCCESS:
            return
        if rc == TEEC_ERROR_TARGET_DEAD:
            self.dead = True
        raise tee_error(f"foc_native_invoke({_cmd(cmd)})", rc, TEEC_ORIGIN_TEE)

    def close(self) -> None:
        """foc_native_close (idempotent)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.foc_native_close(handle)


def _cmd(cmd: int) -> str:
    try:
        return f"FOC_CMD_{abi.Command(cmd).name}"
    except ValueError:
        return f"command {cmd} ({result_name(cmd)})"
