"""The code is layered in the order data flows: each package imports only the ones below it.

Every import counts, also one inside a function or under TYPE_CHECKING: a lazy import is still
a dependency a reader has to hold in mind, and a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cockpit", "screens", "widgets")

# Lowest first. A module belongs to the longest prefix listed here; a module of the top-level
# `cockpit` package matching none of them is the ground floor (config, model, units, clock…).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cockpit",),
    ("cockpit.io",),
    ("cockpit.sources",),
    ("cockpit.journal",),
    ("cockpit.live",),
    ("cockpit.rules",),
    ("cockpit.actions",),
    ("cockpit.session",),
    ("cockpit.review",),
    ("cockpit.sandbox",),
    ("widgets",),
    ("screens",),
    ("cockpit.app",),
    ("cockpit.commands",),
    ("cockpit.__main__",),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterable[str]:
    """Every dotted name the module imports, relative imports resolved, names kept as written."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def project_target(name: str, modules: Mapping[str, Path]) -> str | None:
    """The project module an imported name lands in (a module, or the package holding a name)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = (
            project_target(name, modules)
            for name in imported_names(tree, module, path.name == "__init__.py")
        )
        graph[module] = {t for t in targets if t is not None and t != module}
    # `from cockpit.x import y` names the package cockpit.x too; a package face is no edge.
    for module, targets in graph.items():
        graph[module] = {t for t in targets if not _is_parent_package(t, module, modules)}
    return graph


def _is_parent_package(target: str, module: str, modules: Mapping[str, Path]) -> bool:
    return modules[target].name == "__init__.py" and (
        module.startswith(target + ".") or target in PACKAGES
    )


def layer_of(module: str) -> int:
    """The index in LAYERS of the longest prefix that holds the module."""
    best, best_length = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            holds = module == prefix or module.startswith(prefix + ".")
            if holds and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    assert best >= 0, f"{module} is on no layer: add it to LAYERS"
    return best


def back_edges(graph: Mapping[str, set[str]]) -> list[str]:
    """Imports from a lower layer up to a higher one."""
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    )


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_is_on_a_layer() -> None:
    for module in project_modules():
        layer_of(module)


KNOWN_BACK_EDGES: list[str] = []


def test_imports_only_go_down() -> None:
    assert back_edges(import_graph()) == KNOWN_BACK_EDGES


def test_no_import_cycles_between_files() -> None:
    assert cycles(import_graph()) == []


def test_a_back_edge_is_caught() -> None:
    graph = {"cockpit.sources.dns": {"cockpit.rules.guards"}, "cockpit.rules.guards": set()}
    assert back_edges(graph) == ["cockpit.sources.dns -> cockpit.rules.guards"]


def test_a_cycle_is_caught() -> None:
    graph = {"cockpit.a": {"cockpit.b"}, "cockpit.b": {"cockpit.c"}, "cockpit.c": {"cockpit.a"}}
    assert cycles(graph) == [["cockpit.a", "cockpit.b", "cockpit.c"]]


def test_the_graph_sees_lazy_imports() -> None:
    graph = import_graph()
    assert "cockpit.commands.launch" in graph["cockpit.commands.cli"]
