"""bf16 mixed precision (``trainer.precision: bf16-mixed``, torch autocast) on every model path.

Results are close to float32, not equal: autocast runs the matrix products in bfloat16 (8
significant bits). The fused LIF scan keeps its membranes in float32 and runs only its
products in bfloat16; the quantizers take what autocast gives them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from lightning_snnpriv.commands import main
from lightning_snnpriv.models.networks import ANN, SNN
from lightning_snnpriv.models.vectorized import VectorizedEnsemble, build_ensemble

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

CASES = {
    "snn": (lambda: SNN((6,), 4, [32, 16], num_steps=5), (6,)),
    "snn-quantized": (lambda: SNN((6,), 4, [32], num_steps=5, weight_bits=8, act_bits=4), (6,)),
    "hybrid": (lambda: SNN((1, 8, 8), 4, [32], num_steps=3, conv_channels=[4]), (1, 8, 8)),
    "ann": (lambda: ANN((6,), 4, [32, 16]), (6,)),
    "ann-quantized": (lambda: ANN((6,), 4, [32], weight_bits=8, act_bits=8), (6,)),
    "ann-conv": (lambda: ANN((1, 8, 8), 4, [32], conv_channels=[4]), (1, 8, 8)),
}


def _run(ensemble, xs, ys, bf16: bool):
    ensemble.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        outs = ensemble.forward_each(xs)
        loss = sum(F.cross_entropy(o, y) for o, y in zip(outs, ys, strict=True))
    loss.backward()
    grads = torch.cat([p.grad.flatten() for p in ensemble.parameters() if p.grad is not None])
    return torch.cat([o.float().flatten() for o in outs]), grads


@pytest.mark.parametrize("mode", ["loop", "auto"])
@pytest.mark.parametrize("name", CASES)
def test_bf16_autocast_runs_and_is_close_to_float32(name, mode):
    build, shape = CASES[name]
    torch.manual_seed(0)
    ensemble = build_ensemble(build, 3, mode)
    if mode == "auto" and name != "ann" and name != "ann-conv":
        assert isinstance(ensemble, VectorizedEnsemble)  # the fast paths are the ones tested
    gen = torch.Generator().manual_seed(1)
    xs = [torch.rand(16, *shape, generator=gen) for _ in range(3)]
    ys = [torch.randint(4, (16,), generator=gen) for _ in range(3)]
    out32, grad32 = _run(ensemble, xs, ys, bf16=False)
    out16, grad16 = _run(ensemble, xs, ys, bf16=True)
    assert torch.isfinite(out16).all()
    assert torch.isfinite(grad16).all()
    assert not torch.equal(out16, out32)  # bf16 did run
    # bfloat16 keeps 8 significant bits. A spiking network's outputs and gradients move more
    # than an ANN's: a rounded current flips a spike near the threshold, and the membranes
    # after it differ by the threshold.
    spiking = "snn" in name or name == "hybrid"
    error = (out16 - out32).norm() / out32.norm()
    assert error < (0.15 if spiking else 0.03), error
    cosine = F.cosine_similarity(grad16, grad32, dim=0)
    assert cosine > (0.9 if spiking else 0.99), cosine


def test_fit_bf16_mixed_through_the_cli(tmp_path):
    """``trainer.precision: bf16-mixed`` on CPU: the vectorized SNN trains and is audited."""
    main([
        "fit", "--config", str(CONFIGS / "iris_snn.yaml"), "--trainer.max_epochs=1",
        f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false",
        "--trainer.precision=bf16-mixed", "--model.init_args.hidden_sizes=[16]",
        "--model.init_args.num_steps=3", "--model.init_args.weight_bits=8",
    ])  # fmt: skip
    run = next(tmp_path.glob("*/version_0"))
    results = json.loads((run / "mia_results.json").read_text())
    assert results  # the audit ran on the bf16-trained models
