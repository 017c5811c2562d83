"""The package's structure: no import cycles, no CLI in the library, no private reaches."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "llm_market"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(name: str, path: Path, known: set[str], top_level_only: bool) -> set[str]:
    """The package modules ``name`` imports (``TYPE_CHECKING`` blocks left out)."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = name.split(".") if is_pkg else name.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        return ".".join(base + ([node.module] if node.module else []))

    def visit(body, nested: bool) -> None:
        for node in body:
            if isinstance(node, ast.If) and _is_type_checking(node):
                continue
            if isinstance(node, ast.Import) and not (nested and top_level_only):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not (nested and top_level_only):
                target = resolve(node)
                out.add(target)
                # "from pkg import module" imports the module too.
                out.update(f"{target}.{a.name}" for a in node.names)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    is_def = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                    visit(inner, nested or is_def)

    visit(tree.body, nested=False)
    return {m for m in out if m in known and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := dfs(node)):
            return found
    return None


@pytest.mark.parametrize("top_level_only", [True, False], ids=["import-time", "with-lazy"])
def test_no_import_cycles(top_level_only):
    mods = modules()
    known = set(mods)
    # A package's __init__ that only re-exports is not a dependency of its modules.
    graph = {n: imports(n, p, known, top_level_only) for n, p in mods.items()}
    for n in graph:
        graph[n] = {m for m in graph[n] if not n.startswith(m + ".")}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_library_never_imports_the_command_line():
    mods = modules()
    known = set(mods)
    offenders = {
        n: sorted(m for m in imports(n, p, known, False) if m.startswith("llm_market.cli"))
        for n, p in mods.items()
        if not n.startswith("llm_market.cli")
    }
    assert {n: m for n, m in offenders.items() if m} == {}


def test_no_private_reaches_across_objects():
    found = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or (attr.startswith("__") and attr.endswith("__")):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            # super() is the same object, seen from its base class (an override's own call).
            if isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super":
                continue
            found.append(f"{name}:{node.lineno} .{attr}")
    assert found == []
