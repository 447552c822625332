"""Sweeps on real distributed engines: a SLURM cluster on this machine (tests/slurm_cluster.py) and a local Ray."""

import csv
import subprocess
import sys
import time
from pathlib import Path

import pytest
import slurm_cluster

# Iterations for a job that finishes in seconds, and for one that is still training when it is cancelled.
QUICK = ["log_every=10", "eval_every=50", "figure_every=50", "data.eval_size=2000"]


@pytest.fixture
def slurm(tmp_path):
    reason = slurm_cluster.missing()
    if reason:
        pytest.skip(reason)
    cluster = slurm_cluster.start(tmp_path / "slurm")
    yield cluster
    pids = cluster.pids()
    slurm_cluster.stop(cluster)
    assert not [p for p in pids if slurm_cluster._alive(p)], "a SLURM daemon outlived the test"


def start_sweep(*args: str, env: dict, cwd: Path) -> subprocess.Popen:
    env = {**env, "PYTHONWARNINGS": "ignore", "HYDRA_FULL_ERROR": "0"}
    return subprocess.Popen([sys.executable, "-m", "gan1d.train", "-m", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.monotonic() < end, f"{path} did not appear"
        time.sleep(0.5)


def summary(sweep: Path) -> dict[str, dict]:
    with open(sweep / "summary.csv") as f:
        return {row["job"]: row for row in csv.DictReader(f)}


def test_a_sweep_runs_as_slurm_jobs_and_a_cancelled_one_is_listed(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    # Job 1 trains long enough to be cancelled mid-run, once it wrote its first checkpoint (iteration 500).
    proc = start_sweep("hydra/launcher=slurm", "steps=100,20000,100", *QUICK, f"hydra.sweep.dir={sweep}",
                       env=slurm.env, cwd=tmp_path)
    try:
        wait_for(sweep / "1" / "checkpoints" / "last.ckpt", proc)
        queue = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], env=slurm.env, capture_output=True, text=True)
        (job_1,) = [j for j in queue.stdout.split() if j.endswith("_1")]
        subprocess.run(["scancel", job_1], env=slurm.env, check=True)
        out = proc.communicate(timeout=300)[0]
    finally:
        proc.kill()
    assert proc.returncode == 1, out[-3000:]  # one job did not finish ok; the sweep still ended and summarised
    assert "Traceback" not in out
    rows = summary(sweep)
    assert {j: r["status"] for j, r in rows.items()} == {"0": "ok", "1": "cancelled", "2": "ok"}
    assert f"SLURM job {job_1} ended CANCELLED" in rows["1"]["reason"]
    assert int(rows["1"]["steps"]) >= 500 and (sweep / "1" / "checkpoints" / "last.ckpt").exists()
    for job in ("0", "2"):
        assert (sweep / job / "metrics.json").exists() and rows[job]["steps"] == "100"
    # Every job ran as a SLURM job of the one array, on the cluster's default partition.
    time.sleep(1)  # the completion log is written as each job's record is purged
    done = {r["ArrayTaskId"]: r for r in slurm.completed() if r.get("ArrayJobId") == job_1.split("_")[0]}
    assert {k: r["JobState"] for k, r in done.items()} == {"0": "COMPLETED", "1": "CANCELLED", "2": "COMPLETED"}
    assert {r["Partition"] for r in done.values()} == {"debug"}
