"""Property-based fuzzing of configs and run files (issue 18): mutated shipped configs through
``fit`` and mutated run files through ``attack --run`` end in exit 0 with correct results or
exit 2 with one ``error:`` paragraph; never a traceback, a hang or a changed file
(``config_fuzz.py`` has the mutations and verdicts). A few cases in the default suite, hundreds
in ``slow``. The counts are printed at the end (``-s``) and, with ``LSP_FUZZ_COUNTS=<file>``,
written there as JSON.
"""

from __future__ import annotations

import collections
import json
import math
import os
from pathlib import Path

import pytest
from config_fuzz import config_cases, fit_case, run_file_case, run_file_cases
from hypothesis import HealthCheck, example, given, settings

COUNTS: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
FAILURES: dict[str, list] = collections.defaultdict(list)
CHECKS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
FUZZ = {"deadline": None, "derandomize": False, "suppress_health_check": CHECKS}
OK = ("ok", "refused")
#: Examples of each slow variant (``LSP_FUZZ_EXAMPLES`` to change it).
SLOW = int(os.environ.get("LSP_FUZZ_EXAMPLES", "300"))
BREAST_SNN = Path(__file__).resolve().parents[2] / "configs" / "breast_cancer_snn.yaml"


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    for name, counts in COUNTS.items():
        print(f"\n{name}: {sum(counts.values())} cases, {dict(counts)}")
        for line in FAILURES[name][:20]:
            print("  ", line[:500])
    if os.environ.get("LSP_FUZZ_COUNTS"):
        Path(os.environ["LSP_FUZZ_COUNTS"]).write_text(
            json.dumps({"counts": COUNTS, "failures": FAILURES}, indent=1, default=str)
        )


def _count(name: str, case, result: str) -> None:
    COUNTS[name]["exit 0" if result == "ok" else "exit 2" if result == "refused" else "bad"] += 1
    if result not in OK:
        FAILURES[name].append(f"{case}: {result}")
    assert result in OK, f"{case}: {result}"


def _fuzz_config(case, tmp_path_factory, name):
    path, muts = case
    _count(name, (path.name, muts), fit_case(tmp_path_factory.mktemp("cfg"), path, muts))


def _fuzz_run_file(case, finished_run, tmp_path_factory, name):
    file, mutation = case
    tmp = tmp_path_factory.mktemp("runfile")
    _count(name, (file, mutation), run_file_case(tmp, finished_run, file, mutation))


@settings(max_examples=8, **FUZZ)
@given(case=config_cases())
@example(case=(BREAST_SNN, [("set", ("model", "init_args", "threshold"), math.nan)]))
@example(case=(BREAST_SNN, [("duplicate", ("model", "class_path"), None)]))
@example(case=(BREAST_SNN, [("set", ("trainer", "accelerator"), None)]))  # found: a traceback
@example(case=(BREAST_SNN, [("set", ("data", "init_args", "num_shadows"), None)]))  # found
@example(case=(BREAST_SNN, [("set", ("model", "init_args", "threshold"), None)]))  # found
def test_fuzz_configs(case, tmp_path_factory):
    _fuzz_config(case, tmp_path_factory, "configs (default)")


@settings(max_examples=20, **FUZZ)
@given(case=run_file_cases())
@example(case=("membership.npz", ("truncate", 0.5)))
@example(case=("mia_results.json", ("rewrite", "value", [])))
def test_fuzz_run_files(case, finished_run, tmp_path_factory):
    _fuzz_run_file(case, finished_run, tmp_path_factory, "run files (default)")


@pytest.mark.slow
@settings(max_examples=SLOW, **FUZZ)
@given(case=config_cases())
def test_fuzz_configs_many(case, tmp_path_factory):
    _fuzz_config(case, tmp_path_factory, "configs (slow)")


@pytest.mark.slow
@settings(max_examples=2 * SLOW, **FUZZ)
@given(case=run_file_cases())
def test_fuzz_run_files_many(case, finished_run, tmp_path_factory):
    _fuzz_run_file(case, finished_run, tmp_path_factory, "run files (slow)")
