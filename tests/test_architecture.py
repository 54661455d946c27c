"""The package's shape: no import circle at module level, the command line imported by nobody,
and import-linter's layer contracts (pyproject.toml) kept."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "handgrad"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(module: str, node: ast.stmt) -> list[str]:
    """The handgrad modules one import statement loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}".rstrip(".")
    found = [base] if base in MODULES else []
    found += [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
    return found


def _top_level_imports(module: str, body: list[ast.stmt]) -> set[str]:
    """Imports that run when the module is imported: not inside functions or TYPE_CHECKING."""
    found: set[str] = set()
    for node in body:
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                found |= _top_level_imports(module, node.body)
            found |= _top_level_imports(module, node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                found |= _top_level_imports(module, block)
            for handler in node.handlers:
                found |= _top_level_imports(module, handler.body)
        else:
            found.update(_imported(module, node))
    return found


def _all_imports(module: str) -> set[str]:
    """Every import anywhere in the module, function bodies included."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    return {
        name for node in ast.walk(tree) if isinstance(node, ast.stmt)
        for name in _imported(module, node)
    }


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = _top_level_imports(module, tree.body) - {module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
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
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_at_module_level() -> None:
    graph = _graph()
    assert "handgrad.solver" in graph["handgrad"]  # the walk sees real imports
    # a package's __init__ importing its own submodules is how packages work, not a circle
    for module in graph:
        graph[module] = {t for t in graph[module] if not module.startswith(t + ".")}
    assert _cycles(graph) == []


def test_nothing_outside_the_command_line_imports_it() -> None:
    importers = sorted(
        module
        for module in MODULES
        if not module.startswith("handgrad.cli")
        and any(name.startswith("handgrad.cli") for name in _all_imports(module))
    )
    assert importers == ["handgrad.__main__"]


LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")
def test_import_linter_contracts_are_kept() -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS)], capture_output=True, text=True,
        cwd=PACKAGE.parents[1],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
