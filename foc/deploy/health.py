"""Is the proxy serving? gRPC Health over plaintext or TLS, polled until it says so."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foc.errors import TargetError


def proxy_health(
    address: str,
    timeout: float = 2.0,
    *,
    tls_ca: Path | None = None,
    server_name: str | None = None,
    client: tuple[Path, Path] | None = None,
) -> object | None:
    """The proxy's `HealthResponse` at `address`, or None if it does not answer.

    With `tls_ca` (a PEM file: the pinned proxy certificate) the channel is TLS and the proxy's
    certificate must chain to it and carry `server_name`; `client` = (key, certificate) PEM files
    for mutual TLS.
    """
    import grpc

    from foc.protocol import pb, pb_grpc

    channel = _channel(address, tls_ca, server_name, client)
    try:
        stub = pb_grpc.InvocationStub(channel)
        return stub.Health(pb.HealthRequest(), timeout=timeout)  # type: ignore[attr-defined]
    except grpc.RpcError:
        return None
    finally:
        channel.close()


def _channel(
    address: str, tls_ca: Path | None, server_name: str | None, client: tuple[Path, Path] | None
) -> Any:
    import grpc

    if tls_ca is None:
        return grpc.insecure_channel(address)
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    key, chain = (client[0].read_bytes(), client[1].read_bytes()) if client else (None, None)
    credentials = grpc.ssl_channel_credentials(Path(tls_ca).read_bytes(), key, chain)
    return grpc.secure_channel(address, credentials, options=options)


def warm_device_key(
    address: str,
    timeout: float,
    *,
    tls_ca: Path | None = None,
    server_name: str | None = None,
    client: tuple[Path, Path] | None = None,
) -> str:
    """Ask the proxy for the device attestation key once, waiting up to `timeout` seconds; its kind.

    On a fresh OP-TEE the attestation PTA generates its RSA-3072 key at this first request: minutes
    under emulation, so `up` does it before calling the target ready. TargetError if it fails.
    """
    import grpc

    from foc.protocol import pb, pb_grpc

    channel = _channel(address, tls_ca, server_name, client)
    try:
        answer = pb_grpc.InvocationStub(channel).GetDeviceKey(pb.GetDeviceKeyRequest(), timeout=timeout)  # type: ignore[attr-defined]
    except grpc.RpcError as exc:
        raise TargetError(
            f"the proxy at {address} did not report its device key: {exc.code().name}"
        ) from None
    finally:
        channel.close()
    if answer.HasField("error"):
        raise TargetError(f"the proxy at {address} cannot read its device key: {answer.error.message}")
    return str(answer.kind)


def wait_for_proxy(
    address: str,
    timeout: float,
    is_alive: Callable[[], bool],
    *,
    tls_ca: Path | None = None,
    server_name: str | None = None,
    client: tuple[Path, Path] | None = None,
    what: str = "the target",
    hint: str = "look for the proxy's errors in the target's logs",
) -> object:
    """Poll the proxy's Health until it says serving; TargetError after `timeout` or if `is_alive` fails."""
    deadline = time.monotonic() + timeout
    last: object | None = None
    while time.monotonic() < deadline:
        if not is_alive():
            raise TargetError(f"{what} stopped while waiting for the proxy")
        last = proxy_health(
            address,
            timeout=min(5.0, max(deadline - time.monotonic(), 0.5)),
            tls_ca=tls_ca,
            server_name=server_name,
            client=client,
        )
        if last is not None and getattr(last, "serving", False):
            return last
        time.sleep(0.5)
    state = "answered serving=false" if last is not None else "did not answer"
    raise TargetError(f"the proxy at {address} {state} within {timeout:g} s", hint=hint)
