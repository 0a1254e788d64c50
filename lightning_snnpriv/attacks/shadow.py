"""The learned shadow-model attack of Shokri et al. (2017) with scikit-learn classifiers."""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import Tensor

from lightning_snnpriv.attacks.base import Attack, AttackInputs, AttackOutput
from lightning_snnpriv.attacks.per_class import class_balanced_subsample, mean_class_auc
from lightning_snnpriv.attacks.reference import equal_reference_counts
from lightning_snnpriv.errors import ConfigError

__all__ = [
    "Classifier",
    "Features",
    "ShokriAttack",
    "balanced_pairs",
    "shokri_scores",
    "stratified_subsample",
]

Classifier = Literal["svm", "logistic", "mlp"]
Features = Literal["raw", "softmax"]


def _make_classifier(classifier: Classifier, seed: int) -> Any:
    """Return an unfitted scikit-learn binary classifier (seeded where sklearn allows)."""
    if classifier == "svm":
        from sklearn.svm import SVC

        return SVC(kernel="rbf", random_state=seed)
    if classifier == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=1000, random_state=seed)
    if classifier == "mlp":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(max_iter=500, random_state=seed)
    raise ValueError(f"classifier must be one of {get_args(Classifier)}; got {classifier!r}")


def _member_score(model: Any, features: np.ndarray, classifier: Classifier) -> np.ndarray:
    """Continuous member score of a fitted classifier (higher = member)."""
    if classifier == "svm":
        return model.decision_function(features)  # positive side = classes_[1] = member (1)
    column = list(model.classes_).index(1)
    return model.predict_proba(features)[:, column]


def _features(logits: Tensor, features: Features) -> np.ndarray:
    """Attack-model features from model outputs ``[n, C]``, as float64 numpy."""
    if features == "raw":
        out = logits
    elif features == "softmax":
        out = torch.softmax(logits.double(), dim=-1)
    else:
        raise ValueError(f"features must be one of {get_args(Features)}; got {features!r}")
    return out.detach().double().cpu().numpy()


def stratified_subsample(groups: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Seeded subsample of ``size`` indices, stratified by group (largest-remainder quotas).

    Each group gets ``floor(size * n_g / n)`` samples plus one for the groups with the largest
    remainders, so every group's share is within one sample of proportional.

    Args:
        groups: Integer group id of every sample ``[n]``.
        size: Number of indices to draw; all of them if ``size >= n``.
        seed: Seed of the numpy generator.

    Returns:
        Sorted indices into ``groups``.

    Example:
        >>> g = np.array([0] * 6 + [1] * 2)
        >>> np.bincount(g[stratified_subsample(g, 4, seed=0)]).tolist()
        [3, 1]
    """
    n = len(groups)
    if size >= n:
        return np.arange(n)
    ids, counts = np.unique(groups, return_counts=True)
    exact = size * counts / n
    quota = np.floor(exact).astype(int)
    remainder_order = np.argsort(-(exact - quota), kind="stable")
    quota[remainder_order[: size - int(quota.sum())]] += 1
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(groups == group), size=int(q), replace=False)
        for group, q in zip(ids, quota, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def shokri_scores(
    shadow_logits: Tensor,
    shadow_keep: Tensor,
    shadow_audit: Tensor,
    target_logits: Tensor,
    labels: Tensor,
    *,
    classifier: Classifier = "svm",
    per_class: bool = True,
    features: Features = "raw",
    min_samples_per_class: int = 2,
    max_train_samples: int | None = 5000,
    balance_per_class: bool = False,
    seed: int = 0,
) -> AttackOutput:
    """Membership scores of the Shokri et al. (2017) learned attack.

    The attack training set holds, for every shadow ``k`` and every sample it audits, that
    shadow's output vector on the sample, labelled 1 if the shadow trained on it. The attack
    model (one per true class, or one global) then scores the target's output vectors.

    Args:
        shadow_logits: Shadow outputs ``[K, N, C]``.
        shadow_keep: ``[K, N]`` bool: True where the sample was in that shadow's training set.
        shadow_audit: ``[K, N]`` bool: samples whose in/out status trains the attack.
        target_logits: Target outputs ``[N, C]``.
        labels: True labels ``[N]``, ``torch.long``.
        classifier: ``"svm"`` (RBF ``SVC``, scored by ``decision_function``), ``"logistic"``
            (``LogisticRegression``) or ``"mlp"`` (``MLPClassifier``), both scored by the
            member probability.
        per_class: One attack model per true class (as the source study) instead of one global.
        features: ``"raw"`` output vector (as the source study) or ``"softmax"`` probabilities.
        min_samples_per_class: In per-class mode, a class with fewer members or fewer
            non-members than this in the attack training set uses the global attack model;
            such classes are listed in ``info["fallback_classes"]``.
        max_train_samples: Cap on the attack training set size (seeded subsample stratified by
            class and membership); None for no cap.
        balance_per_class: Cut the attack training set (after the cap) to as many members as
            non-members in every class (:func:`class_balanced_subsample`, seeded), as the
            source study's code does for its ANN attack only.
        seed: Seed of the subsample and of the classifiers.

    Returns:
        Scores ``[N]`` (float64, higher = more likely a member) for every target sample, and
        ``info`` with ``n_train`` (attack training samples used), ``n_train_members``,
        ``fallback_classes`` and ``per_class_models`` (classes with their own model).

    Raises:
        ValueError: On inconsistent shapes or settings, or when the attack training set lacks
            members or non-members.
    """
    if shadow_logits.dim() != 3:
        raise ValueError(f"shadow_logits must be [K, N, C]; got {tuple(shadow_logits.shape)}")
    num_shadows, num_samples, num_classes = shadow_logits.shape
    if tuple(target_logits.shape) != (num_samples, num_classes):
        raise ValueError(
            f"target_logits must be [{num_samples}, {num_classes}] like the shadows; got "
            f"{tuple(target_logits.shape)}"
        )
    for name, value in (("shadow_keep", shadow_keep), ("shadow_audit", shadow_audit)):
        if value.dtype != torch.bool or tuple(value.shape) != (num_shadows, num_samples):
            raise ValueError(
                f"{name} must be a bool tensor [{num_shadows}, {num_samples}]; got shape "
                f"{tuple(value.shape)}, dtype {value.dtype}"
            )
    if labels.dtype != torch.long or tuple(labels.shape) != (num_samples,):
        raise ValueError(f"labels must be torch.long [{num_samples}]; got {tuple(labels.shape)}")
    if min_samples_per_class < 1:
        raise ValueError(f"min_samples_per_class must be >= 1; got {min_samples_per_class}")
    if max_train_samples is not None and max_train_samples < 2:
        raise ValueError(f"max_train_samples must be >= 2 or None; got {max_train_samples}")
    if classifier not in get_args(Classifier):
        raise ValueError(f"classifier must be one of {get_args(Classifier)}; got {classifier!r}")
    if features not in get_args(Features):
        raise ValueError(f"features must be one of {get_args(Features)}; got {features!r}")

    # Attack training set: (shadow output, in/out) for every audited (shadow, sample) pair.
    shadow_idx, sample_idx = shadow_audit.cpu().nonzero(as_tuple=True)
    x_train = _features(shadow_logits.cpu()[shadow_idx, sample_idx], features)
    y_train = shadow_keep.cpu()[shadow_idx, sample_idx].numpy().astype(np.int64)
    c_train = labels.cpu()[sample_idx].numpy()
    if max_train_samples is not None and len(y_train) > max_train_samples:
        chosen = stratified_subsample(c_train * 2 + y_train, max_train_samples, seed)
        x_train, y_train, c_train = x_train[chosen], y_train[chosen], c_train[chosen]
    if balance_per_class:
        chosen = class_balanced_subsample(c_train, y_train, seed)
        x_train, y_train, c_train = x_train[chosen], y_train[chosen], c_train[chosen]
    n_in = int(y_train.sum())
    if n_in == 0 or n_in == len(y_train):
        raise ValueError(
            f"the Shokri attack needs shadow members and non-members among the audited shadow "
            f"samples; got {n_in} members and {len(y_train) - n_in} non-members over "
            f"{num_shadows} shadow(s)"
        )

    x_target = _features(target_logits.cpu(), features)
    target_classes = labels.cpu().numpy()
    scores = np.zeros(num_samples, dtype=np.float64)
    own_model: list[int] = []
    fallback: list[int] = []
    for cls in np.unique(target_classes).tolist() if per_class else []:
        in_class = c_train == cls
        n_cls_in = int(y_train[in_class].sum())
        n_cls_out = int(in_class.sum()) - n_cls_in
        if min(n_cls_in, n_cls_out) < min_samples_per_class:
            fallback.append(int(cls))
            continue
        model = _make_classifier(classifier, seed).fit(x_train[in_class], y_train[in_class])
        rows = target_classes == cls
        scores[rows] = _member_score(model, x_target[rows], classifier)
        own_model.append(int(cls))
    if not per_class or fallback:
        model = _make_classifier(classifier, seed).fit(x_train, y_train)
        rows = ~np.isin(target_classes, own_model)
        scores[rows] = _member_score(model, x_target[rows], classifier)
    info = {
        "n_train": len(y_train),
        "n_train_members": n_in,
        "fallback_classes": fallback,
        "per_class_models": own_model,
    }
    return AttackOutput(torch.from_numpy(scores).to(target_logits.device), info)


class ShokriAttack(Attack):
    """Learned shadow-model attack of Shokri et al. (2017).

    Every model except the target is a shadow; the attack model learns in/out from the shadows'
    output vectors on the samples they audit (each sample with the same number of IN and OUT
    pairs where the shadows audit the target's samples: :func:`balanced_pairs`) and scores the
    target's output vectors.

    Args:
        classifier: Attack model: ``"svm"`` (RBF SVM, as the source study), ``"logistic"`` or
            ``"mlp"``.
        per_class: One attack model per true class (as the source study) instead of one global.
        features: ``"raw"`` output vector (as the source study) or ``"softmax"`` probabilities.
        min_samples_per_class: A class with fewer shadow members or non-members than this uses
            the global attack model (recorded in ``info["fallback_classes"]``); >= 1.
        max_train_samples: Cap on the attack training set (an RBF SVM is quadratic in it);
            a seeded subsample stratified by class and membership; >= 2, or None for no cap.
        balance_per_class: Train on as many members as non-members in every class (a seeded
            cut of the larger side), as the source study's code does for its ANN attack only
            (its SNN attack trains on the unbalanced pairs). Off by default. The balanced
            attack is named ``shokri_balanced`` (its records, metrics ``mia/shokri_balanced/*``
            and report rows), so one run can carry both variants
            (``mia.attacks: [shokri, shokri_balanced]``) and a study can compare them.
        seed: Seed of the subsample and of the classifiers.

    Every record's ``info`` carries the source study's metric beside the pooled AUC: the AUC
    within each class of the target's audited samples and their mean (``per_class_auc``,
    ``per_class_auc_mean``; :func:`mean_class_auc`).

    Raises:
        ConfigError: On a setting out of range.
    """

    name = "shokri"
    requires_shadows = True

    def __init__(
        self,
        classifier: Classifier = "svm",
        per_class: bool = True,
        features: Features = "raw",
        min_samples_per_class: int = 2,
        max_train_samples: int | None = 5000,
        balance_per_class: bool = False,
        seed: int = 0,
    ) -> None:
        if classifier not in get_args(Classifier):
            raise ConfigError(
                f"ShokriAttack classifier must be one of {list(get_args(Classifier))}; "
                f"got {classifier!r}"
            )
        if features not in get_args(Features):
            raise ConfigError(
                f"ShokriAttack features must be one of {list(get_args(Features))}; got {features!r}"
            )
        if not isinstance(per_class, bool):
            raise ConfigError(f"ShokriAttack per_class must be true or false; got {per_class!r}")
        if _not_int(min_samples_per_class) or min_samples_per_class < 1:
            raise ConfigError(
                "ShokriAttack min_samples_per_class must be an integer >= 1; "
                f"got {min_samples_per_class!r}"
            )
        if max_train_samples is not None and (_not_int(max_train_samples) or max_train_samples < 2):
            raise ConfigError(
                "ShokriAttack max_train_samples must be an integer >= 2 or null (no cap); "
                f"got {max_train_samples!r}"
            )
        if not isinstance(balance_per_class, bool):
            raise ConfigError(
                f"ShokriAttack balance_per_class must be true or false; got {balance_per_class!r}"
            )
        if _not_int(seed):
            raise ConfigError(f"ShokriAttack seed must be an integer; got {seed!r}")
        self.classifier: Classifier = classifier
        self.per_class = per_class
        self.features: Features = features
        self.min_samples_per_class = min_samples_per_class
        self.max_train_samples = max_train_samples
        self.balance_per_class = balance_per_class
        self.seed = seed
        self.name = "shokri_balanced" if balance_per_class else "shokri"

    def score(self, inputs: AttackInputs, target: int = 0) -> AttackOutput:
        """Train the attack on every model but ``target`` and score ``target``'s outputs.

        Args:
            inputs: Outputs of all models, labels, keep and audit matrices.
            target: Index of the audited model.

        Returns:
            Scores ``[N]`` and ``info`` (see :func:`shokri_scores`).

        Raises:
            ConfigError: When there is no shadow model (a single model was trained).
        """
        inputs.check_target(target)
        if inputs.num_models < 2:
            raise ConfigError(
                "ShokriAttack needs at least one shadow model besides the target; got "
                f"{inputs.num_models} model(s): train num_models >= 2 or drop this attack"
            )
        shadows = [m for m in range(inputs.num_models) if m != target]
        keep, audit = inputs.keep[shadows].cpu(), inputs.audit[shadows].cpu()
        pairs, balanced = balanced_pairs(keep, audit, inputs.audit[target].cpu())
        out = shokri_scores(
            inputs.logits[shadows],
            keep,
            pairs,
            inputs.logits[target],
            inputs.labels,
            **self.settings(),
        )
        out.info["balanced_pairs"] = balanced
        # the attack model trains on outputs of the target's own samples (paper, lira)
        out.info["target_samples_in_training"] = int((pairs.any(0) & inputs.audit[target]).sum())
        audited = inputs.audit[target]
        out.info.update(
            mean_class_auc(
                out.scores[audited], inputs.keep[target][audited], inputs.labels[audited]
            )
        )
        return out


def balanced_pairs(keep: Tensor, audit: Tensor, target_audit: Tensor) -> tuple[Tensor, bool]:
    """The shadow pairs to train on: the same IN and OUT counts for every sample, if possible.

    When the shadows audit the target's own samples (a leave-one-out audit, the ``lira``
    scheme), a member of the target has one IN pair fewer and one OUT pair more than a
    non-member, and an attack model that learns per-sample regions (an RBF SVM) would score the
    target's members lower for that reason alone. Every sample is then cut to the least IN and
    OUT counts over the target's audited samples, as the reference attacks are. With the
    ``shokri`` scheme the shadows never audit a target sample (nothing to balance); with the
    ``paper`` scheme each target sample appears only IN (train split) or only OUT (test split),
    which no cut can balance: the pairs are kept as the source study uses them, and the attack
    model learns each sample's outputs labelled with its target membership, which puts it
    above chance on models that never saw the data (``tests/attacks/test_calibration.py``).

    Args:
        keep: ``[K, N]`` bool, the shadows' members.
        audit: ``[K, N]`` bool, the shadows' audited samples (their labelled pairs).
        target_audit: ``[N]`` bool, the target's audited samples.

    Returns:
        ``(pairs [K, N], balanced)``: the pairs to use and whether they were cut.
    """
    shared = target_audit & audit.any(0)
    if not shared.any():
        return audit, False
    use_in, use_out, n_in, n_out = equal_reference_counts(keep, shared, available=audit)
    if n_in == 0 or n_out == 0:
        return audit, False
    return use_in | use_out, True


def _not_int(value: object) -> bool:
    """True unless ``value`` is an int (bools are not accepted)."""
    return isinstance(value, bool) or not isinstance(value, int)
