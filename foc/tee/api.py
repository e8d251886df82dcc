"""The TEE seen from the normal world: two small protocols every backend implements.

Lifecycle (one backend per process):

    backend = LibteecBackend(uuid)     # or NativeBackend(lib_path); InitializeContext
    session = backend.open_session()   # TEEC_OpenSession: expensive, do it once per worker
    msg_type, out = session.invoke(Command.INVOKE, request_bytes)   # many times
    session.close()                    # TEEC_CloseSession
    backend.close()                    # TEEC_FinalizeContext

Backends: ``foc.tee.libteec`` (real OP-TEE through libteec) and ``foc.tee.native`` (the
host-native build of the trusted core: *not* a TEE, for tests). Tests also use small fakes.

Errors: every failed call raises ``foc.errors.TeeError`` with the TEEC code and origin;
a dead TA (TEE_ERROR_TARGET_DEAD) raises ``foc.errors.TaCrashed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from foc.tee.device_key import DeviceKey


@runtime_checkable
class TeeSession(Protocol):
    """One open session with the FOC TA. Not thread-safe: one caller at a time."""

    def invoke(self, cmd: int, data: bytes = b"") -> tuple[int, bytes]:
        """Run a FOC_CMD_* command and return (message type, output bytes).

        INVOKE/RESUME pass `data` as params[0] and return params[1].value.a and the bytes the
        TA wrote to params[2]; ABORT and PANIC take no data and return (0, b"").
        """
        ...

    def info(self) -> tuple[int, int]:
        """FOC_CMD_INFO: (ABI version, largest output in bytes)."""
        ...

    def close(self) -> None:
        """Close the session (idempotent; never raises for an already dead TA)."""
        ...


@runtime_checkable
class TeeBackend(Protocol):
    """A way to reach the FOC TA: owns the TEE context and opens sessions."""

    #: "optee" or "native" (reported by the health endpoint and in logs)
    name: str

    def open_session(self) -> TeeSession:
        """Open a new session with the TA (raises TeeError)."""
        ...

    def close(self) -> None:
        """Release the context. Every session must be closed first."""
        ...


@runtime_checkable
class DeviceKeySource(Protocol):
    """A backend that can report the device attestation public key (both real backends do)."""

    def device_key(self) -> DeviceKey:
        """The device attestation public key (raises TeeError)."""
        ...
