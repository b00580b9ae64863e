"""Import structure of the whole package: no circles, and every layer imports only layers below.

Reads the sources (module-level and function-level imports alike), so a lazy import inside a
function that closes a circle is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ("jaxgan.models", "jaxgan.losses", "jaxgan.penalties", "jaxgan.augment", "jaxgan.state",
        "jaxgan.steps")  # fmt: skip
ENGINE = ("jaxgan.loop", "jaxgan.hooks", "jaxgan.ensembles", "jaxgan.sweeps", "jaxgan.sharding",
          "jaxgan.tboard", "jaxgan.tbevents",
          "jaxgan.sampling", "jaxgan.checkpoint", "jaxgan.viz", "jaxgan.compile_cache")  # fmt: skip
# each layer (a group of modules and packages) and what it may import from jaxgan besides itself
# "base": how programs are compiled (XLA:CPU's convolution library), used by core and metrics alike
LAYERS = {
    "base": (("jaxgan.xla_cpu",), ()),
    "core": (CORE, ("base",)),
    "data": (("jaxgan.data",), ()),
    "metrics": (("jaxgan.metrics",), ("base", "data")),
    "engine": (ENGINE, ("base", "core", "data", "metrics")),
    "experiment": (("jaxgan.experiment", "jaxgan.presets"),
                   ("base", "core", "data", "metrics", "engine")),
    "apps": (("jaxgan.apps",), ("base", "core", "data", "metrics", "engine", "experiment")),
    "cli": (("jaxgan.cli", "jaxgan.__main__"),
            ("base", "core", "data", "metrics", "engine", "apps", "experiment")),
}  # fmt: skip
PACKAGES = tuple(LAYERS)


def _layer(module: str) -> str | None:
    for layer, (members, _) in LAYERS.items():
        if any(module == m or module.startswith(f"{m}.") for m in members):
            return layer
    return None


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "jaxgan").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
            submodules = [n for n in names if n in known]
            if len(submodules) < len(names):
                targets.add(node.module)  # `from jaxgan import data` needs only jaxgan.data
            targets.update(submodules)
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
                return [*path[path.index(nxt) :], nxt] if nxt in path else [*path, nxt]
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


def test_every_module_belongs_to_a_layer(graph):
    unplaced = sorted(m for m in graph if m != "jaxgan" and _layer(m) is None)
    assert not unplaced, f"modules outside the layer table: {unplaced}"


@pytest.mark.parametrize("layer", PACKAGES)
def test_layers_import_only_layers_below(graph, layer):
    allowed = {layer, *LAYERS[layer][1]}
    for module, targets in graph.items():
        if _layer(module) != layer:
            continue
        wrong = sorted(t for t in targets if _layer(t) not in allowed)
        assert not wrong, f"{module} imports {wrong}; the {layer} layer may import {allowed}"
