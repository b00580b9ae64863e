"""Import structure of the data, metrics and apps packages: no circles, and layers point down.

Reads the sources (module-level and function-level imports alike), so a lazy import inside a
function that closes a circle is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("jaxgan.data", "jaxgan.metrics", "jaxgan.apps")
# what each package may import from jaxgan (besides itself)
ALLOWED = {"jaxgan.data": (), "jaxgan.metrics": ("jaxgan.data",),
           "jaxgan.apps": ("jaxgan.data", "jaxgan.metrics")}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        folder = ROOT.joinpath(*package.split("."))
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            targets.add(node.module)
            targets.update(f"{node.module}.{a.name}" for a in node.names
                           if f"{node.module}.{a.name}" in known)
    return {t for t in targets if t == "jaxgan" or t.startswith("jaxgan.")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, set(modules)) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt] if nxt in path else [*path, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_no_import_circles(graph):
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_lazy_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_layers_below(graph, package):
    allowed = (package, *ALLOWED[package])
    for module, targets in graph.items():
        if module == package or module.startswith(f"{package}."):
            wrong = sorted(t for t in targets
                           if not any(t == a or t.startswith(f"{a}.") for a in allowed))
            assert not wrong, f"{module} imports {wrong}; {package} may import only {allowed}"
