"""`foc-deploy <target> build`: build a bootable image set from pinned Debian inputs.

Public API (the CLI only wires options to these):

- `build_image(target_name, progress=..., verbose=..., refresh=..., tas=...) -> ImageSet`: `tas` are
  chaincode TAs to install beside the built ones (`foc.deploy.chaincodes.ChaincodeTa`)
- `current_image(target_name) -> ImageSet | None`: the last image, if its inputs are unchanged.

Every step is cached by the hash of its inputs under `<cache>/steps/<step>/<key>/`; with nothing
changed a build only hashes its inputs and returns (about a second). The image itself lives in
`<cache>/images/<target>/<image key>/` (bios, kernel, initrd, pflash1.img, share/, manifest.json, image.json),
with `<cache>/images/<target>/current` and `image.json` naming the set published last.

`progress(step, state, detail)` is called with state in: "start" (step about to run), "cached"
(output reused), "done" (built; detail = seconds), "failed" (detail = error), "log" (one line of
tool output, only when verbose), and step "image" / state "done" at the end.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from foc.deploy.build.apt import AptArchive, MirrorSet, sha256_file
from foc.deploy.build.cache import StepCache, cache_key
from foc.deploy.build.manifest import Manifest, StepResult
from foc.deploy.build.steps import STEPS, Step, StepContext, host_tool_version, image_chaincode_tas
from foc.deploy.chaincodes import PROXY_TAS_FILE, ChaincodeTa, check_distinct, proxy_toml
from foc.deploy.image import ImageSet
from foc.deploy.paths import REPO_ROOT, cache_root
from foc.deploy.targets import get_target
from foc.deploy.targets.base import Target
from foc.errors import BuildError, FocError

__all__ = ["Progress", "build_image", "current_image", "image_dir", "plan", "run_steps"]

log = logging.getLogger(__name__)

Progress = Callable[[str, str, str], None]
IMAGE_FORMAT = 1  # bump when the layout of images/<target>/ changes
HOST_TOOL_PACKAGES = (
    "qemu-system-arm",
    "qemu-user-static",
    "gcc-aarch64-linux-gnu",
    "u-boot-qemu",
    "u-boot-tools",
    "mmdebstrap",
    "kmod",
    "cpio",
    "dpkg-dev",
    "device-tree-compiler",
    "mtools",
    "dosfstools",
    "fdisk",
    "e2fsprogs",
)


def image_dir(target_name: str) -> Path:
    """Where the image sets of `target_name` are published: one directory per image key, and
    `current` (a symlink) with `image.json` naming the one published last."""
    return cache_root() / "images" / target_name


def image_key_dir(target_name: str, key: str) -> Path:
    """The directory of the image set built from inputs with `key`. Never rewritten once published,
    so a running instance (which reads its 9p share live) and its recorded state stay valid while
    another checkout publishes a different image."""
    return image_dir(target_name) / key


def _context(target: Target, repo: Path, mirrors: MirrorSet | None = None) -> StepContext:
    root = cache_root()
    mirrors = mirrors or MirrorSet.from_system()
    apt = AptArchive(
        root / "apt" / target.name,
        root / "downloads",
        mirrors,
        target.debian_suites,
        target_name=target.name,
        components=target.apt_components,
    )
    return StepContext(target=target, repo=repo, apt=apt, downloads=root / "downloads")


def steps_for(target: Target) -> tuple[Step, ...]:
    """The build steps of `target`: the shared ones, plus the SD-card steps for a board."""
    if target.sd_card is None:
        return STEPS
    from foc.deploy.build.sdcard import BootFirmware, DeviceTree, SdImage

    shared = tuple(s for s in STEPS if s.name != "uboot_env")  # no U-Boot: direct Linux boot
    return (*shared, BootFirmware(), DeviceTree(), SdImage())


def plan(target: Target, ctx: StepContext, steps: Sequence[Step] | None = None) -> list[tuple[Step, str]]:
    """Each step with its cache key, in build order (cheap: no downloads, no builds)."""
    steps = steps_for(target) if steps is None else steps
    keys: dict[str, str] = {}
    out = []
    for step in steps:
        missing = [d for d in step.deps if d not in keys]
        if missing:
            raise BuildError(f"step {step.name} depends on {missing}, which come later")
        key = cache_key(
            {
                "step": step.name,
                "code": step.code_digest(),
                "target": target.name,
                "inputs": step.inputs(ctx),
                "deps": {d: keys[d] for d in step.deps},
            }
        )
        keys[step.name] = key
        out.append((step, key))
    return out


def _image_key(planned: Sequence[tuple[Step, str]]) -> str:
    return cache_key({"format": IMAGE_FORMAT, "steps": {s.name: k for s, k in planned}})


def current_image(target_name: str = "qemu", *, repo: Path = REPO_ROOT) -> ImageSet | None:
    """The published image of `target_name` if it was built from exactly the current inputs."""
    target = get_target(target_name)
    try:
        ctx = _context(target, repo)
        key = _image_key(plan(target, ctx))
    except FocError:  # e.g. no mirror configured, a wheel not installed: no current image then
        return None
    return _published(target_name, key)


def _published(target_name: str, key: str) -> ImageSet | None:
    meta = image_key_dir(target_name, key) / "image.json"
    if not meta.exists():
        return None
    try:
        image = ImageSet.load(meta)
    except (ValueError, KeyError, OSError):
        return None
    if image.extra.get("image_key") != key:
        return None
    paths = [image.bios, image.kernel, image.initrd, image.manifest, *image.ta_files]
    paths += [p for p in (image.pflash1, image.sd_image) if p is not None]
    return image if all(p.exists() for p in paths) else None


@contextmanager
def _build_lock(target_name: str) -> Iterator[None]:
    lock_dir = cache_root() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"build-{target_name}.lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _command_runner(
    step: str, log_path: Path, progress: Progress | None, verbose: bool
) -> Callable[..., None]:
    """Runs tool commands, logging their output to `log_path` (and to progress when verbose)."""

    def run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "LC_ALL": "C", **(env or {})}
        with log_path.open("a") as logf:
            logf.write(f"$ {' '.join(argv)}\n")
            logf.flush()
            try:
                proc = subprocess.Popen(
                    argv, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                    errors="replace", stdin=subprocess.DEVNULL,
                )  # fmt: skip
            except FileNotFoundError as e:
                raise BuildError(
                    f"step {step}: {argv[0]} is not installed", hint="run `foc-deploy doctor`"
                ) from e
            tail: list[str] = []
            assert proc.stdout is not None
            for line in proc.stdout:
                logf.write(line)
                tail = (tail + [line.rstrip()])[-25:]
                if verbose and progress:
                    progress(step, "log", line.rstrip())
            rc = proc.wait()
            if rc != 0:
                raise BuildError(
                    f"step {step}: `{' '.join(argv[:3])} ...` failed with exit status {rc} (log: {log_path})",
                    hint="\n".join(tail),
                )

    return run


def build_image(
    target_name: str = "qemu",
    *,
    progress: Progress | None = None,
    verbose: bool = False,
    refresh: bool = False,
    repo: Path = REPO_ROOT,
    tas: Sequence[ChaincodeTa] = (),
) -> ImageSet:
    """Build (or reuse) every step for `target_name` and publish the image set.

    refresh: rebuild every step and re-fetch package lists (downloads of pinned versions are kept,
    since Debian never changes the content of a published version). tas: chaincode TAs installed
    beside coffee and the shipped examples (each its own image: the key covers their contents).
    """
    from foc.deploy.host import require_host

    started = time.monotonic()
    target = get_target(target_name)
    emit = progress or (lambda step, state, detail: None)
    check_distinct(tas)
    ctx = _context(target, repo)
    ctx.chaincode_tas = tuple(tas)
    planned = plan(target, ctx)
    key = _image_key(planned)
    if not refresh:
        image = _published(target_name, key)
        if image is not None:
            warm = time.monotonic() - started
            for step, k in planned:
                emit(step.name, "cached", k)
            _record_total(target_name, warm, kind="warm")
            emit("image", "done", f"{warm:.2f}s (nothing changed)")
            return _with_timings(image, target_name, warm)
    require_host(target_name)
    with _build_lock(target_name):
        return _build_locked(target, ctx, planned, key, emit, verbose, refresh, started)


def run_steps(
    planned: Sequence[tuple[Step, str]],
    ctx: StepContext,
    cache: StepCache,
    manifest: Manifest,
    *,
    logs: Path,
    emit: Progress,
    verbose: bool = False,
    refresh: bool = False,
) -> int:
    """Run (or reuse from `cache`) each planned step in order; returns how many were built."""
    logs.mkdir(parents=True, exist_ok=True)
    built = 0
    for step, k in planned:
        t0 = time.monotonic()
        existing = None if refresh else cache.lookup(step.name, k)
        if existing is not None:
            cache.claim(step.name, k, ctx.target.name)
            ctx.outputs[step.name] = existing
            result = StepResult(step.name, k, True, time.monotonic() - t0, _built_seconds(existing))
            manifest.add_step(result, existing)
            emit(step.name, "cached", k)
            continue
        emit(step.name, "start", k)
        log_path = logs / f"{step.name}.log"
        log_path.write_text(f"# step {step.name} key {k}\n")
        ctx.run_command = _command_runner(step.name, log_path, emit if verbose else None, verbose)
        try:
            out = cache.produce(step.name, k, functools.partial(_run_step, step, ctx), replace=refresh)
        except BuildError as e:
            emit(step.name, "failed", e.message)
            raise
        except Exception as e:  # a bug or an I/O error in a step: still name the step
            emit(step.name, "failed", str(e))
            raise BuildError(f"step {step.name} failed: {e}", hint=f"log: {log_path}") from e
        built += 1
        seconds = time.monotonic() - t0
        ctx.outputs[step.name] = out
        manifest.add_step(StepResult(step.name, k, False, seconds, seconds), out)
        emit(step.name, "done", f"{seconds:.1f}s")
        cache.claim(step.name, k, ctx.target.name)
        cache.prune(step.name, keep=[k])
    return built


STEP_META = ".step.json"  # in each step output: how long it took to build


def _run_step(step: Step, ctx: StepContext, out: Path) -> None:
    t0 = time.monotonic()
    step.run(ctx, out)
    (out / STEP_META).write_text(json.dumps({"step": step.name, "seconds": round(time.monotonic() - t0, 3)}))


def _built_seconds(output: Path) -> float | None:
    try:
        return float(json.loads((output / STEP_META).read_text())["seconds"])
    except (OSError, ValueError, KeyError):
        return None


def _build_kind(built: int, total: int) -> str:
    """cold: every step ran; incremental: some did; warm: none did."""
    return "cold" if built == total else ("incremental" if built else "warm")


def _build_locked(
    target: Target,
    ctx: StepContext,
    planned: list[tuple[Step, str]],
    key: str,
    emit: Progress,
    verbose: bool,
    refresh: bool,
    started: float,
) -> ImageSet:
    manifest = Manifest(target=target, image_key=key)
    if refresh:
        ctx.apt.update(force=True)
    built = run_steps(
        planned,
        ctx,
        StepCache(cache_root() / "steps"),
        manifest,
        logs=cache_root() / "logs" / "build" / target.name,
        emit=emit,
        verbose=verbose,
        refresh=refresh,
    )
    manifest.host_tools = _host_tools()
    image = _publish(target, ctx, manifest, key)
    total = time.monotonic() - started
    _record_total(target.name, total, kind=_build_kind(built, len(planned)))
    emit("image", "done", f"{total:.1f}s")
    return _with_timings(image, target.name, total, manifest)


def _host_tools() -> dict[str, str]:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Version}\n", *HOST_TOOL_PACKAGES],
        capture_output=True,
        text=True,
        check=False,
    )
    tools = dict(line.split("\t", 1) for line in proc.stdout.splitlines() if "\t" in line)
    tools["aarch64-linux-gnu-gcc"] = host_tool_version(["aarch64-linux-gnu-gcc", "-dumpfullversion"])
    return tools


def _install(src: Path, dest: Path) -> None:
    """Copy src to dest atomically (a running QEMU keeps the old inode)."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dest)


def _publish(target: Target, ctx: StepContext, manifest: Manifest, key: str) -> ImageSet:
    d = image_key_dir(target.name, key)
    d.mkdir(parents=True, exist_ok=True)
    out = ctx.outputs
    bios = d / Path(target.firmware.tfa_output).name
    _install(out["tfa"] / bios.name, bios)
    kernel = d / f"vmlinuz-{target.kernel.release}"
    _install(out["kernel"] / "vmlinuz", kernel)
    pflash1 = sd_image = None
    extra_files: list[Path] = []
    if "uboot_env" in out:
        pflash1 = d / "pflash1.img"
        _install(out["uboot_env"] / "pflash1.img", pflash1)
        extra_files.append(pflash1)
    if "sdimage" in out:
        sd_image = d / "sd.img"
        subprocess.run(
            ["cp", "--sparse=always", str(out["sdimage"] / "sd.img"), str(d / ".sd.img.tmp")], check=True
        )
        (d / ".sd.img.tmp").replace(sd_image)
        extra_files.append(sd_image)
        for dtb in sorted(out["devicetree"].glob("*.dtb")):
            _install(dtb, d / dtb.name)
            extra_files.append(d / dtb.name)
    initrd = d / "initramfs.cpio.gz"
    tmp = d / ".initramfs.tmp"
    with tmp.open("wb") as f:
        for part in (out["initramfs_base"] / "base.cpio.gz", out["initramfs_overlay"] / "overlay.cpio.gz"):
            with part.open("rb") as p:
                shutil.copyfileobj(p, f, 1 << 20)
    tmp.replace(initrd)
    share_ta = d / "share" / "ta"
    share_ta.mkdir(parents=True, exist_ok=True)
    ta_files = []
    tas = image_chaincode_tas(out)
    for ta, _, _ in tas:
        _install(ta, share_ta / ta.name)
        ta_files.append(share_ta / ta.name)
    # /init prefers this list to the initramfs's own, so a TA hot-copied into share/ta can be listed too
    (share_ta / PROXY_TAS_FILE).write_text(proxy_toml([(uuid, name) for _, uuid, name in tas]))
    manifest_path = d / "manifest.json"
    manifest.image_files = {p.name: sha256_file(p) for p in (bios, kernel, initrd, *extra_files, *ta_files)}
    manifest.write(manifest_path)
    image = ImageSet(
        target=target.name,
        root=d,
        bios=bios,
        kernel=kernel,
        initrd=initrd,
        share=d / "share",
        manifest=manifest_path,
        pflash1=pflash1,
        sd_image=sd_image,
        ta_files=tuple(ta_files),
        extra={
            "image_key": key,
            "ta_dev_kit": str(out["optee_os"] / "export-ta_arm64"),
            "ta_mbedtls": str(out["optee_os"] / "mbedtls"),
            "optee_intree_tas": str(out["optee_os"] / "ta"),
            **{f"ta_name.{uuid}": name for _, uuid, name in tas},
            **{f"machine.{k}": v for k, v in target.machine.items()},
        },
    )
    image.save(d / "image.json")
    _point_current(target.name, d, image)
    _prune(target.name, keep=d)
    return image


def _point_current(target_name: str, d: Path, image: ImageSet) -> None:
    """`current` -> the image set just published, and its record as image.json (both atomic)."""
    root = image_dir(target_name)
    link = root / ".current.tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(d.name)
    link.replace(root / "current")
    image.save(root / ".image.json.tmp")
    (root / ".image.json.tmp").replace(root / "image.json")


#: Image sets older than this, beyond the newest few, are removed when another one is published.
PRUNE_AFTER_S = 24 * 3600
KEEP_NEWEST = 3


def _prune(target_name: str, *, keep: Path) -> None:
    sets = sorted(
        (p for p in image_dir(target_name).iterdir() if p.is_dir() and not p.is_symlink() and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    now = time.time()
    for old in sets[KEEP_NEWEST - 1 :]:
        if now - old.stat().st_mtime > PRUNE_AFTER_S and (old / "image.json").exists():
            shutil.rmtree(old, ignore_errors=True)


def _timings_path(target_name: str) -> Path:
    return image_dir(target_name) / "timings.json"


def _record_total(target_name: str, seconds: float, *, kind: str) -> None:
    path = _timings_path(target_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        data = {}
    data[f"{kind}_build_seconds"] = round(seconds, 3)
    data["last_build_seconds"] = round(seconds, 3)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def _with_timings(
    image: ImageSet, target_name: str, total: float, manifest: Manifest | None = None
) -> ImageSet:
    extra = dict(image.extra)
    try:
        data = json.loads(_timings_path(target_name).read_text())
    except (OSError, ValueError):
        data = {}
    extra.update({k: str(v) for k, v in data.items()})
    extra["build_seconds"] = f"{total:.3f}"
    if manifest is not None:
        for s in manifest.steps:
            extra[f"step.{s.name}.seconds"] = f"{s.seconds:.3f}"
            extra[f"step.{s.name}.state"] = "cached" if s.cached else "built"
            if s.built_seconds is not None:
                extra[f"step.{s.name}.built_seconds"] = f"{s.built_seconds:.3f}"
    else:
        try:
            steps = json.loads(image.manifest.read_text()).get("steps", {})
        except (OSError, ValueError):
            steps = {}
        for name in steps:
            extra[f"step.{name}.seconds"] = "0"
            extra[f"step.{name}.state"] = "cached"
    return ImageSet(**{**image.__dict__, "extra": extra})
