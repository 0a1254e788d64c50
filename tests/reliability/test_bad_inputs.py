"""Every bad input exits with code 2 and one short paragraph naming the field or file, no trace,
and leaves no run directory behind (issue 18, defects 7-10: the cases are in
``bad_input_cases.py``)."""

from __future__ import annotations

import pytest
from bad_input_cases import CASES, Case, fit_in
from cli_runs import run_cli
from mounts import read_only_dir


def test_the_table_is_large_and_distinct():
    assert len(CASES) >= 15
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_exits_2_with_a_readable_message(
    case: Case, finished_run, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # a case that wrongly starts a run writes its logs/ here
    args = case.build(tmp_path, finished_run)
    capsys.readouterr()
    assert run_cli(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    message = err[err.index("error: ") :]
    assert case.names in message
    assert len(message) < 1200, message  # a paragraph, not a usage wall
    assert err.count("error: ") == 1
    # validated before a run is created: no version_N holding only config.yaml and membership.npz
    if not case.during_training:
        assert not list(tmp_path.glob("**/version_*")), list(tmp_path.glob("**/version_*"))


def test_read_only_logs_directory_exits_2_naming_it(tmp_path, capsys):
    logs = tmp_path / "ro"
    with read_only_dir(logs):
        capsys.readouterr()
        assert run_cli(fit_in(logs)) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert "trainer.logger.init_args.save_dir" in err
        assert str(logs) in err
        assert not list(logs.glob("**/version_*"))
