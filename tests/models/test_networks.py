"""The plain networks: state local to a forward, readouts, pickling, independent copies."""

import copy
import pickle

import pytest
import torch

from lightning_snnpriv.models import ANN, SNN, ANNClassifier, SNNClassifier, Surrogate


def snn(**kw):
    torch.manual_seed(0)
    return SNN((6,), 3, hidden_sizes=[16], num_steps=5, beta=0.9, threshold=0.5, **kw)


def test_two_snns_in_one_process_do_not_share_state():
    a, b = snn(), snn()
    xa, xb = torch.randn(4, 6) * 3, torch.randn(7, 6) * 3
    first = a(xa)
    b(xb)  # another network, another batch size
    b(xa)
    assert torch.equal(a(xa), first)  # no state carried between calls or networks
    for lif in a.lifs:
        assert lif.neuron.mem.numel() == 0  # nothing kept after the forward pass


def test_snn_state_does_not_leak_between_batches_of_equal_size():
    net = snn()
    x1, x2 = torch.randn(4, 6) * 3, torch.randn(4, 6) * 3
    reference = net(x2)
    net(x1)
    assert torch.equal(net(x2), reference)


def test_snn_is_not_in_snntorchs_global_registry():
    import snntorch

    before = len(snntorch.SpikingNeuron.instances)
    snn()
    assert len(snntorch.SpikingNeuron.instances) == before


@pytest.mark.parametrize("readout", ["membrane_last", "membrane_mean", "spike_count"])
def test_snn_readouts(readout):
    net = snn(readout=readout)
    out = net(torch.randn(5, 6) * 3)
    assert out.shape == (5, 3)
    if readout == "spike_count":
        assert torch.equal(out, out.round())
        assert (out >= 0).all()
        assert (out <= 5).all()


@pytest.mark.parametrize(
    "module",
    [
        lambda: ANNClassifier(hidden_sizes=[8], num_models=2, num_classes=3, input_shape=(4,)),
        lambda: SNNClassifier(
            hidden_sizes=[8], num_steps=3, surrogate="atan", num_models=2, num_classes=3,
            input_shape=(4,),
        ),
    ],
)
def test_modules_pickle_and_deepcopy_after_a_forward_pass(module):
    m = module()
    x = torch.randn(5, 4)
    out = m(x)
    out.sum().backward()
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        torch.testing.assert_close(clone(x), out.detach())


def test_copies_are_independently_initialized():
    m = ANNClassifier(hidden_sizes=[8], num_models=3, num_classes=3, input_shape=(4,))
    w = [model.layers[2].weight for model in m.ensemble.members]
    assert not torch.equal(w[0], w[1])
    assert not torch.equal(w[1], w[2])


def test_surrogate_pickles_by_name():
    s = Surrogate("spike_rate_escape", {"slope": 10})
    assert pickle.loads(pickle.dumps(s)) == s
    assert s.params == {"beta": 1.0, "slope": 10.0}


def test_ann_shapes():
    assert ANN((2, 2), 5, hidden_sizes=[7, 3])(torch.zeros(1, 2, 2)).shape == (1, 5)
