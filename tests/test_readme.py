"""The README and the docs: their Python examples run, their commands are CI's, tables derive."""

from __future__ import annotations

import doctest
import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest
from cli_runs import REPO

README = REPO / "README.md"
#: Pages whose ```python blocks are doctests (``>>>``), run in a fresh directory.
DOCTESTED = [README, REPO / "docs" / "guide" / "python_api.md"]


def _python_blocks(path: Path) -> str:
    return "\n".join(re.findall(r"```python\n(.*?)```", path.read_text(), re.DOTALL))


@pytest.mark.parametrize("path", DOCTESTED, ids=lambda p: p.name)
def test_python_examples_run_as_doctests(path, tmp_path, monkeypatch):
    (tmp_path / "configs").symlink_to(REPO / "configs")  # the examples' relative config paths
    monkeypatch.chdir(tmp_path)  # their logs/ land here
    source = _python_blocks(path)
    assert ">>>" in source, f"{path.name} has no doctest example"
    test = doctest.DocTestParser().get_doctest(source, {}, path.name, str(path), 0)
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def _commands(text: str) -> list[str]:
    """The ``python -m pytest ...`` commands of a text, each with its environment prefix."""
    found = re.findall(r"(?:\w+=\S+ )*python -m pytest [^\n&|`]*", text)
    return [command.strip() for command in found]


def test_the_readme_test_command_is_the_one_ci_runs():
    (ci,) = _commands((REPO / ".ci" / "run").read_text())
    readme = _commands(README.read_text())
    assert readme, "the README has no test command"
    *env, command = re.match(r"((?:\w+=\S+ )*)(.*)", ci).groups()
    assert env[0].split() == ["SNNPRIV_REQUIRE_SLURM=1", "SNNPRIV_REQUIRE_CHROMIUM=1"]
    assert all(shlex.split(c) == shlex.split(command) for c in readme), (readme, command)


def test_the_readme_is_short():
    assert len(README.read_text().splitlines()) <= 200


def _hook():
    path = REPO / "docs" / "hooks" / "benchmark_tables.py"
    spec = importlib.util.spec_from_file_location("benchmark_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_performance_tables_are_generated_from_every_result_file():
    hook = _hook()
    pages = {p: p.read_text() for p in (REPO / "docs").rglob("*.md")}
    named = {
        n for text in pages.values() for m in hook.MARKER.finditer(text) for n in m["files"].split()
    }
    # benchmark results (benchmarks.common's format: a list of rows); other JSON files there are
    # analyses written by scripts (e.g. issue13_before_after.json), shown as Markdown beside them
    results = {
        p.name
        for p in (REPO / "benchmarks" / "results").glob("*.json")
        if isinstance(json.loads(p.read_text()).get("rows"), list)
    }
    current = {name for name in results if name.count(".") == 1}  # not the kept older ones
    assert named == current
    page = pages[REPO / "docs" / "guide" / "performance.md"]
    rendered = hook.on_page_markdown(page)
    assert "<!-- benchmark:" not in rendered
    rows = json.loads((REPO / "benchmarks" / "results" / "memory.json").read_text())["rows"]
    assert f"| {rows[0]['config']} |" in rendered  # the numbers come from the file


def test_a_marker_naming_a_missing_result_fails_the_build():
    with pytest.raises(FileNotFoundError):
        _hook().on_page_markdown("<!-- benchmark: no_such_benchmark.json -->")
