"""Readers for FOC's br2-external tree (buildroot/): defconfigs, package recipes, pins and docs.

Plain text parsing of Buildroot's formats (Kconfig defconfigs, make fragments, hash files), so the
structural tests need no Buildroot checkout; the checks against a real checkout live in
test_buildroot_checks.py.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TREE = REPO / "buildroot"
PACKAGES = TREE / "package"
CONFIGS = TREE / "configs"
DOCS = REPO / "docs" / "buildroot.md"

# The variable the br2-external name FOC gives (external.desc "name: FOC").
EXTERNAL_PATH_VAR = "$(BR2_EXTERNAL_FOC_PATH)"


def package_names() -> list[str]:
    """Directories under buildroot/package/, sorted (each one is a Buildroot package)."""
    return sorted(p.name for p in PACKAGES.iterdir() if p.is_dir())


def package_prefix(name: str) -> str:
    """Buildroot's variable prefix of a package: foc-ta -> FOC_TA."""
    return name.upper().replace("-", "_")


def read_defconfig(path: Path) -> dict[str, str]:
    """`SYMBOL=value` lines (quotes removed) and `# SYMBOL is not set` lines (value "n")."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        unset = re.fullmatch(r"# (BR2_\w+) is not set", line)
        if unset:
            values[unset.group(1)] = "n"
            continue
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"BR2_\w+", key):
            raise ValueError(f"{path.name}: not a defconfig line: {line!r}")
        values[key] = value[1:-1] if value.startswith('"') and value.endswith('"') else value
    return values


def defconfigs() -> dict[str, dict[str, str]]:
    """Every configs/*_defconfig of the tree, by file name."""
    return {p.name: read_defconfig(p) for p in sorted(CONFIGS.glob("*_defconfig"))}


def resolve_external(value: str) -> Path | None:
    """A path written with $(BR2_EXTERNAL_FOC_PATH), resolved in this checkout (None otherwise)."""
    if not value.startswith(EXTERNAL_PATH_VAR + "/"):
        return None
    return TREE / value[len(EXTERNAL_PATH_VAR) + 1 :]


def make_assignments(path: Path) -> dict[str, str]:
    """Single- and multi-line (`\\`-continued) `VAR = value` / `VAR := value` assignments of a .mk file.

    Appends (`+=`) and `define` blocks are not included; see `make_defines`.
    """
    text = path.read_text().replace("\\\n", " ")
    values: dict[str, str] = {}
    for line in text.splitlines():
        m = re.fullmatch(r"([A-Z0-9_]+)\s*:?=\s*(.*)", line.strip())
        if m and not line.startswith(("\t", "#")):
            values[m.group(1)] = " ".join(m.group(2).split())
    return values


def make_defines(path: Path) -> dict[str, str]:
    """The bodies of `define NAME ... endef` blocks of a .mk file."""
    return dict(re.findall(r"^define (\w+)\n(.*?)^endef$", path.read_text(), flags=re.M | re.S))


def hash_lines(path: Path) -> list[tuple[str, str, str]]:
    """(type, digest, file name) of every non-comment line of a Buildroot .hash file."""
    entries = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 3:
            raise ValueError(f"{path}: a hash line has 3 fields: {line!r}")
        entries.append((fields[0], fields[1], fields[2]))
    return entries


def buildroot_release() -> str:
    """The Buildroot release the tree is checked against (FOC_BUILDROOT_RELEASE in external.mk)."""
    return make_assignments(TREE / "external.mk")["FOC_BUILDROOT_RELEASE"]


def pyproject() -> dict:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def pyproject_pins() -> dict[str, str]:
    """Runtime dependency pins of pyproject.toml: distribution name -> version (`name==version`)."""
    pins = {}
    for spec in pyproject()["project"]["dependencies"]:
        name, sep, version = spec.partition("==")
        if sep:
            pins[name.strip().lower()] = version.strip()
    return pins


@dataclass(frozen=True)
class RuntimeDependency:
    """A Buildroot package python-foc selects, its version in the pinned release, and FOC's pin."""

    package: str  # Buildroot package, e.g. python-grpcio
    buildroot_version: str  # its version in the pinned Buildroot release
    distribution: str  # PyPI distribution pinned in pyproject.toml, e.g. grpcio
    pinned_version: str  # the pin in pyproject.toml


def python_foc_runtime_dependencies() -> list[RuntimeDependency]:
    """The version table in the comments of python-foc.mk (`#   python-x 1.2 (pyproject.toml: x==1.3)`)."""
    pattern = re.compile(
        r"^#\s+(python-[a-z0-9-]+) (\S+) \(pyproject\.toml: ([A-Za-z0-9_.-]+)==([^)\s]+)\)$", re.M
    )
    text = (PACKAGES / "python-foc" / "python-foc.mk").read_text()
    return [RuntimeDependency(*m.groups()) for m in pattern.finditer(text)]


def kconfig_selects(path: Path) -> set[str]:
    """Symbols a Config.in `select`s (conditions dropped)."""
    return set(re.findall(r"^\s*select (BR2_\w+)", path.read_text(), flags=re.M))


def space_separated_options(value: str) -> dict[str, str]:
    """`A=1 B=2` (e.g. *_ADDITIONAL_VARIABLES) as a dict."""
    return dict(item.split("=", 1) for item in value.split())
