"""The import graph, read from the source (AST, lazy imports inside functions included).

The floors (docs/architecture.md): the ground floor ``common/`` imports nothing of the project;
devices/, results/, exporters/ and the libraries (harness.metrics, harness.pipeline, harness.data)
never import the app part of harness/; no two modules import each other, directly or around a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "harness", "devices", "results", "exporters")
LIBRARIES = ("harness.metrics", "harness.pipeline", "harness.data")
# The one deliberate upward import: INT8 calibration feeds the network through the inference letterbox
# (harness.pipeline, a library on floor 2) so calibration sees exactly what inference sees.
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[_module_name(path)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import names (``a.b.c`` -> the longest existing prefix), or None."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports anywhere in its body (lazy imports included)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                names = [mod] + [f"{mod}.{a.name}" for a in node.names]
            else:
                continue
            for n in names:
                target = _resolve(n, modules)
                if target is not None and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def _floor_of(module: str) -> str:
    if module.startswith(LIBRARIES):
        return "library"
    return module.split(".")[0]


def _is_app(module: str) -> bool:
    return module.split(".")[0] == "harness" and not module.startswith(LIBRARIES)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_cycle():
    graph = import_graph()
    # importing a.b.c runs a/__init__ and a/b/__init__: a package's __init__ importing its own child is not a cycle
    trimmed = {m: {t for t in ts if t not in _parents(m) and m not in _parents(t)} for m, ts in graph.items()}
    assert _cycles(trimmed) == []


def test_ground_floor_imports_nothing_of_the_project():
    graph = import_graph()
    bad = {m: sorted(t for t in ts if not t.startswith("common")) for m, ts in graph.items() if m.startswith("common")}
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_nothing_below_the_app_imports_the_app():
    graph = import_graph()
    bad = {}
    for m, ts in graph.items():
        if _is_app(m):
            continue
        up = sorted(t for t in ts if _is_app(t) and t != "harness" and (m, t) not in ALLOWED_UPWARD)
        if up:
            bad[m] = up
    assert bad == {}


@pytest.mark.parametrize("lower,upper", [("devices", "exporters"), ("results", "exporters"), ("results", "devices"),
                                          ("devices", "results"), ("library", "exporters"), ("library", "devices"),
                                          ("library", "results")])
def test_dependencies_point_down(lower, upper):
    graph = import_graph()
    bad = {m: sorted(t for t in ts if _floor_of(t) == upper and (m, t) not in ALLOWED_UPWARD)
           for m, ts in graph.items() if _floor_of(m) == lower}
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_the_graph_is_read():
    """The reader itself: a lazy import inside a function is an edge (so the checks above can fail)."""
    graph = import_graph()
    assert "common.errors" in graph["harness.cli"]
    assert any(t.startswith("exporters") for t in graph["harness.plan"])  # the run's plan imports lazily
