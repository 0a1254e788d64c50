"""Membership-inference attacks and their metrics: pure tensor code, no Lightning."""

from lightning_snnpriv.attacks.attack_r import ReferenceAttack, reference_scores
from lightning_snnpriv.attacks.base import Attack, AttackInputs, AttackOutput
from lightning_snnpriv.attacks.lira import LiRAAttack, gaussian_stats, lira_scores
from lightning_snnpriv.attacks.metrics import (
    DEFAULT_FPR_TARGETS,
    AttackMetrics,
    bootstrap_metrics,
    evaluate,
    roc_curve,
    tpr_at_fpr,
)
from lightning_snnpriv.attacks.rmia import RMIAAttack, draw_population, rmia_scores
from lightning_snnpriv.attacks.shadow import ShokriAttack, shokri_scores
from lightning_snnpriv.attacks.signals import (
    cross_entropy_loss,
    entropy,
    log_one_minus_softmax,
    logit_scaled_confidence,
    modified_entropy,
    true_label_confidence,
)
from lightning_snnpriv.attacks.threshold import (
    ConfidenceAttack,
    EntropyAttack,
    GapAttack,
    LossAttack,
    ModifiedEntropyAttack,
    confidence_threshold_scores,
    entropy_threshold_scores,
    gap_scores,
    loss_threshold_scores,
    modified_entropy_threshold_scores,
)

#: Short names accepted by ``attack --attacks`` -> attack class (defaults of each class).
ATTACK_CLASSES: dict[str, type[Attack]] = {
    "loss": LossAttack,
    "confidence": ConfidenceAttack,
    "entropy": EntropyAttack,
    "modified_entropy": ModifiedEntropyAttack,
    "gap": GapAttack,
    "shokri": ShokriAttack,
    "lira": LiRAAttack,
    "rmia": RMIAAttack,
    "reference": ReferenceAttack,
}

__all__ = [
    "ATTACK_CLASSES",
    "DEFAULT_FPR_TARGETS",
    "Attack",
    "AttackInputs",
    "AttackMetrics",
    "AttackOutput",
    "ConfidenceAttack",
    "EntropyAttack",
    "GapAttack",
    "LiRAAttack",
    "LossAttack",
    "ModifiedEntropyAttack",
    "RMIAAttack",
    "ReferenceAttack",
    "ShokriAttack",
    "bootstrap_metrics",
    "confidence_threshold_scores",
    "cross_entropy_loss",
    "draw_population",
    "entropy",
    "entropy_threshold_scores",
    "evaluate",
    "gap_scores",
    "gaussian_stats",
    "lira_scores",
    "log_one_minus_softmax",
    "logit_scaled_confidence",
    "loss_threshold_scores",
    "modified_entropy",
    "modified_entropy_threshold_scores",
    "reference_scores",
    "rmia_scores",
    "roc_curve",
    "shokri_scores",
    "tpr_at_fpr",
    "true_label_confidence",
]
