"""The bad-input table: command lines that must fail with exit code 2 and a one-paragraph error.

Each case builds its arguments from a scratch directory and a finished run (for checkpoint
cases) and names a text the message must contain (the field or file at fault).
"""

from __future__ import annotations

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


def fit(*extra: str, config: str | Path = DEFAULT_CONFIG) -> list[str]:
    return ["fit", "--config", str(config), *SMALL, *extra]


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
         lambda t, r: fit(_save_dir(t), "--ckpt_path", _foreign_plan_checkpoint(t, r)),
         "membership plan"),
    Case("resume-complete-run", lambda t, r: fit("--ckpt_path", _last(r)), "mia_results.json"),
    Case("reuse-run-directory",
         lambda t, r: fit(f"--trainer.logger.init_args.save_dir={r.parent.parent}",
                          f"--trainer.logger.init_args.version={r.name.removeprefix('version_')}"),
         "trainer.logger.init_args.version"),
    Case("unavailable-accelerator", lambda t, r: fit("--trainer.accelerator=mps"),
         "trainer: `MPSAccelerator` can not run"),
    Case("diverging-learning-rate",
         lambda t, r: ["fit", "--config", str(ANN_CONFIG), *ANN_SMALL, _save_dir(t),
                       "--model.init_args.optimizer.init_args.lr=1e37"],
         "optimizer.init_args.lr"),
]  # fmt: skip
