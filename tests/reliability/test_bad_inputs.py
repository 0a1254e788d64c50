"""Every bad input exits with code 2 and one short paragraph naming the field or file, no trace."""

from __future__ import annotations

import pytest
from bad_input_cases import CASES, Case
from cli_runs import run_cli


def test_the_table_is_large_and_distinct():
    assert len(CASES) >= 15
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_exits_2_with_a_readable_message(case: Case, finished_run, tmp_path, capsys):
    args = case.build(tmp_path, finished_run)
    capsys.readouterr()
    assert run_cli(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    message = err[err.index("error: ") :]
    assert case.names in message
    assert len(message) < 1200, message  # a paragraph, not a usage wall
