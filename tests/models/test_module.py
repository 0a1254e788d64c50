"""Invariant 3 in the module: each copy gets its own gradient, none without a batch."""

import torch

from lightning_snnpriv.models import ANNClassifier


def test_model_without_a_batch_gets_no_gradient_and_adam_leaves_it_alone():
    torch.manual_seed(0)
    module = ANNClassifier(hidden_sizes=[8], num_models=2, num_classes=3, input_shape=(4,))
    opt = module.configure_optimizers()
    assert opt.defaults["fused"]  # the default optimizer: fused Adam
    x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
    for _ in range(2):  # the second step has Adam state for the target only
        before = [p.detach().clone() for p in module.ensemble.members[1].parameters()]
        opt.zero_grad()
        module.training_step([(x, y), None], 0).backward()
        assert all(p.grad is None for p in module.ensemble.members[1].parameters())
        assert all(p.grad is not None for p in module.ensemble.members[0].parameters())
        opt.step()
        after = list(module.ensemble.members[1].parameters())
        assert all(torch.equal(a, b) for a, b in zip(after, before, strict=True))


def test_summed_loss_gives_each_model_its_own_gradient():
    torch.manual_seed(0)
    module = ANNClassifier(hidden_sizes=[8], num_models=2, num_classes=3, input_shape=(4,))
    batches = [(torch.randn(5, 4), torch.randint(0, 3, (5,))) for _ in range(2)]
    module.training_step(batches, 0).backward()
    for model, (x, y) in zip(module.ensemble.members, batches, strict=True):
        alone = torch.nn.functional.cross_entropy(model(x), y)
        grads = torch.autograd.grad(alone, list(model.parameters()))
        for p, g in zip(model.parameters(), grads, strict=True):
            torch.testing.assert_close(p.grad, g)
