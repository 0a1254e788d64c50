import math

import pytest
import torch

from lightning_snnpriv.attacks import (
    cross_entropy_loss,
    entropy,
    log_one_minus_softmax,
    logit_scaled_confidence,
    modified_entropy,
    true_label_confidence,
)


def _reference(z: list[float], y: int) -> dict[str, float]:
    """Direct float64 formulas (math module) for one moderate logit vector."""
    m = max(z)
    exps = [math.exp(v - m) for v in z]
    total = sum(exps)
    p = [e / total for e in exps]
    others = [p[c] for c in range(len(z)) if c != y]
    return {
        "loss": -math.log(p[y]),
        "conf": p[y],
        "phi": math.log(p[y]) - math.log(sum(others)),
        "entropy": -sum(q * math.log(q) for q in p),
        "mentr": -(1 - p[y]) * math.log(p[y])
        - sum(p[c] * math.log(1 - p[c]) for c in range(len(z)) if c != y),
    }


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 50, 5, generator=gen, dtype=torch.float64) * 3
    labels = torch.randint(0, 5, (50,), generator=gen)
    return logits, labels


@pytest.mark.parametrize(
    ("fn", "key"),
    [
        (cross_entropy_loss, "loss"),
        (true_label_confidence, "conf"),
        (logit_scaled_confidence, "phi"),
        (modified_entropy, "mentr"),
    ],
)
def test_labelled_signals_match_direct_formulas(fn, key, batch):
    logits, labels = batch
    out = fn(logits, labels)
    assert out.shape == (3, 50)
    expected = torch.tensor(
        [
            [_reference(logits[m, i].tolist(), int(labels[i]))[key] for i in range(50)]
            for m in range(3)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(out, expected, rtol=1e-9, atol=1e-12)


def test_entropy_matches_direct_formula(batch):
    logits, _ = batch
    expected = torch.tensor(
        [[_reference(logits[m, i].tolist(), 0)["entropy"] for i in range(50)] for m in range(3)],
        dtype=torch.float64,
    )
    torch.testing.assert_close(entropy(logits), expected, rtol=1e-9, atol=1e-12)


def test_float32_matches_float64(batch):
    logits, labels = batch
    for fn in (cross_entropy_loss, logit_scaled_confidence, modified_entropy):
        torch.testing.assert_close(
            fn(logits.float(), labels).double(), fn(logits, labels), rtol=1e-4, atol=1e-4
        )


def test_known_values():
    logits = torch.tensor([[2.0, 0.0, 0.0]])
    labels = torch.tensor([0])
    # p = e^2 / (e^2 + 2); phi = 2 - log 2
    assert cross_entropy_loss(logits, labels).item() == pytest.approx(math.log(math.e**2 + 2) - 2)
    assert logit_scaled_confidence(logits, labels).item() == pytest.approx(2 - math.log(2))
    assert true_label_confidence(logits, labels).item() == pytest.approx(
        math.e**2 / (math.e**2 + 2)
    )


def test_extreme_logits_stay_finite_and_exact():
    # p_y rounds to 1.0 in float32 for the first row; the second has p_y ~ e^-200.
    logits = torch.tensor([[60.0, 0.0, -5.0], [0.0, 200.0, 1.0], [1e4, -1e4, 0.0]])
    labels = torch.tensor([0, 0, 1])
    phi = logit_scaled_confidence(logits, labels)
    assert torch.isfinite(phi).all()
    # z_y - logsumexp(others) computed by hand
    assert phi[0].item() == pytest.approx(60.0 - math.log(1 + math.exp(-5.0)), rel=1e-6)
    assert phi[1].item() == pytest.approx(-(200.0 + math.log1p(math.exp(-199.0))), rel=1e-6)
    assert phi[2].item() == pytest.approx(-1e4 - 1e4, rel=1e-6)
    # naive float32 version is not finite: the stable one must differ from it
    naive = torch.log(torch.softmax(logits, -1)[0, 0]) - torch.log1p(
        -torch.softmax(logits, -1)[0, 0]
    )
    assert not torch.isfinite(naive)

    loss = cross_entropy_loss(logits, labels)
    assert torch.isfinite(loss).all()
    assert loss[1].item() == pytest.approx(200.0 + math.log1p(math.exp(-199.0)), rel=1e-6)
    assert loss[2].item() == pytest.approx(2e4, rel=1e-6)

    mentr = modified_entropy(logits, labels)
    assert torch.isfinite(mentr).all()
    assert (mentr >= 0).all()
    # row 1: p_y ~ 0 -> term1 ~ loss ~ 200; class 1: p_1 ~ 1 and
    # log(1 - p_1) = logsumexp(0, 1) - logsumexp(0, 200, 1) ~ log(1 + e) - 200; class 2: p_2 ~ 0
    assert mentr[1].item() == pytest.approx(200.0 + 200.0 - math.log(1 + math.e), rel=1e-6)
    assert torch.isfinite(entropy(logits)).all()
    assert (entropy(logits) >= 0).all()


def test_log_one_minus_softmax_exact_when_p_rounds_to_one():
    out = log_one_minus_softmax(torch.tensor([[50.0, 0.0, 0.0]]))
    assert out[0, 0].item() == pytest.approx(-50.0 + math.log(2), rel=1e-6)
    assert out[0, 1].item() == pytest.approx(-math.exp(-50.0) / (1 + 2 * math.exp(-50.0)), rel=1e-5)


def test_integer_logits_and_leading_dims():
    counts = torch.tensor([[[3, 1], [0, 2]]])  # spike counts, [1, N=2, C=2]
    out = cross_entropy_loss(counts, torch.tensor([0, 0]))
    assert out.dtype == torch.get_default_dtype()
    assert out.shape == (1, 2)
    assert out[0, 1].item() == pytest.approx(2 + math.log1p(math.exp(-2)), rel=1e-6)


def test_label_validation():
    logits = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="labels"):
        cross_entropy_loss(logits, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        cross_entropy_loss(logits, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"torch\.long"):
        cross_entropy_loss(logits, torch.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match="2 classes"):
        logit_scaled_confidence(torch.zeros(4, 1), torch.zeros(4, dtype=torch.long))
