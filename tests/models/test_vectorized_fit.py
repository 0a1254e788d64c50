"""A real fit through the CLI with the vectorized ensemble; its checkpoint loads in both modes."""

from __future__ import annotations

from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_snnpriv.commands import main
from lightning_snnpriv.models import SNNClassifier
from lightning_snnpriv.models.ensemble import ModelEnsemble
from lightning_snnpriv.models.vectorized import VectorizedSNN

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "iris_snn.yaml"


def test_fit_vectorized_snn_and_reload_checkpoint(tmp_path):
    main([
        "fit", "--config", str(CONFIG), "--trainer.max_epochs=1",
        f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false",
        "--model.init_args.hidden_sizes=[16]", "--model.init_args.num_steps=3",
        "--model.init_args.ensemble=vectorized",
    ])  # fmt: skip
    run = next(tmp_path.glob("*/version_0"))
    assert (run / "mia_results.json").exists()
    events = EventAccumulator(str(run))
    events.Reload()
    assert len(events.Scalars("train/loss")) >= 2  # still written every `log_every_n_steps`
    ckpt = next(run.glob("checkpoints/*.ckpt"))
    fast = SNNClassifier.load_from_checkpoint(ckpt)
    loop = SNNClassifier.load_from_checkpoint(ckpt, ensemble="loop")
    assert isinstance(fast.ensemble, VectorizedSNN)
    assert type(loop.ensemble) is ModelEnsemble
    x = torch.randn(7, 4)
    out = fast(x)
    assert out.shape == (2, 7, 3)
    torch.testing.assert_close(out, loop(x), rtol=1e-5, atol=1e-6)
    fresh = SNNClassifier(hidden_sizes=[16], num_steps=3, num_models=2, num_classes=3,
                          input_shape=(4,))  # fmt: skip
    assert not torch.allclose(fresh(x), out)  # the trained weights were loaded
