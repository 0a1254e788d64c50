"""A 2-process DDP fit (gloo, CPU) through the real command line, and what it must produce.

DDP's default launcher re-executes the script, so the fit runs as ``python -m lightning_snnpriv``
in a subprocess (the session fixture ``ddp_run`` of ``tests/conftest.py``, which
``tests/cluster`` compares with the same run launched by SLURM). A test-only callback
(``ddp_probe.TrainingProbe``) records on every rank what each model trained on. The 1-process
comparison resumes the run's checkpoint in this process (no training left), so the attack
stage runs on the same weights with 1 process.
"""

import copy
import json
import shutil

import torch
import yaml
from ddp_runs import WORLD, ddp_config, fit_subprocess
from sklearn.datasets import load_breast_cancer

from lightning_snnpriv.attacks import AttackInputs, LossAttack, ShokriAttack
from lightning_snnpriv.runs import PLAN_FILE, RESULTS_FILE, SIGNALS_FILE, load_plan


def test_results_are_written_once(ddp_run):
    tmp, run = ddp_run["tmp"], ddp_run["run"]
    assert list(tmp.rglob(RESULTS_FILE)) == [run / RESULTS_FILE]
    results = json.loads((run / RESULTS_FILE).read_text())
    assert [r["attack"] for r in results["records"]] == ["loss", "shokri"]
    # every sample of the pool counted once: the target's members and non-members
    assert results["records"][0]["n_members"] + results["records"][0]["n_nonmembers"] == 569


def test_tensorboard_gets_one_set_of_mia_entries(ddp_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    streams = {}
    for events in ddp_run["tmp"].rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0, "images": 0})
        acc.Reload()
        tags = {"scalars": acc.Tags()["scalars"], "images": acc.Tags()["images"]}
        mia = {t: len(acc.Scalars(t)) for t in tags["scalars"] if t.startswith("mia/")}
        mia.update({t: len(acc.Images(t)) for t in tags["images"] if t.startswith("mia/")})
        if mia:
            streams[events] = mia
    assert len(streams) == 1, streams
    (counts,) = streams.values()
    assert {"mia/loss/auc", "mia/shokri/auc", "mia/roc"} <= set(counts)
    assert set(counts.values()) == {1}, counts


def test_signals_hold_every_pool_sample_once_in_pool_order(ddp_run):
    signals = torch.load(ddp_run["run"] / SIGNALS_FILE)
    outputs, labels = signals["outputs"], signals["labels"]
    _, y = load_breast_cancer(return_X_y=True)
    assert outputs.shape == (2, len(y), 2)  # [models, pool size, classes]
    assert labels.tolist() == y.tolist()  # pool order, no sample duplicated or missing
    assert torch.isfinite(outputs).all()


def test_every_rank_built_the_same_plan_and_only_rank_zero_saved_it(ddp_run):
    probes, run = ddp_run["probes"], ddp_run["run"]
    saved = load_plan(run / PLAN_FILE)
    assert {p["digest"] for p in probes} == {saved.digest()}
    assert list(run.glob("*.npz")) == [run / PLAN_FILE]  # no stray temporary file
    assert [p["global_rank"] for p in probes] == [0, 1]
    assert all(p["world_size"] == WORLD and p["find_unused"] is True for p in probes)


def test_each_inner_loader_is_sharded_and_each_model_sees_exactly_its_members(ddp_run):
    probes, run = ddp_run["probes"], ddp_run["run"]
    plan = load_plan(run / PLAN_FILE)
    for model in range(plan.num_models):
        loaders = [p["loaders"][model] for p in probes]
        assert {lo["sampler"] for lo in loaders} == {"DistributedSampler"}
        # every rank has the same number of batches of each model (the sampler pads)
        assert len({(lo["batches"], lo["samples"]) for lo in loaders}) == 1
        seen = [i for p in probes for step in p["steps"] for i in step["seen"][model] or []]
        members = plan.members(model)
        assert set(seen) == set(members.tolist())  # every member, no other sample
        # the shards are disjoint but for the sampler's padding (fewer than WORLD repeats)
        assert len(seen) == WORLD * -(-len(members) // WORLD)
    assert len(plan.members(1)) < len(plan.members(0))  # so the shadow sits out some steps


def test_a_model_without_a_batch_gets_no_gradient_and_no_update(ddp_run):
    probes = ddp_run["probes"]
    steps = list(zip(*(p["steps"] for p in probes), strict=True))
    assert any(None in s["seen"] for s in steps[-1])  # the case is exercised
    for per_rank in steps:
        # the same models have a batch on every rank in every step
        assert len({tuple(s["seen"][m] is None for m in range(2)) for s in per_rank}) == 1
        for s in per_rank:
            has_batch = [b is not None for b in s["seen"]]
            assert s["grad_none"] == [not b for b in has_batch]
            assert s["moved"] == has_batch
        # DDP all-reduced the gradients: identical on every rank
        assert len({json.dumps(s["grad_sum"]) for s in per_rank}) == 1


def test_the_attack_stage_on_fixed_weights_is_the_same_with_one_process(
    ddp_run, tmp_path, monkeypatch
):
    from lightning_snnpriv.commands import main

    run = ddp_run["run"]
    # the 2-process run's final weights, outside its (complete, never resumed) run directory
    checkpoint = tmp_path / "weights.ckpt"
    shutil.copy(run / "checkpoints" / "last.ckpt", checkpoint)
    config = copy.deepcopy(ddp_run["config"])  # the session's run is shared
    config["trainer"].update(devices=1, strategy="auto", callbacks=None)
    config["trainer"]["logger"]["init_args"].update(save_dir=str(tmp_path / "logs"), name="one")
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    # resume at the end of training: no step is taken, on_fit_end audits the same weights
    main(["fit", "--config", str(tmp_path / "one.yaml"), f"--ckpt_path={checkpoint}"])
    one = tmp_path / "logs" / "one" / "version_0"
    two_signals, one_signals = torch.load(run / SIGNALS_FILE), torch.load(one / SIGNALS_FILE)
    assert torch.equal(two_signals["outputs"], one_signals["outputs"])  # bitwise
    assert torch.equal(two_signals["labels"], one_signals["labels"])
    two_results = json.loads((run / RESULTS_FILE).read_text())
    one_results = json.loads((one / RESULTS_FILE).read_text())
    assert two_results["records"] == one_results["records"]
    assert two_results["accuracy"] == one_results["accuracy"]
    # the per-sample scores of each attack, from either set of signals
    plan = load_plan(run / PLAN_FILE)
    keep, audit = torch.from_numpy(plan.keep), torch.from_numpy(plan.audit)
    for attack in (LossAttack(), ShokriAttack()):
        scores = [
            attack.score(AttackInputs(s["outputs"], s["labels"], keep, audit), target=0).scores
            for s in (two_signals, one_signals)
        ]
        assert torch.equal(scores[0], scores[1])


def test_ranks_with_different_plans_stop_with_a_clear_error(tmp_path):
    config = ddp_config(tmp_path, "mismatch")
    config["data"]["class_path"] = "ddp_probe.RankSeededBreastCancer"
    proc = fit_subprocess(tmp_path, config)
    # every rank exits with code 2 (cli.main); Lightning's process observer may SIGKILL rank 0
    # (-9) if it sees rank 1 exit first, but the message is printed before either exits
    assert proc.returncode in (2, -9), proc.stderr[-4000:]
    assert "error: the membership plan (scheme 'paper'" in proc.stderr
    assert "differs between the processes of this run" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob(PLAN_FILE))  # nothing saved
