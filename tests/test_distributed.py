"""Sweeps on real distributed engines: a SLURM cluster on this machine (tests/slurm_cluster.py) and a local Ray."""

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import slurm_cluster
from omegaconf import OmegaConf

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


def processes_under(folder: Path) -> list[str]:
    """The command lines of the machine's processes that name ``folder`` (Ray's daemons name their temp dir)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if str(folder) in text:
            found.append(text)
    return found


@pytest.fixture
def ray_dir():
    absent = [m for m in ("ray", "hydra_plugins.hydra_ray_launcher") if importlib.util.find_spec(m) is None]
    if absent:
        pytest.skip(f"{', '.join(absent)} not installed (pip install -e '.[ray]')")
    folder = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths live under it
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_sweep_runs_as_ray_tasks_on_a_local_ray(ray_dir, tmp_path):
    sweep = tmp_path / "sweep"
    proc = start_sweep("hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=2",
                       f"+hydra.launcher.ray.init._temp_dir={ray_dir}", "steps=100,120", *QUICK,
                       f"hydra.sweep.dir={sweep}", env=dict(os.environ), cwd=tmp_path)
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out[-3000:]
    assert "Ray Launcher is launching 2 jobs" in out and "Traceback" not in out
    rows = summary(sweep)
    assert {j: (r["status"], r["steps"]) for j, r in rows.items()} == {"0": ("ok", "100"), "1": ("ok", "120")}
    for job in ("0", "1"):
        assert (sweep / job / "metrics.json").exists()
        # The job ran as a Ray task: the launcher names it so in the job's own config.
        assert OmegaConf.load(sweep / job / ".hydra" / "hydra.yaml").hydra.job.id == f"job_id_for_{job}"
    assert list(ray_dir.glob("session_*")), "the sweep did not start its Ray in the given folder"
    assert not processes_under(ray_dir), "a Ray daemon outlived the sweep"
