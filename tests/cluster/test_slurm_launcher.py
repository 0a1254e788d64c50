"""``sweep --launcher slurm`` on the real local cluster: submit, kill the client, attach, wait.

One tiny sweep (a 1-epoch fit and a point with a bad override; the node's two CPUs run both at
once) is submitted by a ``sweep --wait`` client in its own process, with the jobs held (an
sbatch directive of the launcher section), so they are surely queued when the client is
SIGKILLed. Rerunning the sweep attaches to them (the scheduler's job count does not change),
``--status`` shows them pending, and once released a ``sweep --wait`` writes the report: the
finished point's results and the failed point's error from its job's stderr; a rerun then
submits the failed point alone. The launcher section's checks run without a cluster.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from cli_runs import CONFIGS, REPO, run_cli

from lightning_snnpriv.sweeps.launcher_spec import LauncherSpec
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.slurm_launcher import job_parameters, point_shape
from lightning_snnpriv.sweeps.spec import load_spec

WAIT_S = 600
BAD = "not_a_list"


def _write(path: Path, launcher: dict, **extra) -> Path:
    spec = {
        "name": path.stem,
        "base": str(CONFIGS / "breast_cancer_ann.yaml"),
        "fixed": {"trainer.max_epochs": 1, "trainer.enable_progress_bar": False,
                  "trainer.enable_model_summary": False, "mia.print_table": False},
        "points": [{"model.init_args.hidden_sizes": [8]},
                   {"model.init_args.hidden_sizes": BAD}],
        "launcher": launcher,
        **extra,
    }  # fmt: skip
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


# --- without a cluster ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"kind": "pbs"}, "launcher.kind"),
        ({"time_min": "4:00:00"}, "launcher.time_min"),
        ({"cpus_per_device": 0}, "launcher.cpus_per_device"),
        ({"gpus_per_device": -1}, "launcher.gpus_per_device"),
        ({"mem_gb": "16G"}, "launcher.mem_gb"),
        ({"array_parallelism": 0}, "launcher.array_parallelism"),
        ({"sbatch": {"time": "01:00:00"}}, "launcher.sbatch.time"),
        ({"sbatch": {"account": ["a", "b"]}}, "launcher.sbatch.account"),
        ({"setup": "module load cuda"}, "launcher.setup"),
        ({"partiton": "gpu"}, "unknown `launcher` key(s) ['partiton']"),
    ],
)
def test_a_bad_launcher_value_exits_2_naming_the_field(tmp_path, capsys, section, field):
    path = _write(tmp_path / "bad.yaml", {"kind": "slurm", **section})
    assert run_cli(["sweep", "--config", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert field in err
    assert "Traceback" not in err
    assert not (tmp_path / "logs").exists()  # nothing written


def test_without_slurm_the_slurm_launcher_exits_2_and_submits_nothing(
    tmp_path, capsys, monkeypatch
):
    path = _write(tmp_path / "s.yaml", {"kind": "slurm"}, output_dir=str(tmp_path / "logs"))
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without the SLURM client
    assert run_cli(["sweep", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "`sbatch` is not on PATH" in err
    assert "--launcher local" in err
    assert SweepDir(tmp_path / "logs" / "s").submissions() == []


def test_a_point_on_several_devices_gets_one_task_and_one_gpu_per_device(tmp_path):
    spec = load_spec(_write(tmp_path / "s.yaml", {}, grid={"trainer.devices": [1, 4]}))
    shapes = [point_shape(spec, p) for p in spec.expand()]
    assert shapes == [(1, 1), (4, 1)] * 2
    settings = LauncherSpec(kind="slurm", gpus_per_device=1, cpus_per_device=8, mem_gb=64)
    parameters = job_parameters(settings, *shapes[1], "s")
    assert parameters["tasks_per_node"] == parameters["gpus_per_node"] == 4
    assert (parameters["nodes"], parameters["cpus_per_task"], parameters["mem_gb"]) == (1, 8, 64)
    cpu = job_parameters(LauncherSpec(kind="slurm"), 2, 1, "s")
    assert cpu["tasks_per_node"] == 2
    assert "gpus_per_node" not in cpu
    auto = load_spec(_write(tmp_path / "a.yaml", {}, fixed={"trainer.devices": "auto"}))
    with pytest.raises(ValueError, match=r"trainer.devices='auto'.*number >= 1"):
        point_shape(auto, auto.expand()[0])


# --- on the cluster -----------------------------------------------------------------------------


def _jobs(name: str) -> list[str]:
    """Every job (array task) of this sweep's job name the scheduler knows, in any state."""
    out = subprocess.run(
        ["squeue", "--states=all", "--array", "--noheader", "--format=%i",
         f"--name=snnpriv-{name}"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return sorted(out.split())


def _sweep(path: Path, capsys, *options: str) -> tuple[int, str, str]:
    code = run_cli(["sweep", "--config", str(path), *options])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cluster_sweep(slurm, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("launcher")
    name = f"launcher-{uuid.uuid4().hex[:8]}"
    launcher = {"kind": "slurm", "time_min": 15, "cpus_per_device": 1, "sbatch": {"hold": True}}
    path = _write(tmp / f"{name}.yaml", launcher, output_dir=str(tmp / "logs"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    client = subprocess.Popen(
        [sys.executable, "-m", "lightning_snnpriv", "sweep", "--config", str(path), "--wait"],
        cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines = []
    try:
        for line in client.stdout:
            lines.append(line)
            if "job(s) submitted" in line:
                break
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=60)
    yield {"tmp": tmp, "name": name, "path": path, "client": client, "lines": lines,
           "dir": tmp / "logs" / name}  # fmt: skip
    # whatever a failed test left queued (held jobs would wait forever)
    subprocess.run(["scancel", f"--name=snnpriv-{name}"], check=False, timeout=60)


def test_killing_the_client_loses_nothing_and_a_rerun_attaches(cluster_sweep, capsys):
    sweep, name, path = SweepDir(cluster_sweep["dir"]), cluster_sweep["name"], cluster_sweep["path"]
    assert cluster_sweep["client"].returncode == -signal.SIGKILL
    assert "2 job(s) submitted, 0 attached to" in cluster_sweep["lines"][-1], cluster_sweep["lines"]
    (submission,) = sweep.submissions()
    jobs = sorted(entry["job_id"] for entry in submission["jobs"])
    assert _jobs(name) == jobs  # the jobs outlived the client, held in the queue

    code, out, _ = _sweep(path, capsys)  # a new client: attaches, submits nothing
    assert code == 0
    assert "0 job(s) submitted, 2 attached to" in out
    assert len(sweep.submissions()) == 1
    assert _jobs(name) == jobs

    code, out, _ = _sweep(path, capsys, "--launcher", "local", "--no-report")
    assert code == 0  # nor does a local sweep run the points that SLURM has queued
    assert "2 point(s) queued or running on SLURM: not run here" in out
    assert "0 to run" in out
    assert not sweep.attempts(sweep.submissions()[0]["jobs"][0]["point"])

    code, out, _ = _sweep(path, capsys, "--status")
    assert code == 0
    assert "2 points (0 done, 0 running, 2 pending, 0 failed, 0 to run)" in out
    assert out.count("PENDING (JobHeldUser)") == 2

    code, out, err = _sweep(path, capsys, "--wait", "1")  # the bound passes, the jobs stay
    assert code == 1
    assert "2 point(s) still queued or running after 1 s" in err
    assert not sweep.reports()
    assert _jobs(name) == jobs

    subprocess.run(["scontrol", "release", jobs[0].split("_")[0]], check=True, timeout=60)
    code, out, err = _sweep(path, capsys, "--wait", str(WAIT_S))
    assert code == 1, out + err  # the bad point failed; the others finished
    assert "0 job(s) submitted, 2 attached to" in out
    assert _jobs(name) == jobs  # still one job per point
    cluster_sweep["waited"] = (out, err)


@pytest.fixture(scope="module")
def finished(cluster_sweep):
    if "waited" not in cluster_sweep:
        pytest.skip("the sweep did not complete in the test before")
    return cluster_sweep


def test_the_report_has_the_cluster_results_and_the_failed_point_its_job_stderr(finished):
    sweep = SweepDir(finished["dir"])
    with open(sweep.path / "report_0" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    done = [r for r in rows if r["status"] == "finished"]
    (failed,) = [r for r in rows if r["status"] == "failed"]
    assert sorted(r["attack"] for r in done) == ["loss", "shokri"]
    for row in done:  # each number is the run's own, and the run is the point's
        results = json.loads((Path(row["run_dir"]) / "mia_results.json").read_text())
        record = next(r for r in results["records"] if r["attack"] == row["attack"])
        assert float(row["auc"]) == record["auc"]
        assert Path(row["run_dir"]).parent.parent == sweep.runs_dir
        assert float(row["wall_s"]) > 0  # from the attempt record the job wrote
    assert f"got value: {BAD}" in failed["error"]
    entries = {e["point_id"]: e for e in sweep.submissions()[0]["jobs"]}
    stderr = (
        Path(entries[failed["point_id"]]["folder"])
        / f"{entries[failed['point_id']]['job_id']}_0_log.err"
    )
    assert f"full log: {stderr}" in finished["waited"][1]
    assert f"got value: {BAD}" in stderr.read_text()


def test_status_after_the_jobs_and_report_from_a_new_command(finished, capsys):
    code, out, _ = _sweep(finished["path"], capsys, "--status")
    assert code == 0
    assert "2 points (1 done, 0 running, 0 pending, 1 failed, 0 to run)" in out
    assert out.count(" done ") == 1
    assert "COMPLETED" in out
    assert "FAILED (NonZeroExitCode)" in out
    assert "stderr: " in out
    assert "_0_log.err" in out
    print("\n".join(["sweep --status after the jobs:", out]), file=sys.stderr)  # for -s runs
    assert run_cli(["report", "--sweep", str(finished["dir"])]) == 0
    with open(finished["dir"] / "report_1" / "results.csv", newline="") as f:
        assert [r["status"] for r in csv.DictReader(f)].count("finished") == 2  # 2 attacks


def test_a_rerun_submits_only_the_failed_point(finished, capsys):
    sweep, name = SweepDir(finished["dir"]), finished["name"]
    before = _jobs(name)
    code, out, _ = _sweep(finished["path"], capsys, "--no-report")
    try:
        assert code == 0
        assert "1 job(s) submitted, 0 attached to" in out
        (again,) = sweep.submissions()[1]["jobs"]
        assert again["point"].startswith(f"hidden_sizes_{BAD}-")
        assert _jobs(name) == sorted([*before, again["job_id"]])
    finally:
        for submission in sweep.submissions()[1:]:  # held: cancel it before it could run
            for entry in submission["jobs"]:
                subprocess.run(["scancel", entry["job_id"]], check=False, timeout=60)


def test_sweep_help_documents_the_launcher_options(capsys):
    assert run_cli(["sweep", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--launcher", "--wait", "--status", "{local,pool,slurm}"):
        assert option in out


@pytest.mark.slow  # a 2-process DDP fit on the node's 2 CPUs (about a minute unloaded)
@pytest.mark.usefixtures("slurm")
def test_a_point_on_two_devices_runs_as_one_job_with_one_task_per_device(tmp_path, capsys):
    name = f"ddp-{uuid.uuid4().hex[:8]}"
    launcher = {"kind": "slurm", "time_min": 15, "cpus_per_device": 1}
    path = _write(tmp_path / f"{name}.yaml", launcher, output_dir=str(tmp_path / "logs"))
    spec = yaml.safe_load(path.read_text())
    ddp = {"trainer.devices": 2, "trainer.strategy": "ddp", "trainer.accelerator": "cpu"}
    spec["fixed"].update({**ddp, "data.init_args.scheme": "paper"})
    spec["points"] = [{"model.init_args.hidden_sizes": [8]}]
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    try:
        code, out, err = _sweep(path, capsys, "--wait", str(WAIT_S))
    finally:
        subprocess.run(["scancel", f"--name=snnpriv-{name}"], check=False, timeout=60)
    assert code == 0, out + err
    sweep = SweepDir(tmp_path / "logs" / name)
    ((entry,),) = [s["jobs"] for s in sweep.submissions()]
    assert (entry["devices"], entry["num_nodes"]) == (2, 1)
    script = (Path(entry["folder"]) / f"{entry['job_id'].split('_')[0]}_submission.sh").read_text()
    assert "#SBATCH --ntasks-per-node=2" in script
    (attempt,) = sweep.attempts(entry["point"])  # written once, by the first task
    assert attempt["status"] == "finished"
    (run,) = sweep.point_dir(entry["point"]).glob("version_*")  # both ranks, one run
    assert Path(attempt["run_dir"]) == run
    rank1 = Path(entry["folder"]) / f"{entry['job_id']}_1_log.err"  # the second task's log
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in rank1.read_text()
