"""`HostChaincode`: a chaincode's host-native build, run in this process on a dict ledger.

    from foc.sdk.host import HostChaincode

    cc = HostChaincode.open("build")                # a project's build directory (or a libfoc_core.so)
    assert cc.invoke("put", "color", "blue").payload == b"OK"   # ok results commit their writes
    assert cc.query("get", "color").payload == b"blue"          # queries commit nothing
    assert cc.query("get", "nothing").error.code == "NOT_FOUND"

What a chaincode project's tests use (`foc chaincode new` writes one). NOT a TEE: it is the same C as
the chaincode's TA (its trusted core and chaincode, `make native`), linked for this host and called
through the TA's own command table, so arguments, limits, errors and the read/write set are the TA's.
The ledger is `state` (key -> value), committed only when an invocation succeeds; there is no MVCC.
"""

from __future__ import annotations

import json
import uuid as _uuid
from collections.abc import Mapping
from pathlib import Path

from foc.errors import HostSetupError
from foc.protocol import keys
from foc.protocol.context import Creator, Transient
from foc.protocol.result import InvocationResult
from foc.tee.invocation import run_invocation
from foc.tee.native import NativeBackend, NativeSession

BUILD_RECORD = "chaincode.json"  # written by ta/chaincode.mk next to the build outputs


class HostChaincode:
    """One chaincode library, one session, one dict ledger (`state`). Not thread-safe."""

    def __init__(self, library: str | Path, state: Mapping[str, bytes] | None = None) -> None:
        self.library = Path(library)
        if not self.library.is_file():
            raise HostSetupError(
                f"no host-native chaincode library at {self.library}",
                hint="build it first: `foc chaincode build <project directory>` (or `make native` there)",
            )
        self._backend = NativeBackend(self.library)
        self._session: NativeSession | None = self._backend.open_session()
        self.state: dict[str, bytes] = dict(state or {})

    @classmethod
    def open(cls, path: str | Path, state: Mapping[str, bytes] | None = None) -> HostChaincode:
        """From a project's build directory (its chaincode.json names the library) or a library file."""
        path = Path(path)
        if path.is_dir() or not path.suffix:
            record = path / BUILD_RECORD
            try:
                library = path / json.loads(record.read_text())["native_lib"]
            except (OSError, ValueError, KeyError, TypeError):
                raise HostSetupError(
                    f"{path} holds no chaincode build ({record} is missing or unreadable)",
                    hint="build it first: `foc chaincode build <project directory>`",
                ) from None
            return cls(library, state)
        return cls(path, state)

    @property
    def ta_uuid(self) -> _uuid.UUID:
        """The uuid of the TA this library was built as."""
        return self._backend.ta_uuid

    @property
    def name(self) -> str:
        """The chaincode's name (its `struct foc_chaincode`)."""
        return self._backend.chaincode_name

    def query(
        self,
        function: str,
        *args: str | bytes,
        creator: Creator | None = None,
        transient: Transient | None = None,
    ) -> InvocationResult:
        """Run `function(args)` as `creator` (what foc_get_creator returns; None: no creator) with
        `transient` data (foc_get_transient); commit nothing. Range reads are answered from `state`."""
        if self._session is None:
            raise HostSetupError("this HostChaincode is closed")
        request = [function.encode(), *(a.encode() if isinstance(a, str) else bytes(a) for a in args)]
        return run_invocation(
            self._session, request, self.state.get, self.range, creator=creator, transient=transient
        )

    def invoke(
        self,
        function: str,
        *args: str | bytes,
        creator: Creator | None = None,
        transient: Transient | None = None,
    ) -> InvocationResult:
        """Run `function(args)` as `query` does; on success apply its write set to `state`."""
        result = self.query(function, *args, creator=creator, transient=transient)
        if result.ok:
            for write in result.writes:
                if write.is_delete:
                    self.state.pop(write.key, None)
                else:
                    self.state[write.key] = write.value
        return result

    def range(self, start: str, end: str) -> list[tuple[str, bytes]]:
        """The entries of `state` with start <= key < end (end "": no bound) in UTF-8 byte order, as a
        peer answers GetStateByRange (an empty start is U+0001: composite keys only in their own
        partial composite key ranges)."""
        start = start or keys.EMPTY_START_SUBSTITUTE
        found = [(k, v) for k, v in self.state.items() if keys.in_range(k, start, end)]
        return sorted(found, key=lambda kv: kv[0].encode("utf-8"))

    def close(self) -> None:
        """Close the session (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def __enter__(self) -> HostChaincode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
