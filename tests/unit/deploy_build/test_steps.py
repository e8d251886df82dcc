"""Build steps and their orchestration, with fake steps and a fake apt: no network, no cross builds."""

from __future__ import annotations

import gzip
import hashlib
import json
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

import foc.deploy.build as build
from foc.deploy.build.apt import AptArchive, MirrorSet
from foc.deploy.build.cache import StepCache
from foc.deploy.build.manifest import Manifest
from foc.deploy.build.steps import (
    QEMU_USER,
    STEPS,
    GuestBytecode,
    InitramfsOverlay,
    Step,
    StepContext,
    TrustedApp,
    dependency_closure,
    host_distribution_versions,
    image_chaincode_tas,
    make_cpio_gz,
    merge_usr,
    optee_config,
)
from foc.deploy.targets import get_target
from foc.deploy.targets.base import DebPackage, Target
from foc.errors import BuildError, HostSetupError
from foc.proxy.config import load_ta_file

MODULES_DEP = """\
kernel/drivers/tee/tee.ko:
kernel/drivers/tee/optee/optee.ko: kernel/drivers/tee/tee.ko
kernel/drivers/char/hw_random/optee-rng.ko: kernel/drivers/tee/tee.ko
kernel/net/9p/9pnet.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko
kernel/fs/netfs/netfs.ko:
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/9p/9p.ko: kernel/fs/fscache/fscache.ko kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko
"""


def test_module_closure_loads_dependencies_first_once() -> None:
    order = dependency_closure(MODULES_DEP, ["optee", "optee-rng", "9pnet_virtio", "9p"])
    names = [p.rsplit("/", 1)[1] for p in order]
    assert names == ["tee.ko", "optee.ko", "optee-rng.ko", "9pnet.ko", "9pnet_virtio.ko", "netfs.ko",
                     "fscache.ko", "9p.ko"]  # fmt: skip
    for i, path in enumerate(order):
        line = next(x for x in MODULES_DEP.splitlines() if x.startswith(path + ":"))
        for dep in line.split(":", 1)[1].split():
            assert order.index(dep) < i


def test_unknown_module_is_a_clear_build_error() -> None:
    with pytest.raises(BuildError, match="kernel module virtio_gpu is not in modules.dep"):
        dependency_closure(MODULES_DEP, ["virtio_gpu"])


def test_optee_config_reads_conf_mk() -> None:
    conf = "# comment\nCFG_ATTESTATION_PTA=y\nCFG_REE_FS := y\nCFG_TEE_CORE_LOG_LEVEL=3\nPLATFORM=x\n"
    assert optee_config(conf) == {
        "CFG_ATTESTATION_PTA": "y",
        "CFG_REE_FS": "y",
        "CFG_TEE_CORE_LOG_LEVEL": "3",
    }


def test_merge_usr_moves_trees_and_makes_links(tmp_path: Path) -> None:
    (tmp_path / "lib" / "optee_armtz").mkdir(parents=True)
    (tmp_path / "lib" / "optee_armtz" / "a.ta").write_text("ta")
    (tmp_path / "usr" / "lib" / "optee_armtz").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "optee_armtz" / "b.ta").write_text("tb")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_text("x")
    merge_usr(tmp_path, make_links=True)
    assert (tmp_path / "lib").is_symlink() and str((tmp_path / "lib").readlink()) == "usr/lib"
    assert sorted(p.name for p in (tmp_path / "usr" / "lib" / "optee_armtz").iterdir()) == ["a.ta", "b.ta"]
    assert (tmp_path / "usr" / "bin" / "tool").exists() and (tmp_path / "sbin").is_symlink()


def test_merge_usr_without_links_leaves_no_top_level_dirs(tmp_path: Path) -> None:
    (tmp_path / "lib" / "aarch64-linux-gnu").mkdir(parents=True)
    merge_usr(tmp_path, make_links=False)
    assert not (tmp_path / "lib").exists()
    assert (tmp_path / "usr" / "lib" / "aarch64-linux-gnu").is_dir()


def test_host_wheel_versions_follow_the_host_and_missing_is_an_error() -> None:
    versions = host_distribution_versions(["grpcio"])
    import importlib.metadata

    assert versions["grpcio"] == importlib.metadata.version("grpcio")
    with pytest.raises(BuildError, match="not installed on the host"):
        host_distribution_versions(["no-such-distribution-foc"])


# -- orchestration with fake steps -------------------------------------------------------------


class FakeStep(Step):
    """Writes `value` into its output; counts its runs."""

    def __init__(self, name: str, deps: tuple[str, ...] = (), value: str = "v1") -> None:
        self.name = name
        self.deps = deps
        self.value = value
        self.runs = 0

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        return {"value": self.value}

    def run(self, ctx: StepContext, out: Path) -> None:
        self.runs += 1
        text = self.value + "".join((ctx.outputs[d] / "out.txt").read_text() for d in self.deps)
        (out / "out.txt").write_text(text)


class FailingStep(FakeStep):
    def run(self, ctx: StepContext, out: Path) -> None:
        (out / "half").write_text("x")
        raise BuildError("tool exploded")


def _ctx(tmp_path: Path, target: Target | None = None) -> StepContext:
    target = target or get_target("qemu")
    apt = AptArchive(tmp_path / "apt", tmp_path / "dl", MirrorSet("http://m/debian"), target.debian_suites)
    return StepContext(target=target, repo=tmp_path / "repo", apt=apt, downloads=tmp_path / "dl")


def _run(tmp_path: Path, steps: list[Step], events: list[tuple[str, str]]) -> int:
    ctx = _ctx(tmp_path)
    planned = build.plan(ctx.target, ctx, steps)
    return build.run_steps(
        planned,
        ctx,
        StepCache(tmp_path / "steps"),
        Manifest(ctx.target, "k"),
        logs=tmp_path / "logs",
        emit=lambda step, state, detail: events.append((step, state)),
    )


def test_second_run_with_nothing_changed_does_no_work(tmp_path: Path) -> None:
    a, b = FakeStep("a"), FakeStep("b", ("a",))
    events: list[tuple[str, str]] = []
    assert _run(tmp_path, [a, b], events) == 2
    events.clear()
    assert _run(tmp_path, [a, b], events) == 0
    assert (a.runs, b.runs) == (1, 1)
    assert events == [("a", "cached"), ("b", "cached")]


def test_changed_input_rebuilds_the_step_and_its_dependents_only(tmp_path: Path) -> None:
    a, b, c = FakeStep("a"), FakeStep("b", ("a",)), FakeStep("c")
    _run(tmp_path, [a, b, c], [])
    a.value = "v2"
    events: list[tuple[str, str]] = []
    assert _run(tmp_path, [a, b, c], events) == 2
    assert (a.runs, b.runs, c.runs) == (2, 2, 1)
    assert ("c", "cached") in events
    key_b = build.plan(_ctx(tmp_path).target, _ctx(tmp_path), [a, b])[1][1]
    assert (tmp_path / "steps" / "b" / key_b / "out.txt").read_text() == "v1v2"
    outputs = [p for p in (tmp_path / "steps" / "a").iterdir() if not p.name.startswith(".")]
    assert len(outputs) == 1, "old outputs are pruned"


def test_failed_step_is_reported_and_publishes_nothing(tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []
    with pytest.raises(BuildError, match="tool exploded"):
        _run(tmp_path, [FakeStep("a"), FailingStep("b", ("a",))], events)
    assert events[-1] == ("b", "failed")
    assert list((tmp_path / "steps" / "b").iterdir()) == []


def test_plan_rejects_dependencies_out_of_order(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="depends on"):
        build.plan(_ctx(tmp_path).target, _ctx(tmp_path), [FakeStep("b", ("a",)), FakeStep("a")])


def test_a_new_pin_changes_exactly_the_steps_that_use_it(tmp_path: Path) -> None:
    target = get_target("qemu")
    bumped = replace(
        target,
        optee_client=(DebPackage("libteec2", "9.9.9-1", "sid"), *target.optee_client[1:]),
    )
    ctx = _ctx(tmp_path, target)
    before = dict((s.name, k) for s, k in build.plan(target, ctx))
    after = dict((s.name, k) for s, k in build.plan(bumped, _ctx(tmp_path, bumped)))
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"optee_client", "initramfs_base"}
    assert [s.name for s in STEPS][-1] == "initramfs_overlay"


def test_a_new_rootfs_pin_recompiles_the_guest_bytecode(tmp_path: Path) -> None:
    target = get_target("qemu")
    busybox = DebPackage("busybox-static", "9-9", "trixie")
    bumped = replace(target, rootfs=replace(target.rootfs, packages=(busybox, *target.rootfs.packages[1:])))
    before = dict((s.name, k) for s, k in build.plan(target, _ctx(tmp_path, target)))
    after = dict((s.name, k) for s, k in build.plan(bumped, _ctx(tmp_path, bumped)))
    # guest_native links the rootfs's libcrypto.so.3, and the overlay carries its library
    assert {n for n in before if before[n] != after[n]} == {
        "rootfs",
        "bytecode",
        "initramfs_base",
        "guest_native",
        "initramfs_overlay",
    }


def test_a_new_optee_os_rebuilds_the_guest_native_core(tmp_path: Path) -> None:
    """guest_native compiles the TA's P-256 from the optee_os step's mbedTLS sources (P256=mbedtls)."""
    target = get_target("qemu")
    fw = target.firmware
    bumped = replace(target, firmware=replace(fw, optee_source=replace(fw.optee_source, version="4.10.0-3")))
    before = dict((s.name, k) for s, k in build.plan(target, _ctx(tmp_path, target)))
    after = dict((s.name, k) for s, k in build.plan(bumped, _ctx(tmp_path, bumped)))
    changed = {n for n in before if before[n] != after[n]}
    assert {"optee_os", "ta", "guest_native", "initramfs_overlay"} <= changed


def _fake_compileall(stage_pycs: list[Path], flags: int = 1) -> object:
    """A ctx.sh that runs cp and fakes the guest python's compileall (one pyc per listed source)."""

    def sh(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        if QEMU_USER not in argv[-1]:
            subprocess.run(argv, cwd=cwd, check=True)
            return
        for cmd in argv[-1].split(" & first=$!; "):
            words = shlex.split(cmd.removesuffix(" && wait $first"))
            assert words[0] == QEMU_USER and "unchecked-hash" in words and words[words.index("-p") + 1] == "/"
            for source in map(Path, Path(words[-1]).read_text().split()):
                pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
                pyc.parent.mkdir(exist_ok=True)
                pyc.write_bytes(b"MAGI" + flags.to_bytes(4, "little") + b"\0" * 8)
                stage_pycs.append(pyc)

    return sh


def _bytecode_inputs(tmp_path: Path) -> StepContext:
    ctx = _ctx(tmp_path)
    rootfs = tmp_path / "rootfs-out" / "rootfs"
    (rootfs / "usr" / "bin").mkdir(parents=True)
    (rootfs / "usr" / "bin" / "python3.13").write_bytes(b"ELF")
    for rel in ("os.py", "json/__init__.py", "json/decoder.py"):
        (rootfs / "usr/lib/python3.13" / rel).parent.mkdir(parents=True, exist_ok=True)
        (rootfs / "usr/lib/python3.13" / rel).write_text("x = 1\n")
    (rootfs / "usr/lib/python3.13/sitecustomize.py").symlink_to("/etc/python3.13/sitecustomize.py")
    site = tmp_path / "wheels-out" / "rootfs" / "opt/foc/site/grpc"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("")
    ctx.outputs.update(rootfs=rootfs.parent, wheels=site.parents[4])
    return ctx


def test_bytecode_step_keeps_only_the_guest_pycaches(tmp_path: Path) -> None:
    ctx = _bytecode_inputs(tmp_path)
    pycs: list[Path] = []
    ctx.run_command = _fake_compileall(pycs)
    out = tmp_path / "out"
    out.mkdir()
    GuestBytecode().run(ctx, out)
    kept = sorted(str(p.relative_to(out / "rootfs")) for p in (out / "rootfs").rglob("*") if p.is_file())
    assert kept == [
        "opt/foc/site/grpc/__pycache__/__init__.cpython-313.pyc",
        "usr/lib/python3.13/__pycache__/os.cpython-313.pyc",
        "usr/lib/python3.13/json/__pycache__/__init__.cpython-313.pyc",
        "usr/lib/python3.13/json/__pycache__/decoder.cpython-313.pyc",
    ]  # the absolute sitecustomize.py link (into the host's /etc here) is left to the guest
    assert len(pycs) == 4 and not (out / ".stage").exists() and not list(out.glob(".compile-*"))
    assert (ctx.outputs["rootfs"] / "rootfs/usr/lib/python3.13/json/__pycache__").exists() is False


def test_bytecode_step_refuses_timestamp_pycs(tmp_path: Path) -> None:
    ctx = _bytecode_inputs(tmp_path)
    ctx.run_command = _fake_compileall([], flags=0)
    (tmp_path / "out").mkdir()
    with pytest.raises(BuildError, match="not an unchecked-hash pyc"):
        GuestBytecode().run(ctx, tmp_path / "out")


def test_ta_step_without_makefile_fails_clearly(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    (tmp_path / "repo" / "ta").mkdir(parents=True)
    with pytest.raises(BuildError, match="Makefile does not exist yet"):
        TrustedApp().run(ctx, tmp_path / "out")


def test_build_stops_before_any_step_when_a_host_package_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foc.deploy import host

    monkeypatch.setenv("FOC_CACHE", str(tmp_path / "cache"))
    real = host.SystemProbe.installed

    def without_mmdebstrap(self: host.SystemProbe, packages: list[str]) -> dict[str, str | None]:
        result = {p: "1.0" for p in packages}
        result["mmdebstrap"] = None
        return result

    monkeypatch.setattr(host.SystemProbe, "installed", without_mmdebstrap)
    monkeypatch.setattr(host.SystemProbe, "is_root", lambda self: True)
    monkeypatch.setattr(host.SystemProbe, "debian_mirror", lambda self: "http://m/debian")
    monkeypatch.setattr(build, "_context", lambda target, repo: _ctx(tmp_path, target))
    with pytest.raises(HostSetupError) as exc:
        build.build_image("qemu")
    assert exc.value.hint is not None and "apt-get install -y --no-install-recommends" in exc.value.hint
    assert "mmdebstrap" in exc.value.hint
    assert not (tmp_path / "cache" / "steps").exists()
    assert real is not None


@pytest.mark.skipif(shutil.which("cpio") is None, reason="needs cpio")
def test_overlay_archive_holds_init_foc_sources_and_ta(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "qemu").mkdir(parents=True)
    (repo / "qemu" / "init").write_text("#!/bin/sh\necho FOC-BOOT: ready\n")
    (repo / "qemu" / "profile").write_text("PS1='optee# '\n")
    (repo / "foc" / "__pycache__").mkdir(parents=True)
    (repo / "foc" / "__init__.py").write_text("")
    (repo / "foc" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    ta_out = tmp_path / "ta-out"
    ta_out.mkdir()
    (ta_out / "8e2d4a3c-7b1f-4c55-9a6e-5d0c3b2a1f90.ta").write_bytes(b"TA")
    coffee = "8e2d4a3c-7b1f-4c55-9a6e-5d0c3b2a1f90"
    built = {"file": f"{coffee}.ta", "uuid": coffee}
    (ta_out / "record.json").write_text(json.dumps({"tas": [{**built, "name": "coffee"}]}))
    given = tmp_path / "given-out"  # the chaincode_tas step: a TA given to the build (--ta)
    given.mkdir()
    (given / "11111111-2222-4333-8444-555555555555.ta").write_bytes(b"TA2")
    counter = "11111111-2222-4333-8444-555555555555"
    mine = {"file": f"{counter}.ta", "uuid": counter}
    (given / "record.json").write_text(json.dumps({"tas": [{**mine, "name": "counter"}]}))
    ctx = _ctx(tmp_path)
    ctx.repo = repo
    ctx.outputs["ta"] = ta_out
    ctx.outputs["chaincode_tas"] = given

    def sh(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        subprocess.run(argv, cwd=cwd, check=True)

    ctx.run_command = sh
    out = tmp_path / "out"
    out.mkdir()
    InitramfsOverlay().run(ctx, out)
    listing = subprocess.run(
        ["cpio", "-it", "--quiet"], input=gzip.decompress((out / "overlay.cpio.gz").read_bytes()),
        capture_output=True, check=True,
    ).stdout.decode().split()  # fmt: skip
    assert "init" in listing and "etc/profile" in listing
    assert "opt/foc/src/foc/__init__.py" in listing
    assert "usr/lib/optee_armtz/8e2d4a3c-7b1f-4c55-9a6e-5d0c3b2a1f90.ta" in listing
    assert "usr/lib/optee_armtz/11111111-2222-4333-8444-555555555555.ta" in listing
    assert not any("__pycache__" in n for n in listing)
    assert not (out / ".stage").exists()
    # the guest proxy's list of every chaincode TA (foc-proxy --config /etc/foc/proxy.toml)
    member = subprocess.run(
        ["cpio", "-i", "--quiet", "--to-stdout", "etc/foc/proxy.toml"],
        input=gzip.decompress((out / "overlay.cpio.gz").read_bytes()), capture_output=True, check=True,
    ).stdout  # fmt: skip
    tmp = tmp_path / "proxy.toml"
    tmp.write_bytes(member)
    listed = load_ta_file(tmp)
    assert [(str(t.uuid), t.name) for t in listed] == [
        ("8e2d4a3c-7b1f-4c55-9a6e-5d0c3b2a1f90", "coffee"),
        ("11111111-2222-4333-8444-555555555555", "counter"),
    ]


def test_an_image_refuses_the_same_chaincode_ta_twice(tmp_path: Path) -> None:
    outputs = {}
    for step, name in (("ta", "coffee"), ("chaincode_tas", "again")):
        d = tmp_path / step
        d.mkdir()
        uuid = "8e2d4a3c-7b1f-4c55-9a6e-5d0c3b2a1f90"
        entry = {"file": f"{uuid}.ta", "uuid": uuid, "name": name}
        (d / "record.json").write_text(json.dumps({"tas": [entry]}))
        outputs[step] = d
    with pytest.raises(BuildError, match="uuid 8e2d4a3c-7b1f-4c55-9a6e-5d0c3b2a1f90 twice"):
        image_chaincode_tas(outputs)


@pytest.mark.skipif(shutil.which("cpio") is None, reason="needs cpio")
def test_cpio_archive_is_reproducible(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "x").write_text("1")
    ctx = _ctx(tmp_path)
    ctx.run_command = lambda argv, cwd=None, env=None: subprocess.run(argv, cwd=cwd, check=True)
    make_cpio_gz(ctx, tree, tmp_path / "a.cpio.gz")
    (tree / "etc" / "x").touch()
    make_cpio_gz(ctx, tree, tmp_path / "b.cpio.gz")
    assert (tmp_path / "a.cpio.gz").read_bytes() == (tmp_path / "b.cpio.gz").read_bytes()


def _deb_bytes(name: str) -> bytes:
    return f"the .deb of {name}".encode()


def _rootfs_ctx(tmp_path: Path) -> tuple[StepContext, tuple[DebPackage, ...]]:
    """The qemu target with two rootfs pins whose sha256 are those of the fake files below."""
    base = get_target("qemu")
    pins = tuple(
        DebPackage(n, v, "trixie", sha256=hashlib.sha256(_deb_bytes(n)).hexdigest())
        for n, v in (("busybox-static", "1:1.37.0-6+b9"), ("libffi8", "3.4.8-2"))
    )
    return _ctx(tmp_path, replace(base, rootfs=replace(base.rootfs, packages=pins))), pins


def _fake_mmdebstrap(
    calls: list[list[str]], seen: dict[str, bytes], *, dropped: DebPackage | None = None, wrong: str = ""
) -> Callable[..., None]:
    """mmdebstrap as far as the step sees it: fails as apt does on the first call when the mirror no longer
    offers `dropped`; else "downloads" each `name=version` include (as apt-get names the file; `wrong`'s
    content differs from the published file) and a dependency. Records every argv, and what each included
    file held when it ran."""

    def run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        calls.append(argv)
        includes = [a[len("--include=") :] for a in argv if a.startswith("--include=")]
        if dropped is not None and f"{dropped.name}={dropped.version}" in includes:
            raise BuildError(
                "step rootfs: `mmdebstrap ...` failed",
                hint=f"E: Version '{dropped.version}' for '{dropped.name}' was not found",
            )
        root = Path(argv[-2])
        archives = root / "var" / "cache" / "apt" / "archives"
        archives.mkdir(parents=True, exist_ok=True)
        for inc in includes:
            if inc.startswith("/"):
                seen[inc] = Path(inc).read_bytes()
                continue
            name, version = inc.split("=", 1)
            data = b"tampered" if name == wrong else _deb_bytes(name)
            (archives / f"{name}_{version.replace(':', '%3a')}_arm64.deb").write_bytes(data)
        (archives / "dep_1_arm64.deb").write_bytes(b"a dependency from the mirror")
        (root / "usr" / "bin").mkdir(parents=True, exist_ok=True)

    return run


def test_rootfs_pins_are_checked_against_their_sha256(tmp_path: Path) -> None:
    from foc.deploy.build.steps import Rootfs

    ctx, pins = _rootfs_ctx(tmp_path)
    calls: list[list[str]] = []
    ctx.run_command = _fake_mmdebstrap(calls, {})
    (tmp_path / "ok").mkdir()
    Rootfs().run(ctx, tmp_path / "ok")
    includes = [a for a in calls[0] if a.startswith("--include=")]
    assert includes == [f"--include={p.name}={p.version}" for p in pins]  # one option each

    ctx.run_command = _fake_mmdebstrap(calls, {}, wrong="libffi8")
    (tmp_path / "bad").mkdir()
    with pytest.raises(BuildError) as exc:
        Rootfs().run(ctx, tmp_path / "bad")
    assert (
        f"libffi8 3.4.8-2 in the rootfs has sha256 {hashlib.sha256(b'tampered').hexdigest()}"
        in exc.value.message
    )
    assert pins[1].sha256 in exc.value.message


def test_rootfs_pin_gone_from_the_mirror_is_built_from_the_pinned_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8: a rootfs pin the mirror dropped comes from AptArchive.deb (cache, mirror, snapshot
    archive, sha256-checked) and is handed to mmdebstrap as a file inside the new root."""
    from foc.deploy.build.steps import Rootfs

    ctx, pins = _rootfs_ctx(tmp_path)
    pkg = pins[0]
    fetched = tmp_path / "dl" / f"{pkg.name}_{pkg.version.replace(':', '%3a')}_arm64.deb"
    fetched.parent.mkdir(parents=True)
    fetched.write_bytes(_deb_bytes(pkg.name))
    asked: list[DebPackage] = []
    monkeypatch.setattr(ctx.apt, "deb", lambda p: (asked.append(p), (fetched, {"origin": "snapshot"}))[1])
    calls: list[list[str]] = []
    seen: dict[str, bytes] = {}
    ctx.run_command = _fake_mmdebstrap(calls, seen, dropped=pkg)
    out = tmp_path / "out"
    out.mkdir()
    Rootfs().run(ctx, out)

    assert asked == [pkg] and len(calls) == 2
    placed = out / "rootfs" / "var" / "cache" / "apt" / "archives" / fetched.name
    includes = [a for a in calls[1] if a.startswith("--include=")]
    assert includes == [f"--include={placed}", f"--include={pins[1].name}={pins[1].version}"]
    assert seen == {str(placed): _deb_bytes(pkg.name)}
    record = json.loads((out / "record.json").read_text())
    assert {d["name"] for d in record["debian_packages"]} == {pkg.name, pins[1].name, "dep"}


def test_rootfs_pin_on_neither_mirror_nor_snapshot_names_the_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foc.deploy.build.steps import Rootfs

    ctx, pins = _rootfs_ctx(tmp_path)
    pkg = pins[0]

    def nowhere(p: DebPackage) -> tuple[Path, dict[str, str]]:
        raise BuildError(f"package {p.name} {p.version} is not in the snapshot archive either")

    monkeypatch.setattr(ctx.apt, "deb", nowhere)
    calls: list[list[str]] = []
    ctx.run_command = _fake_mmdebstrap(calls, {}, dropped=pkg)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BuildError) as exc:
        Rootfs().run(ctx, out)
    assert f"{pkg.name} {pkg.version} (trixie) is on neither the mirror nor the snapshot" in exc.value.message
    assert "not in the snapshot archive either" in exc.value.message
    assert exc.value.hint == "update the pins in foc/deploy/targets/qemu.py"
    assert len(calls) == 1


def test_current_image_is_the_published_one_only_while_inputs_are_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foc.deploy.image import ImageSet

    monkeypatch.setenv("FOC_CACHE", str(tmp_path / "cache"))
    repo = tmp_path / "repo"
    (repo / "qemu").mkdir(parents=True)
    (repo / "qemu" / "init").write_text("#!/bin/sh\n")
    (repo / "foc").mkdir()
    (repo / "foc" / "__init__.py").write_text("")
    (repo / "ta").mkdir()
    monkeypatch.setattr(build, "_context", lambda target, r: _ctx(tmp_path, target))
    assert build.current_image("qemu", repo=repo) is None

    ctx = _ctx(tmp_path)  # its repo is tmp_path/repo
    key = build._image_key(build.plan(ctx.target, ctx))
    d = build.image_key_dir("qemu", key)
    d.mkdir(parents=True)
    files = {n: d / n for n in ("bios", "kernel", "initrd", "manifest.json", "pflash1")}
    for f in files.values():
        f.write_text("x")
    image = ImageSet(
        target="qemu", root=d, bios=files["bios"], kernel=files["kernel"], initrd=files["initrd"],
        share=d / "share", manifest=files["manifest.json"], pflash1=files["pflash1"],
        extra={"image_key": key},
    )  # fmt: skip
    image.save(d / "image.json")
    monkeypatch.setattr(
        build, "_context", lambda target, r: (lambda c: (setattr(c, "repo", r), c)[1])(_ctx(tmp_path))
    )
    assert build.current_image("qemu", repo=repo) == image

    (repo / "qemu" / "init").write_text("#!/bin/sh\necho changed\n")
    assert build.current_image("qemu", repo=repo) is None


def test_each_image_key_is_published_apart_and_current_names_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two checkouts (or CI beside a developer) publishing different images must not rewrite the
    files a running guest booted from: each key has its own directory; `current` moves."""
    import os

    from foc.deploy.image import ImageSet

    monkeypatch.setenv("FOC_CACHE", str(tmp_path / "cache"))

    def publish(key: str, content: str) -> ImageSet:
        d = build.image_key_dir("qemu", key)
        (d / "share" / "ta").mkdir(parents=True)
        ta = d / "share" / "ta" / "x.ta"
        ta.write_text(content)
        image = ImageSet("qemu", d, d / "b", d / "k", d / "i", d / "share", d / "m", ta_files=(ta,),
                         extra={"image_key": key})  # fmt: skip
        image.save(d / "image.json")
        build._point_current("qemu", d, image)
        build._prune("qemu", keep=d)
        return image

    first = publish("aaa", "first TA")
    second = publish("bbb", "second TA")
    assert first.ta_files[0].read_text() == "first TA", "another publish rewrote a published image"
    root = build.image_dir("qemu")
    assert (root / "current").resolve() == build.image_key_dir("qemu", "bbb").resolve()
    assert ImageSet.load(root / "image.json") == second
    # Old sets beyond the newest few are pruned once they are a day old; recent ones are kept.
    for n, key in enumerate(("c1", "c2", "c3")):
        publish(key, key)
        os.utime(build.image_key_dir("qemu", key), (n, n))
    os.utime(build.image_key_dir("qemu", "aaa"), (0, 0))
    publish("ddd", "newest")
    left = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    assert left == ["bbb", "c3", "ddd"], left


def test_refresh_rebuilds_cached_steps_in_place(tmp_path: Path) -> None:
    a = FakeStep("a")
    _run(tmp_path, [a], [])
    ctx = _ctx(tmp_path)
    planned = build.plan(ctx.target, ctx, [a])
    cache = StepCache(tmp_path / "steps")
    manifest = Manifest(ctx.target, "k")
    built = build.run_steps(
        planned, ctx, cache, manifest, logs=tmp_path / "logs", emit=lambda *_: None, refresh=True
    )
    assert built == 1 and a.runs == 2
    assert manifest.steps[0].built_seconds is not None
    assert len([p for p in (tmp_path / "steps" / "a").iterdir() if not p.name.startswith(".")]) == 1
    assert build._build_kind(1, 1) == "cold" and build._build_kind(0, 3) == "warm"
    assert build._build_kind(1, 3) == "incremental"
