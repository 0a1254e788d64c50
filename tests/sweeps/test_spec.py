"""Sweep configs: validation, points, dry run and commands for a scheduler.

The real sweep (two tiny 1-epoch fits and one point with a bad override, each a subprocess of
``python -m lightning_snnpriv fit``) runs once per module and is shared by the tests below it.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from cli_runs import REPO

from lightning_snnpriv.commands import main
from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.sweeps.runner import fit_command
from lightning_snnpriv.sweeps.spec import load_spec

ROOT = REPO
SNN_CONFIG = ROOT / "configs" / "breast_cancer_snn.yaml"
SWEEP_CONFIGS = sorted((ROOT / "configs" / "sweeps").glob("*.yaml"))


def write_sweep(path: Path, **spec) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


# ----------------------------------------------------------------------------- spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"base": "missing.yaml"}, "not found"),
        ({"base": str(SNN_CONFIG), "grd": {}}, "unknown key"),
        ({"base": str(SNN_CONFIG), "grid": {"seed_everything": []}}, "grid.seed_everything"),
        ({"base": str(SNN_CONFIG), "grid": {"config": ["a"]}}, "base"),
        (
            {"base": str(SNN_CONFIG), "fixed": {"seed_everything": 0},
             "grid": {"seed_everything": [1, 2]}},
            "set each key in one place",
        ),
        (
            {"base": str(SNN_CONFIG), "points": [{"seed_everything": 0}, {"seed_everything": 0}]},
            "identical points",
        ),
    ],
)  # fmt: skip
def test_bad_sweep_config_is_a_config_error(tmp_path, spec, message):
    path = write_sweep(tmp_path / "s.yaml", **spec)
    with pytest.raises(ConfigError, match=message):
        load_spec(path).expand()


def test_bad_sweep_config_exits_2_without_traceback(tmp_path, capsys):
    path = write_sweep(tmp_path / "s.yaml", base="nope.yaml")
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--config", str(path), "--dry-run"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "nope.yaml" in err
    assert "Traceback" not in err


def test_grid_points_and_bases_are_crossed(tmp_path):
    ann = ROOT / "configs" / "breast_cancer_ann.yaml"
    path = write_sweep(
        tmp_path / "s.yaml",
        base=[str(ann), str(SNN_CONFIG)],
        fixed={"trainer.max_epochs": 1},
        points=[{"model.init_args.weight_bits": None}, {"model.init_args.weight_bits": 4}],
        grid={"seed_everything": [0, 1, 2]},
    )
    spec = load_spec(path)
    points = spec.expand()
    assert len(points) == 2 * 2 * 3
    assert spec.axes == ("config", "model.init_args.weight_bits", "seed_everything")
    assert len({p.id for p in points}) == len({p.name for p in points}) == len(points)
    assert all(p.overrides["trainer.max_epochs"] == 1 for p in points)
    # the id is a function of the overrides only: the same sweep read again gives the same ids
    assert [p.id for p in load_spec(path).expand()] == [p.id for p in points]
    command = fit_command(spec, points[3])
    assert command[command.index("--config") + 1] == str(ann)
    assert "--model.init_args.weight_bits=4" in command
    assert "--seed_everything=0" in command


def _expected_points(path: Path) -> int:
    raw = yaml.safe_load(path.read_text())
    base = raw["base"] if isinstance(raw["base"], list) else [raw["base"]]
    return (
        len(base)
        * max(1, len(raw.get("points") or []))
        * math.prod(len(v) for v in (raw.get("grid") or {}).values())
    )


@pytest.mark.parametrize("path", SWEEP_CONFIGS, ids=[p.stem for p in SWEEP_CONFIGS])
def test_shipped_sweep_dry_run(path, tmp_path, monkeypatch, capsys):
    """Every shipped sweep lists its points; one whose base configs are not in this checkout
    (configs/paper/*, added by another branch) must fail with a message naming them."""
    monkeypatch.chdir(tmp_path)
    raw = yaml.safe_load(path.read_text())
    bases = raw["base"] if isinstance(raw["base"], list) else [raw["base"]]
    missing = [b for b in bases if not (path.parent / b).is_file()]
    if missing:
        with pytest.raises(ConfigError, match="not found") as err:
            load_spec(path)
        assert missing[0] in str(err.value)
        return
    main(["sweep", "--config", str(path), "--dry-run"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"sweep {raw.get('name', path.stem)}: {_expected_points(path)} points")
    assert len(out) == 1 + _expected_points(path)
    assert all(line.endswith("[to run]") for line in out[1:])
    assert not (tmp_path / "logs").exists()  # a dry run writes nothing


def test_print_commands_for_a_scheduler(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = ROOT / "configs" / "sweeps" / "demo.yaml"
    main(["sweep", "--config", str(path), "--print-commands"])
    commands = capsys.readouterr().out.splitlines()
    ids = [p.id for p in load_spec(path).expand()]
    assert len(commands) == len(ids)
    for command, point in zip(commands, ids, strict=True):
        assert f"--only {point} --no-report" in command
        assert "sweep --config" in command
    assert not (tmp_path / "logs").exists()


