"""The launcher. Submits the sweep as one SLURM job array through submitit, then waits on SLURM's queue itself:
submitit's own wait asks ``sacct``, which says nothing on a cluster without accounting storage, and raises on the
first job that ended without a result, which would end the sweep with a traceback and no summary."""

import json
import logging
import math
import subprocess
import time
from pathlib import Path
from typing import Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from omegaconf import OmegaConf

from gan1d.files import write_json

log = logging.getLogger(__name__)

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as SubmititSlurmLauncher
except ImportError:  # without gan1d[sweep] there is no hydra/launcher=slurm (its config extends submitit's)
    SubmititSlurmLauncher = None

if SubmititSlurmLauncher is not None:

    class SlurmLauncher(SubmititSlurmLauncher):
        poll_s = 2.0

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
            executor = self._executor()
            sweep_dir = Path(str(self.config.hydra.sweep.dir))
            sweep_dir.mkdir(parents=True, exist_ok=True)
            log.info("Submitit 'slurm' sweep output dir : %s", sweep_dir)
            params = []
            for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
                log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
                params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
            jobs = executor.map_array(self, *zip(*params, strict=True))
            wait(jobs, self.poll_s)
            return [outcome(job, overrides, sweep_dir / str(idx))
                    for idx, (job, overrides) in enumerate(zip(jobs, job_overrides, strict=True), initial_job_idx)]

        def _executor(self):
            """submitit's executor with the launcher's settings, as Hydra's submitit launcher builds it."""
            import submitit
            from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

            params = dict(self.params)
            executor = submitit.AutoExecutor(cluster="slurm", folder=params.pop("submitit_folder"),
                                             slurm_max_num_timeout=params.pop("max_num_timeout"))
            common = set(OmegaConf.structured(BaseQueueConf).keys())
            executor.update_parameters(**{k if k in common else f"slurm_{k}": v for k, v in params.items()})
            return executor


def queued(job_ids: set[str]) -> set[str]:
    """Those of ``job_ids`` (array elements, e.g. 12_3) still pending, running or completing."""
    arrays = sorted({j.split("_")[0] for j in job_ids})
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i", "-j", ",".join(arrays)], capture_output=True, text=True)
    if out.returncode != 0:  # squeue forgets a job id soon after it ended and then refuses it: none queued
        return set()
    return set(out.stdout.split()) & job_ids


def wait(jobs, poll_s: float) -> None:
    """Until every job has left SLURM's queue (each that finished has written its result first)."""
    pending = {job.job_id for job in jobs}
    while pending:
        time.sleep(poll_s)
        pending = queued(pending)


def slurm_state(job_id: str) -> str:
    """The job's state as SLURM's controller remembers it (e.g. CANCELLED, TIMEOUT, NODE_FAIL), else UNKNOWN."""
    out = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True).stdout
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    return fields.get("JobState", "UNKNOWN")


def outcome(job, overrides: Sequence[str], run_dir: Path) -> JobReturn:
    """The job's JobReturn. A job that ended without a result is recorded as gan1d records a failed job (its
    metrics.json says why, the sweep goes on, its value is NaN), with SLURM's state as the reason."""
    if job.paths.result_pickle.exists():
        try:
            return job.results()[0]
        except Exception:  # noqa: BLE001  submitit's FailedJobError: the job raised, its log holds the trace
            state, reason = "FAILED", f"SLURM job {job.job_id} raised: see {job.paths.stderr}"
    else:
        state = slurm_state(job.job_id)
        reason = f"SLURM job {job.job_id} ended {state} before the job finished (its log: {job.paths.stderr})"
    overrides_file, record_file = run_dir / ".hydra" / "overrides.yaml", run_dir / "metrics.json"
    if not overrides_file.exists():  # the job never started: its folder still tells the summary what it was
        overrides_file.parent.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(list(overrides)), overrides_file)
    record = json.loads(record_file.read_text()) if record_file.exists() else {}
    if record.get("status") != "ok":  # what the job wrote of itself (steps done, last scores) is kept
        status = "cancelled" if state.startswith("CANCELLED") else "failed"
        write_json(record_file, {**record, "status": status, "reason": reason})
    log.error("gan1d: job %s: %s", run_dir.name, reason)
    return JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED, _return_value=math.nan)
