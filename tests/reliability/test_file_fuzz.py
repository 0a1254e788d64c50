"""Property-based fuzzing of the image datasets' files (issue 18): random mutations of MNIST
idx files and CIFAR-10 batch pickles never end in another exception, a hang, a changed file,
code that ran, or data other than what the files hold (``file_fuzz.py`` has the mutations and
the verdicts). A few dozen cases per dataset in the default suite, thousands in ``slow``.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from cifar_reference import ReferenceReader
from cli_runs import run_cli
from file_fuzz import Mutation, apply, base_files, mutations, run_case
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

#: Counts of the verdicts per test, printed at the end (``-s``) and, with
#: ``LSP_FUZZ_COUNTS=<file>``, written there as JSON.
COUNTS: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
#: The mutations of the cases that are neither plain ``ok`` nor ``data-error``, to report.
NOTABLE: dict[str, list] = collections.defaultdict(list)
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FUZZ = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "derandomize": False}


@pytest.fixture(scope="module")
def reference():
    reader = ReferenceReader()
    yield reader
    log = reader.close()
    if log:
        print("\nreference reader's stderr:", log[-2000:])


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    for name, counts in COUNTS.items():
        print(f"\n{name}: {sum(counts.values())} cases, {dict(counts)}")
        for line in NOTABLE[name][:30]:
            print("  ", line)
    if os.environ.get("LSP_FUZZ_COUNTS"):
        summary = {"counts": COUNTS, "notable": NOTABLE}
        Path(os.environ["LSP_FUZZ_COUNTS"]).write_text(json.dumps(summary, indent=1))


def _fuzz(dataset: str, muts: list[Mutation], reference, name: str) -> None:
    verdict = run_case(dataset, muts, reference)
    COUNTS[name][verdict] += 1
    if verdict not in ("ok", "data-error"):
        NOTABLE[name].append(f"{verdict}: {muts}")


_VALID_CIFAR = [  # must load: the format's own variations
    [Mutation("repickle", "data_batch_1", ("py2",))],
    [Mutation("repickle", "test_batch", (0,))],
    [Mutation("rename_labels", "data_batch_2", ("fine_labels", 5))],
    [Mutation("labels_as", "data_batch_3", ("numpy scalars", 4))],
    [Mutation("data_as", "test_batch", ("fortran", "py2"))],
    [Mutation("drop_key", "data_batch_4", ("filenames", 1))],
]


@pytest.mark.parametrize("muts", _VALID_CIFAR, ids=lambda m: f"{m[0].kind}-{m[0].args[0]}")
def test_valid_variations_of_the_cifar_format_load_exactly(muts, reference):
    assert run_case("cifar10", muts, reference) == "ok", muts


@settings(max_examples=40, **FUZZ)
@given(muts=mutations("mnist"))
@example(muts=[Mutation("resize", "train", (25, 0))])
def test_fuzz_mnist_files(muts, reference):
    _fuzz("mnist", muts, reference, "mnist (default)")


@settings(max_examples=40, **FUZZ)
@given(muts=mutations("cifar10"))
@example(muts=[Mutation("payload", "data_batch_1", ("os.system", "whole"))])
def test_fuzz_cifar_files(muts, reference):
    _fuzz("cifar10", muts, reference, "cifar10 (default)")


@pytest.mark.slow
@settings(max_examples=2500, **FUZZ)
@given(muts=mutations("mnist"))
def test_fuzz_mnist_files_many(muts, reference):
    _fuzz("mnist", muts, reference, "mnist (slow)")


@pytest.mark.slow
@settings(max_examples=2500, **FUZZ)
@given(muts=mutations("cifar10"))
def test_fuzz_cifar_files_many(muts, reference):
    _fuzz("cifar10", muts, reference, "cifar10 (slow)")


@settings(max_examples=2, **FUZZ)
@given(dataset=st.sampled_from(["mnist", "cifar10"]), data=st.data())
def test_broken_files_through_the_cli_exit_2_with_one_paragraph(dataset, data, tmp_path_factory):
    """The same mutations through ``main([...])``: exit 2, one ``error:`` paragraph, no trace.
    Truncations only, so that every case is broken (a valid one would train)."""
    files = (["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] if dataset == "mnist"
             else ["data_batch_3", "batches.meta"])  # fmt: skip
    at = data.draw(st.integers(0, 2000))
    muts = [Mutation("truncate", data.draw(st.sampled_from(files)), (at,))]
    tmp = tmp_path_factory.mktemp("cli")
    shutil.copytree(base_files(dataset), tmp / "data")
    apply(dataset, tmp / "data", muts, tmp / "code_ran")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = run_cli([
            "fit", "--config", str(CONFIGS / f"{dataset}_ann.yaml"),
            "--data.init_args.verify_checksums=false", f"--data.init_args.data_dir={tmp / 'data'}",
            f"--trainer.logger.init_args.save_dir={tmp / 'logs'}",
            "--trainer.enable_progress_bar=false", "--model.init_args.hidden_sizes=[8]",
        ])  # fmt: skip
    text = err.getvalue()
    assert code == 2, text
    assert "Traceback" not in text
    assert text.count("error:") == 1
    message = text[text.index("error:") :].strip()
    assert "\n" not in message
    assert muts[0].file in message
