"""Targets own their runtimes: one interface for every place where FOC's proxy and TA run.

    runtime = get_runtime("qemu", instance="ci")   # or "native", "rpi3"
    built = runtime.build()                         # the image (qemu, rpi3) or the native library
    running = runtime.up()                          # start/boot and wait until "proxy ready"
    running.proxy_address                           # HOST:PORT of foc-proxy (TLS on rpi3)
    with runtime.console() as console:              # the device's shell (qemu, rpi3)
        rc, out = console.run("ls /dev/tee0")
    runtime.expected_measurement()                  # what a verifier must expect of the TA
    runtime.down()

Each implementation lives in one module and owns its processes and state (a run directory per
instance): `foc.deploy.native` (the host build of the trusted core in a local proxy process, NOT a
TEE), `foc.deploy.qemu` (OP-TEE in QEMU `virt`) and `foc.deploy.rpi3` (a Raspberry Pi 3 board, or
its SD image under QEMU `raspi3b`). The CLI (`foc-deploy TARGET ACTION`, `foc demo --target NAME`)
and the test tiers pick one by name through `get_runtime`.

Lifecycle: build -> up -> (proxy address, console, status) -> down. `ensure_up` reuses a running
healthy instance. Every `up` records what it started, so a later process (`status`, `down`) finds it.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from foc.errors import TargetError, UsageError

if TYPE_CHECKING:
    from foc.deploy.console import Console
    from foc.deploy.image import ImageSet

Progress = Callable[[str, str, str], None]  # (step name, state, detail), as in foc.deploy.build

READY_PROXY = "proxy ready"
READY_TEE = "TEE ready (no proxy)"


@dataclass(frozen=True)
class BuildResult:
    """What `TargetRuntime.build` produced: where, which files, how long (seconds)."""

    target: str
    root: Path
    files: dict[str, Path]
    seconds: float
    details: dict[str, object] = field(default_factory=dict)  # JSON-serialisable (image record ...)

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "root": str(self.root),
            "files": {k: str(v) for k, v in self.files.items()},
            "timings": {"build_s": round(self.seconds, 2)},
            **self.details,
        }


@dataclass(frozen=True)
class RunningTarget:
    """A target that is up: where its proxy answers, how to reach its console, how long it took.

    `tls_ca` (PEM file) and `tls_server_name` are set when the proxy serves TLS (rpi3): a client
    pins that certificate; `tls_client_cert`/`tls_client_key` (PEM files) when it requires mutual
    TLS. `console_socket` (QEMU chardev) or `serial_port` (a tty: a board's USB-UART or the pty of an
    emulated one) is the normal-world console.
    """

    target: str
    proxy_address: str
    ready: str  # READY_PROXY or READY_TEE
    run_dir: Path
    logs: Path
    pid: int | None = None  # the process we started (QEMU, local proxy); None for a board
    port: int | None = None
    console_socket: Path | None = None
    serial_port: str | None = None
    tls_ca: Path | None = None
    tls_server_name: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # build_s, boot_s, ready_s, total_s
    reused: bool = False
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None

    @property
    def tls_client(self) -> tuple[Path, Path] | None:
        """(key, certificate) this host presents to a proxy that requires mutual TLS, or None."""
        from foc.wrapper.config import client_pair

        return client_pair(self.tls_client_cert, self.tls_client_key)

    def proxy_tls(self) -> dict[str, Any]:
        """The TLS keywords of `foc.wrapper.config.load_config` for this proxy ({} for plaintext)."""
        if self.tls_ca is None:
            return {}
        return {
            "tls_ca": self.tls_ca,
            "tls_server_name": self.tls_server_name,
            "tls_client_cert": self.tls_client_cert,
            "tls_client_key": self.tls_client_key,
        }

    def console(self, **kwargs: Any) -> Console:
        """A (not yet opened) console on the device's normal-world UART."""
        from foc.deploy.console import PexpectConsole, SerialConsole

        if self.console_socket is not None:
            return PexpectConsole.unix_socket(self.console_socket, **kwargs)
        if self.serial_port is not None:
            return SerialConsole(self.serial_port, **kwargs)
        raise TargetError(f"{self.target} has no console", hint="the native target is a host process")

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            out[key] = str(value) if isinstance(value, Path) else value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], *, reused: bool = False) -> RunningTarget:
        def path(key: str) -> Path | None:
            return Path(str(data[key])) if data.get(key) else None

        return cls(
            target=str(data["target"]),
            proxy_address=str(data["proxy_address"]),
            ready=str(data.get("ready", "")),
            run_dir=Path(str(data["run_dir"])),
            logs=Path(str(data["logs"])),
            pid=int(data["pid"]) if data.get("pid") is not None else None,
            port=int(data["port"]) if data.get("port") is not None else None,
            console_socket=path("console_socket"),
            serial_port=str(data["serial_port"]) if data.get("serial_port") else None,
            tls_ca=path("tls_ca"),
            tls_server_name=str(data["tls_server_name"]) if data.get("tls_server_name") else None,
            tls_client_cert=path("tls_client_cert"),
            tls_client_key=path("tls_client_key"),
            timings={str(k): float(v) for k, v in dict(data.get("timings") or {}).items()},
            reused=reused,
        )


class TargetRuntime(ABC):
    """The runtime of one target instance (see the module docstring for the lifecycle)."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: actions of `foc-deploy TARGET ...` beyond the common ones (e.g. rpi3's `flash`)
    extra_actions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, instance: str = "default") -> None:
        from foc.deploy.paths import check_instance

        self.instance = check_instance(instance)

    @property
    def run_dir(self) -> Path:
        """This instance's state: `<cache>/run/<target>/<instance>/` (made on demand)."""
        from foc.deploy import paths

        return paths.run_dir(self.name, self.instance)

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    def read_state(self) -> dict[str, Any]:
        """What the last `up` recorded (empty if nothing or unreadable)."""
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save_state(self, data: dict[str, object]) -> None:
        """Record `data` for later `status`/`down` (atomically)."""
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        tmp.replace(self.state_file)

    @abstractmethod
    def build(
        self,
        *,
        progress: Progress | None = None,
        verbose: bool = False,
        refresh: bool = False,
        tas: Sequence[str | Path] = (),
    ) -> BuildResult:
        """Build (or reuse from the cache) what the target runs, with the chaincode TAs `tas`
        (signed `.ta` files, `foc chaincode build`) beside FOC's own."""

    @abstractmethod
    def up(
        self,
        *,
        build: bool = True,
        port: int | None = None,
        progress: Progress | None = None,
        verbose: bool = False,
    ) -> RunningTarget:
        """Start the target and wait until its proxy answers (raises TargetError, stops what it started)."""

    @abstractmethod
    def down(self) -> bool:
        """Stop what `up` started (only that); True if something was running."""

    @abstractmethod
    def running(self) -> RunningTarget | None:
        """The instance `up` recorded, if it is still alive (cheap: no network)."""

    @abstractmethod
    def status(self) -> dict[str, object]:
        """What runs and whether the proxy answers; JSON-serialisable."""

    @abstractmethod
    def console(self, **kwargs: Any) -> Console:
        """An open console on the device's normal-world shell (close it when done)."""

    @abstractmethod
    def expected_measurement(self, ta_uuid: str | None = None) -> bytes | None:
        """The measurement a verifier must expect of TA `ta_uuid` (default FOC's coffee TA),
        computed offline from the built .ta.

        None when nothing is measured (the native build: not a TEE).
        """

    @abstractmethod
    def log_path(self, *, secure: bool = False) -> Path:
        """The normal-world (or secure-world) log of the last start."""

    def proxy_address(self) -> str | None:
        """HOST:PORT of the running proxy, or None when the target is down."""
        running = self.running()
        return running.proxy_address if running is not None else None

    def healthy(self, running: RunningTarget) -> bool:
        """True if the recorded instance still serves (its proxy's Health says serving)."""
        from foc.deploy.health import proxy_health

        if running.ready != READY_PROXY:
            return running.ready == READY_TEE
        health = proxy_health(
            running.proxy_address,
            timeout=5.0,
            tls_ca=running.tls_ca,
            server_name=running.tls_server_name,
            client=running.tls_client,
        )
        return bool(health is not None and getattr(health, "serving", False))

    def ensure_up(
        self,
        *,
        build: bool = True,
        port: int | None = None,
        progress: Progress | None = None,
        verbose: bool = False,
        **options: Any,
    ) -> RunningTarget:
        """Reuse a running healthy instance (on `port` if given), else (re)start one with `up`
        (`options`: the target's own `up` options)."""
        running = self.running()
        wanted = options.get("tas") or ()
        if (
            running is not None
            and (port is None or running.port == port)
            and self.serves_tas(wanted)
            and self.healthy(running)
        ):
            if progress:
                progress("reuse", "done", f"{running.ready} at {running.proxy_address}")
            return running
        self.down()
        return self.up(build=build, port=port, progress=progress, verbose=verbose, **options)

    def serves_tas(self, tas: Sequence[str | Path]) -> bool:
        """True if the running instance carries each of these TA files, byte for byte."""
        return not tas

    def action(self, name: str, **options: Any) -> dict[str, object]:
        """Run one of `extra_actions` (the CLI passes its parsed options)."""
        raise UsageError(f"{self.name} has no action {name!r}")


class ImageRuntime(TargetRuntime):
    """A target that boots an image built by `foc.deploy.build` (qemu, rpi3)."""

    def build(
        self,
        *,
        progress: Progress | None = None,
        verbose: bool = False,
        refresh: bool = False,
        tas: Sequence[str | Path] = (),
    ) -> BuildResult:
        from foc.deploy.build import build_image
        from foc.deploy.chaincodes import chaincode_ta
        from foc.deploy.host import require_host

        resolved = [chaincode_ta(t) for t in tas]  # UsageError before anything is built
        require_host(self.name)
        t0 = time.monotonic()
        image = build_image(self.name, progress=progress, verbose=verbose, refresh=refresh, tas=resolved)
        files = {p.name: p for p in (image.bios, image.kernel, image.initrd, image.manifest, *image.ta_files)}
        if image.sd_image is not None:
            files[image.sd_image.name] = image.sd_image
        return BuildResult(image.target, image.root, files, time.monotonic() - t0, {"image": image.to_json()})

    def image_for_up(
        self,
        build: bool,
        progress: Progress | None,
        verbose: bool,
        timings: dict[str, float],
        tas: Sequence[str | Path] = (),
    ) -> ImageSet:
        """The image `up` boots: built now with the chaincode TAs `tas` (timed into `timings`), or the
        last one (`build=False`, which cannot add TAs)."""
        from foc.deploy.image import ImageSet

        if not build:
            if tas:
                raise UsageError("--ta installs TAs into a new image: it needs a build (drop --no-build)")
            from foc.deploy.host import require_host

            require_host(self.name)
            return last_image(self.name)
        built = self.build(progress=progress, verbose=verbose, tas=tas)
        timings["build_s"] = built.seconds
        image = ImageSet.from_json(built.details["image"])  # type: ignore[arg-type]
        if "cold_build_seconds" in image.extra:  # the builder's last measured cold build
            timings["cold_build_s"] = float(image.extra["cold_build_seconds"])
        return image

    def serves_tas(self, tas: Sequence[str | Path]) -> bool:
        """True if the image the running instance booted carries each TA file, byte for byte."""
        import hashlib

        if not tas:
            return True
        image = self.booted_image()
        if image is None:
            return False
        carried = {p.name: p for p in image.ta_files}
        for ta in tas:
            path = Path(ta)
            mine = carried.get(path.name)
            if mine is None or not mine.is_file() or not path.is_file():
                return False
            if hashlib.sha256(mine.read_bytes()).digest() != hashlib.sha256(path.read_bytes()).digest():
                return False
        return True

    def booted_image(self) -> ImageSet | None:
        """The image the running instance booted (recorded by `up`), or None."""
        from foc.deploy.image import ImageSet

        if self.running() is None:
            return None
        try:
            return ImageSet.from_json(self.read_state()["image"])
        except (KeyError, TypeError, ValueError):
            return None

    def expected_measurement(self, ta_uuid: str | None = None) -> bytes | None:
        """The measurement of TA `ta_uuid` (default FOC's coffee TA), computed offline from its
        `.ta` in the image the running instance booted, else in the image built from this
        checkout's current inputs (what `foc chaincode define` pins as the version). TargetError if
        there is neither, or the image has no such TA."""
        from foc.deploy.build import current_image

        image = self.booted_image() or current_image(self.name)
        if image is None:
            raise TargetError(
                f"no {self.name} image has been built from this checkout's sources",
                hint=f"`foc-deploy {self.name} build`",
            )
        return image_ta_measurement(image, ta_uuid)


def image_ta_measurement(image: ImageSet, ta_uuid: str | None = None) -> bytes:
    """The measurement of TA `ta_uuid` (default FOC's coffee TA) in `image`
    (foc.confidential.measurement); TargetError if the image has no such TA."""
    from foc.confidential.measurement import ta_measurement
    from foc.tee.abi import FOC_TA_UUID_STR

    name = f"{(ta_uuid or FOC_TA_UUID_STR).lower()}.ta"
    for path in image.ta_files:
        if path.name == name:
            return ta_measurement(path)
    raise TargetError(
        f"the {image.target} image has no {name}",
        hint=f"rebuild it with that TA: `foc-deploy {image.target} build --ta FILE.ta`",
    )


def last_image(target: str) -> ImageSet:
    """The image the builder published last, even if the sources changed since (`--no-build`)."""
    from foc.deploy.build import current_image, image_dir
    from foc.deploy.image import ImageSet

    image = current_image(target)
    if image is not None:
        return image
    try:
        return ImageSet.load(image_dir(target) / "image.json")
    except (OSError, ValueError, KeyError):
        raise TargetError(
            f"no image has been built for {target}", hint=f"`foc-deploy {target} build`"
        ) from None


def _registry() -> dict[str, type[TargetRuntime]]:
    from foc.deploy.native import NativeRuntime
    from foc.deploy.qemu import QemuRuntime
    from foc.deploy.rpi3.runtime import Rpi3Runtime

    return {cls.name: cls for cls in (NativeRuntime, QemuRuntime, Rpi3Runtime)}


def runtime_names() -> tuple[str, ...]:
    """Names of the targets that can run FOC's proxy (for the CLI and the tests)."""
    return tuple(sorted(_registry()))


def get_runtime(name: str, instance: str = "default") -> TargetRuntime:
    """The runtime of target `name` (instance `instance`), or a UsageError naming the known ones."""
    registry = _registry()
    try:
        cls = registry[name]
    except KeyError:
        raise UsageError(
            f"unknown target {name!r}", hint="known targets: " + ", ".join(sorted(registry))
        ) from None
    return cls(instance)
