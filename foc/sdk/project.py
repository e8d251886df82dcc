"""Chaincode projects: `foc chaincode new NAME` writes one, `foc chaincode build DIR` builds it.

    project = new_project("counter", Path("counter"))      # a fresh TA uuid, outside FOC's tree
    built = build_project(project.root)                     # make ta native, with the image's dev kit
    built.ta, built.ta_uuid, built.measurement, built.native_lib

A project is a directory with `NAME.c` (the chaincode, on `ta/include/foc_chaincode.h`), a `Makefile`
that names the chaincode, its TA uuid and sources and includes FOC's `ta/chaincode.mk` (OP-TEE's TA dev
kit + FOC's trusted core), a README and `tests/test_NAME.py` (the chaincode on the host-native core:
`foc.sdk.host`). The build writes `build/<uuid>.ta`, `build/native/libfoc_core.so` and
`build/chaincode.json` ({name, ta_uuid, ta, native_lib}).

The TA dev kit and the mbedTLS sources come from the image build cache: the `ta_dev_kit` and
`ta_mbedtls` of the last image record of the target (`foc-deploy qemu build`), the same OP-TEE the
device runs. Errors: UsageError (bad name, directory not empty or inside FOC's tree), BuildError with
the compiler's output (exit 5), TargetError when no image has been built yet.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid as _uuid
from dataclasses import dataclass
from pathlib import Path

from foc.deploy.paths import REPO_ROOT
from foc.errors import BuildError, HostSetupError, TargetError, UsageError

TEMPLATES = Path(__file__).resolve().parent / "template"
FOC_TA_DIR = REPO_ROOT / "ta"
BUILD_RECORD = "chaincode.json"
#: A chaincode name: a Fabric chaincode name (letters, digits, '-', '_'), usable as a C string and file name.
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
CROSS_COMPILE = "aarch64-linux-gnu-"
BUILD_PYTHON = "/usr/bin/python3"  # the dev kit's signing script needs python3-cryptography
_ERROR_OUTPUT_CHARS = 6000


@dataclass(frozen=True)
class Project:
    """A chaincode project on disk."""

    root: Path
    name: str
    ta_uuid: _uuid.UUID

    @property
    def files(self) -> list[Path]:
        """The files `new_project` wrote."""
        return [
            self.root / f"{self.name}.c",
            self.root / "Makefile",
            self.root / "README.md",
            self.root / "tests" / f"test_{self.name}.py",
            self.root / ".gitignore",
        ]


@dataclass(frozen=True)
class BuiltChaincode:
    """What `build_project` produced (paths absolute)."""

    name: str
    ta_uuid: _uuid.UUID
    ta: Path | None  # None with native_only
    native_lib: Path
    measurement: bytes | None  # the TA's expected measurement (what `foc chaincode define --ta` pins)


def check_chaincode_name(name: str) -> str:
    """`name` if it can name a chaincode project; UsageError otherwise."""
    if not isinstance(name, str) or not NAME.match(name):
        raise UsageError(
            f"invalid chaincode name {name!r}",
            hint="1-64 characters: a letter, then letters, digits, '-' or '_' (a Fabric chaincode name)",
        )
    return name


def new_project(name: str, directory: Path | None = None, *, ta_uuid: _uuid.UUID | None = None) -> Project:
    """Write a new chaincode project `name` into `directory` (default ./NAME) with a fresh TA uuid.

    Refuses (UsageError, nothing written) a directory that exists and is not empty, or one inside
    FOC's own tree: a chaincode project lives outside it and names FOC's `ta/` in its Makefile.
    """
    check_chaincode_name(name)
    root = (directory or Path(name)).expanduser().resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(f"{root} already exists and is not an empty directory", hint="choose another --dir")
    if root == REPO_ROOT or REPO_ROOT in root.parents:
        raise UsageError(
            f"{root} is inside FOC's own tree ({REPO_ROOT})",
            hint="a chaincode project lives outside it: pass --dir PATH elsewhere",
        )
    project = Project(root, name, ta_uuid or _uuid.uuid4())
    values = {"@NAME@": name, "@UUID@": str(project.ta_uuid), "@FOC_TA_DIR@": str(FOC_TA_DIR)}
    sources = ["chaincode.c.in", "Makefile.in", "README.md.in", "test_chaincode.py.in", "gitignore.in"]
    texts = {}
    for template, target in zip(sources, project.files, strict=True):
        text = (TEMPLATES / template).read_text()
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        texts[target] = text
    (root / "tests").mkdir(parents=True, exist_ok=True)
    for target, text in texts.items():
        target.write_text(text)
    return project


def dev_kit(target: str = "qemu") -> tuple[Path, Path]:
    """(OP-TEE's TA dev kit, the mbedTLS sources of the same OP-TEE) from `target`'s last image record.

    TargetError when no image of `target` was built, or its build cache no longer holds them.
    """
    from foc.deploy.runtime import last_image

    image = last_image(target)
    kit, mbedtls = image.extra.get("ta_dev_kit"), image.extra.get("ta_mbedtls")
    if not kit or not mbedtls or not (Path(kit) / "mk" / "ta_dev_kit.mk").is_file():
        raise TargetError(
            f"the last {target} image record names no TA dev kit that still exists ({kit or 'none'})",
            hint=f"`foc-deploy {target} build` rebuilds it (the dev kit is OP-TEE's export-ta_arm64)",
        )
    return Path(kit), Path(mbedtls)


def read_build(build_dir: Path) -> dict[str, str]:
    """The build record ({name, ta_uuid, ta, native_lib}) of a built project; UsageError if absent."""
    record = build_dir / BUILD_RECORD
    try:
        data = json.loads(record.read_text())
        return {k: str(data[k]) for k in ("name", "ta_uuid", "ta", "native_lib")}
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(
            f"{build_dir} holds no chaincode build ({record} is missing or malformed)",
            hint="`foc chaincode build <project directory>`",
        ) from None


def build_project(
    directory: Path, *, target: str = "qemu", native_only: bool = False, out: Path | None = None
) -> BuiltChaincode:
    """`make ta native` in the project (only `native` with `native_only`); outputs in `out` (default
    DIR/build). Returns what was built, with the TA's measurement computed offline."""
    from foc.confidential.measurement import ta_measurement, ta_uuid

    root = Path(directory).expanduser().resolve()
    if not (root / "Makefile").is_file():
        raise UsageError(f"{root} is not a chaincode project (no Makefile)", hint="`foc chaincode new NAME`")
    if shutil.which("make") is None or shutil.which("cc") is None:
        raise HostSetupError("make and a C compiler are needed", hint="apt-get install build-essential")
    build_dir = (out or root / "build").resolve()
    goals = ["native"]
    variables = [f"O={build_dir}", f"FOC_TA_DIR={FOC_TA_DIR}"]
    if not native_only:
        kit, mbedtls = dev_kit(target)
        goals.insert(0, "ta")
        variables += [
            f"TA_DEV_KIT_DIR={kit}",
            f"FOC_MBEDTLS_DIR={mbedtls}",
            f"CROSS_COMPILE={CROSS_COMPILE}",
            f"PYTHON3={BUILD_PYTHON}",
        ]
    proc = subprocess.run(
        ["make", "-s", "-j2", "-C", str(root), *goals, *variables],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    if proc.returncode != 0:
        raise BuildError(
            f"the chaincode build failed (make {' '.join(goals)} in {root}, exit {proc.returncode}):\n"
            + proc.stdout[-_ERROR_OUTPUT_CHARS:]
        )
    record = read_build(build_dir)
    uuid = _uuid.UUID(record["ta_uuid"])
    ta = None if native_only else build_dir / record["ta"]
    measurement = None
    if ta is not None:
        if ta_uuid(ta) != uuid:
            raise BuildError(f"{ta} declares TA uuid {ta_uuid(ta)}, not {uuid} (its Makefile's)")
        measurement = ta_measurement(ta)
    return BuiltChaincode(record["name"], uuid, ta, build_dir / record["native_lib"], measurement)
