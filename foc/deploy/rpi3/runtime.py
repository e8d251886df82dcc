"""`Rpi3Runtime`: the rpi3 target's `TargetRuntime`, for a real board or its QEMU raspi3b emulation.

    foc-deploy rpi3 up                              # the SD image under QEMU raspi3b (an emulated board)
    foc-deploy rpi3 up --host 192.0.2.7 [--serial /dev/ttyUSB0] [--board NAME]    # a real board

Both are provisioned the same way once booted: over SSH (`fabric`, the board's host key pinned at
flash time) or, failing that, over the serial console: the proxy's TLS identity is installed (its
certificate pinned here), a newer TA or `foc` package copied, tee-supplicant and the proxy
restarted; "proxy ready" means the proxy's gRPC Health answered over TLS with that pinned
certificate. The emulated board is a QEMU process this runtime owns (`down` stops it); a real
board is not ours to power off (`down` stops its proxy over SSH and forgets it).

Per instance (run dir `<cache>/run/rpi3/<instance>/`): `state.json`, `logs/normal-world.log`
(mini UART: Linux console, OP-TEE's lines diverted to) `logs/secure-world.log` (TF-A's PL011,
OP-TEE), and for the emulation `card.img` (this emulated board's SD card) and `boot/` (what the
emulated firmware loaded).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from foc.deploy import paths
from foc.deploy.console import Console, SerialConsole
from foc.deploy.health import wait_for_proxy, warm_device_key
from foc.deploy.image import ImageSet
from foc.deploy.qemu import proxy_status, stop_pid
from foc.deploy.rpi3 import provision as prov
from foc.deploy.rpi3.identity import PROXY_SERVER_NAME, BoardIdentity
from foc.deploy.runtime import READY_PROXY, ImageRuntime, Progress, RunningTarget
from foc.errors import FocError, TargetError, UsageError

GUEST_PROXY_PORT = 50051
BOOT_TIMEOUT = 600.0  # raspi3b under TCG on a shared 2-core host: measured 60-150 s to "ready"
SSH_TIMEOUT = 300.0  # DHCP on usb0 comes after USB enumeration, tens of seconds after "ready"
PROXY_TIMEOUT = 300.0  # python + grpc import on four emulated Cortex-A53
DEVICE_KEY_TIMEOUT = 900.0  # a fresh card: OP-TEE's attestation PTA makes its RSA-3072 key (TCG: minutes)
EMULATED_PREFIX = "raspi3b-"


def _step(progress: Progress | None, name: str, state: str, detail: str = "") -> None:
    if progress:
        progress(name, state, detail)


class Rpi3Runtime(ImageRuntime):
    """A Raspberry Pi 3 (see the module docstring)."""

    name = "rpi3"
    description = "Raspberry Pi 3 Model B/B+: a board over SSH/UART, or its SD image under QEMU raspi3b"
    extra_actions = ("flash", "inspect", "provision")

    @property
    def card(self) -> Path:
        return self.run_dir / "card.img"

    def identity(self, board: str | None = None) -> BoardIdentity:
        """The host-side credentials of this instance's board (the emulated one: raspi3b-<instance>)."""
        return BoardIdentity.of(
            board or self.read_state().get("board") or f"{EMULATED_PREFIX}{self.instance}"
        )

    # -- up ---------------------------------------------------------------------------------------

    def up(
        self,
        *,
        build: bool = True,
        port: int | None = None,
        progress: Progress | None = None,
        verbose: bool = False,
        host: str | None = None,
        serial: str | None = None,
        ssh_port: int | None = None,
        board: str | None = None,
        mutual_tls: bool = False,
        new_tls: bool = True,
        boot_timeout: float = BOOT_TIMEOUT,
        tas: Sequence[str | Path] = (),
    ) -> RunningTarget:
        """Boot the emulation (no `host`) or provision the board at `host`, until "proxy ready"."""
        if self.running() is not None:
            raise TargetError(f"rpi3 ({self.instance}) is already up", hint="`foc-deploy rpi3 down` first")
        if host is None and serial is not None:
            raise UsageError("--serial names a board's UART: give --host too (without it, rpi3 is emulated)")
        t0 = time.monotonic()
        timings: dict[str, float] = {}
        image = self.image_for_up(build, progress, verbose, timings, tas)
        identity = BoardIdentity.of(
            board or (host.replace(":", "_") if host else f"{EMULATED_PREFIX}{self.instance}")
        )
        if host is None:
            running, extra = self._up_emulated(
                image, identity, port, ssh_port, progress, verbose, timings, mutual_tls, boot_timeout
            )
        else:
            running, extra = self._up_board(
                image, identity, host, port or GUEST_PROXY_PORT, ssh_port or 22, serial, progress, timings,
                mutual_tls, new_tls,
            )  # fmt: skip
        timings["total_s"] = time.monotonic() - t0
        running = RunningTarget(
            **{**running.__dict__, "timings": {k: round(v, 2) for k, v in timings.items()}}
        )
        self.save_state({**running.to_json(), "board": identity.name, "image": image.to_json(), **extra})
        _step(progress, "proxy", "done", READY_PROXY)
        return running

    def _up_emulated(
        self,
        image: ImageSet,
        identity: BoardIdentity,
        port: int | None,
        ssh_port: int | None,
        progress: Progress | None,
        verbose: bool,
        timings: dict[str, float],
        mutual_tls: bool,
        boot_timeout: float,
    ) -> tuple[RunningTarget, dict[str, object]]:
        from foc.deploy.qemu import free_port
        from foc.deploy.rpi3 import emulator

        card_note = self._prepare_card(image, identity)
        _step(progress, "card", "done", card_note)
        boot = emulator.prepare_boot(self.card, self.run_dir / "boot")
        inst = emulator.Raspi3bInstance(
            image,
            run_dir=self.run_dir,
            port=port or free_port(),
            ssh_port=ssh_port or free_port(),
            card=self.card,
            boot=boot,
        )
        _step(progress, "boot", "start", " ".join(inst.command_line()) if verbose else "raspi3b")
        t_boot = time.monotonic()
        inst.start()
        try:
            state = inst.wait_for_boot(timeout=boot_timeout, progress=progress)
            timings["boot_s"] = time.monotonic() - t_boot
            _step(progress, "boot", "done", f"{timings['boot_s']:.1f} s")
            pinned = identity.pinned_host_key()
            if state.ssh_host_key != pinned:
                raise TargetError(
                    f"the emulated board printed SSH host key {state.ssh_host_key!r}, "
                    f"not the pinned {pinned!r}"
                )
            pty = inst.console_pty()
            running = RunningTarget(
                target=self.name,
                proxy_address=inst.proxy_address,
                ready=READY_PROXY,
                run_dir=self.run_dir,
                logs=inst.logs_dir,
                pid=inst.pid,
                port=inst.port,
                serial_port=pty,
                tls_ca=identity.proxy_cert,
                tls_server_name=PROXY_SERVER_NAME,
                tls_client_cert=identity.client_cert if mutual_tls else None,
                tls_client_key=identity.client_key if mutual_tls else None,
            )
            self._provision_and_wait(
                running, identity, "127.0.0.1", inst.ssh_port, None, image, progress, timings, t_boot,
                mutual_tls,
                True, inst.is_running,
            )  # fmt: skip
        except BaseException:
            inst.stop()
            raise
        return running, {"mode": "emulated", "ssh_port": inst.ssh_port, "host": "127.0.0.1"}

    def _prepare_card(self, image: ImageSet, identity: BoardIdentity) -> str:
        """This instance's SD card: a personalised copy of the image (reused while the image is the same)."""
        from foc.deploy.rpi3 import sdimage

        if image.sd_image is None:
            raise TargetError("the rpi3 image has no SD image", hint="`foc-deploy rpi3 build`")
        meta = self.run_dir / "card.json"
        key = image.extra.get("image_key", "")
        try:
            same = json.loads(meta.read_text()).get("image_key") == key and self.card.is_file()
        except (OSError, ValueError):
            same = False
        if same and identity.pinned_host_key() is not None:
            return "card reused (data partition kept)"
        sdimage.copy_sparse(image.sd_image, self.card)
        sdimage.personalize(self.card, identity.flash_files())
        meta.write_text(json.dumps({"image_key": key, "board": identity.name}))
        return "card written from the image (new SSH host key pinned)"

    def _up_board(
        self,
        image: ImageSet,
        identity: BoardIdentity,
        host: str,
        port: int,
        ssh_port: int,
        serial: str | None,
        progress: Progress | None,
        timings: dict[str, float],
        mutual_tls: bool,
        new_tls: bool,
    ) -> tuple[RunningTarget, dict[str, object]]:
        running = RunningTarget(
            target=self.name,
            proxy_address=f"{host}:{port}",
            ready=READY_PROXY,
            run_dir=self.run_dir,
            logs=self.run_dir / "logs",
            port=port,
            serial_port=serial,
            tls_ca=identity.proxy_cert,
            tls_server_name=PROXY_SERVER_NAME,
            tls_client_cert=identity.client_cert if mutual_tls else None,
            tls_client_key=identity.client_key if mutual_tls else None,
        )
        running.logs.mkdir(parents=True, exist_ok=True)
        self._provision_and_wait(
            running, identity, host, ssh_port, serial, image, progress, timings, time.monotonic(), mutual_tls,
            new_tls, lambda: True,
        )  # fmt: skip
        return running, {"mode": "board", "ssh_port": ssh_port, "host": host, "serial": serial}

    def _provision_and_wait(
        self,
        running: RunningTarget,
        identity: BoardIdentity,
        host: str,
        ssh_port: int,
        serial: str | None,
        image: ImageSet,
        progress: Progress | None,
        timings: dict[str, float],
        t_boot: float,
        mutual_tls: bool,
        new_tls: bool,
        is_alive: Any,
    ) -> None:
        """Provision over SSH (console if SSH fails and a serial port is known), then wait for Health."""
        tas = list(image.ta_files)  # every chaincode TA of the image (and its proxy.toml beside them)
        package = paths.REPO_ROOT / "foc"
        if serial is not None and identity.pinned_host_key() is None:
            self._learn_host_key(serial, identity, running.logs)
        _step(progress, "provision", "start", f"SSH {host}:{ssh_port}")
        try:
            with prov.connect(host, ssh_port, identity, timeout=SSH_TIMEOUT) as shell:
                report = prov.provision(
                    shell, identity, tas=tas, package=package, new_tls=new_tls, mutual_tls=mutual_tls
                )
            how = "SSH"
        except TargetError as exc:
            if serial is None:
                raise
            _step(
                progress, "provision", "progress", f"SSH failed ({exc.message}); using the console {serial}"
            )
            with self._console(serial, running.logs) as console:
                console.wait_for_shell()
                report = prov.provision(
                    prov.ConsoleShell(console),
                    identity,
                    tas=tas,
                    package=package,
                    new_tls=new_tls,
                    mutual_tls=mutual_tls,
                )
            how = f"console {serial}"
        timings["provision_s"] = time.monotonic() - t_boot - timings.get("boot_s", 0.0)
        _step(progress, "provision", "done", f"{how}: TLS {report.tls}, TAs {report.tas or 'unchanged'}, "
              f"foc package {report.package}, proxy pid {report.proxy}")  # fmt: skip
        _step(progress, "proxy", "start", f"{running.proxy_address} (TLS, pinned {identity.proxy_cert})")
        client = (identity.client_key, identity.client_cert) if mutual_tls else None
        wait_for_proxy(
            running.proxy_address,
            PROXY_TIMEOUT,
            is_alive,
            tls_ca=identity.proxy_cert,
            server_name=PROXY_SERVER_NAME,
            client=client,
            what="the rpi3",
            hint="read the board's logs: `foc-deploy rpi3 provision --logs`",
        )
        t_key = time.monotonic()
        kind = warm_device_key(
            running.proxy_address,
            DEVICE_KEY_TIMEOUT,
            tls_ca=identity.proxy_cert,
            server_name=PROXY_SERVER_NAME,
            client=client,
        )
        timings["device_key_s"] = time.monotonic() - t_key
        _step(progress, "device key", "done", f"{kind} ({timings['device_key_s']:.1f} s)")
        timings["ready_s"] = time.monotonic() - t_boot

    def _console(self, serial: str, logs: Path) -> Console:
        logs.mkdir(parents=True, exist_ok=True)
        return SerialConsole(
            serial, default_timeout=120.0, log=logs / "normal-world.log", secure_log=logs / "secure-world.log"
        )

    def _learn_host_key(self, serial: str, identity: BoardIdentity, logs: Path) -> None:
        """Pin the host key the board reports over its UART (a physical line we trust)."""
        with self._console(serial, logs) as console:
            console.wait_for_shell()
            line = console.check("cut -d' ' -f1,2 /run/foc/ssh/ssh_host_ed25519_key.pub")
        identity.pin_host_key(line.strip())

    # -- the rest of the interface ----------------------------------------------------------------

    def running(self) -> RunningTarget | None:
        from foc.deploy.qemu import pid_is_ours

        state = self.read_state()
        if not state:
            return None
        try:
            running = RunningTarget.from_json(state, reused=True)
        except (KeyError, ValueError, TypeError):
            return None
        if state.get("mode") == "emulated" and (
            running.pid is None or not pid_is_ours(running.pid, self.run_dir)
        ):
            return None
        return running

    def down(self) -> bool:
        state = self.read_state()
        stopped = False
        if state.get("mode") == "board" and state.get("host"):
            identity = self.identity()
            try:
                with prov.SshShell(str(state["host"]), int(state.get("ssh_port") or 22), identity) as shell:
                    shell.run("foc-proxy-service stop")
                stopped = True
            except FocError:
                stopped = False  # the board is unreachable: forget it anyway
        pid_file = self.run_dir / "qemu.pid"
        from foc.deploy.qemu import read_pid

        pid = read_pid(pid_file)
        if pid is not None:
            stopped = stop_pid(pid, self.run_dir) or stopped
        for name in ("qemu.pid", "qmp.sock", "state.json"):
            (self.run_dir / name).unlink(missing_ok=True)
        import shutil

        shutil.rmtree(self.run_dir / "boot", ignore_errors=True)  # what the emulated firmware loaded (~90 MB)
        return stopped

    def status(self) -> dict[str, object]:
        state = self.read_state()
        running = self.running()
        out: dict[str, object] = {
            "target": self.name,
            "running": running is not None,
            "run_dir": str(self.run_dir),
            "logs": str(self.run_dir / "logs"),
            "mode": state.get("mode"),
        }
        if running is not None:
            out.update(
                pid=running.pid,
                proxy_address=running.proxy_address,
                ready=running.ready,
                serial_port=running.serial_port,
                ssh=f"{state.get('host')}:{state.get('ssh_port')}",
                tls_ca=str(running.tls_ca),
                timings=running.timings,
            )
            out.update(
                proxy_status(
                    running.proxy_address,
                    tls_ca=running.tls_ca,
                    server_name=running.tls_server_name,
                    client=running.tls_client,
                )
            )
        return out

    def console(self, **kwargs: Any) -> Console:
        running = self.running()
        if running is None or running.serial_port is None:
            raise TargetError(
                "rpi3 has no console to attach to",
                hint="`foc-deploy rpi3 up` (emulated), or --serial DEVICE for a board",
            )
        kwargs.setdefault("secure_log", self.run_dir / "logs" / "secure-world.log")
        console = SerialConsole(running.serial_port, **kwargs)
        console.open()
        return console

    def log_path(self, *, secure: bool = False) -> Path:
        return self.run_dir / "logs" / ("secure-world.log" if secure else "normal-world.log")

    def shell(self) -> prov.SshShell:
        """An open SSH session to the running board (emulated or real)."""
        state = self.read_state()
        if self.running() is None or not state.get("host"):
            raise TargetError("rpi3 is not up", hint="`foc-deploy rpi3 up`")
        return prov.connect(
            str(state["host"]), int(state.get("ssh_port") or 22), self.identity(), timeout=30.0
        )
