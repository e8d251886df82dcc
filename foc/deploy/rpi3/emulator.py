"""The rpi3 SD image under `qemu-system-aarch64 -M raspi3b`: four Cortex-A53 starting at 0 in EL3.

What runs is the SD image's own bytes: the files config.txt names are read from its FAT
partition, the DTB gets the fix-ups the firmware makes (`foc.deploy.rpi3.firmware`), and QEMU's
`-device loader` places them where the VideoCore firmware would; then TF-A BL1 runs at 0 exactly
as on the board (BL1 -> BL2 -> BL31 + OP-TEE -> Linux from BL31). The card itself is a copy of the
image per instance (its data partition keeps secure storage across reboots, like a real card).

Two QEMU limitations shape this, both named where they matter:
- QEMU emulates no VideoCore, so the firmware's loading step is done here (see above).
- QEMU's SD host model (hw/sd/bcm2835_sdhost.c) sets SDHSTS's DATA_FLAG when data enters its FIFO
  but clears it only when the guest writes 1 to it; on the board it follows the FIFO. TF-A's BL2
  drains the FIFO before handing over (`rpi3_sdhost_stop` -> `rpi3_drain_fifo`, a loop on that
  flag without a timeout) and spins forever once it has talked to a card (seen: PC in
  `generic_delay_get_timer_value` called from `rpi3_drain_fifo`). So the card's medium is inserted
  through QMP only once BL31 has printed its banner, i.e. after BL2 finished; Linux's sdhost
  driver then finds it as on the board.

Serial ports: the PL011 (first `-serial`) carries TF-A's lines (no firmware put GPIO14 in ALT5)
and goes to `logs/secure-world.log`; the mini UART (second) carries OP-TEE and the Linux console
and is a host pty (driven with pyserial, `SerialConsole`) whose output is also logged to
`logs/normal-world.log`. Networking: `usb-net` on the DWC2 USB host (Linux: cdc_ether, usb0),
QEMU user networking with the proxy's and sshd's ports forwarded to 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foc.deploy.console import secure_world_lines
from foc.deploy.image import ImageSet
from foc.deploy.qemu import QemuInstance, QemuMachine
from foc.deploy.rpi3 import firmware, sdimage
from foc.errors import ConfigError, TargetError

CARD_INSERT_AFTER = "BL31: "  # TF-A's BL31 banner: BL2 (and its SD host driver) is done
CARD_DRIVE = "sd0"
MINI_UART = "mini"
GUEST_PROXY_PORT = 50051
GUEST_SSH_PORT = 22


class Qmp:
    """A minimal QMP client (JSON over QEMU's unix socket): capabilities, commands, events skipped."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""

    def __enter__(self) -> Qmp:
        deadline = time.monotonic() + self.timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() > deadline:
                    raise TargetError(f"QEMU's QMP socket {self.path} does not answer") from None
                time.sleep(0.1)
        sock.settimeout(self.timeout)
        self._sock = sock
        self._message()  # the greeting
        self.execute("qmp_capabilities")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _message(self) -> dict[str, Any]:
        assert self._sock is not None
        while b"\n" not in self._buf:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise TargetError("QEMU closed its QMP socket")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return dict(json.loads(line))

    def execute(self, command: str, **arguments: Any) -> Any:
        """Run a QMP command; its `return` value, or TargetError with QEMU's error."""
        assert self._sock is not None
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self._sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._message()
            if "event" in reply:
                continue
            if "error" in reply:
                raise TargetError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")
            return reply.get("return")


@dataclass(frozen=True)
class BootFiles:
    """The files the (emulated) firmware loads, extracted from the card, and where."""

    config: firmware.BootConfig
    loads: tuple[firmware.Load, ...]


def prepare_boot(card: Path, dest: Path, *, board: str = "pi3") -> BootFiles:
    """Do the VideoCore firmware's part: read config.txt/cmdline.txt and the files they name from
    the card's FAT partition into `dest`, fix the DTB up, check nothing overlaps."""
    dest.mkdir(parents=True, exist_ok=True)
    config = firmware.parse_config_txt(sdimage.fat_read(card, "config.txt").decode(), board)
    if not config.arm_64bit:
        raise ConfigError(
            "config.txt does not set arm_64bit=1: the firmware would start the cores in AArch32"
        )
    cmdline = sdimage.fat_read(card, "cmdline.txt").decode()
    files = {}
    for what, name in (("armstub", config.armstub), ("dtb", config.device_tree), ("kernel", config.kernel),
                       ("initramfs", config.initramfs)):  # fmt: skip
        path = dest / Path(name).name
        path.write_bytes(sdimage.fat_read(card, name))
        files[what] = path
    initrd_size = files["initramfs"].stat().st_size
    firmware.apply_firmware_fixups(files["dtb"], config, cmdline, initrd_size)
    loads = (
        firmware.Load("armstub", files["armstub"], 0, files["armstub"].stat().st_size),
        firmware.Load("dtb", files["dtb"], config.device_tree_address, files["dtb"].stat().st_size),
        firmware.Load(
            "kernel",
            files["kernel"],
            config.kernel_address,
            max(firmware.arm64_image_size(files["kernel"].read_bytes()[:64]), files["kernel"].stat().st_size),
        ),
        firmware.Load("initramfs", files["initramfs"], config.initramfs_address, initrd_size),
    )
    reserved = [(n, b, s) for n, b, s, _ in sdimage.dt_reserved_memory(files["dtb"])]
    firmware.check_no_overlap(list(loads), reserved, limit=config.arm_memory)
    return BootFiles(config, loads)


class Raspi3bInstance(QemuInstance):
    """One emulated Raspberry Pi 3 Model B booting `card` (see the module docstring).

    Lifecycle as `QemuInstance`: `start()` (detached; also inserts the card once BL31 runs) ->
    `wait_for_boot()` -> ... -> `stop()`. `port` is the host side of the proxy's forward,
    `ssh_port` of sshd's.
    """

    def __init__(
        self,
        image: ImageSet,
        *,
        run_dir: Path,
        port: int,
        ssh_port: int,
        card: Path,
        boot: BootFiles,
        machine: QemuMachine | None = None,
    ) -> None:
        super().__init__(image, run_dir=run_dir, port=port, machine=machine or QemuMachine(machine="raspi3b"))
        if not 0 < ssh_port < 65536:
            raise ConfigError(f"port {ssh_port} is out of range (1..65535)")
        self.ssh_port = ssh_port
        self.card = card
        self.boot = boot

    @property
    def qmp_socket(self) -> Path:
        return self.run_dir / "qmp.sock"

    @property
    def proxy_address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command_line(self) -> list[str]:
        m = self.machine
        args = [
            m.binary,
            "-name", f"foc-{self.image.target}",
            "-machine", "raspi3b",
            "-m", str(m.memory_mb),
            "-display", "none",
            "-monitor", "none",
            "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
            "-serial", f"file:{self.secure_log}",
            "-chardev", f"pty,id={MINI_UART},logfile={self.normal_log},logappend=off",
            "-serial", f"chardev:{MINI_UART}",
        ]  # fmt: skip
        for load in self.boot.loads:
            args += ["-device", f"loader,file={load.path},addr={load.address:#x},force-raw=on"]
        args += [
            "-drive", f"if=sd,id={CARD_DRIVE}",  # no medium yet: see the module docstring
            "-netdev",
            f"user,id=n0,hostfwd=tcp:127.0.0.1:{self.port}-:{GUEST_PROXY_PORT},"
            f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-:{GUEST_SSH_PORT}",
            "-device", "usb-net,netdev=n0",
        ]  # fmt: skip
        return args

    def _check_startable(self) -> None:
        missing = [str(ld.path) for ld in self.boot.loads if not ld.path.is_file()]
        if not self.card.is_file():
            missing.append(str(self.card))
        if missing:
            raise TargetError("the raspi3b boot files are incomplete: missing " + ", ".join(missing))
        from foc.deploy.qemu import pid_is_ours, port_is_free, read_pid

        running = read_pid(self.pid_file)
        if running is not None and pid_is_ours(running, self.run_dir):
            raise TargetError(
                f"rpi3 emulation is already running (pid {running})", hint="`foc-deploy rpi3 down` first"
            )
        for p in (self.port, self.ssh_port):
            if not port_is_free(p):
                raise TargetError(
                    f"port 127.0.0.1:{p} is already in use", hint="choose another one with --port"
                )

    def start(self) -> int:
        self.qmp_socket.unlink(missing_ok=True)
        pid = super().start()
        try:
            self.insert_card()
        except BaseException:
            self.stop()
            raise
        return pid

    def insert_card(self, timeout: float = 120.0) -> float:
        """Insert the card's medium once BL31 runs (QEMU sdhost limitation); returns the seconds waited."""
        t0 = time.monotonic()
        while CARD_INSERT_AFTER not in self.read_logs()[1]:
            if not self.is_running():
                raise TargetError(f"QEMU exited before TF-A's BL31 ran.\n{self._exit_detail()}")
            if time.monotonic() - t0 > timeout:
                raise TargetError(
                    f"TF-A's BL31 banner did not appear within {timeout:g} s", hint=f"see {self.secure_log}"
                )
            time.sleep(0.05)
        with Qmp(self.qmp_socket) as qmp:
            qmp.execute("blockdev-change-medium", device=CARD_DRIVE, filename=str(self.card), format="raw")
        return time.monotonic() - t0

    def console_pty(self) -> str:
        """The host pty of the mini UART (the Linux console), e.g. /dev/pts/7."""
        with Qmp(self.qmp_socket) as qmp:
            for chardev in qmp.execute("query-chardev"):
                if chardev.get("label") == MINI_UART and str(chardev.get("filename", "")).startswith("pty:"):
                    return str(chardev["filename"])[4:]
        raise TargetError("QEMU reports no pty for the mini UART")

    def read_logs(self) -> tuple[str, str]:
        """(mini UART log, TF-A's PL011 log plus OP-TEE's lines from the shared mini UART)."""
        normal, pl011 = super().read_logs()
        return normal, pl011 + "".join(line + "\n" for line in secure_world_lines(normal))
