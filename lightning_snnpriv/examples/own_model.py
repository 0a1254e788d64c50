"""A network and a dataset of your own, as a user would write them: no lightning_snnpriv code.

``configs/examples/own_snn.yaml`` and ``configs/examples/own_ann.yaml`` audit them by
``class_path`` (``model.init_args.network``, ``data.init_args.dataset``); see the docs' guide
page "Your own network and data".
"""

from __future__ import annotations

import snntorch as snn
import torch
from sklearn.datasets import make_moons
from snntorch import surrogate
from torch import nn
from torch.utils.data import Dataset


class Moons(Dataset):
    """Two interleaving half circles (scikit-learn's ``make_moons``), torchvision-style.

    Items are ``(x, y)``: ``x`` a float tensor of 2 features, ``y`` the class (0 or 1); the
    labels are also in ``targets``, as in torchvision's datasets.

    Args:
        num_samples: Number of points.
        noise: Standard deviation of the Gaussian noise added to the points.
        seed: Seed of the points and the noise.
    """

    def __init__(self, num_samples: int = 400, noise: float = 0.3, seed: int = 0) -> None:
        x, y = make_moons(num_samples, noise=noise, random_state=seed)
        self.data = torch.as_tensor(x, dtype=torch.float32)
        self.targets = torch.as_tensor(y, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.data[index], self.targets[index]


class MLP(nn.Module):
    """A plain ReLU network.

    Args:
        in_features: Input features.
        hidden: Width of the hidden layer.
        num_classes: Outputs (logits).
    """

    def __init__(self, in_features: int = 2, hidden: int = 64, num_classes: int = 2) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, num_classes]``."""
        return self.layers(x)


class SpikingMLP(nn.Module):
    """Two layers of snntorch ``Leaky`` neurons; the outputs are the last membrane potentials.

    The membranes are initialized in every forward call (no ``init_hidden``), so no state
    outlives a batch.

    Args:
        in_features: Input features (the same current at every step).
        hidden: Number of hidden spiking neurons.
        num_classes: Output neurons.
        num_steps: Time steps per sample.
        beta: Membrane decay per step.
    """

    def __init__(
        self,
        in_features: int = 2,
        hidden: int = 64,
        num_classes: int = 2,
        num_steps: int = 10,
        beta: float = 0.9,
    ) -> None:
        super().__init__()
        self.num_steps = num_steps
        self.fc1 = nn.Linear(in_features, hidden)
        self.lif1 = snn.Leaky(beta=beta, spike_grad=surrogate.fast_sigmoid(slope=25))
        self.fc2 = nn.Linear(hidden, num_classes)
        self.lif2 = snn.Leaky(beta=beta, spike_grad=surrogate.fast_sigmoid(slope=25))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The output layer's membrane after the last step: ``[batch, num_classes]``."""
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        current = self.fc1(x)
        for _ in range(self.num_steps):
            spikes, mem1 = self.lif1(current, mem1)
            _, mem2 = self.lif2(self.fc2(spikes), mem2)
        return mem2
