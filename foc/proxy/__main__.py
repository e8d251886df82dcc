"""``foc-proxy`` / ``python -m foc.proxy``: the proxy daemon on the device.

    foc-proxy --listen 0.0.0.0:50051 --tee optee [--pool 4] --tls-cert F --tls-key F [--tls-client-ca F]
    foc-proxy --listen 127.0.0.1:50051 --tee native --native-lib libfoc_core.so

Plaintext on a non-loopback address needs --allow-plaintext (see foc.proxy.config).

Prints ``foc-proxy listening on HOST:PORT tee=...`` once serving; SIGTERM/SIGINT drain the
streams, close every TA session and the TEE context, and exit 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import uuid as _uuid
from pathlib import Path

from foc.errors import FocError
from foc.proxy.config import TEE_BACKENDS, ProxyConfig
from foc.proxy.server import ProxyServer
from foc.tee import abi
from foc.tee.api import TeeBackend
from foc.text import configure_logging, shown


def make_backend(config: ProxyConfig) -> TeeBackend:
    """The TEE backend the configuration names."""
    if config.tee == "optee":
        from foc.tee.libteec import LibteecBackend

        return LibteecBackend(config.ta_uuid)
    from foc.tee.native import NativeBackend

    return NativeBackend(config.native_library)


def parse_args(argv: list[str] | None) -> ProxyConfig:
    """Command line -> ProxyConfig (raises FocError for bad values)."""
    p = argparse.ArgumentParser(prog="foc-proxy", description="FOC proxy: gRPC in front of the FOC TA")
    p.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT to listen on (default %(default)s)")
    p.add_argument(
        "--tee", choices=TEE_BACKENDS, default="optee", help="TEE backend (native = host build, not a TEE)"
    )
    p.add_argument("--pool", type=int, default=4, help="pre-opened TA sessions (default %(default)s)")
    p.add_argument("--ta-uuid", default=abi.FOC_TA_UUID_STR, help="TA to serve (default %(default)s)")
    p.add_argument("--tls-cert", type=Path, help="server certificate (PEM) to enable TLS")
    p.add_argument("--tls-key", type=Path, help="server private key (PEM)")
    p.add_argument(
        "--tls-client-ca", type=Path, help="mutual TLS: CA (PEM) that must sign client certificates"
    )
    p.add_argument(
        "--allow-plaintext",
        action="store_true",
        help="serve without TLS on a non-loopback address (only on a trusted network, e.g. QEMU's hostfwd)",
    )
    p.add_argument(
        "--native-lib", type=Path, help="libfoc_core.so for --tee native (default: $FOC_NATIVE_LIB)"
    )
    p.add_argument("--checkout-timeout", type=float, default=10.0, help="max wait for a free session, s")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    a = p.parse_args(argv)
    configure_logging(a.log_level)
    try:
        ta_uuid = _uuid.UUID(a.ta_uuid)
    except ValueError:
        p.error(f"--ta-uuid {a.ta_uuid!r} is not a UUID")
    return ProxyConfig(
        listen=a.listen,
        tee=a.tee,
        pool_size=a.pool,
        ta_uuid=ta_uuid,
        tls_cert=a.tls_cert,
        tls_key=a.tls_key,
        tls_client_ca=a.tls_client_ca,
        allow_plaintext=a.allow_plaintext,
        checkout_timeout=a.checkout_timeout,
        native_library=a.native_lib,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT."""
    try:
        config = parse_args(argv)
        backend = make_backend(config)
        server = ProxyServer(config, backend)
        try:
            server.start()
        except BaseException:
            backend.close()
            raise
    except FocError as exc:
        print(f"foc-proxy: {shown(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"foc-proxy: {shown(str(exc))}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    note = " (native = host build, not a TEE)" if config.tee == "native" else ""
    line = f"foc-proxy listening on {server.address} tee={config.tee} pool={config.pool_size}{note}"
    print(line, flush=True)
    while not stop.wait(0.5):
        pass
    logging.getLogger("foc.proxy").info("shutting down: draining streams, closing TA sessions")
    server.stop(grace=5.0)
    print("foc-proxy stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
