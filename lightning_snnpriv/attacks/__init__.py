"""Membership-inference attacks and their metrics: pure tensor code, no Lightning."""

from lightning_snnpriv.attacks.attack_r import ReferenceAttack, reference_scores
from lightning_snnpriv.attacks.audit import Audit, AuditResult
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
from lightning_snnpriv.attacks.registry import ATTACK_CLASSES, PRESETS, build_attacks
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

__all__ = [
    "ATTACK_CLASSES",
    "DEFAULT_FPR_TARGETS",
    "PRESETS",
    "Attack",
    "AttackInputs",
    "AttackMetrics",
    "AttackOutput",
    "Audit",
    "AuditResult",
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
    "build_attacks",
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
