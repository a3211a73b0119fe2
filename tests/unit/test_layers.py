"""The dependency rule, read from the source: which project package imports which, and no cycles in application/.

Every import counts, wherever it stands: at the top, inside a function, or under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "application", "adapters", "simulator")
FORBIDDEN = {
    "domain": {"application", "adapters", "simulator"},
    "application": {"adapters", "simulator"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imported_by(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules (or packages) one module imports; `from p import m` counts m when it is a module."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target.split(".")[0] in PACKAGES)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imported_by(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_scan_sees_the_packages_and_their_imports() -> None:
    graph = import_graph()
    assert {"domain.charger", "application.gateway", "adapters.bootstrap", "simulator.fleet"} <= set(graph)
    assert "application.gateway" in graph["adapters.bootstrap"]
    assert "domain.catalog" in graph["application.ports"]


def test_no_import_cycle_among_application_modules() -> None:
    graph = import_graph()
    application = {
        name: {target for target in targets if target.split(".")[0] == "application"}
        for name, targets in graph.items()
        if name.split(".")[0] == "application"
    }
    assert cycles(application) == []


def violations(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        for target in targets
        if target.split(".")[0] in FORBIDDEN.get(name.split(".")[0], set())
    )


def test_inner_layers_import_no_outer_layer() -> None:
    assert violations(import_graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_rule_finds_an_inner_layer_importing_an_outer_one() -> None:
    graph = {
        "domain.charger": {"application.ports"},
        "application.gateway": {"domain.charger", "simulator.fleet"},
        "simulator.fleet": {"application.gateway", "adapters.bootstrap"},
        "adapters.bootstrap": {"application.gateway", "simulator.fleet"},
    }
    assert violations(graph) == [
        "application.gateway imports simulator.fleet",
        "domain.charger imports application.ports",
    ]
