"""The layers and the import graph: `hw` never imports `firmware` or `panel`, `firmware` never
imports `panel`, and inside `hw` and inside `firmware` no module imports itself round a cycle.

Imports are read from the source (every `import` statement, those under `TYPE_CHECKING` too), so
a cycle that only the type checker sees counts as one. Inside `panel` (the operator's side, whose
modules name each other's types) an import under `TYPE_CHECKING` does not count, but a deferred
one (inside a function) does: it is a cycle all the same, only taken later.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "hw": "estudio190f.hw",
    "firmware": "estudio190f.firmware",
    "panel": "estudio190f.panel",
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    parts[0] = PACKAGES[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _nodes(tree: ast.AST, typing: bool) -> list[ast.AST]:
    """Every node of `tree`; without `typing`, not those under `if TYPE_CHECKING:`."""
    if typing:
        return list(ast.walk(tree))
    found: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


def imports_of(path: Path, typing: bool = True) -> set[str]:
    """Every estudio190f module `path` imports (a `from X import name` counts as X, or as X.name
    when that is a module of ours); without `typing`, leaving out those under TYPE_CHECKING."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _nodes(ast.parse(path.read_text(), str(path)), typing):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.startswith("estudio190f.")}


def graph(typing: bool = True) -> dict[str, set[str]]:
    modules = {
        module_name(p): p
        for folder in PACKAGES
        for p in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    return {name: imports_of(path, typing) & set(modules) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_hw_imports_neither_firmware_nor_panel():
    bad = {
        (m, i)
        for m, deps in graph().items()
        if m.startswith("estudio190f.hw")
        for i in deps
        if i.startswith(("estudio190f.firmware", "estudio190f.panel"))
    }
    assert bad == set()


def test_firmware_never_imports_panel():
    bad = {
        (m, i)
        for m, deps in graph().items()
        if m.startswith("estudio190f.firmware")
        for i in deps
        if i.startswith("estudio190f.panel")
    }
    assert bad == set()


def test_no_import_cycle_inside_hw_or_firmware():
    edges = graph()
    for layer in ("estudio190f.hw", "estudio190f.firmware"):
        inside = {
            m: {d for d in deps if d.startswith(layer) and d != m}
            for m, deps in edges.items()
            if m.startswith(layer)
        }
        # A package's __init__ naming its own modules is not a cycle through them.
        for m in inside:
            inside[m] = {d for d in inside[m] if not (m.startswith(d + ".") and d in inside)}
        assert cycles(inside) == [], layer


def test_no_import_cycle_inside_panel_deferred_imports_included():
    layer = "estudio190f.panel"
    inside = {
        m: {d for d in deps if d.startswith(layer) and d != m}
        for m, deps in graph(typing=False).items()
        if m.startswith(layer)
    }
    assert cycles(inside) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
