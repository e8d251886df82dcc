"""Build the host-native trusted core (`ta/native`, libfoc_core.so) on demand.

The library is the TA's own C code (trusted core + coffee chaincode) linked for the
host, so the proxy and the tests can run without OP-TEE. Builds go under the cache
(`$FOC_CACHE/build/native`), never into the repo; `make` keeps repeated calls cheap.
"""

from __future__ import annotations

import fcntl
import hashlib
import platform
import shutil
import subprocess
from pathlib import Path

from foc.deploy.paths import cache_root
from foc.errors import BuildError, HostSetupError

NATIVE_SOURCE_DIR = Path(__file__).resolve().parents[2] / "ta" / "native"

# Only the tail of a failing compiler run goes into the error: enough to act on.
_ERROR_OUTPUT_CHARS = 6000


def native_build_dir() -> Path:
    """Where the native build puts its outputs (make's `O=`): one directory per checkout.

    Several checkouts (engineers, CI jobs) share the cache; make only compares file times, so
    a shared output directory would hand one checkout objects built from another's sources.
    """
    digest = hashlib.sha256(str(NATIVE_SOURCE_DIR).encode()).hexdigest()[:12]
    return cache_root() / "build" / f"native-{digest}"


def _run_make(target: str, out_dir: Path, *options: str) -> None:
    if shutil.which("make") is None or shutil.which("cc") is None:
        raise HostSetupError(
            "make and a C compiler are needed to build the native trusted core",
            hint="apt-get install build-essential",
        )
    cmd = ["make", "-s", "-j2", "-C", str(NATIVE_SOURCE_DIR), f"O={out_dir}", target, *options]
    out_dir.mkdir(parents=True, exist_ok=True)
    # Several test processes may build at once: one make at a time per output dir.
    with open(out_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if proc.returncode != 0:
        output = proc.stdout[-_ERROR_OUTPUT_CHARS:]
        raise BuildError(
            f"native trusted-core build failed (make {target}, exit {proc.returncode}):\n{output}"
        )


def build_native_core(sanitize: bool = False) -> Path:
    """Build libfoc_core.so if needed and return its path.

    With `sanitize=True` the ASan+UBSan variant is built; loading it into Python needs
    the sanitizer runtime preloaded (`LD_PRELOAD=$(gcc -print-file-name=libasan.so)`).
    Raises `BuildError` with the compiler output when the build fails.
    """
    out_dir = native_build_dir()
    if sanitize:
        _run_make("sanitize", out_dir)
        lib = out_dir / "asan" / "libfoc_core.so"
    else:
        _run_make("lib", out_dir)
        lib = out_dir / "libfoc_core.so"
    if not lib.is_file():
        raise BuildError(f"native build finished but {lib} is missing")
    return lib


def build_native_tests(sanitize: bool = False, *, mbedtls_dir: Path | None = None) -> Path:
    """Build the C unit-test programs of the trusted core and return the path of `foc_core_tests`
    (`foc_confidential_tests` is beside it).

    With `mbedtls_dir` (the mbedTLS tree of the OP-TEE OS source: `lib/libmbedtls/mbedtls`, or the
    optee_os build step's `mbedtls/` export) the P-256 operations are the TA's own mbedTLS build
    instead of OpenSSL (`make P256=mbedtls`), in an output directory of their own. Raises
    `BuildError` with the compiler output when the build fails.
    """
    out_dir = native_build_dir()
    options: list[str] = []
    if mbedtls_dir is not None:
        out_dir = out_dir.with_name(f"{out_dir.name}-p256-mbedtls")
        options = ["P256=mbedtls", f"FOC_MBEDTLS_DIR={mbedtls_dir}"]
    _run_make("sanitize" if sanitize else "all", out_dir, *options)
    return out_dir / ("asan/foc_core_tests" if sanitize else "foc_core_tests")


def fuzzer_runtime_missing() -> str | None:
    """Why the libFuzzer target cannot be linked here, or None when it can.

    Debian ships clang's runtime libraries (libFuzzer, ASan, UBSan) in `libclang-rt-dev`, which
    `apt-get install --no-install-recommends clang` leaves out: clang is then present but the link
    fails with "cannot find libclang_rt.fuzzer-<arch>.a". Ask clang where the archive would be.
    """
    clang = shutil.which("clang")
    if clang is None:
        return "clang is not installed"
    archive = f"libclang_rt.fuzzer-{platform.machine()}.a"
    proc = subprocess.run([clang, f"-print-file-name={archive}"], capture_output=True, text=True, check=False)
    found = proc.stdout.strip()
    if proc.returncode != 0 or not Path(found).is_absolute() or not Path(found).is_file():
        return f"clang has no libFuzzer runtime ({archive} not found)"
    return None


def build_native_fuzzer() -> Path:
    """Build the libFuzzer target (clang with its runtime) and return its path.

    Raises HostSetupError naming the Debian packages when clang or its runtime is missing.
    """
    missing = fuzzer_runtime_missing()
    if missing is not None:
        raise HostSetupError(
            f"the libFuzzer target cannot be built: {missing}",
            hint="apt-get install clang libclang-rt-dev (scripts/setup installs both)",
        )
    out_dir = native_build_dir()
    _run_make("fuzz", out_dir)
    return out_dir / "fuzz" / "fuzz_invoke"
