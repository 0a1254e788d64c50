import json

import pytest
import torch

from lightning_snnpriv.attacks import Attack, AttackInputs, AttackOutput, LossAttack, ShokriAttack


def _inputs(**overrides) -> dict:
    args = {
        "logits": torch.zeros(2, 4, 3),
        "labels": torch.tensor([0, 1, 2, 0]),
        "keep": torch.tensor([[True, True, False, False], [False, False, True, True]]),
        "audit": torch.ones(2, 4, dtype=torch.bool),
    }
    args.update(overrides)
    return args


def test_valid_inputs():
    inputs = AttackInputs(**_inputs())
    assert inputs.num_models == 2
    assert inputs.num_samples == 4
    assert inputs.num_classes == 3


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"logits": torch.zeros(4, 3)}, "logits must be a floating tensor"),
        ({"logits": torch.zeros(2, 4, 3, dtype=torch.long)}, "logits must be a floating tensor"),
        (
            {"labels": torch.tensor([0, 1, 2])},
            r"labels must be a torch\.long tensor of shape \[4\]",
        ),
        ({"labels": torch.tensor([0.0, 1.0, 2.0, 0.0])}, "labels must be"),
        ({"labels": torch.tensor([0, 1, 3, 0])}, r"labels must lie in \[0, 2\]"),
        ({"keep": torch.ones(3, 4, dtype=torch.bool)}, r"keep must be a torch\.bool tensor"),
        ({"audit": torch.ones(2, 4)}, r"audit must be a torch\.bool tensor"),
        ({"audit": torch.zeros(2, 4, dtype=torch.bool)}, "keep must imply audit"),
    ],
)
def test_invalid_inputs(overrides, match):
    with pytest.raises(ValueError, match=match):
        AttackInputs(**_inputs(**overrides))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_logits_rejected(bad):
    logits = torch.zeros(2, 4, 3)
    logits[1, 2, 0] = bad
    with pytest.raises(ValueError, match=r"non-finite.*model 1, sample 2"):
        AttackInputs(**_inputs(logits=logits))


def test_non_tensor_rejected():
    with pytest.raises(TypeError, match="keep"):
        AttackInputs(**_inputs(keep=[[True] * 4] * 2))


def test_frozen():
    inputs = AttackInputs(**_inputs())
    with pytest.raises(AttributeError):
        inputs.labels = torch.zeros(4, dtype=torch.long)


def test_target_index_checked():
    inputs = AttackInputs(**_inputs())
    with pytest.raises(ValueError, match=r"target must be a model index in \[0, 1\]; got 2"):
        LossAttack().score(inputs, target=2)


def test_attack_is_abstract_and_settings_generic():
    with pytest.raises(TypeError):
        Attack()

    class Dummy(Attack):
        name = "dummy"

        def __init__(self, alpha: float = 0.5) -> None:
            self.alpha = alpha

        def score(self, inputs, target=0):
            return AttackOutput(torch.zeros(inputs.num_samples), {})

    assert Dummy(alpha=2.0).settings() == {"alpha": 2.0}
    assert repr(Dummy()) == "Dummy(alpha=0.5)"
    assert Dummy.requires_shadows is False


def test_settings_json_serializable():
    assert LossAttack().settings() == {}
    settings = ShokriAttack(classifier="logistic", max_train_samples=None).settings()
    assert json.loads(json.dumps(settings)) == {
        "classifier": "logistic",
        "per_class": True,
        "features": "raw",
        "min_samples_per_class": 2,
        "max_train_samples": None,
        "seed": 0,
        "balance_per_class": False,
    }


def test_jsonargparse_builds_attacks_from_class_path():
    jsonargparse = pytest.importorskip("jsonargparse")
    parser = jsonargparse.ArgumentParser()
    parser.add_argument("--attacks", type=list[Attack])
    cfg = parser.parse_object(
        {
            "attacks": [
                {"class_path": "lightning_snnpriv.attacks.LossAttack"},
                {
                    "class_path": "lightning_snnpriv.attacks.ShokriAttack",
                    "init_args": {"classifier": "mlp", "per_class": False},
                },
            ]
        }
    )
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    attacks = instantiate(cfg).attacks
    assert [a.name for a in attacks] == ["loss", "shokri"]
    assert attacks[1].settings()["classifier"] == "mlp"
    assert attacks[1].settings()["per_class"] is False
