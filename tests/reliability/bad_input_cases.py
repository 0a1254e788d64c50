"""The bad-input table: command lines that must fail with exit code 2 and a one-paragraph error.

Each case builds its arguments from a scratch directory and a finished run (for checkpoint
cases) and names a text the message must contain (the field or file at fault).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
from cli_runs import DEFAULT_CONFIG, REPO, SMALL

ANN_CONFIG = REPO / "configs" / "breast_cancer_ann.yaml"
ANN_SMALL = [arg for arg in SMALL if "num_steps" not in arg]
Builder = Callable[[Path, Path], list[str]]


class Case(NamedTuple):
    """One bad input: an id, a builder of extra arguments, and what the message must name."""

    id: str
    build: Builder
    names: str
    #: Fails during training (a run directory is expected), not before it.
    during_training: bool = False


def fit(*extra: str, config: str | Path = DEFAULT_CONFIG) -> list[str]:
    return ["fit", "--config", str(config), *SMALL, *extra]


def fit_in(tmp: Path, *extra: str) -> list[str]:
    """``fit`` logging under ``tmp`` (a case that wrongly starts a run leaves it there)."""
    return fit(_save_dir(tmp), *extra)


NAME = "--trainer.logger.init_args.name="


def _yaml(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _last(run: Path) -> str:
    return str(run / "checkpoints" / "last.ckpt")


def _foreign_plan_checkpoint(tmp: Path, run: Path) -> str:
    """The finished run's checkpoint, copied out of its run and claiming another plan."""
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    for key, state in ckpt["callbacks"].items():
        if key.startswith("RunCheckpoint"):
            state["plan_digest"] = "0123456789abcdef"
    path = tmp / "foreign.ckpt"
    torch.save(ckpt, path)
    return str(path)


def _save_dir(tmp: Path) -> str:
    return f"--trainer.logger.init_args.save_dir={tmp}"


EXTRA_KEY = "model:\n  init_args:\n    bogus: 1\n"
DUPLICATE_KEY = ("model:\n  class_path: lightning_snnpriv.models.SNNClassifier\n"
                 "  class_path: lightning_snnpriv.models.ANNClassifier\n")  # fmt: skip


def _broken_run(tmp: Path, run: Path, file: str, change: Callable[[Path], None]) -> list[str]:
    """``attack --run`` on a copy of the finished run with one file changed."""
    copy = tmp / "broken_run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("*.ckpt"))
    change(copy / file)
    return ["attack", "--run", str(copy), "--print_table=false"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _set_label(value: int) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        signals = torch.load(path, weights_only=True)
        signals["labels"][3] = value
        path.unlink()
        torch.save(signals, path)

    return change


def _mia_as_list(path: Path) -> None:
    path.write_text(path.read_text().replace("\nmia:\n", "\nmia:\n- 1\nold_mia:\n"))


def _sweep(tmp: Path, text: str | bytes) -> list[str]:
    path = tmp / "sweep.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return ["sweep", "--config", str(path), "--dry-run"]


def _corrupt_manifest(tmp: Path) -> list[str]:
    args = _sweep(tmp, f"base: {DEFAULT_CONFIG}\noutput_dir: {tmp}\nname: s\n")
    (tmp / "s").mkdir()
    (tmp / "s" / "manifest.json").write_text('{"points": [')
    return [a for a in args if a != "--dry-run"]


BINARY = bytes(range(256))


def _binary(tmp: Path, name: str) -> Path:
    (tmp / name).write_bytes(BINARY)
    return tmp / name


CASES: list[Case] = [
    Case("unknown-key", lambda t, r: fit("--model.init_args.hiden_sizes=[4]"),
         "model.init_args.hiden_sizes"),
    Case("unknown-trainer-key", lambda t, r: fit("--trainer.max_epoch=3"), "max_epoch"),
    Case("unknown-key-in-config-file",
         lambda t, r: fit("--config", str(_yaml(t, "x.yaml", EXTRA_KEY))),
         "bogus"),
    Case("wrong-type-int", lambda t, r: fit("--model.init_args.num_steps=abc"),
         "model.init_args.num_steps"),
    Case("wrong-type-data", lambda t, r: fit("--data.init_args.batch_size=big"),
         "data.init_args.batch_size"),
    Case("beta-above-1", lambda t, r: fit("--model.init_args.beta=1.5"), "beta"),
    Case("beta-zero", lambda t, r: fit("--model.init_args.beta=0"), "beta"),
    Case("num-steps-zero", lambda t, r: fit("--model.init_args.num_steps=0"), "num_steps"),
    Case("weight-bits-zero", lambda t, r: fit("--model.init_args.weight_bits=0"), "weight_bits"),
    Case("act-bits-64", lambda t, r: fit("--model.init_args.act_bits=64"), "act_bits"),
    Case("negative-threshold", lambda t, r: fit("--model.init_args.threshold=-1"), "threshold"),
    Case("unknown-surrogate", lambda t, r: fit("--model.init_args.surrogate=sigmoidish"),
         "model.init_args.surrogate"),
    Case("unknown-scheme", lambda t, r: fit("--data.init_args.scheme=random"),
         "data.init_args.scheme"),
    Case("unknown-attack-class",
         lambda t, r: fit('--mia.attacks=[{"class_path": "lightning_snnpriv.attacks.Nope"}]'),
         "mia.attacks"),
    Case("unknown-shokri-classifier",
         lambda t, r: fit('--mia.attacks=[{"class_path": "lightning_snnpriv.attacks.ShokriAttack",'
                          ' "init_args": {"classifier": "knn"}}]'),
         "classifier"),
    Case("negative-shadows", lambda t, r: fit("--data.init_args.num_shadows=-1"), "num_shadows"),
    Case("test-fraction-above-1", lambda t, r: fit("--data.init_args.test_fraction=1.5"),
         "test_fraction"),
    Case("shadow-fraction-zero", lambda t, r: fit("--data.init_args.shadow_train_fraction=0"),
         "shadow_train_fraction"),
    Case("lira-odd-models", lambda t, r: fit("--data.init_args.scheme=lira", _save_dir(t),
                                             "--data.init_args.num_shadows=2"), "num_shadows"),
    Case("pool-too-small-for-split",
         lambda t, r: fit("--data.init_args.scheme=paper", _save_dir(t),
                          "--data.init_args.shadow_train_fraction=0.001"), "num_shadows"),
    Case("fpr-target-out-of-range", lambda t, r: fit("--mia.fpr_targets=[2.0]"), "fpr_targets"),
    Case("shadow-attack-without-shadows",
         lambda t, r: fit("--data.init_args.num_shadows=0", _save_dir(t)), "num_shadows"),
    Case("missing-config-file", lambda t, r: fit(config=t / "nope.yaml"), "nope.yaml"),
    Case("malformed-config-file",
         lambda t, r: fit(config=_yaml(t, "bad.yaml", "model: [unclosed\n")), "bad.yaml"),
    Case("missing-checkpoint", lambda t, r: fit("--ckpt_path", str(t / "gone.ckpt")), "gone.ckpt"),
    Case("corrupt-checkpoint",
         lambda t, r: fit("--ckpt_path", str(_yaml(t, "junk.ckpt", "not a checkpoint"))),
         "junk.ckpt"),
    Case("checkpoint-of-other-model",
         lambda t, r: fit("--model.init_args.hidden_sizes=[32]", "--ckpt_path", _last(r)),
         "model.init_args.hidden_sizes"),
    Case("checkpoint-of-other-seed",
         lambda t, r: fit("--seed_everything=7", "--ckpt_path", _last(r)), "data.init_args.seed"),
    Case("checkpoint-of-other-plan",
         lambda t, r: fit_in(t, "--ckpt_path", _foreign_plan_checkpoint(t, r)),
         "membership plan"),
    Case("resume-complete-run", lambda t, r: fit("--ckpt_path", _last(r)), "mia_results.json"),
    Case("reuse-run-directory",
         lambda t, r: fit(f"--trainer.logger.init_args.save_dir={r.parent.parent}",
                          f"--trainer.logger.init_args.name={r.parent.name}",
                          f"--trainer.logger.init_args.version={r.name.removeprefix('version_')}"),
         "trainer.logger.init_args.version"),
    Case("unavailable-accelerator", lambda t, r: fit("--trainer.accelerator=mps"),
         "trainer: `MPSAccelerator` can not run"),
    Case("diverging-learning-rate",
         lambda t, r: ["fit", "--config", str(ANN_CONFIG), *ANN_SMALL, _save_dir(t),
                       "--model.init_args.optimizer.init_args.lr=1e37"],
         "optimizer.init_args.lr", during_training=True),
    # issue 18, defect 7: tracebacks before
    Case("truncated-membership-npz",
         lambda t, r: _broken_run(t, r, "membership.npz", _truncate), "membership.npz"),
    Case("truncated-results-json",
         lambda t, r: _broken_run(t, r, "mia_results.json", _truncate), "mia_results.json"),
    Case("list-results-json",
         lambda t, r: _broken_run(t, r, "mia_results.json", lambda p: p.write_text("[]")),
         "mia_results.json"),
    Case("label-out-of-range", lambda t, r: _broken_run(t, r, "signals.pt", _set_label(7)),
         "'labels' must lie in [0, 1]"),
    Case("label-negative", lambda t, r: _broken_run(t, r, "signals.pt", _set_label(-1)),
         "'labels' must lie in [0, 1]"),
    Case("negative-lr", lambda t, r: fit_in(t, "--model.init_args.optimizer.init_args.lr=-1"),
         "model.init_args.optimizer.init_args.lr"),
    Case("nan-lr-in-yaml",
         lambda t, r: fit_in(t, "--config", str(_yaml(t, "lr.yaml", (
             "model:\n  init_args:\n    optimizer:\n      init_args:\n        lr: .nan\n")))),
         "model.init_args.optimizer.init_args.lr"),
    Case("negative-seed", lambda t, r: fit_in(t, "--seed_everything=-1"), "seed_everything"),
    Case("seed-2-pow-32", lambda t, r: fit_in(t, f"--seed_everything={2**32}"),
         "seed_everything"),
    Case("negative-num-workers", lambda t, r: fit_in(t, "--data.init_args.num_workers=-1"),
         "num_workers"),
    Case("300-char-logger-name",
         lambda t, r: fit_in(t, NAME + "" + "n" * 300),
         "trainer.logger.init_args.name"),
    Case("save-dir-is-a-file",
         lambda t, r: fit(f"--trainer.logger.init_args.save_dir={_yaml(t, 'f', 'x')}"),
         "trainer.logger.init_args.save_dir"),
    Case("binary-config", lambda t, r: fit(config=_binary(t, "b.yaml")),
         "b.yaml"),
    Case("binary-sweep-config", lambda t, r: _sweep(t, BINARY), "sweep.yaml"),
    Case("malformed-sweep-config", lambda t, r: _sweep(t, "name: [x\n"), "sweep.yaml"),
    Case("corrupt-sweep-manifest", lambda t, r: _corrupt_manifest(t), "manifest.json"),
    # defect 8: a hang and silent nonsense before
    Case("max-epochs-minus-1", lambda t, r: fit_in(t, "--trainer.max_epochs=-1"),
         "trainer.max_epochs"),
    Case("max-epochs-0", lambda t, r: fit_in(t, "--trainer.max_epochs=0"),
         "trainer.max_epochs"),
    # defect 9: accepted silently before
    Case("duplicate-key-in-config",
         lambda t, r: fit_in(t, "--config", str(_yaml(t, "d.yaml", DUPLICATE_KEY))),
         "'model.class_path' set twice"),
    Case("duplicate-key-in-sweep",
         lambda t, r: _sweep(t, f"base: {DEFAULT_CONFIG}\ngrid:\n  seed_everything: [0]\n"
                                "  seed_everything: [1]\n"), "'grid.seed_everything' set twice"),
    Case("nan-threshold-in-yaml",
         lambda t, r: fit_in(t, "--config",
                          str(_yaml(t, "t.yaml", "model:\n  init_args:\n    threshold: .nan\n"))),
         "model.init_args.threshold"),
    Case("inf-threshold-in-yaml",
         lambda t, r: fit_in(t, "--config",
                          str(_yaml(t, "t.yaml", "model:\n  init_args:\n    threshold: .inf\n"))),
         "model.init_args.threshold"),
    Case("nan-slope-in-yaml",
         lambda t, r: fit_in(t, "--config", str(_yaml(t, "s.yaml", (
             "model:\n  init_args:\n    surrogate_params: {slope: .nan}\n")))),
         "model.init_args.surrogate_params.slope"),
    Case("negative-slope", lambda t, r: fit_in(t, "--model.init_args.surrogate_params={slope: -3}"),
         "surrogate_params"),
    Case("logger-name-escapes", lambda t, r: fit_in(t, NAME + "../../escaped"),
         "trainer.logger.init_args.name"),
    Case("logger-name-absolute", lambda t, r: fit_in(t, f"{NAME}{t}/abs"),
         "trainer.logger.init_args.name"),
    Case("logger-name-with-separator", lambda t, r: fit_in(t, NAME + "a/b"),
         "trainer.logger.init_args.name"),
    # defect 10: misleading messages before
    Case("empty-config-file", lambda t, r: fit(config=_yaml(t, "empty.yaml", "")), "empty.yaml"),
    Case("list-config-file", lambda t, r: fit(config=_yaml(t, "list.yaml", "- 1\n")), "list.yaml"),
    Case("scalar-config-file", lambda t, r: fit(config=_yaml(t, "num.yaml", "42\n")), "num.yaml"),
    Case("list-valued-mia-in-run-config",
         lambda t, r: _broken_run(t, r, "config.yaml", _mia_as_list), "`mia:` must be a mapping"),
    Case("complete-run-without-signals",
         lambda t, r: _broken_run(t, r, "signals.pt", Path.unlink), "the run is complete"),
    # issue 14: two attacks of one list under one name; a claim naming an attack not run
    Case("two-attacks-one-name",
         lambda t, r: fit_in(t, '--mia.attacks=[shokri, {"class_path": '
                                '"lightning_snnpriv.attacks.ShokriAttack", "init_args": '
                                '{"classifier": "logistic"}}]'),
         "'shokri' is given more than once"),
    Case("claim-names-an-attack-not-run",
         lambda t, r: _sweep(t, f"base: {DEFAULT_CONFIG}\nclaims:\n  - name: c\n"
                                "    baseline: {kind: ann, attack: shokri_balanced}\n"
                                "    other: {kind: snn, attack: shokri}\n"),
         "`claims[0].baseline.attack`"),
]  # fmt: skip
