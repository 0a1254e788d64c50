import numpy as np
import pytest
import torch
from scipy import stats

from lightning_snnpriv.attacks import AttackInputs, LiRAAttack, lira_scores, logit_scaled_confidence
from lightning_snnpriv.errors import ConfigError


def _case(seed=0, num_models=9, n=40, c=3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(num_models, n, c, generator=g) * 3
    labels = torch.randint(c, (n,), generator=g)
    keep = torch.rand(num_models, n, generator=g) < 0.5
    # >= 2 IN and >= 2 OUT references per sample, whichever model is the target
    pattern = torch.tensor([True, False]).repeat(n // 2)[None]
    keep[:3, :] = pattern
    keep[3:6, :] = ~pattern
    return logits, labels, keep


def _direct(phi_t, phi_ref, keep_ref, online, fix_variance, center):
    """Per-sample loop with numpy/scipy (np.std is ddof=0, np.median as the reference code).

    As LiRA's reference code, every sample keeps its first ``n_in`` IN and ``n_out`` OUT
    references (the least counts over the samples).
    """
    _k, n = phi_ref.shape
    mu_in, mu_out, sd_in, sd_out = (np.zeros(n) for _ in range(4))
    res_in, res_out = [], []
    n_in, n_out = keep_ref.sum(0).min(), (~keep_ref).sum(0).min()
    for i in range(n):
        xin, xout = phi_ref[keep_ref[:, i], i][:n_in], phi_ref[~keep_ref[:, i], i][:n_out]
        f = np.median if center == "median" else np.mean
        mu_in[i], mu_out[i] = f(xin), f(xout)
        sd_in[i], sd_out[i] = np.std(xin), np.std(xout)
        res_in.extend(xin - xin.mean())
        res_out.extend(xout - xout.mean())
    if fix_variance:
        sd_in[:] = np.sqrt(np.mean(np.square(res_in)))
        sd_out[:] = np.sqrt(np.mean(np.square(res_out)))
    if online:
        return stats.norm.logpdf(phi_t, mu_in, sd_in) - stats.norm.logpdf(phi_t, mu_out, sd_out)
    return -stats.norm.logsf(phi_t, mu_out, sd_out)  # -log P[Z >= phi] ~ P[Z < phi]


@pytest.mark.parametrize("online", [True, False])
@pytest.mark.parametrize("fix_variance", [True, False])
@pytest.mark.parametrize("center", ["mean", "median"])
def test_lira_matches_scipy(online, fix_variance, center):
    logits, labels, keep = _case()
    phi = logit_scaled_confidence(logits.double(), labels).numpy()
    scores, _, _ = lira_scores(
        torch.from_numpy(phi[0]),
        torch.from_numpy(phi[1:]),
        keep[1:],
        online=online,
        fix_variance=fix_variance,
        center=center,
    )
    expected = _direct(phi[0], phi[1:], keep[1:].numpy(), online, fix_variance, center)
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-9, atol=1e-9)


def test_offline_order_equals_paper_cdf_and_does_not_saturate():
    mu, sd = 0.0, 1.0
    phi = torch.tensor([-3.0, 0.0, 3.0, 9.0, 12.0], dtype=torch.float64)
    ref = torch.tensor([[-1.0] * 5, [1.0] * 5], dtype=torch.float64)
    scores, _, _ = lira_scores(
        phi, ref, torch.zeros(2, 5, dtype=torch.bool), online=False, center="mean"
    )
    cdf = stats.norm.cdf(phi.numpy(), mu, sd)
    assert cdf[3] == cdf[4] == 1.0  # the paper's P[Z < phi] ties in float64 ...
    assert np.all(np.diff(scores.numpy()) > 0)  # ... our -log P[Z >= phi] keeps them ordered
    assert np.argsort(scores.numpy()).tolist() == np.argsort(cdf, kind="stable").tolist()


def test_attack_uses_leave_one_out_and_names():
    logits, labels, keep = _case()
    inputs = AttackInputs(logits, labels, keep, torch.ones_like(keep))
    attack = LiRAAttack(online=True, fix_variance=True, center="mean")
    assert attack.name == "lira_online_fixvar"
    assert LiRAAttack(online=False).name == "lira_offline"
    out = attack.score(inputs, target=3)
    phi = logit_scaled_confidence(logits.double(), labels)  # float64, like loss and RMIA
    refs = [m for m in range(9) if m != 3]
    direct, _, _ = lira_scores(
        phi[3], phi[refs], keep[refs], online=True, fix_variance=True, center="mean"
    )
    assert torch.equal(out.scores, direct)
    assert out.info["num_references"] == 8
    assert attack.settings() == {
        "online": True,
        "fix_variance": True,
        "center": "mean",
        "min_references": 1,
    }


def test_online_needs_in_references_offline_does_not():
    # shokri-like plan: the references never train on the target's samples
    logits, labels, _ = _case(num_models=5)
    keep = torch.zeros(5, 40, dtype=torch.bool)
    keep[0, :20] = True
    audit = torch.zeros_like(keep)
    audit[0, :] = True
    inputs = AttackInputs(logits, labels, keep, audit)
    with pytest.raises(ConfigError, match="IN") as err:
        LiRAAttack(online=True).score(inputs)
    assert "scheme=lira" in str(err.value)
    out = LiRAAttack(online=False).score(inputs)
    assert torch.isfinite(out.scores).all()


def test_per_sample_variance_needs_two_references():
    logits, labels, _ = _case(num_models=3)
    keep = torch.zeros(3, 40, dtype=torch.bool)
    keep[0, ::2] = True
    keep[1, ::2] = True  # every sample: 1 OUT reference only when it's kept... or 2
    keep[2, 1::2] = True
    inputs = AttackInputs(logits, labels, keep, torch.ones_like(keep))
    with pytest.raises(ConfigError, match="at least 2"):
        LiRAAttack(online=False).score(inputs)
    assert torch.isfinite(LiRAAttack(online=False, fix_variance=True).score(inputs).scores).all()


@pytest.mark.parametrize(
    "kwargs", [{"online": 1}, {"center": "mode"}, {"min_references": 0}, {"fix_variance": "yes"}]
)
def test_bad_settings(kwargs):
    with pytest.raises(ConfigError):
        LiRAAttack(**kwargs)


def test_check_plan_before_training():
    keep = torch.zeros(4, 10, dtype=torch.bool)
    keep[0, :5] = True  # shokri-like: references never train on the target's samples
    audit = torch.zeros_like(keep)
    audit[0] = True
    with pytest.raises(ConfigError, match="IN"):
        LiRAAttack(online=True).check_plan(keep, audit, 0)
    LiRAAttack(online=False).check_plan(keep, audit, 0)
    with pytest.raises(ConfigError, match="at least 2"):
        LiRAAttack(online=False).check_plan(keep[:2], audit[:2], 0)
