"""Bringing up the benchmarked systems and the client side each cell runs against.

    with BenchGuest(build=True) as guest:                 # boots a private QEMU instance
        with SystemClient("optee", guest.address, workdir) as sc:    # ... cells ...
        guest.switch_to_native()                          # same guest, proxy on the normal-world build
        with SystemClient("guest-native", guest.address, workdir) as sc:  # ... cells ...
    with HostNativeProxy(workdir) as address:              # the host build, context only

`SystemClient` puts a byte-counting relay in front of the proxy, opens a fresh dev ledger through
`foc.connect` (FOC's wrapper for plaintext, the confidential `coffee` chaincode) and, for confidential
mode, does what `foc demo` does first (`Network.set_up_enclave`: enroll the device key, define the
chaincode with the expected measurement — computed offline from the .ta of the image the instance
booted for OP-TEE, the published native-insecure value otherwise —, create the enclave in the
trusted core and register it with `ercc`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from foc.bench.relay import ByteCountingRelay
from foc.bench.runner import CountingProxy
from foc.bench.workloads import Contract
from foc.errors import FocError, TargetError

if TYPE_CHECKING:
    from foc.deploy.api import RunningTarget

GUEST_NATIVE_LIB = "/opt/foc/native/libfoc_core.so"
GUEST_NATIVE_LOG = "/var/log/foc-proxy-native.log"
GUEST_PYTHONPATH = "/opt/foc/src:/opt/foc/site"
FIND_PROXY_PIDS = "grep -l 'foc[.]proxy' /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3"
CHAINCODE = "coffee"
CHANNEL = "dev"
PROXY_START_TIMEOUT_S = 180.0

Progress = Callable[[str], None]


class BenchGuest:
    """A private QEMU instance (OP-TEE) for the benchmark; always stopped on exit."""

    def __init__(self, *, build: bool = True, progress: Progress | None = None) -> None:
        self.instance = f"bench-{os.getpid()}"
        self.build = build
        self.progress = progress or (lambda _msg: None)
        self.running: RunningTarget | None = None
        self.tee = "optee"

    @property
    def address(self) -> str:
        assert self.running is not None
        return self.running.proxy_address

    def __enter__(self) -> BenchGuest:
        from foc.deploy import api
        from foc.deploy.qemu import free_port

        self.progress(f"booting QEMU instance {self.instance} (OP-TEE) ...")
        try:
            self.running = api.up("qemu", port=free_port(), build=self.build, instance=self.instance)
        except BaseException:
            api.down("qemu", instance=self.instance)
            raise
        self.progress(f"guest proxy ready at {self.running.proxy_address}")
        return self

    def switch_to_native(self) -> None:
        """Replace the guest's proxy (OP-TEE) by one on the guest normal-world build, same port."""
        from foc.deploy import api
        from foc.deploy.qemu import wait_for_proxy

        console = api.attach_console("qemu", instance=self.instance)
        try:
            rc, out = console.run(
                f"for p in $({FIND_PROXY_PIDS}); do tr '\\0' ' ' < /proc/$p/cmdline; echo; done"
            )
            m = re.search(r"--listen \S*?:(\d+)", out)
            if rc != 0 or not m:
                raise TargetError(f"cannot find the guest proxy's port: {out[-300:]}")
            port = m.group(1)
            console.check(f"for p in $({FIND_PROXY_PIDS}); do kill $p; done; sleep 1")
            if console.run(f"test -f {GUEST_NATIVE_LIB}")[0] != 0:
                raise TargetError(
                    f"the image has no {GUEST_NATIVE_LIB}", hint="rebuild it: `foc-deploy qemu build`"
                )
            console.check(
                f"mkdir -p /tmp/native-storage && (FOC_NATIVE_STORAGE=/tmp/native-storage "
                f"PYTHONPATH={GUEST_PYTHONPATH} setsid python3 -m foc.proxy --listen 0.0.0.0:{port} "
                # --allow-plaintext: the guest port is reachable only through QEMU's hostfwd on 127.0.0.1
                f"--tee native --native-lib {GUEST_NATIVE_LIB} --allow-plaintext "
                f"</dev/null >{GUEST_NATIVE_LOG} 2>&1 &)"
            )
        finally:
            console.close()
        wait_for_proxy(self.address, PROXY_START_TIMEOUT_S, lambda: True)
        self.tee = "native"
        self.progress("guest proxy now serves the guest normal-world build (--tee native)")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        from foc.deploy import api

        api.down("qemu", instance=self.instance)
        self.progress(f"stopped QEMU instance {self.instance}")


class HostNativeProxy:
    """A foc-proxy on the host with the host-native build (NOT a TEE); its sealed files in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._proxy: Any = None

    def __enter__(self) -> str:
        from foc.deploy.native import LocalProxy

        storage = self.workdir / "native-storage"
        storage.mkdir(parents=True, exist_ok=True)
        old = os.environ.get("FOC_NATIVE_STORAGE")
        os.environ["FOC_NATIVE_STORAGE"] = str(storage)  # inherited by the proxy process
        try:
            self._proxy = LocalProxy("native").start()
        finally:
            if old is None:
                del os.environ["FOC_NATIVE_STORAGE"]
            else:
                os.environ["FOC_NATIVE_STORAGE"] = old
        return str(self._proxy.address)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proxy is not None:
            self._proxy.stop()


class SystemClient:
    """The client side of one system: relay, proxy client, dev ledger, enclave, contracts."""

    def __init__(
        self, system: str, address: str, workdir: Path, *, measurement: Callable[[], bytes] | None = None
    ) -> None:
        self.system = system
        self.address = address
        self.workdir = workdir / system
        self.measurement = measurement
        self.relay: ByteCountingRelay | None = None
        self.client: Any = None
        self.counter: CountingProxy | None = None
        self.net: Any = None
        self.insecure_native = False

    def __enter__(self) -> SystemClient:
        from foc.client.network import connect
        from foc.confidential.measurement import NATIVE_INSECURE_MEASUREMENT
        from foc.proxy.client import ProxyClient
        from foc.tee.device_key import KIND_NATIVE_INSECURE

        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.relay = ByteCountingRelay(self.address)
            self.client = ProxyClient(self.relay.address)
            self.counter = CountingProxy(self.client)
            self.insecure_native = self.client.device_key_info().kind == KIND_NATIVE_INSECURE
            if self.insecure_native:
                measurement = NATIVE_INSECURE_MEASUREMENT
            elif self.measurement is not None:
                measurement = self.measurement()
            else:
                raise FocError(f"{self.system}: an OP-TEE device needs the expected TA measurement")
            self.net = connect(
                ledger=self.workdir / "ledger.sqlite",
                channel=CHANNEL,
                proxy=cast(Any, self.counter),
                home=self.home,
                allow_insecure_native=self.insecure_native,
            )
            self.net.set_up_enclave(
                CHAINCODE, device_name=f"bench-{self.system}", measurement=measurement, endpoint=self.address
            )
        except BaseException:
            self.close()
            raise
        return self

    @property
    def home(self) -> Path:
        return self.workdir / "home"

    def contracts(self, mode: str, n: int) -> list[Contract]:
        """`n` independent client contracts for `mode` ("plaintext" or "confidential")."""
        from foc.wrapper.catalogue import WRAPPER_NAME

        name = WRAPPER_NAME if mode == "plaintext" else CHAINCODE
        return [cast(Contract, self.net.contract(name)) for _ in range(n)]

    def sessions_opened(self) -> int:
        """The proxy's TEEC_OpenSession count so far (Health.sessions_opened_total)."""
        return int(self.client.health().sessions_opened_total)

    def close(self) -> None:
        if self.net is not None:
            self.net.close()
            self.net = None
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.relay is not None:
            self.relay.close()
            self.relay = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
