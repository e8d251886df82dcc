"""The package layout keeps its promises (docs/architecture.md, "Parts").

* No import cycles between FOC's packages (imports inside functions count: they run too; imports
  under `if TYPE_CHECKING:` do not). The root package's lazy `foc.connect` facade is not an edge.
* The device runtime (`foc.tee`, `foc.proxy`), which runs inside the guest, imports no host tooling,
  no CLI and nothing of the client or peer side.
* Imports flow one way along the data path: client -> peer-side chaincode -> proxy client -> proxy -> tee.
"""

from __future__ import annotations

import ast
from pathlib import Path

FOC = Path(__file__).resolve().parents[2] / "foc"

DEVICE_RUNTIME = ("foc.tee", "foc.proxy")
# Third-party libraries only the host side uses (not installed in the guest image).
HOST_ONLY_LIBRARIES = ("fabric", "paramiko", "rich", "pexpect", "serial", "matplotlib")
NOT_IN_DEVICE_RUNTIME = (
    "foc.deploy",
    "foc.cli",
    "foc.client",
    "foc.wrapper",
    "foc.ledger",
    "foc.fabric",
    "foc.registry",
    "foc.admin",
    "foc.demo",
    "foc.sdk",
)
# (package, packages it must never import): the data path's direction.
DOWNSTREAM_ONLY = {
    "foc.wrapper": ("foc.client", "foc.cli", "foc.demo"),
    "foc.proxy": ("foc.wrapper", "foc.client"),
    "foc.tee": ("foc.proxy", "foc.wrapper", "foc.client"),
    "foc.chaincode": ("foc.wrapper", "foc.client", "foc.ledger", "foc.fabric", "foc.registry"),
    "foc.confidential": ("foc.admin", "foc.registry", "foc.wrapper", "foc.client"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in FOC.rglob("*.py"):
        parts = path.relative_to(FOC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for n in ast.walk(node))
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("foc"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("foc"):
            module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                out.add(full if full in known else module)
    return {m for m in out if m in known}


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _package_graph() -> dict[str, set[str]]:
    known = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        if name == "foc":  # the lazy `foc.connect` facade
            continue
        for dep in _imports(path, known):
            if dep != "foc" and _package(dep) != _package(name):
                graph.setdefault(_package(name), set()).add(_package(dep))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles_between_packages() -> None:
    cycle = _cycle(_package_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_device_runtime_imports_no_host_tooling() -> None:
    """foc.tee and foc.proxy (lazy imports inside functions included) import no host-side FOC
    package and no host-only library; tests/unit/rpi3/test_runtimes.py checks the same at run time."""
    graph = _package_graph()
    for runtime in DEVICE_RUNTIME:
        forbidden = graph.get(runtime, set()) & set(NOT_IN_DEVICE_RUNTIME)
        assert not forbidden, f"{runtime} imports {sorted(forbidden)}"
    offenders = []
    for name, path in _modules().items():
        if _package(name) not in DEVICE_RUNTIME:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{name}: {n}" for n in names if n.split(".")[0] in HOST_ONLY_LIBRARIES]
    assert not offenders, offenders


def test_imports_flow_one_way_along_the_data_path() -> None:
    graph = _package_graph()
    for package, never in DOWNSTREAM_ONLY.items():
        wrong = graph.get(package, set()) & set(never)
        assert not wrong, f"{package} imports {sorted(wrong)}"


def test_the_checker_sees_a_cycle_and_a_lazy_import() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    known = _modules()
    # foc.fabric.hosted imports the catalogue inside a function: it still counts.
    assert "foc.wrapper.catalogue" in _imports(known["foc.fabric.hosted"], known)
