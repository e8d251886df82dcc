"""The build steps of an image, each a pure function of its declared inputs.

A step declares `inputs(ctx)` (cheap: pinned versions, options, file digests, no downloads) and
`run(ctx, out)` which fills a fresh output directory. The build orchestrator (`foc.deploy.build`)
keys each step by its inputs, its dependencies' keys and the hash of its own code, and skips it
when that key is already in the step cache.

Each step may write `record.json` into its output: its contribution to the image manifest
(`debian_packages`, `source_packages`, `wheels`, `files`).
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import importlib.metadata
import inspect
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from foc.deploy.build.apt import AptArchive, sha256_file
from foc.deploy.build.cache import tree_digest
from foc.deploy.chaincodes import COFFEE, PROXY_TAS_FILE, SHIPPED_CHAINCODES, ChaincodeTa, proxy_toml
from foc.deploy.targets.base import DebPackage, Target
from foc.errors import BuildError

log = logging.getLogger(__name__)

CROSS_COMPILE = "aarch64-linux-gnu-"
BUILD_PYTHON = "/usr/bin/python3"
GUEST_SITE = "opt/foc/site"
GUEST_SRC = "opt/foc/src"
GUEST_TA_DIR = "usr/lib/optee_armtz"  # /lib/optee_armtz through the merged-/usr symlink
GUEST_NATIVE_CORE = "opt/foc/native/libfoc_core.so"  # the guest normal-world build (NOT a TEE)
NATIVE_KEY_NAME = "insecure_device_key.pub.pem"  # its published test device key
MODULE_LIST = "etc/foc/modules"  # insmod order, one path relative to /lib/modules/<release> per line
SOURCE_DATE_EPOCH = 1_700_000_000  # mtime of every file in the initramfs
# Bump when a shared helper below changes what a step produces (a step's own code is hashed).
HELPERS_VERSION = 1
JOBS = "-j2"  # the build machine is shared: never more
QEMU_USER = "qemu-aarch64-static"  # runs the guest's own python3 on the host to byte-compile
PYC_UNCHECKED_HASH = 0b01  # the flags word of a .pyc header (PEP 552): hash-based, source not checked


@dataclass
class StepContext:
    """What a step may use: the target, the repo, apt, earlier outputs and a logged runner, and the
    chaincode TAs given to this build (`foc-deploy TARGET build --ta FILE.ta`)."""

    target: Target
    repo: Path
    apt: AptArchive
    downloads: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    chaincode_tas: tuple[ChaincodeTa, ...] = ()
    run_command: Callable[..., None] | None = None  # (argv, cwd=None, env=None) -> None, raises BuildError

    def sh(
        self, argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        assert self.run_command is not None
        self.run_command(list(argv), cwd=cwd, env=dict(env) if env else None)


class Step:
    """One cached build step. Subclasses set `name`, `deps` and implement inputs/run."""

    name: str = ""
    deps: tuple[str, ...] = ()

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        raise NotImplementedError

    def run(self, ctx: StepContext, out: Path) -> None:
        raise NotImplementedError

    def code_digest(self) -> str:
        """Hash of this step's own code, so editing a step invalidates exactly its outputs."""
        # The AST, not the text: reformatting or editing comments does not invalidate outputs.
        trees = [
            ast.dump(ast.parse(textwrap.dedent(inspect.getsource(m))))
            for m in (type(self).inputs, type(self).run)
        ]
        return hashlib.sha256(f"{HELPERS_VERSION}:{''.join(trees)}".encode()).hexdigest()[:16]


# -- shared helpers ----------------------------------------------------------------------------


def host_tool_version(argv: Sequence[str]) -> str:
    """First line of a tool's version output, or 'missing'."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    out = (proc.stdout or proc.stderr).strip().splitlines()
    return out[0] if out else "unknown"


def cross_gcc_version() -> str:
    return host_tool_version([f"{CROSS_COMPILE}gcc", "-dumpfullversion"])


def write_record(out: Path, record: Mapping[str, object]) -> None:
    (out / "record.json").write_text(json.dumps(record, indent=1, sort_keys=True))


def unpack_source(ctx: StepContext, src_dir: Path, dsc: str, dest: Path) -> Path:
    """dpkg-source -x the cached source package into dest/<name>-<version>."""
    tree = dest / "src"
    dest.mkdir(parents=True, exist_ok=True)  # dpkg-source copies the tarballs next to the tree
    ctx.sh(["dpkg-source", "--no-check", "-x", str(src_dir / dsc), str(tree)])
    return tree


def merge_usr(tree: Path, *, make_links: bool) -> None:
    """Move /bin, /sbin, /lib contents under /usr; with make_links, add the merged-/usr symlinks.

    The extract variant of mmdebstrap and `dpkg-deb -x` do not create them, and trees that are
    layered on top of one another must not disagree on whether /lib is a directory or a link.
    """
    for top in ("bin", "sbin", "lib"):
        src = tree / top
        dst = tree / "usr" / top
        if src.is_dir() and not src.is_symlink():
            dst.mkdir(parents=True, exist_ok=True)
            for item in src.iterdir():
                target = dst / item.name
                if target.exists() or target.is_symlink():
                    if target.is_dir() and not target.is_symlink() and item.is_dir():
                        shutil.copytree(item, target, symlinks=True, dirs_exist_ok=True)
                        shutil.rmtree(item)
                        continue
                    target.unlink() if not target.is_dir() else shutil.rmtree(target)
                item.rename(target)
            src.rmdir()
        if make_links and not src.is_symlink():
            dst.mkdir(parents=True, exist_ok=True)
            src.symlink_to(f"usr/{top}")


def make_cpio_gz(ctx: StepContext, tree: Path, dest: Path) -> None:
    """A gzip'd newc cpio of `tree`, owned by root, with sorted names (stable output)."""
    names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
    for name in names:  # stable mtimes: the same tree gives the same archive
        os.utime(tree / name, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH), follow_symlinks=False)
    listing = dest.with_suffix(".list")
    listing.write_text("\n".join(names) + "\n")
    raw = dest.with_suffix(".raw")
    ctx.sh(
        ["sh", "-c", f'cpio --quiet -o -H newc -R 0:0 --reproducible < "{listing}" > "{raw}"'],
        cwd=tree,
    )
    with raw.open("rb") as fin, dest.open("wb") as f, gzip.GzipFile("", "wb", 1, f, mtime=0) as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
    raw.unlink()
    listing.unlink()


def compile_bytecode(
    ctx: StepContext, sysroot: Path, tree: Path, dirs: Sequence[str], *, invalidation: str
) -> int:
    """Byte-compile the .py files under `dirs` (relative to `tree`) with the guest's python3 from
    `sysroot`, run on the host under qemu-user; returns how many sources there were.

    Without this the guest compiles everything it imports at every boot, under TCG (seconds).
    The .pyc files record guest paths (`tree` is stripped) and are hash-based: the cpio's fixed
    mtimes (SOURCE_DATE_EPOCH) would invalidate timestamp-based ones. -B: the compiler's own
    imports must not drop timestamp pycs into `sysroot`; -f: rewrite any that exist anyway.
    compileall's -j needs binfmt_misc to start its workers (it execs the aarch64 python), so
    the files are split over two compileall processes instead (JOBS: two at most).
    """
    python = sysroot / "usr" / "bin" / f"python{ctx.target.guest_python}"
    if not python.exists():
        raise BuildError(f"the guest rootfs has no {python.relative_to(sysroot)}")
    sources = sorted(str(f) for d in dirs for f in (tree / d).rglob("*.py") if not f.is_symlink())
    if not sources:
        return 0
    lists = []  # never an empty one: compileall without files compiles all of sys.path
    for i, half in enumerate(h for h in (sources[0::2], sources[1::2]) if h):
        lists.append(tree.parent / f".compile-{tree.name}-{i}.list")
        lists[-1].write_text("".join(f + "\n" for f in half))
    argv = [QEMU_USER, "-L", str(sysroot), str(python), "-I", "-B", "-m", "compileall", "-q", "-f",
            "--invalidation-mode", invalidation, "-s", str(tree), "-p", "/", "-i"]  # fmt: skip
    cmd = [shlex.join([*argv, str(listing)]) for listing in lists]
    try:
        ctx.sh(["sh", "-c", cmd[0] if len(cmd) == 1 else f"{cmd[0]} & first=$!; {cmd[1]} && wait $first"])
    finally:
        for listing in lists:
            listing.unlink()
    return len(sources)


def optee_config(conf_mk: str) -> dict[str, str]:
    """The CFG_* assignments of an OP-TEE build's conf.mk (`CFG_X=y` / `CFG_X := y` lines)."""
    config = {}
    for line in conf_mk.splitlines():
        m = re.match(r"^\s*(CFG_[A-Za-z0-9_]+)\s*:?=\s*(.*?)\s*$", line)
        if m:
            config[m.group(1)] = m.group(2)
    return config


def dependency_closure(modules_dep: str, wanted: Sequence[str]) -> list[str]:
    """Module paths (as in modules.dep) for `wanted` and their dependencies, dependencies first.

    `wanted` are module names (`9pnet_virtio`; `-` and `_` are equivalent, as for modprobe).
    """
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in modules_dep.splitlines():
        if ":" not in line:
            continue
        path, rest = line.split(":", 1)
        path = path.strip()
        deps[path] = rest.split()
        by_name[_module_name(path)] = path
    order: list[str] = []

    def visit(path: str, stack: tuple[str, ...]) -> None:
        if path in order:
            return
        if path in stack:
            raise BuildError(f"kernel module dependency cycle at {path}")
        for dep in reversed(deps.get(path, [])):  # modules.dep lists the deepest dependency last
            visit(dep, stack + (path,))
        order.append(path)

    for name in wanted:
        found = by_name.get(name.replace("-", "_"))
        if found is None:
            raise BuildError(f"kernel module {name} is not in modules.dep of this kernel")
        visit(found, ())
    return order


def _module_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    base = re.sub(r"\.ko(\.xz|\.zst|\.gz)?$", "", base)
    return base.replace("-", "_")


def host_distribution_versions(names: Sequence[str]) -> dict[str, str]:
    """Installed versions of `names` and of their runtime requirements (recursively), on the host."""
    versions: dict[str, str] = {}
    todo = list(names)
    while todo:
        name = _normalize(todo.pop())
        if name in versions:
            continue
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if name in [_normalize(n) for n in names]:
                raise BuildError(
                    f"Python distribution {name} is not installed on the host",
                    hint="install the project: .venv/bin/pip install -e '.[dev]'",
                ) from None
            continue
        for req in importlib.metadata.requires(name) or []:
            if "extra ==" in req:
                continue
            todo.append(re.split(r"[ ;<>=!~\[(]", req.strip(), maxsplit=1)[0])
    return versions


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# -- the steps ---------------------------------------------------------------------------------


class OpteeOs(Step):
    """OP-TEE OS from the Debian source package, with our CFG_* options; exports the TA dev kit."""

    name = "optee_os"

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        fw = ctx.target.firmware
        return {
            "source": fw.optee_source.identity,
            "platform": fw.optee_platform,
            "options": list(fw.optee_options),
            "gcc": cross_gcc_version(),
        }

    def run(self, ctx: StepContext, out: Path) -> None:
        fw = ctx.target.firmware
        src_dir, record = ctx.apt.source(fw.optee_source)
        work = out / ".work"
        tree = unpack_source(ctx, src_dir, str(record["dsc"]), work)
        build = work / "out"
        ctx.sh(
            [
                "make", JOBS, "-C", str(tree), f"PLATFORM={fw.optee_platform}", f"O={build}",
                f"CROSS_COMPILE={CROSS_COMPILE}", f"CROSS_COMPILE64={CROSS_COMPILE}",
                f"PYTHON3={BUILD_PYTHON}", *fw.optee_options,
            ]
        )  # fmt: skip
        (out / "core").mkdir()
        for name in ("tee-header_v2.bin", "tee-pager_v2.bin", "tee-pageable_v2.bin", "tee.elf"):
            f = build / "core" / name
            if not f.exists():
                raise BuildError(f"OP-TEE build did not produce core/{name}")
            shutil.copy2(f, out / "core" / name)
        kit = build / "export-ta_arm64"
        if not (kit / "mk" / "ta_dev_kit.mk").exists():
            raise BuildError("OP-TEE build did not export the TA dev kit (export-ta_arm64)")
        shutil.copytree(kit, out / "export-ta_arm64", symlinks=True)
        mbedtls_version = export_mbedtls(tree, out / "mbedtls")
        (out / "ta").mkdir()
        for ta in sorted((build / "ta").rglob("*.ta")) if (build / "ta").exists() else []:
            shutil.copy2(ta, out / "ta" / ta.name)
        conf = build / "conf.mk"
        if not conf.exists():
            raise BuildError("OP-TEE build did not write conf.mk")
        effective = optee_config(conf.read_text())
        for option in fw.optee_options:
            name, _, value = option.partition("=")
            if name.startswith("CFG_") and effective.get(name) != value:
                raise BuildError(f"OP-TEE ignored {option}: conf.mk has {name}={effective.get(name)}")
        shutil.copy2(conf, out / "conf.mk")
        shutil.rmtree(work)
        wanted = [o.partition("=")[0] for o in fw.optee_options if o.startswith("CFG_")]
        wanted += ["CFG_ATTESTATION_PTA_KEY_SIZE", "CFG_RPMB_FS", "CFG_DT", "CFG_CORE_ASLR"]
        # Where OP-TEE lives in RAM: a board's DT must reserve it (foc.deploy.build.sdcard).
        wanted += ["CFG_TZDRAM_START", "CFG_TZDRAM_SIZE", "CFG_SHMEM_START", "CFG_SHMEM_SIZE"]
        record_cfg = {n: effective[n] for n in wanted if n in effective}
        files = {f.name: sha256_file(f) for f in sorted((out / "core").glob("*.bin"))}
        write_record(
            out,
            {
                "source_packages": [record],
                "optee_config": record_cfg,
                "mbedtls_version": mbedtls_version,
                "files": files,
            },
        )


def export_mbedtls(tree: Path, dest: Path) -> str:
    """Copy the mbedTLS sources bundled in an OP-TEE OS tree (include/, library/, LICENSE) to `dest`.

    The TA compiles its P-256 from them with its own configuration (ta/mbedtls/); returns the
    release (MBEDTLS_VERSION_STRING). Raises BuildError when the tree has no mbedTLS.
    """
    src = tree / "lib" / "libmbedtls" / "mbedtls"
    info = src / "include" / "mbedtls" / "build_info.h"
    if not (src / "library" / "ecp.c").exists() or not info.exists():
        raise BuildError(f"the OP-TEE OS source has no mbedTLS tree at {src}")
    m = re.search(r'#define\s+MBEDTLS_VERSION_STRING\s+"([^"]+)"', info.read_text())
    dest.mkdir()
    for part in ("include", "library"):
        shutil.copytree(src / part, dest / part, symlinks=True)
    if (src / "LICENSE").exists():
        shutil.copy2(src / "LICENSE", dest / "LICENSE")
    return m.group(1) if m else "unknown"


class TrustedFirmware(Step):
    """TF-A (BL1 + FIP with BL2, BL31, OP-TEE as BL32 and U-Boot as BL33) from the Debian source."""

    name = "tfa"
    deps = ("optee_os",)

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        fw = ctx.target.firmware
        bl33 = Path(fw.bl33) if fw.bl33 else None
        return {
            "source": fw.tfa_source.identity,
            "options": list(fw.tfa_options),
            "output": fw.tfa_output,
            "bl33": "none" if bl33 is None else sha256_file(bl33) if bl33.exists() else "missing",
            "gcc": cross_gcc_version(),
        }

    def run(self, ctx: StepContext, out: Path) -> None:
        fw = ctx.target.firmware
        src_dir, record = ctx.apt.source(fw.tfa_source)
        work = out / ".work"
        tree = unpack_source(ctx, src_dir, str(record["dsc"]), work)
        core = ctx.outputs["optee_os"] / "core"
        bl33 = [f"BL33={fw.bl33}"] if fw.bl33 else []  # none: BL31 enters a preloaded kernel
        ctx.sh(
            [
                "make", JOBS, "-C", str(tree), f"CROSS_COMPILE={CROSS_COMPILE}", *fw.tfa_options,
                f"BL32={core / 'tee-header_v2.bin'}", f"BL32_EXTRA1={core / 'tee-pager_v2.bin'}",
                f"BL32_EXTRA2={core / 'tee-pageable_v2.bin'}", *bl33,
                f"BUILD_BASE={work / 'build'}", "all", "fip",
            ]
        )  # fmt: skip
        bios = work / "build" / fw.tfa_output
        if not bios.exists():
            raise BuildError(f"TF-A build did not produce {fw.tfa_output}")
        shutil.copy2(bios, out / bios.name)
        shutil.rmtree(work)
        write_record(out, {"source_packages": [record], "files": {bios.name: sha256_file(out / bios.name)}})


class UbootEnv(Step):
    """The U-Boot environment image for the non-secure pflash (kernel/initrd addresses quirk)."""

    name = "uboot_env"

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        t = ctx.target
        return {"env": [list(kv) for kv in t.uboot_env], "size": t.uboot_env_size, "pflash": t.pflash_size}

    def run(self, ctx: StepContext, out: Path) -> None:
        t = ctx.target
        env_txt = out / "env.txt"
        env_txt.write_text("".join(f"{k}={v}\n" for k, v in t.uboot_env))
        ctx.sh(["mkenvimage", "-s", hex(t.uboot_env_size), "-o", str(out / "env.img"), str(env_txt)])
        img = out / "pflash1.img"
        shutil.copy2(out / "env.img", img)
        with img.open("r+b") as f:
            f.truncate(t.pflash_size)


class KernelModules(Step):
    """The Debian kernel image and the closure of the modules the guest loads (depmod on the host)."""

    name = "kernel"

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        k = ctx.target.kernel
        return {"package": k.package.identity, "release": k.release, "modules": list(k.modules)}

    def run(self, ctx: StepContext, out: Path) -> None:
        k = ctx.target.kernel
        deb, record = ctx.apt.deb(k.package)
        x = out / ".work"
        ctx.sh(["dpkg-deb", "-x", str(deb), str(x)])
        vmlinuz = x / "boot" / f"vmlinuz-{k.release}"
        if not vmlinuz.exists():
            raise BuildError(f"{k.package.name} has no boot/vmlinuz-{k.release}")
        shutil.copy2(vmlinuz, out / "vmlinuz")
        moddir = x / k.modules_dir / k.release
        if k.modules_dir != "lib/modules":
            (x / "lib" / "modules").mkdir(parents=True, exist_ok=True)
            (x / "lib" / "modules" / k.release).symlink_to(moddir)
        ctx.sh(["depmod", "-b", str(x), k.release])
        order = dependency_closure((moddir / "modules.dep").read_text(), k.modules)
        dest = out / "rootfs" / "usr" / "lib" / "modules" / k.release
        listed = []
        for rel in order:
            src = moddir / rel
            rel_out = re.sub(r"\.(xz|zst|gz)$", "", rel)
            target = dest / rel_out
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel.endswith(".xz"):
                ctx.sh(["sh", "-c", f'xz -dc "{src}" > "{target}"'])
            else:
                shutil.copy2(src, target)
            listed.append(rel_out)
        mod_list = out / "rootfs" / MODULE_LIST
        mod_list.parent.mkdir(parents=True)
        mod_list.write_text("\n".join(listed) + "\n")
        (out / "rootfs" / "etc" / "foc" / "kernel-release").write_text(k.release + "\n")
        shutil.rmtree(x)
        write_record(out, {"debian_packages": [record], "modules": listed})


class Rootfs(Step):
    """The guest userland: mmdebstrap --variant=extract of the pinned packages (no qemu-user needed)."""

    name = "rootfs"

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        r = ctx.target.rootfs
        return {
            "suite": r.suite,
            "packages": [p.identity for p in r.packages],
            "drop": list(r.drop),
            "mirror": ctx.apt.mirrors.url_for(r.suite),
        }

    def run(self, ctx: StepContext, out: Path) -> None:
        r = ctx.target.rootfs
        rootfs = out / "rootfs"
        try:
            self._mmdebstrap(ctx, rootfs, [f"{p.name}={p.version}" for p in r.packages])
        except BuildError as e:
            missing = [
                p for p in r.packages if re.search(rf"'{re.escape(p.version)}' for '{p.name}'", str(e.hint))
            ]
            if not missing:
                raise
            log.info(
                "rootfs: the mirror no longer offers %s; fetching the pinned files",
                ", ".join(f"{p.name} {p.version}" for p in missing),
            )
            self._mmdebstrap(ctx, rootfs, self._with_pinned_files(ctx, rootfs, missing))
        packages = []
        archives = rootfs / "var" / "cache" / "apt" / "archives"
        for deb in sorted(archives.glob("*.deb")):
            name, version, arch = deb.name[: -len(".deb")].split("_")
            packages.append(
                {
                    "name": name,
                    "version": version.replace("%3a", ":"),
                    "arch": arch,
                    "suite": r.suite,
                    "sha256": sha256_file(deb),
                }
            )
        if not packages:
            raise BuildError("mmdebstrap left no package record in var/cache/apt/archives")
        _check_pinned_files(r.packages, packages)
        for rel in r.drop:
            p = rootfs / rel
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()
        merge_usr(rootfs, make_links=True)
        sh = rootfs / "usr" / "bin" / "sh"
        if not sh.exists():
            sh.symlink_to("busybox")  # xtest's system() and our /init need /bin/sh
        write_record(out, {"debian_packages": packages})

    @staticmethod
    def _mmdebstrap(ctx: StepContext, rootfs: Path, include: list[str]) -> None:
        r = ctx.target.rootfs
        ctx.sh(
            [
                "mmdebstrap", "--variant=extract", "--arch=arm64", "--mode=root", "--format=directory",
                *(f"--include={i}" for i in include),  # one each: mmdebstrap does not split a path
                "--skip=cleanup/apt/cache", "--skip=check/empty",
                "--aptopt=Acquire::Retries=3", r.suite, str(rootfs), ctx.apt.mirrors.url_for(r.suite),
            ]
        )  # fmt: skip

    @staticmethod
    def _with_pinned_files(ctx: StepContext, rootfs: Path, missing: list[DebPackage]) -> list[str]:
        """The --include list with each of `missing` as the path of its pinned file.

        Each file comes from `AptArchive.deb` (the cache, the mirror, then Debian's snapshot archive,
        checked against the pin's sha256) and is placed in the new root's apt archive directory, where
        mmdebstrap extracts it like a download (a path inside the root needs no bind mount, mmdebstrap(1)
        on --include) and where the manifest records it. Their dependencies still come from the mirror.
        BuildError: a pin that neither the mirror nor the snapshot archive has, named with its target file.
        """
        r = ctx.target.rootfs
        if rootfs.exists():
            shutil.rmtree(rootfs)
        archives = rootfs / "var" / "cache" / "apt" / "archives"
        archives.mkdir(parents=True)
        local: dict[str, str] = {}
        for p in missing:
            try:
                deb, _record = ctx.apt.deb(p)
            except BuildError as e:
                raise BuildError(
                    f"pinned rootfs package {p.name} {p.version} ({p.suite}) is on neither the mirror nor "
                    f"the snapshot archive: {e.message}",
                    hint=f"update the pins in foc/deploy/targets/{ctx.target.name}.py",
                ) from e
            placed = archives / deb.name
            shutil.copyfile(deb, placed)
            local[p.name] = str(placed)
        return [local.get(p.name, f"{p.name}={p.version}") for p in r.packages]


def _check_pinned_files(pins: Sequence[DebPackage], packages: list[dict[str, str]]) -> None:
    """Each pin's file among mmdebstrap's `packages` (name, version, sha256 records) has the pin's sha256.

    BuildError: a pin missing from the set, or a file that differs from its pin (names both hashes).
    """
    got = {(p["name"], p["version"]): p["sha256"] for p in packages}
    for pin in pins:
        actual = got.get((pin.name, pin.version))
        if actual is None:
            raise BuildError(f"mmdebstrap did not install the pinned {pin.name} {pin.version} ({pin.suite})")
        if pin.sha256 and actual != pin.sha256:
            raise BuildError(
                f"{pin.name} {pin.version} in the rootfs has sha256 {actual}, the pin says {pin.sha256}",
                hint="a mirror served a file Debian did not publish under that version; check the mirror",
            )


class OpteeClient(Step):
    """libteec, tee-supplicant and xtest (+ its TAs) extracted from pinned Debian packages."""

    name = "optee_client"

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        return {"packages": [p.identity for p in ctx.target.optee_client]}

    def run(self, ctx: StepContext, out: Path) -> None:
        tree = out / "rootfs"
        records = []
        for pkg in ctx.target.optee_client:
            deb, record = ctx.apt.deb(pkg)
            ctx.sh(["dpkg-deb", "-x", str(deb), str(tree)])
            records.append(record)
        merge_usr(tree, make_links=False)
        for rel in ("usr/share/doc", "usr/share/man", "usr/share/lintian"):
            shutil.rmtree(tree / rel, ignore_errors=True)
        write_record(out, {"debian_packages": records})


class GuestWheels(Step):
    """The proxy's Python dependencies as aarch64 wheels, at the versions installed on the host."""

    name = "wheels"

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        t = ctx.target
        return {
            "versions": host_distribution_versions(t.guest_wheels),
            "wanted": list(t.guest_wheels),
            "python": t.guest_python,
            "platforms": list(t.wheel_platforms),
        }

    def run(self, ctx: StepContext, out: Path) -> None:
        t = ctx.target
        versions = host_distribution_versions(t.guest_wheels)
        wheel_dir = ctx.downloads / "wheels" / f"cp{t.guest_python.replace('.', '')}-aarch64"
        wheel_dir.mkdir(parents=True, exist_ok=True)
        constraints = out / "constraints.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(versions.items())))
        platforms = [a for p in t.wheel_platforms for a in ("--platform", p)]
        ctx.sh(
            [
                sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
                *platforms, "--python-version", t.guest_python, "--implementation", "cp",
                "-d", str(wheel_dir), "-c", str(constraints),
                *(f"{n}=={versions[_normalize(n)]}" for n in t.guest_wheels),
            ]
        )  # fmt: skip
        site = out / "rootfs" / GUEST_SITE
        site.mkdir(parents=True)
        wheels = []
        for n, v in sorted(versions.items()):
            stem = re.sub(r"[-_.]+", "_", n)
            found = [w for w in wheel_dir.glob("*.whl") if _normalize(w.name.split("-")[0]) == n
                     and w.name.split("-")[1] == v]  # fmt: skip
            if not found:
                continue  # a host-only requirement (marker false for the guest)
            whl = sorted(found)[-1]
            with zipfile.ZipFile(whl) as z:
                z.extractall(site)
            wheels.append(
                {"name": n, "version": v, "file": whl.name, "sha256": sha256_file(whl), "stem": stem}
            )
        missing = [n for n in t.guest_wheels if not any(w["name"] == _normalize(n) for w in wheels)]
        if missing:
            raise BuildError(f"no aarch64 wheel found for {', '.join(missing)}")
        constraints.unlink()
        write_record(out, {"wheels": wheels})


class TrustedApp(Step):
    """Our TAs, built against the OP-TEE build's own dev kit: coffee from the repo's ta/ and each
    shipped example chaincode (SHIPPED_CHAINCODES, a chaincode project on ta/chaincode.mk).
    Its record lists them: `tas` = [{file, uuid, name}]."""

    name = "ta"
    deps = ("optee_os",)

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        return {
            "ta_tree": tree_digest(ctx.repo / "ta", exclude=_build_output),
            "chaincodes": {p: tree_digest(ctx.repo / p, exclude=_build_output) for p in SHIPPED_CHAINCODES},
            "gcc": cross_gcc_version(),
        }

    def run(self, ctx: StepContext, out: Path) -> None:
        ta = ctx.repo / "ta"
        if not (ta / "Makefile").exists():
            raise BuildError(
                f"{ta}/Makefile does not exist yet: the TA cannot be built",
                hint="the TA build is `make -C ta CROSS_COMPILE=... TA_DEV_KIT_DIR=... O=...`",
            )
        kit = ctx.outputs["optee_os"] / "export-ta_arm64"
        mbedtls = ctx.outputs["optee_os"] / "mbedtls"
        build = out / ".work"
        ctx.sh(
            [
                "make", JOBS, "-C", str(ta), f"CROSS_COMPILE={CROSS_COMPILE}", f"PYTHON3={BUILD_PYTHON}",
                f"TA_DEV_KIT_DIR={kit}", f"FOC_MBEDTLS_DIR={mbedtls}", f"O={build}",
            ]
        )  # fmt: skip
        tas = sorted(build.rglob("*.ta"))
        if len(tas) != 1:
            raise BuildError(f"the TA build produced {len(tas)} <uuid>.ta files, expected coffee's one")
        built = [(tas[0], COFFEE)]
        for project in SHIPPED_CHAINCODES:
            project_out = out / ".work-chaincode"
            ctx.sh(
                [
                    "make", JOBS, "-C", str(ctx.repo / project), "ta", f"O={project_out}",
                    f"FOC_TA_DIR={ta}", f"CROSS_COMPILE={CROSS_COMPILE}", f"PYTHON3={BUILD_PYTHON}",
                    f"TA_DEV_KIT_DIR={kit}", f"FOC_MBEDTLS_DIR={mbedtls}",
                ]
            )  # fmt: skip
            record = json.loads((project_out / "chaincode.json").read_text())
            built.append((project_out / str(record["ta"]), str(record["name"])))
        files, listed = {}, []
        for f, name in built:
            shutil.copy2(f, out / f.name)
            files[f.name] = sha256_file(out / f.name)
            listed.append({"file": f.name, "uuid": f.name.removesuffix(".ta"), "name": name})
        shutil.rmtree(build)
        shutil.rmtree(out / ".work-chaincode", ignore_errors=True)
        write_record(out, {"files": files, "tas": listed})


class ChaincodeTas(Step):
    """The chaincode TAs given to this build (`foc-deploy TARGET build --ta FILE.ta`), copied as they
    are (`foc chaincode build` signed them with the same dev kit). Record: `tas` = [{file, uuid, name}]."""

    name = "chaincode_tas"
    deps = ()

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        return {"tas": [{**t.to_json(), "sha256": sha256_file(t.path)} for t in ctx.chaincode_tas]}

    def run(self, ctx: StepContext, out: Path) -> None:
        files = {}
        for t in ctx.chaincode_tas:
            dest = out / f"{t.uuid}.ta"
            shutil.copy2(t.path, dest)
            files[dest.name] = sha256_file(dest)
        write_record(out, {"files": files, "tas": [t.to_json() for t in ctx.chaincode_tas]})


def image_chaincode_tas(outputs: Mapping[str, Path]) -> list[tuple[Path, str, str]]:
    """Every chaincode TA an image carries: (file, uuid, name) from the `ta` and `chaincode_tas`
    steps' records, built ones first. BuildError if a uuid or name appears twice."""
    found: list[tuple[Path, str, str]] = []
    for step in ("ta", "chaincode_tas"):
        if step not in outputs:
            continue
        record = json.loads((outputs[step] / "record.json").read_text())
        for t in record.get("tas", []):
            found.append((outputs[step] / str(t["file"]), str(t["uuid"]), str(t["name"])))
    for what, values in (("uuid", [u for _, u, _ in found]), ("name", [n for _, _, n in found])):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise BuildError(f"the image would carry chaincode TA {what} {', '.join(twice)} twice")
    return found


class GuestNativeCore(Step):
    """The trusted core + chaincode built for the guest's normal world (libfoc_core.so, NOT a TEE).

    The same C as the TA's core and chaincode (ta/native's library), cross-compiled so the proxy in
    the same guest can run it with `--tee native`: the fair baseline of `foc bench`. Its P-256 (key
    generation, ECDH, ECDSA) is the TA's own mbedTLS build (`P256=mbedtls`: ta/mbedtls/foc_p256.c and
    the optee_os step's mbedTLS sources with the TA's configuration), so both sides run the same P-256
    code; SHA-256, HKDF and AES-GCM are OpenSSL's (the TA's are OP-TEE core's, through the GP API),
    from the target's libssl-dev headers and the rootfs's libcrypto.so.3.
    """

    name = "guest_native"
    deps = ("rootfs", "optee_os")

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        dev = ctx.target.guest_native_dev
        return {
            "dev": dev.identity if dev else None,
            "ta_tree": tree_digest(ctx.repo / "ta", exclude=_build_output),
            "gcc": cross_gcc_version(),
            "p256": "mbedtls",
        }

    def run(self, ctx: StepContext, out: Path) -> None:
        dev = ctx.target.guest_native_dev
        if dev is None:
            write_record(out, {"files": {}})
            return
        deb, record = ctx.apt.deb(dev)
        work = out / ".work"
        work.mkdir()
        ctx.sh(["dpkg-deb", "-x", str(deb), str(work / "dev")])
        include = work / "dev" / "usr" / "include"
        libdir = ctx.outputs["rootfs"] / "rootfs" / "usr" / "lib" / "aarch64-linux-gnu"
        if not (libdir / "libcrypto.so.3").exists():
            raise BuildError(f"the rootfs has no libcrypto.so.3 in {libdir}")
        mbedtls = ctx.outputs["optee_os"] / "mbedtls"  # the sources the TA's P-256 is compiled from
        ctx.sh(
            [
                "make", JOBS, "-C", str(ctx.repo / "ta" / "native"), f"O={work / 'build'}", "lib",
                f"CC={CROSS_COMPILE}gcc",
                f"CRYPTO_CFLAGS=-I{include} -I{include / 'aarch64-linux-gnu'}",
                f"CRYPTO_LIBS=-L{libdir} -l:libcrypto.so.3",
                "P256=mbedtls", f"FOC_MBEDTLS_DIR={mbedtls}",
            ]
        )  # fmt: skip
        lib = out / "libfoc_core.so"
        shutil.copy2(work / "build" / "libfoc_core.so", lib)
        # The native backend's device key is the published test key, found beside the sources
        # (foc.tee.device_key.NATIVE_INSECURE_KEY_PEM: <src>/ta/native/insecure_device_key.pub.pem).
        shutil.copy2(ctx.repo / "ta" / "native" / NATIVE_KEY_NAME, out / NATIVE_KEY_NAME)
        shutil.rmtree(work)
        optee = json.loads((ctx.outputs["optee_os"] / "record.json").read_text())
        write_record(
            out,
            {
                "packages": [record],
                "files": {lib.name: sha256_file(lib)},
                "p256": f"mbedtls {optee.get('mbedtls_version', 'unknown')} (the TA's build)",
            },
        )


class GuestBytecode(Step):
    """__pycache__/ for the guest's stdlib and wheels, compiled by the guest python under qemu-user."""

    name = "bytecode"
    deps = ("rootfs", "wheels")

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        return {
            "python": ctx.target.guest_python,
            "site": GUEST_SITE,
            "qemu_user": host_tool_version([QEMU_USER, "--version"]),
        }

    def run(self, ctx: StepContext, out: Path) -> None:
        stage = out / ".stage"
        stage.mkdir()
        for dep in ("rootfs", "wheels"):  # hard links: compileall only adds files
            ctx.sh(["cp", "-a", "--link", f"{ctx.outputs[dep] / 'rootfs'}/.", str(stage)])
        stdlib = f"usr/lib/python{ctx.target.guest_python}"
        # unchecked: these sources only change when their step rebuilds, and then so does this one.
        sources = compile_bytecode(ctx, stage, stage, [stdlib, GUEST_SITE], invalidation="unchecked-hash")
        count = 0
        for cache in sorted(stage.rglob("__pycache__")):
            for pyc in cache.glob("*.pyc"):
                data = pyc.read_bytes()
                if int.from_bytes(data[4:8], "little") != PYC_UNCHECKED_HASH or str(stage).encode() in data:
                    raise BuildError(f"{pyc.relative_to(stage)}: not an unchecked-hash pyc with guest paths")
                count += 1
            dest = out / "rootfs" / cache.relative_to(stage)
            dest.parent.mkdir(parents=True, exist_ok=True)
            cache.rename(dest)
        shutil.rmtree(stage)
        if count < sources:
            raise BuildError(f"compileall wrote {count} .pyc files for {sources} guest sources")
        write_record(out, {"bytecode_files": count})


def _build_output(rel: Path) -> bool:
    return bool({"out", "build"} & set(rel.parts)) or rel.suffix in (".o", ".d", ".ta", ".elf", ".so", ".a")


class InitramfsBase(Step):
    """The big, rarely changing initramfs part: rootfs + OP-TEE client + in-tree TAs + modules + wheels."""

    name = "initramfs_base"
    deps = ("rootfs", "optee_client", "optee_os", "kernel", "wheels", "bytecode")

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        return {"ta_dir": GUEST_TA_DIR, "site": GUEST_SITE}

    def run(self, ctx: StepContext, out: Path) -> None:
        stage = out / ".stage"
        stage.mkdir()
        for dep in ("rootfs", "optee_client", "kernel", "wheels", "bytecode"):
            ctx.sh(["cp", "-a", "--link", f"{ctx.outputs[dep] / 'rootfs'}/.", str(stage)])
        ta_dir = stage / GUEST_TA_DIR
        ta_dir.mkdir(parents=True, exist_ok=True)
        for ta in sorted((ctx.outputs["optee_os"] / "ta").glob("*.ta")):
            shutil.copy2(ta, ta_dir / ta.name)  # in-tree TAs (pkcs11 ...) for xtest
        for d in ("proc", "sys", "dev", "tmp", "run", "mnt/host", "var/log", "var/lib/optee-client/data/tee"):
            (stage / d).mkdir(parents=True, exist_ok=True)
        make_cpio_gz(ctx, stage, out / "base.cpio.gz")
        shutil.rmtree(stage)


class InitramfsOverlay(Step):
    """The small initramfs part rebuilt on every change of qemu/, foc/ or the TA: seconds."""

    name = "initramfs_overlay"
    deps = ("ta", "chaincode_tas", "guest_native")

    def inputs(self, ctx: StepContext) -> dict[str, object]:
        return {
            "guest_files": tree_digest(ctx.repo / ctx.target.guest_files),
            "foc_package": tree_digest(ctx.repo / "foc", exclude=_not_python_source),
        }

    def run(self, ctx: StepContext, out: Path) -> None:
        stage = out / ".stage"
        guest = ctx.repo / ctx.target.guest_files
        init = guest / "init"
        if not init.exists():
            raise BuildError(f"{init} is missing: the guest has no /init")
        stage.mkdir()
        shutil.copy2(init, stage / "init")
        os.chmod(stage / "init", 0o755)
        etc = stage / "etc"
        etc.mkdir()
        if (guest / "profile").exists():
            shutil.copy2(guest / "profile", etc / "profile")
        (etc / "foc").mkdir()
        (etc / "foc" / "target").write_text(ctx.target.name + "\n")  # /init's target-specific part
        if (guest / "rootfs").is_dir():  # more guest files (scripts, configs), as /usr and /etc paths
            shutil.copytree(guest / "rootfs", stage, symlinks=True, dirs_exist_ok=True)
        src = stage / GUEST_SRC
        package = ctx.repo / "foc"

        def ignore(d: str, names: list[str]) -> list[str]:
            return [
                n for n in names if n == "__pycache__" or _not_python_source(Path(d, n).relative_to(package))
            ]

        shutil.copytree(package, src / "foc", ignore=ignore)
        # What provisioning compares with before copying a newer package (foc.deploy.rpi3.provision).
        (src / ".digest").write_text(tree_digest(package, exclude=_not_python_source) + "\n")
        # No pycs for foc/ (the guest writes its own): compiling it under qemu-user takes ~20 s per
        # overlay build (measured) and saves ~0.1 s of the proxy's start; the stdlib's are in the base.
        ta_dir = stage / GUEST_TA_DIR
        ta_dir.mkdir(parents=True)
        tas = image_chaincode_tas(ctx.outputs)
        for ta, _, _ in tas:
            shutil.copy2(ta, ta_dir / ta.name)
        # the guest's foc-proxy serves every chaincode TA, one pool each (foc-proxy --config)
        (etc / "foc" / PROXY_TAS_FILE).write_text(proxy_toml([(uuid, name) for _, uuid, name in tas]))
        native_out = ctx.outputs.get("guest_native")
        native = native_out / "libfoc_core.so" if native_out else None
        if native_out and native and native.exists():
            (stage / GUEST_NATIVE_CORE).parent.mkdir(parents=True)
            shutil.copy2(native, stage / GUEST_NATIVE_CORE)
            key_dir = src / "ta" / "native"
            key_dir.mkdir(parents=True)
            shutil.copy2(native_out / NATIVE_KEY_NAME, key_dir / NATIVE_KEY_NAME)
        # The overlay is unpacked over the base: /lib etc. are already symlinks there, so the
        # overlay must only use /usr paths (checked here, cheaply).
        for top in ("bin", "sbin", "lib"):
            if (stage / top).exists():
                raise BuildError(f"overlay must not contain /{top} (use /usr/{top})")
        make_cpio_gz(ctx, stage, out / "overlay.cpio.gz")
        shutil.rmtree(stage)


def _not_python_source(rel: Path) -> bool:
    return "__pycache__" in rel.parts or rel.suffix in (".pyc", ".pyo", ".so")


STEPS: tuple[Step, ...] = (
    OpteeOs(),
    TrustedFirmware(),
    UbootEnv(),
    KernelModules(),
    Rootfs(),
    OpteeClient(),
    GuestWheels(),
    GuestBytecode(),
    TrustedApp(),
    ChaincodeTas(),
    GuestNativeCore(),
    InitramfsBase(),
    InitramfsOverlay(),
)
