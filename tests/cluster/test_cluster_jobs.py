"""Fit runs as SLURM jobs through submitit (sweeps.cluster), on the real local cluster.

What the sweep launcher relies on: a job outlives the process that submitted it, and a new
process finds it again by its record (job id + folder) and reads its state (pending, running,
completed, failed) and its stdout/stderr files; job arrays respect their parallelism; a failed
fit's error is in the job's stderr.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import submitit
from cli_runs import CONFIGS, REPO

from lightning_snnpriv.runs.run_dir import RESULTS_FILE
from lightning_snnpriv.sweeps import cluster

TIMEOUT_S = 600
PARAMETERS = {"timeout_min": 15, "cpus_per_task": 1}


def _fit(tmp: Path, *overrides: str) -> list[str]:
    """An ordinary fit command: the shipped breast cancer ANN, 1 epoch, logs under ``tmp``."""
    return [sys.executable, "-m", "lightning_snnpriv", "fit",
            "--config", str(CONFIGS / "breast_cancer_ann.yaml"), "--trainer.max_epochs=1",
            "--trainer.enable_progress_bar=false",
            f"--trainer.logger.init_args.save_dir={tmp}/logs", *overrides]  # fmt: skip


def _watch(records, timeout_s=TIMEOUT_S):
    """Poll until every job is final; return the final statuses and every state seen per job."""
    seen = {r.job_id: [] for r in records}
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = cluster.job_status(records)
        for s in statuses:
            if not seen[s.record.job_id] or seen[s.record.job_id][-1] != (s.state, s.reason):
                seen[s.record.job_id].append((s.state, s.reason))
        if all(s.state in cluster.FINAL_STATES for s in statuses):
            return statuses, seen
        assert time.monotonic() < deadline, f"jobs not done after {timeout_s} s: {seen}"
        time.sleep(0.2)


# --- without a cluster ------------------------------------------------------------------------


def test_squeue_and_sacct_lines_give_each_job_and_array_task_its_state():
    squeue = "12|RUNNING|None\n13_[0-2%1]|PENDING|JobArrayTaskLimit\n14_3|FAILED|NonZeroExitCode"
    states = cluster.parse_job_lines(squeue)
    assert states == {
        "12": ("RUNNING", "None"), "13_0": ("PENDING", "JobArrayTaskLimit"),
        "13_1": ("PENDING", "JobArrayTaskLimit"), "13_2": ("PENDING", "JobArrayTaskLimit"),
        "14_3": ("FAILED", "NonZeroExitCode"),
    }  # fmt: skip
    sacct = "15|CANCELLED by 0\n15.batch|CANCELLED\n15.0|CANCELLED\n16|TIMEOUT"
    states = cluster.parse_job_lines(sacct)
    assert states == {"15": ("CANCELLED by 0", ""), "16": ("TIMEOUT", "")}
    assert [cluster.slurm_state(raw) for raw, _ in states.values()] == ["failed", "failed"]
    assert cluster.slurm_state("REQUEUED") == "pending"
    assert cluster.slurm_state("COMPLETING") == "running"


def test_a_job_record_round_trips_through_json():
    record = cluster.JobRecord(job_id="41_3", folder="/shared/jobs")
    again = cluster.JobRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record
    assert again.job().paths.stderr == Path("/shared/jobs/41_3_0_log.err")


# --- on the cluster -----------------------------------------------------------------------------

CLIENT = textwrap.dedent(
    """
    import json, sys, time
    from lightning_snnpriv.sweeps import cluster
    tmp, fit = sys.argv[1], sys.argv[2:]
    parameters = {**json.loads(%r), "slurm_additional_parameters": {"hold": True}}
    (record,) = cluster.submit([fit], tmp + "/jobs", cwd=tmp, parameters=parameters)
    with open(tmp + "/record.json", "w") as f:
        json.dump(record.to_dict(), f)
    print("submitted", record.job_id, flush=True)
    time.sleep(3600)  # a sweep client waiting for its jobs
    """
) % json.dumps(PARAMETERS)


@pytest.mark.usefixtures("slurm")
def test_a_fit_job_outlives_its_killed_client_and_is_found_again_by_its_record(tmp_path):
    # the client submits a held job (so it is surely still pending) and is killed
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    client = subprocess.Popen([sys.executable, "-c", CLIENT, str(tmp_path), *_fit(tmp_path)],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert client.stdout.readline().startswith("submitted"), "the client did not submit"
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=60)
    assert client.returncode == -signal.SIGKILL
    record = cluster.JobRecord.from_dict(json.loads((tmp_path / "record.json").read_text()))

    # a new process (this one) attaches by the record: the job waits, held
    (status,) = cluster.job_status([record])
    assert (status.state, status.slurm_state) == ("pending", "PENDING")
    assert status.reason == "JobHeldUser"
    subprocess.run(["scontrol", "release", record.job_id], check=True, timeout=60)
    (status,), seen = _watch([record])

    assert status.state == "completed", status.stderr.read_text()[-4000:]
    assert status.slurm_state == "COMPLETED"
    states = [state for state, _ in seen[record.job_id]]
    states = [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]
    assert states in (["pending", "running", "completed"], ["running", "completed"]), seen
    assert record.job().result() == 0  # FitJob's return value, from submitit's result file
    # the job ran the ordinary fit: its run directory and the table on the job's stdout
    (run,) = (tmp_path / "logs").glob("*/version_*")
    assert (run / RESULTS_FILE).is_file()
    assert f"results: {run / RESULTS_FILE}" in status.stdout.read_text()
    assert status.stdout == tmp_path / "jobs" / f"{record.job_id}_0_log.out"
    assert status.stderr == tmp_path / "jobs" / f"{record.job_id}_0_log.err"


@pytest.mark.usefixtures("slurm")
def test_an_array_runs_one_task_at_a_time_and_a_failed_fit_shows_its_error(tmp_path):
    bad = _fit(tmp_path, "--model.init_args.hidden_sizes=oops")
    quick = [sys.executable, "-c", "print('quick task ran')"]
    records = cluster.submit([bad, quick], tmp_path / "jobs", cwd=tmp_path,
                             parameters={**PARAMETERS, "slurm_array_parallelism": 1})  # fmt: skip
    assert [r.job_id for r in records] == [f"{records[0].job_id.split('_')[0]}_{i}" for i in (0, 1)]
    statuses, seen = _watch(records)

    failed, completed = statuses
    # task 1 waited for task 0: held back by the array's limit, not by the node's CPUs
    assert ("pending", "JobArrayTaskLimit") in seen[completed.record.job_id]
    assert (failed.state, failed.slurm_state) == ("failed", "FAILED")
    assert failed.reason == "NonZeroExitCode"
    errors = failed.stderr.read_text()
    assert "error: model.init_args.hidden_sizes: expected Sequence" in errors  # the fit's message
    assert "command exited with code 2" in errors
    assert "exited with code 2" in str(failed.record.job().exception())
    assert completed.state == "completed"
    assert "quick task ran" in completed.stdout.read_text()
    assert not list(tmp_path.rglob(RESULTS_FILE))

    # once the scheduler forgets a job (MinJobAge later, no accounting storage), its outcome
    # comes from submitit's result file; with no file either, the state is unknown
    gone = [cluster.JobRecord(f"999999{i}", str(tmp_path / "jobs")) for i in range(3)]
    for record, source in zip(gone, records, strict=False):
        shutil.copy(source.job().paths.result_pickle, record.job().paths.result_pickle)
    states = [(s.state, s.slurm_state) for s in cluster.job_status(gone)]
    assert states == [("failed", None), ("completed", None), ("unknown", None)]


@pytest.mark.slow  # SLURM holds a requeued job back for about two minutes before it restarts
@pytest.mark.usefixtures("slurm")
def test_a_preempted_fit_job_is_requeued_and_continues_its_run(tmp_path):
    fit = _fit(tmp_path, "--trainer.max_epochs=40", "--ckpt_path", "last")
    fit[fit.index("--config") + 1] = str(CONFIGS / "breast_cancer_snn.yaml")  # slower epochs
    (record,) = cluster.submit([fit], tmp_path / "jobs", cwd=tmp_path, parameters=PARAMETERS)
    deadline = time.monotonic() + TIMEOUT_S
    while not list((tmp_path / "logs").glob("*/version_0/checkpoints/last.ckpt")):
        assert time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.5)
    # the signal SLURM sends before the time limit or on preemption (submitit asks for it)
    preempt = submitit.slurm.slurm.SlurmJobEnvironment.USR_SIG
    subprocess.run(["scancel", f"--signal={preempt}", record.job_id], check=True, timeout=60)
    (status,), seen = _watch([record], timeout_s=2 * TIMEOUT_S)

    assert status.state == "completed", status.stderr.read_text()[-4000:]
    assert ("pending", "BeginTime") in seen[record.job_id]  # requeued, held back, restarted
    job = subprocess.run(["scontrol", "show", "job", record.job_id], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert "Restarts=1" in job
    (run,) = (tmp_path / "logs").glob("*/version_*")  # the same run, continued
    assert (run / RESULTS_FILE).is_file()
    assert (run / "config.resume-1.yaml").is_file()
    assert f"resuming run {run}" in status.stderr.read_text()
