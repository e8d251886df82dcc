"""foc.tee.libteec without libteec: importable, GP numbers and layouts, clear load errors."""

from __future__ import annotations

import ctypes
import uuid

import pytest

from foc.errors import HostSetupError, TaCrashed, TeeError
from foc.tee import abi, libteec


def test_operation_layout_matches_the_aarch64_guest() -> None:
    # notes/qemu-optee.md: sizeof(TEEC_Operation) == 112 on aarch64 (LP64, like this host)
    if ctypes.sizeof(ctypes.c_void_p) == 8:
        assert ctypes.sizeof(libteec.TEEC_Operation) == 112
        assert libteec.TEEC_Operation.params.offset == 8
        assert libteec.TEEC_Operation.session.offset == 104
        assert libteec.TEEC_RegisteredMemoryReference.offset.offset == 16


def test_uuid_fields_follow_the_rfc4122_byte_order() -> None:
    u = libteec.TEEC_UUID.from_uuid(abi.FOC_TA_UUID)
    assert (u.timeLow, u.timeMid, u.timeHiAndVersion) == (0x6CEB95BA, 0xE9B1, 0x482A)
    assert bytes(u.clockSeqAndNode) == bytes.fromhex("a1bda1ebca0671b9")
    assert abi.ta_uuid_bytes() == uuid.UUID(abi.FOC_TA_UUID_STR).bytes


def test_param_types_packs_four_nibbles() -> None:
    packed = libteec.param_types(
        libteec.TEEC_MEMREF_PARTIAL_INPUT, libteec.TEEC_VALUE_OUTPUT, libteec.TEEC_MEMREF_PARTIAL_OUTPUT
    )
    assert packed == 0x0E2D


def test_errors_carry_names_code_and_origin() -> None:
    err = libteec.tee_error("TEEC_InvokeCommand(FOC_CMD_INVOKE)", 0xFFFF0006, libteec.TEEC_ORIGIN_TRUSTED_APP)
    assert type(err) is TeeError and err.code == 0xFFFF0006 and err.origin == 4
    assert "TEEC_ERROR_BAD_PARAMETERS (0xffff0006) from TEEC_ORIGIN_TRUSTED_APP" in str(err)
    dead = libteec.tee_error("x", 0xFFFF3024, libteec.TEEC_ORIGIN_TEE)
    assert isinstance(dead, TaCrashed) and "TEE_ERROR_TARGET_DEAD" in str(dead)
    assert libteec.result_name(0x12345678) == "0x12345678"
    assert libteec.origin_name(9) == "origin 9"


def test_missing_libteec_is_a_clear_host_setup_error(monkeypatch) -> None:
    monkeypatch.setenv("FOC_LIBTEEC", "/nonexistent/libteec.so.2")
    with pytest.raises(HostSetupError) as exc:
        libteec.LibteecBackend()
    assert "/nonexistent/libteec.so.2" in str(exc.value)
    assert "libteec2" in str(exc.value) and "--tee native" in str(exc.value)
