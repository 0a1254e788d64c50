"""Networks (plain nn.Modules) and the LightningModules that train a target and its shadows."""

from lightning_snnpriv.models.custom import NetworkClassifier
from lightning_snnpriv.models.ensemble import ModelEnsemble
from lightning_snnpriv.models.module import ANNClassifier, PrivacyModule, SNNClassifier
from lightning_snnpriv.models.networks import ANN, LIF, SNN
from lightning_snnpriv.models.surrogates import Surrogate

__all__ = [
    "ANN",
    "LIF",
    "SNN",
    "ANNClassifier",
    "ModelEnsemble",
    "NetworkClassifier",
    "PrivacyModule",
    "SNNClassifier",
    "Surrogate",
]
