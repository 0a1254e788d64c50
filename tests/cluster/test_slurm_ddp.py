"""The 2-process DDP fit of tests/distributed, launched by SLURM instead of by Lightning.

Two ways a user (or the sweep launcher) starts it: ``sbatch`` of the shipped template
``configs/slurm/fit.sbatch`` (``srun`` inside, one task per device) and submitit with one task
per device (``cluster.ddp_parameters``). Lightning's SLURM environment then takes rank, world
size and main address from SLURM, and every process must train on exactly what it trains on
when Lightning starts the processes itself: the same batches per rank and step, the same
gradients, final weights, signals and attack results, bit for bit (gloo on CPU).
"""

import subprocess
import sys

import pytest
import torch
from ddp_runs import PYTHONPATH, REPO, WORLD, collect, ddp_config, fit_command, write_config

from lightning_snnpriv.runs.run_dir import PLAN_FILE, RESULTS_FILE, RunDir
from lightning_snnpriv.sweeps import cluster

pytestmark = pytest.mark.usefixtures("slurm")  # before ddp_run: skip without starting it

TEMPLATE = REPO / "configs" / "slurm" / "fit.sbatch"
LAUNCH_KEYS = ("cluster_environment", "launched_by")
TIMEOUT_S = 900


def _sbatch_template(tmp, config_path) -> None:
    proc = subprocess.run(
        ["sbatch", "--wait", "--nodes=1", f"--ntasks-per-node={WORLD}", "--cpus-per-task=1",
         "--time=15", f"--output={tmp}/slurm-%j.out",
         f"--export=ALL,PYTHON={sys.executable},PYTHONPATH={PYTHONPATH}",
         str(TEMPLATE), str(config_path), "--trainer.accelerator=cpu"],
        cwd=tmp, capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip
    logs = "\n".join(p.read_text()[-4000:] for p in tmp.glob("slurm-*.out"))
    assert proc.returncode == 0, proc.stderr + logs


def _submitit(tmp, config_path) -> None:
    parameters = {"timeout_min": 15, "cpus_per_task": 1,
                  **cluster.ddp_parameters(WORLD, num_nodes=1, gpus=False)}  # fmt: skip
    records = cluster.submit(
        [fit_command(config_path)], tmp / "jobs", cwd=tmp, parameters=parameters,
        env={"PYTHONPATH": PYTHONPATH},
    )  # fmt: skip
    (status,) = cluster.wait(records, timeout_s=TIMEOUT_S)
    # every task's log: the failing rank is not always rank 0, whose file JobStatus names
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}"
                     for p in sorted((tmp / "jobs").glob("*_log.err")))  # fmt: skip
    assert status.state == "completed", logs


LAUNCHERS = {"sbatch_template": _sbatch_template, "submitit": _submitit}


@pytest.fixture(scope="module", params=sorted(LAUNCHERS))
def slurm_run(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    LAUNCHERS[request.param](tmp, write_config(tmp, ddp_config(tmp, "slurm")))
    return collect(tmp, "slurm")


def _training(probe: dict) -> dict:
    return {k: v for k, v in probe.items() if k not in LAUNCH_KEYS}


def test_slurm_started_every_process_as_its_own_task(slurm_run, ddp_run):
    probes = slurm_run["probes"]
    assert {p["cluster_environment"] for p in probes} == {"SLURMEnvironment"}
    launched = [p["launched_by"] for p in probes]
    assert [v["SLURM_PROCID"] for v in launched] == [str(r) for r in range(WORLD)]
    assert len({v["SLURM_JOB_ID"] for v in launched}) == 1  # one job, one task per rank
    assert {v["SLURM_NTASKS_PER_NODE"] for v in launched} == {str(WORLD)}
    # the run compared with: Lightning started its processes, SLURM played no part
    assert {p["cluster_environment"] for p in ddp_run["probes"]} == {"LightningEnvironment"}
    assert {v for p in ddp_run["probes"] for v in p["launched_by"].values()} == {None}


def test_every_rank_trains_on_the_same_batches_with_the_same_gradients(slurm_run, ddp_run):
    slurm, lightning = slurm_run["probes"], ddp_run["probes"]
    assert [p["global_rank"] for p in slurm] == list(range(WORLD))
    assert all(p["world_size"] == WORLD and p["find_unused"] is True for p in slurm)
    # plan digest, loaders, per-step pool indices, None gradients, moves, gradient sums
    assert [_training(p) for p in slurm] == [_training(p) for p in lightning]


def test_plan_weights_signals_and_results_are_the_same(slurm_run, ddp_run):
    slurm, lightning = slurm_run["run"], ddp_run["run"]
    runs = [RunDir(run) for run in (slurm, lightning)]
    assert runs[0].load_plan().digest() == runs[1].load_plan().digest()
    weights = [
        torch.load(run.last_checkpoint, weights_only=True)["state_dict"] for run in runs
    ]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # bitwise
    signals = [run.load_signals() for run in runs]
    assert torch.equal(signals[0][0], signals[1][0])  # outputs
    assert torch.equal(signals[0][1], signals[1][1])  # labels
    results = [run.load_results() for run in runs]
    compared = {"settings", "settings_digest", "mia", "accuracy", "records"}
    for key in sorted(compared):
        assert results[0][key] == results[1][key], key
    assert set(results[0]) - {"timing"} == compared


def test_results_are_written_once_by_rank_zero(slurm_run):
    tmp, run = slurm_run["tmp"], slurm_run["run"]
    assert list(tmp.rglob(RESULTS_FILE)) == [run / RESULTS_FILE]
    assert list(tmp.rglob(PLAN_FILE)) == [run / PLAN_FILE]
