"""What DDP does to a model that has no batch in a step (torch DDP, gloo, 2 CPU processes).

The training step sums the losses of the models that have a batch, so a model without one is
left out of the graph. With ``find_unused_parameters=True`` (what ``strategy: ddp`` becomes):

* a model without a batch on every rank keeps ``grad = None``: Adam (fused, the default) neither
  steps it nor touches its moments;
* a model with a batch on some ranks only gets, on every rank, the all-reduced mean in which
  the ranks without a batch count as zero (``g / world_size``): replicas stay identical.
  (Lightning's distributed sampler gives every rank the same number of batches per model, so
  this case does not arise in a ``fit``; the CLI test checks that.)

Without it, DDP refuses the step after one where a model had no batch on any rank (it still waits
for that model's gradients). (A model with a batch on some ranks only would, worse, leave the
ranks waiting for each other.)
"""

import os
import socket

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.multiprocessing import spawn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

WORLD = 2


class Ensemble(nn.Module):
    """Two independent linear models; ``None`` in, no forward for that model (as the module)."""

    def __init__(self) -> None:
        super().__init__()
        self.members = nn.ModuleList(nn.Linear(3, 2) for _ in range(2))

    def forward(self, batches):
        losses = [
            F.cross_entropy(model(b[0]), b[1])
            for model, b in zip(self.members, batches, strict=True)
            if b is not None
        ]
        return torch.stack(losses).sum()


def _batch(seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 3, generator=g), torch.randint(0, 2, (4,), generator=g)


def _reports(rank: int, report: dict) -> None:
    torch.manual_seed(0)
    ddp = DistributedDataParallel(Ensemble(), find_unused_parameters=True)
    opt = torch.optim.Adam(ddp.parameters(), lr=0.1, fused=True)  # the default optimizer's kernel
    members = ddp.module.members
    # step 1: model 0 on both ranks, model 1 on rank 0 only
    opt.zero_grad()
    ddp([_batch(10 + rank), _batch(20) if rank == 0 else None]).backward()
    report["grad1_model1"] = members[1].weight.grad.tolist()
    local = members[1].weight.detach().clone().requires_grad_()
    if rank == 0:
        x, y = _batch(20)
        F.cross_entropy(F.linear(x, local, members[1].bias.detach()), y).backward()
        report["local_grad1_model1"] = local.grad.tolist()
    opt.step()
    # step 2: model 1 has no batch on any rank
    before = [p.detach().clone() for p in members[1].parameters()]
    state_before = {k: v.clone() for k, v in opt.state[members[1].weight].items()}
    opt.zero_grad()
    ddp([_batch(30 + rank), None]).backward()
    report["grad2_model1_none"] = [p.grad is None for p in members[1].parameters()]
    opt.step()
    report["model1_moved"] = any(
        not torch.equal(b, p.detach()) for b, p in zip(before, members[1].parameters(), strict=True)
    )
    report["adam_state_same"] = all(
        torch.equal(v, opt.state[members[1].weight][k]) for k, v in state_before.items()
    )
    report["params"] = [p.detach().tolist() for p in ddp.parameters()]
    # step 3: a forward after the step where model 1 was unused
    opt.zero_grad()
    ddp([_batch(40 + rank), _batch(50 + rank)]).backward()
    report["step3"] = "ok"


def _without_detection(rank: int, report: dict) -> None:
    torch.manual_seed(0)
    ddp = DistributedDataParallel(Ensemble(), find_unused_parameters=False)
    opt = torch.optim.Adam(ddp.parameters(), lr=0.1)
    try:  # model 1 without a batch on every rank, then one more step
        for step in range(2):
            opt.zero_grad()
            ddp([_batch(step), None]).backward()
            opt.step()
        report["without"] = "ok"
    except RuntimeError as err:
        report["without"] = str(err).splitlines()[0]


def _worker(rank: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    report = {}
    try:
        _reports(rank, report)
        _without_detection(rank, report)
    except RuntimeError as err:
        report["error"] = str(err).splitlines()[0]
    finally:
        queue.put((rank, report))  # plain Python values: tensors would not outlive the worker
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def reports() -> dict:
    """Both scenarios in one pair of spawned processes (each process start costs seconds)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    queue = torch.multiprocessing.get_context("spawn").SimpleQueue()
    spawn(_worker, args=(port, queue), nprocs=WORLD, join=True)
    return dict(queue.get() for _ in range(WORLD))


def test_model_without_a_batch_on_any_rank_keeps_none_gradients_and_is_not_updated(
    reports,
):
    for rank in range(WORLD):
        report = reports[rank]
        assert "error" not in report, report.get("error")
        assert report["grad2_model1_none"] == [True, True]
        assert not report["model1_moved"]
        assert report["adam_state_same"]
        assert report["step3"] == "ok"
    # replicas identical after all steps
    assert reports[0]["params"] == reports[1]["params"]


def test_model_with_a_batch_on_one_rank_gets_the_mean_with_zero_from_the_others(reports):
    g0 = torch.tensor(reports[0]["local_grad1_model1"])
    for rank in range(WORLD):
        torch.testing.assert_close(torch.tensor(reports[rank]["grad1_model1"]), g0 / WORLD)


def test_without_unused_parameter_detection_ddp_refuses_the_next_step(reports):
    for rank in range(WORLD):
        assert "Expected to have finished reduction" in reports[rank]["without"]
