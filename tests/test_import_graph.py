"""The package's import graph: layered, and without cycles between modules.

Read from the source with `ast` (nothing is imported). Every `import` counts, at module level or inside a
function, except those under `if TYPE_CHECKING:`: they name a class for annotations only and create no
dependency when the code runs (an SAE type in the engine, the model type in analyses).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "backend" / "loupe"

# From the bottom up; a module may import its own layer and those below, never one above. The longest
# matching prefix places a module. `loupe` itself (its __init__, the public API) sits on top.
LAYERS: list[tuple[str, ...]] = [
    ("loupe.errors", "loupe.version"),
    ("loupe.models", "loupe.codec", "loupe.wire"),  # architectures and configs; the wire encoding and types
    ("loupe.hooks",),  # hook points, interventions, what a forward pass reads
    ("loupe.engine",),  # HookedModel, loading, runs, generation, the batching scheduler
    ("loupe.analysis", "loupe.features"),  # interpretability on top of runs
    ("loupe.server", "loupe.client", "loupe.scale", "loupe.notebook"),  # the wire and what serves it
    ("loupe.cli", "loupe.bench", "loupe"),  # commands and the package's public surface
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best, layer = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            inside = prefix != "loupe" and module.startswith(prefix + ".")  # `loupe` is the root module alone
            if (module == prefix or inside) and len(prefix) > best:
                best, layer = len(prefix), i
    assert layer >= 0, f"{module} is in no layer: add it to LAYERS"
    return layer


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules `path` imports when it runs (a name imported from a package may be a module)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "loupe")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "loupe":
            base = node.module or ""
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found - {module_name(path)}


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: imports(p, set(files)) for m, p in files.items()}


def test_no_import_runs_up_a_layer() -> None:
    bad = [
        f"{a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})"
        for a, targets in sorted(graph().items())
        for b in sorted(targets)
        if layer_of(b) > layer_of(a)
    ]
    assert not bad, "\n".join(bad)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk closes, as the modules along it."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == 1:
                found.append([*path[path.index(n) :], n])
            elif n not in state:
                walk(n)
        path.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            walk(m)
    return found


def test_no_import_cycle_between_modules() -> None:
    found = cycles(graph())
    assert not found, "\n".join(" -> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("module", "layer"), [("loupe.engine.model", 3), ("loupe.features.sae", 4), ("loupe", 6), ("loupe.cli", 6)]
)
def test_layers_are_read_by_longest_prefix(module: str, layer: int) -> None:
    assert layer_of(module) == layer


def test_a_new_top_level_module_must_be_placed() -> None:
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("loupe.somewhere_new")


def test_the_graph_holds_runtime_imports_and_the_walk_finds_cycles() -> None:
    edges = graph()
    assert "loupe.engine.runner" in edges["loupe.engine.model"]  # imported inside HookedModel.run
    assert "loupe.engine.model" not in edges["loupe.analysis.steering"]  # under TYPE_CHECKING only
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
