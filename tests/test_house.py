"""The house's own rules, checked: modules of one idea, short functions, no back doors.

Modules of ``ingest/``, ``retriever/``, ``ui/`` and ``eval/`` stay under 400 lines and
their functions under 80 lines of code (docstrings not counted: they are the documentation
the style asks for); no module imports another's ``_private`` names; ``retriever`` imports
none of the faces, and ``eval`` not the UI; and the CLI's ``--help`` loads nothing heavy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("ingest", "retriever", "ui", "eval")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
#: package → packages it may not import (DESIGN.md, "The pipeline").
FORBIDDEN = {"retriever": ("ui", "eval", "ingest"), "ingest": ("ui", "eval"), "eval": ("ui",)}


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
        lines -= first.end_lineno - first.lineno + 1  # type: ignore[operator]
    return lines


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_are_small_and_import_only_what_they_may(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_MODULE_LINES, "split the module along its ideas"
    tree = ast.parse(source)
    package = path.relative_to(ROOT).parts[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert _code_lines(node) <= MAX_FUNCTION_LINES, node.name
        if isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            assert top not in FORBIDDEN.get(package, ()), f"{package} imports {node.module}"
            if top in PACKAGES:
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"imports private {private} from {node.module}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                assert top not in FORBIDDEN.get(package, ()), f"{package} imports {alias.name}"


def _imports(path: Path) -> set[str]:
    """The modules of the project ``path`` imports, at any depth of the code."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out.update(n for n in names if n.split(".")[0] in PACKAGES)
    return out


def test_no_module_imports_itself_through_others() -> None:
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts): p
        for p in _modules()
        if p.name != "__init__.py"
    }
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(path[path.index(n) :] + [n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == [], cycles[:3]
