"""The sweep directory: the one place that names a sweep's files.

::

    <output_dir>/<name>/
      manifest.json                 the sweep's definition and points (older: manifest.<k>.json)
      runs/<point name>/version_N/  each point's run directories (lightning_snnpriv.runs); the
                                    name is short (``breast_cancer_ann-w4-s0-5db2b34ea6``), the
                                    manifest maps it to the point's id and settings
      runs/<point name>/attempts/   attempt_<k>.json, .out, .err: command, exit code, wall time
      report_<N>/                   each report (results.csv, summary.*, figures/, curves/, events)
      slurm/submission_<k>.json     SLURM launcher: the job of each point it submitted (k-th call)
      slurm/jobs/                   submitit's job folder (pickles, <job id>_<task>_log.{out,err})

Run directories are read through :mod:`lightning_snnpriv.runs`; files are written once and
atomically (:mod:`lightning_snnpriv.runs.files`). A sweep written before the short names
(``runs/config=breast_cancer_ann,weight_bits=full,...-<id>``) keeps its directories: a point
whose id a manifest of the sweep lists under a directory that exists uses that directory
(:meth:`SweepDir.with_saved_names`), so nothing finished is run again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.runs import RunDir
from lightning_snnpriv.runs.files import write_json
from lightning_snnpriv.runs.resume import newest_complete
from lightning_snnpriv.sweeps.spec import Point, SweepSpec, is_seed_key

MANIFEST_FILE = "manifest.json"
RUNS_DIR = "runs"
ATTEMPTS_DIR = "attempts"
REPORT_PREFIX = "report_"
SLURM_DIR = "slurm"
SUBMISSION_PREFIX = "submission_"


@dataclass(frozen=True)
class SweepDir:
    """A sweep directory (``<output_dir>/<name>``).

    Example:
        >>> sweep = SweepDir(Path("logs/sweeps/demo"))
        >>> sweep.point_dir("s0-5db2b34ea6").relative_to(sweep.path).as_posix()
        'runs/s0-5db2b34ea6'
    """

    path: Path

    @property
    def runs_dir(self) -> Path:
        """``runs/``: the logger's ``save_dir`` of every point's fits."""
        return self.path / RUNS_DIR

    @property
    def manifest_file(self) -> Path:
        """``manifest.json``."""
        return self.path / MANIFEST_FILE

    def point_dir(self, name: str) -> Path:
        """Where a point's run directories (``version_N``) and attempts live."""
        return self.runs_dir / name

    def saved_names(self) -> dict[str, str]:
        """Point id -> the directory name a manifest of this sweep gave it, where that exists.

        Read from ``manifest.json`` and the older ``manifest.<k>.json`` (the newest wins);
        unreadable manifests are passed over (:meth:`write_manifest` reports them).
        """
        files = sorted(self.path.glob("manifest.*.json"), key=_manifest_order)
        names: dict[str, str] = {}
        for path in [*files, self.manifest_file]:
            try:
                points = read_manifest(path)["points"] if path.is_file() else []
            except UsageError:
                continue
            for point in points:
                point = point if isinstance(point, dict) else {}
                point_id, name = point.get("id"), point.get("name")
                found = _plain_name(name) and self.point_dir(name).is_dir()
                if isinstance(point_id, str) and found:
                    names[point_id] = name
        return names

    def with_saved_names(self, points: Sequence[Point]) -> list[Point]:
        """``points``, each in the directory this sweep already gave it (an older name) if any."""
        saved = self.saved_names()
        return [
            replace(p, dir_name=saved[p.id]) if saved.get(p.id, p.name) != p.name else p
            for p in points
        ]

    def finished_run(self, name: str) -> RunDir | None:
        """The newest run directory of a point that holds its audit results."""
        return newest_complete(self.point_dir(name))

    def attempts(self, name: str) -> list[dict[str, Any]]:
        """The point's attempt records, oldest first."""
        files = sorted(
            (self.point_dir(name) / ATTEMPTS_DIR).glob("attempt_*.json"),
            key=lambda p: int(p.stem.removeprefix("attempt_")),
        )
        return [json.loads(f.read_text()) for f in files]

    def new_attempt(self, name: str) -> tuple[int, Path, Path, Path]:
        """The next attempt of a point: its number and its record, stdout and stderr files."""
        folder = self.point_dir(name) / ATTEMPTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        number = len(list(folder.glob("attempt_*.json")))
        while any((folder / f"attempt_{number}.{ext}").exists() for ext in ("json", "err")):
            number += 1
        return number, *(folder / f"attempt_{number}.{ext}" for ext in ("json", "out", "err"))

    @property
    def jobs_dir(self) -> Path:
        """``slurm/jobs/``: submitit's folder of the sweep's SLURM jobs."""
        return self.path / SLURM_DIR / "jobs"

    def submissions(self) -> list[dict[str, Any]]:
        """The SLURM launcher's submission records, oldest first (``[]`` for a local sweep)."""
        files = sorted(
            (self.path / SLURM_DIR).glob(f"{SUBMISSION_PREFIX}*.json"),
            key=lambda p: int(p.stem.removeprefix(SUBMISSION_PREFIX)),
        )
        return [json.loads(f.read_text()) for f in files]

    def write_submission(self, submission: Mapping[str, Any]) -> Path:
        """Write the next ``slurm/submission_<k>.json`` (never overwriting one)."""
        folder = self.path / SLURM_DIR
        folder.mkdir(parents=True, exist_ok=True)
        k = len(list(folder.glob(f"{SUBMISSION_PREFIX}*.json")))
        while True:
            try:
                return write_json(folder / f"{SUBMISSION_PREFIX}{k}.json", submission)
            except UsageError:  # written meanwhile by another client
                k += 1

    def write_manifest(self, spec: SweepSpec, points: Sequence[Point]) -> Path:
        """Write ``manifest.json`` (the sweep's definition and points).

        An existing manifest with the same points is kept; one with other points (the sweep
        config changed) is renamed to ``manifest.<k>.json``, never overwritten.
        """
        manifest = {
            "name": spec.name,
            "spec": spec.to_dict(),
            "axes": list(spec.axes),
            "seed_axes": [k for k in spec.axes if is_seed_key(k)],
            "points": [
                {
                    "id": p.id,
                    "name": p.name,
                    "swept": p.swept(),
                    "overrides": p.overrides,
                    "dir": str(self.point_dir(p.name).resolve()),
                }
                for p in points
            ],
        }
        path = self.manifest_file
        if path.exists():
            if _same_points(read_manifest(path), manifest):
                return path
            k = 0
            while (self.path / f"manifest.{k}.json").exists():
                k += 1
            path.rename(self.path / f"manifest.{k}.json")
            print(f"sweep definition changed: previous manifest kept as manifest.{k}.json")
        try:
            return write_json(path, manifest)
        except UsageError:  # written at the same moment by another task of the same sweep
            if not _same_points(read_manifest(path), manifest):
                raise
            return path

    def load_manifest(self) -> dict[str, Any]:
        """The sweep's manifest (:class:`UsageError` when this is not a sweep directory)."""
        if not self.manifest_file.is_file():
            raise UsageError(
                f"{self.path} is not a sweep directory (no {MANIFEST_FILE}); pass the directory a "
                "`sweep` command created, e.g. logs/sweeps/<name>."
            )
        return read_manifest(self.manifest_file)

    def reports(self) -> list[Path]:
        """The existing ``report_<N>`` directories."""
        return [
            p
            for p in self.path.glob(f"{REPORT_PREFIX}*")
            if p.name.removeprefix(REPORT_PREFIX).isdigit()
        ]

    def new_report_dir(self) -> Path:
        """Create ``report_<N>`` with the next free N."""
        n = 1 + max((int(p.name.removeprefix(REPORT_PREFIX)) for p in self.reports()), default=-1)
        while True:
            path = self.path / f"{REPORT_PREFIX}{n}"
            try:
                path.mkdir()
                return path
            except FileExistsError:
                n += 1


def read_manifest(path: Path) -> dict[str, Any]:
    """A sweep manifest, or a :class:`UsageError` naming it when it is not one."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        manifest = err
    if not isinstance(manifest, dict) or not isinstance(manifest.get("points"), list):
        raise UsageError(
            f"{path}: not a readable sweep manifest (truncated or edited). Move it away: the next "
            "`sweep` run writes it again from the sweep config."
        )
    return manifest


def _plain_name(name: Any) -> bool:
    """A non-empty directory name without separators (a manifest's point name)."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name


def _manifest_order(path: Path) -> int:
    """``manifest.<k>.json`` -> ``k`` (other names first)."""
    k = path.name.removeprefix("manifest.").removesuffix(".json")
    return int(k) if k.isdigit() else -1


def _same_points(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return old.get("points") == json.loads(json.dumps(new["points"]))
