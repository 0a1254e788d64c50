"""The package's layout: imports point one way, no cycles, run files named in runs/ alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from cli_runs import REPO

PACKAGE = REPO / "lightning_snnpriv"
#: Subpackage -> the subpackages (and top-level modules) it may import.
ALLOWED = {
    "attacks": {"errors"},
    "data": {"errors", "distributed"},
    "models": {"errors", "distributed"},
    "runs": {"attacks", "data", "errors"},
    "reports": {"attacks"},
    "callbacks": {"attacks", "distributed", "errors", "reports", "runs"},
    "sweeps": {"attacks", "errors", "reports", "runs"},
    "commands": {
        *("attacks", "callbacks", "data", "distributed", "errors", "models", "reports"),
        *("runs", "sweeps"),
    },
    "distributed": {"errors"},
    "errors": set(),
    # the Python API: the commands' layer, for callers in Python
    "api": {"attacks", "callbacks", "commands", "errors", "runs"},
    "examples": set(),  # what a user writes: no code of the package
}
RUN_FILES = ("config.yaml", "membership.npz", "signals.pt", "mia_results.json", "scores.pt",
             "report.html")  # fmt: skip


def _modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): path
        for path in PACKAGE.rglob("*.py")
    }


def _imports(path: Path) -> set[str]:
    """The lightning_snnpriv modules a file imports, at any depth (function-level too).

    ``from package import submodule`` imports the submodule, not the package's other names.
    """
    modules = _modules()
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found.update(name for name in names if name in modules)
            if not all(name in modules for name in names):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("lightning_snnpriv")}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_subpackages_import_only_what_the_layout_allows():
    for module, path in _modules().items():
        own = _part(module)
        if own not in ALLOWED:
            continue  # the package itself, __main__
        for target in _imports(path):
            other = _part(target)
            if other and other != own:
                assert other in ALLOWED[own], f"{module} imports {target}"


def test_no_import_cycle_between_modules():
    modules = _modules()
    graph = {m: {t for t in _imports(p) if t in modules and t != m} for m, p in modules.items()}
    for start in graph:
        seen, stack = set(), list(graph[start])
        while stack:
            node = stack.pop()
            assert node != start, f"import cycle through {start}"
            if node not in seen:
                seen.add(node)
                stack.extend(graph[node])


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400


def test_run_file_names_are_defined_in_runs_alone():
    for module, path in _modules().items():
        if _part(module) == "runs":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(
                getattr(node, "value", None), ast.Constant
            ):
                assert node.value.value not in RUN_FILES, f"{module} names {node.value.value}"


def test_no_loose_top_level_modules():
    loose = {p.name for p in PACKAGE.glob("*.py")}
    assert loose == {"__init__.py", "__main__.py", "api.py", "errors.py", "distributed.py"}
