"""FocWrapper: the chaincode at the peer that forwards each invocation to the proxy.

For one transaction the wrapper sends function + arguments to the proxy (one gRPC stream on a
long-lived channel), answers each of the TA's GetState requests from the stub, and, when the TA
has finished, applies its write batch with `put_state` / `del_state` on the stub. The ledger back
end then validates and commits the writes like any other chaincode's.

Outcomes map to Fabric responses:
  success                       -> status 200, payload = the TA's payload (e.g. b"OK")
  structured chaincode error    -> status 500, message "<CODE>: <message>" (e.g. "EXISTS: ...")
  over a limit of the TA's      -> status 500, "LIMIT: ... limit N (FOC_MAX_...)", found by the proxy
                                   client before it sends (or by the proxy, or the TA)
  proxy unreachable / dropped   -> status 500, message "PROXY_UNAVAILABLE: ..."
  bad invocation at the wrapper -> status 500, message "INVALID_INVOCATION: ..."
`foc.wrapper.errors.error_from_response` turns such a response back into the typed `foc.errors` exception.

Compatibility with FOC: the same plaintext invocation (e.g. `create alice 0`) gives the same
payloads. FOC's `setup <uuid>` call is accepted (it selects the TA uuid in this wrapper's
memory, exactly as FOC did) but never required: the uuid comes from configuration.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

from foc.chaincode.stub import ChaincodeStub, Response, check_key, parse_creator, read_range
from foc.errors import ChaincodeError, ConfigError, ProxyUnavailable, UsageError
from foc.protocol.context import Creator, Transient
from foc.protocol.limits import PLAINTEXT
from foc.protocol.result import InvocationResult, StateWrite
from foc.wrapper.config import WrapperConfig, load_config, parse_ta_uuid
from foc.wrapper.errors import (  # noqa: F401 - error_from_response is part of this module's API
    INVALID_INVOCATION,
    PROTOCOL,
    PROXY_UNAVAILABLE,
    error_from_response,
    error_response,
)

log = logging.getLogger(__name__)

GetStateCallback = Callable[[str], bytes | None]
GetStateByRangeCallback = Callable[[str, str], Sequence[tuple[str, bytes]]]


class ProxyInvoker(Protocol):
    """What the wrapper needs from `foc.proxy.client.ProxyClient` (and what test fakes implement).

    `invoke` runs one transaction on the proxy, calling `get_state(key)` for every key the TA
    reads (None = absent) and `get_state_by_range(start, end)` for every range it reads (the
    entries, ascending); `creator` and `transient` are the transaction's. It returns a
    `foc.protocol.result.InvocationResult` (status, payload,
    error with a `code` name and `message`, write batch `writes`) or raises `ProxyUnavailable` if
    the proxy cannot be reached or drops the stream. `put_state` is only used by FOC's legacy mode (empty
    `transaction_id`), where writes arrive one by one instead of in the batch.
    """

    def invoke(
        self,
        function: str,
        args: Sequence[bytes],
        *,
        get_state: GetStateCallback,
        put_state: Callable[[str, bytes], None] | None = None,
        get_state_by_range: GetStateByRangeCallback | None = None,
        transaction_id: str = "",
        channel_id: str = "",
        chaincode_uuid: bytes = b"",
        creator: Creator | None = None,
        transient: Transient | None = None,
        timeout: float | None = None,
    ) -> InvocationResult: ...


ClientFactory = Callable[[WrapperConfig], ProxyInvoker]


def default_client_factory(config: WrapperConfig) -> ProxyInvoker:
    """A real `foc.proxy.client.ProxyClient` for `config` (one long-lived gRPC channel)."""
    from foc.proxy.client import ProxyClient  # the proxy package is optional at import time

    return ProxyClient(
        config.proxy_address,
        tls_ca=config.tls_ca,
        tls_server_name=config.tls_server_name,
        tls_client=config.tls_client,
        default_timeout=config.timeout_s,
    )


class FocWrapper:
    """The FOC wrapper chaincode. One instance serves many concurrent transactions.

    The proxy client is created on first use from `config` (or `load_config()` then) and kept for
    the wrapper's lifetime: one channel, one stream per transaction. `close()` releases it.
    """

    def __init__(
        self,
        config: WrapperConfig | None = None,
        *,
        client: ProxyInvoker | None = None,
        client_factory: ClientFactory = default_client_factory,
    ) -> None:
        self._config = config
        self._client = client
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._ta_uuid: uuid.UUID | None = config.ta_uuid if config else None

    # -- chaincode interface -------------------------------------------------------------

    def init(self, stub: ChaincodeStub) -> Response:
        """No state to initialise (as in FOC)."""
        return Response.success()

    def invoke(self, stub: ChaincodeStub) -> Response:
        """Forward one invocation to the proxy; see the module docstring for the outcome mapping."""
        started = time.monotonic()
        try:
            args = stub.get_args()
            if not args:
                raise UsageError("an invocation needs at least a function name")
            try:
                function = args[0].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UsageError("the function name must be UTF-8 text") from exc
            if function == "setup":
                return self._setup(args[1:])
            response = self._forward(stub, function, args[1:])
        except (ChaincodeError, ProxyUnavailable, UsageError, ConfigError) as exc:
            response = error_response(exc)
        # Never the arguments or values: only what happened and how long it took.
        log.info(
            "tx %s: %d args -> status %d in %.1f ms",
            stub.tx_id,
            len(args) - 1 if args else 0,
            response.status,
            (time.monotonic() - started) * 1000,
        )
        return response

    def close(self) -> None:
        """Close the proxy client if this wrapper created it."""
        with self._lock:
            client, self._client = self._client, None
        closer = getattr(client, "close", None)
        if callable(closer):
            closer()

    # -- internals -----------------------------------------------------------------------

    def _setup(self, params: Sequence[bytes]) -> Response:
        """FOC compatibility: `setup <uuid hex>` selects the TA uuid (in memory only, like FOC)."""
        if len(params) != 1:
            raise UsageError("setup takes exactly one argument: the TA uuid")
        try:
            self._ta_uuid = parse_ta_uuid(params[0].decode("ascii", errors="replace"))
        except ConfigError as exc:
            raise UsageError(str(exc)) from exc
        return Response.success(b"OK")

    def _proxy(self) -> ProxyInvoker:
        with self._lock:
            if self._client is None:
                if self._config is None:
                    self._config = load_config()
                self._client = self._client_factory(self._config)
            return self._client

    def _forward(self, stub: ChaincodeStub, function: str, params: Sequence[bytes]) -> Response:
        client = self._proxy()
        ta_uuid = self._ta_uuid or (self._config.ta_uuid if self._config else None)
        timeout = self._config.timeout_s if self._config else None

        def get_state(key: str) -> bytes | None:
            return stub.get_state(key)

        def get_state_by_range(start: str, end: str) -> list[tuple[str, bytes]]:
            return read_range(stub, start, end, PLAINTEXT.range_entries)

        result = client.invoke(
            function,
            list(params),
            get_state=get_state,
            put_state=stub.put_state,
            get_state_by_range=get_state_by_range,
            transaction_id=stub.tx_id,
            channel_id=stub.channel_id,
            chaincode_uuid=ta_uuid.bytes if ta_uuid else b"",
            creator=parse_creator(stub.get_creator()),
            transient=dict(stub.get_transient()),
            timeout=timeout,
        )
        if not result.ok:
            code = result.error.code if result.error is not None else "INTERNAL"
            message = (result.error.message if result.error is not None else "") or "the chaincode failed"
            return Response.error(f"{code}: {message}")
        self._apply_writes(stub, result.writes)
        return Response.success(result.payload)

    @staticmethod
    def _apply_writes(stub: ChaincodeStub, writes: Sequence[StateWrite]) -> None:
        # Check the whole batch before touching the stub, so a bad batch leaves no partial writes.
        for write in writes:
            try:
                check_key(write.key)
            except UsageError as exc:
                raise ChaincodeError(PROTOCOL, f"the proxy returned an invalid write: {exc}") from exc
        for write in writes:
            if write.is_delete:
                stub.del_state(write.key)
            else:
                stub.put_state(write.key, write.value)
