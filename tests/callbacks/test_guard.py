"""A NaN or infinite loss stops training with the model and the epoch named."""

from __future__ import annotations

import pytest
import torch
from pytorch_lightning import Callback, Trainer

from lightning_snnpriv.callbacks.guard import NonFiniteLossGuard, TrainingDivergedError
from lightning_snnpriv.callbacks.mia import MembershipInferenceCallback
from lightning_snnpriv.data import IrisDataModule
from lightning_snnpriv.models import ANNClassifier


class PoisonAt(Callback):
    """Set one weight of model ``model`` to NaN when epoch ``epoch`` starts."""

    def __init__(self, model: int, epoch: int) -> None:
        self.model, self.epoch = model, epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                next(pl_module.ensemble.members[self.model].parameters())[0, 0] = float("nan")


@pytest.mark.parametrize(("model", "name"), [(0, "target"), (2, "shadow 2")])
def test_nan_loss_names_the_model_and_epoch(model, name, tmp_path):
    data = IrisDataModule(num_shadows=2, batch_size=16)
    net = ANNClassifier(hidden_sizes=[4], num_models=3, num_classes=3, input_shape=(4,))
    mia = MembershipInferenceCallback(print_table=False)
    trainer = Trainer(
        max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path,
        callbacks=[PoisonAt(model, epoch=1), NonFiniteLossGuard(), mia],
    )  # fmt: skip
    with pytest.raises(TrainingDivergedError) as info:
        trainer.fit(net, data)
    message = str(info.value)
    assert f"{name} (nan)" in message
    assert "epoch 1 " in message
    others = {"target", "shadow 1", "shadow 2"} - {name}
    assert not any(f"{other} (" in message for other in others)
    assert mia.result is None  # the broken models were never audited
    assert not (tmp_path / "mia_results.json").exists()


def test_finite_training_is_untouched(tmp_path):
    data = IrisDataModule(num_shadows=1, batch_size=16)
    net = ANNClassifier(hidden_sizes=[4], num_models=2, num_classes=3, input_shape=(4,))
    trainer = Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[NonFiniteLossGuard()],
    )  # fmt: skip
    trainer.fit(net, data)
    assert trainer.global_step > 0
