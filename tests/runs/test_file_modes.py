"""One permission policy for run files (issue 18, defect 10): results files were created 0600
(``mkstemp``) while the rest of a run was 0644; now every run file gets the mode ``open()``
creates (0666 less the umask)."""

from __future__ import annotations

import os
import stat

from lightning_snnpriv.runs.files import FILE_MODE, write_json


def test_results_files_get_the_same_mode_as_the_rest_of_the_run(finished_run, tmp_path):
    mask = os.umask(0o022)
    try:
        written = write_json(tmp_path / "r.json", {"a": 1})
        plain = tmp_path / "plain"
        plain.write_text("x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o644
    assert FILE_MODE & ~0o022 == 0o644
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in finished_run.rglob("*") if p.is_file()}
    assert len(set(modes.values())) == 1, modes  # results, scores, figures, plan, checkpoints
