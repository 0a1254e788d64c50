"""Membership-inference attacks and their metrics: pure tensor code, no Lightning."""

from lightning_snnpriv.attacks.base import Attack, AttackInputs, AttackOutput
from lightning_snnpriv.attacks.metrics import AttackMetrics, evaluate, roc_curve, tpr_at_fpr
from lightning_snnpriv.attacks.shadow import ShokriAttack, shokri_scores
from lightning_snnpriv.attacks.signals import (
    cross_entropy_loss,
    entropy,
    log_one_minus_softmax,
    logit_scaled_confidence,
    modified_entropy,
    true_label_confidence,
)
from lightning_snnpriv.attacks.threshold import LossAttack, loss_threshold_scores

__all__ = [
    "Attack",
    "AttackInputs",
    "AttackMetrics",
    "AttackOutput",
    "LossAttack",
    "ShokriAttack",
    "cross_entropy_loss",
    "entropy",
    "evaluate",
    "log_one_minus_softmax",
    "logit_scaled_confidence",
    "loss_threshold_scores",
    "modified_entropy",
    "roc_curve",
    "shokri_scores",
    "tpr_at_fpr",
    "true_label_confidence",
]
