"""The package's import graph: no module imports itself through others (no import circle).

Every ``import`` and ``from … import`` of a ``spinodoid`` module counts, at module level or
inside a function (a lazy import only hides a circle until the function runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path, root: Path) -> str:
    """Dotted name of the module file ``path`` under ``root`` (a package's ``__init__.py`` is
    the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, modules: set[str], name: str) -> set[str]:
    """The modules of ``modules`` that the file ``path`` (module ``name``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module in modules and module != name}


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module → the package's modules it imports, for every module file of ``package``."""
    files = {module_name(p, root): p for p in (root / package).rglob("*.py")}
    return {name: imported_modules(path, set(files), name) for name, path in files.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph.get(node, ())):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_circle_in_src():
    graph = import_graph(SRC, "spinodoid")
    assert len(graph) > 40 and "spinodoid.solvers.multigrid" in graph
    assert "spinodoid.solvers.errors" in graph["spinodoid.solvers.multigrid"]
    assert import_cycles(graph) == []


def test_solver_package_layers():
    """errors imports nothing of the package; the back-end set-up only errors."""
    graph = import_graph(SRC, "spinodoid")
    assert graph["spinodoid.solvers.errors"] == set()
    assert graph["spinodoid.solvers.backend"] == {"spinodoid.solvers.errors"}


@pytest.mark.parametrize("lazy", [False, True])
def test_cycle_finder_sees_a_circle(tmp_path, lazy):
    """A two-module circle is found, also when one side imports inside a function."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import g\n\ndef f():\n    return g()\n")
    inner = "def g():\n    from pkg import a\n    return a\n" if lazy else "from pkg import a\n"
    (package / "b.py").write_text(inner)
    (package / "c.py").write_text("import pkg.a\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.c"] == {"pkg.a"}
    assert import_cycles(graph) == [["pkg.a", "pkg.b"]]
