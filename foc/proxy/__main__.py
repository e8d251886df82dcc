"""``foc-proxy`` / ``python -m foc.proxy``: the proxy daemon on the device.

    foc-proxy --listen 0.0.0.0:50051 --tee optee [--pool 4] --tls-cert F --tls-key F [--tls-client-ca F]
    foc-proxy --listen 127.0.0.1:50051 --tee native --native-lib libfoc_core.so

Several TAs, one pool of sessions each (requests pick one by chaincode_uuid; Health lists them):

    foc-proxy --tee optee --ta 6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9=coffee --ta UUID=auction ...
    foc-proxy --tee optee --config /etc/foc/proxy.toml      # [[ta]] tables (foc.proxy.config)
    foc-proxy --tee native --native-lib coffee.so --native-lib auction.so   # uuid and name from each

Without --ta or --config the proxy serves one TA, --ta-uuid (default FOC's coffee TA).

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
from dataclasses import replace
from pathlib import Path

from foc.errors import ConfigError, FocError
from foc.proxy.config import TEE_BACKENDS, ProxyConfig, TaConfig, load_ta_file, parse_ta_spec
from foc.proxy.server import ProxyServer
from foc.tee import abi
from foc.tee.api import TeeBackend
from foc.text import configure_logging, shown


def make_backend(config: ProxyConfig) -> TeeBackend:
    """The TEE backend of the configuration's default TA (a single-TA proxy's only one)."""
    return make_backends(config)[config.default_ta.uuid]


def make_backends(config: ProxyConfig) -> dict[_uuid.UUID, TeeBackend]:
    """One TEE backend per TA of the configuration (closing what was made if one fails)."""
    made: dict[_uuid.UUID, TeeBackend] = {}
    try:
        for ta in config.tas:
            if config.tee == "optee":
                from foc.tee.libteec import LibteecBackend

                made[ta.uuid] = LibteecBackend(ta.uuid)
            else:
                from foc.tee.native import NativeBackend

                made[ta.uuid] = NativeBackend(ta.native_library)
    except BaseException:
        for backend in made.values():
            backend.close()
        raise
    return made


def _native_tas(libraries: list[Path], ta_uuid: _uuid.UUID | None) -> list[TaConfig]:
    """--tee native: one TA per library, named by the uuid and chaincode name the library reports."""
    from foc.tee.native import NativeBackend, default_native_core

    out = []
    for lib in libraries or [default_native_core()]:
        probe = NativeBackend(lib)
        if ta_uuid is not None and len(libraries) <= 1 and probe.ta_uuid != ta_uuid:
            raise ConfigError(f"--ta-uuid {ta_uuid}: the native library {lib} is TA {probe.ta_uuid}")
        out.append(TaConfig(probe.ta_uuid, probe.chaincode_name, native_library=lib))
    return out


def parse_args(argv: list[str] | None) -> ProxyConfig:
    """Command line -> ProxyConfig (raises FocError for bad values)."""
    p = argparse.ArgumentParser(prog="foc-proxy", description="FOC proxy: gRPC in front of the FOC TA")
    p.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT to listen on (default %(default)s)")
    p.add_argument(
        "--tee", choices=TEE_BACKENDS, default="optee", help="TEE backend (native = host build, not a TEE)"
    )
    p.add_argument("--pool", type=int, default=4, help="pre-opened TA sessions (default %(default)s)")
    p.add_argument(
        "--ta-uuid", default=None, help=f"the one TA to serve (default {abi.FOC_TA_UUID_STR}: coffee)"
    )
    p.add_argument(
        "--ta",
        action="append",
        default=[],
        metavar="UUID[=NAME]",
        help="a TA to serve, with its own pool of sessions (repeat for several; --tee optee)",
    )
    p.add_argument(
        "--config", type=Path, help="TOML file of [[ta]] tables (uuid, name, pool, checkout_timeout)"
    )
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
        "--native-lib",
        type=Path,
        action="append",
        default=[],
        help="--tee native: a TA's host build (libfoc_core.so; repeat for several; default $FOC_NATIVE_LIB)",
    )
    p.add_argument("--checkout-timeout", type=float, default=10.0, help="max wait for a free session, s")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    a = p.parse_args(argv)
    configure_logging(a.log_level)
    try:
        ta_uuid = _uuid.UUID(a.ta_uuid) if a.ta_uuid else None
    except ValueError:
        p.error(f"--ta-uuid {a.ta_uuid!r} is not a UUID")
    # where to listen and TLS first: a refusal there must not depend on loading any TA library
    base = ProxyConfig(
        listen=a.listen,
        tee=a.tee,
        pool_size=a.pool,
        ta_uuid=ta_uuid or abi.FOC_TA_UUID,
        tls_cert=a.tls_cert,
        tls_key=a.tls_key,
        tls_client_ca=a.tls_client_ca,
        allow_plaintext=a.allow_plaintext,
        checkout_timeout=a.checkout_timeout,
    )
    tas = [parse_ta_spec(spec) for spec in a.ta]
    if a.config is not None:
        tas += load_ta_file(a.config)
    if a.tee == "native":
        if a.ta:
            raise ConfigError("--ta is for --tee optee; a native TA is its library: --native-lib PATH")
        listed = [t for t in tas if t.native_library is not None]
        if len(listed) != len(tas):
            raise ConfigError("--tee native: every [[ta]] of --config needs its native_lib")
        tas = listed + (_native_tas(a.native_lib, ta_uuid) if a.native_lib or not listed else [])
    elif a.native_lib:
        raise ConfigError("--native-lib is for --tee native (the host build), not for OP-TEE")
    return replace(base, tas=tas) if tas else base


def main(argv: list[str] | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT."""
    try:
        config = parse_args(argv)
        backends = make_backends(config)
        try:
            server = ProxyServer(config, backends)
            server.start()
        except BaseException:
            for backend in backends.values():
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
    tas = ",".join(ta.name for ta in config.tas)
    line = f"foc-proxy listening on {server.address} tee={config.tee} pool={config.pool_size} tas={tas}{note}"
    print(line, flush=True)
    while not stop.wait(0.5):
        pass
    logging.getLogger("foc.proxy").info("shutting down: draining streams, closing TA sessions")
    server.stop(grace=5.0)
    print("foc-proxy stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
