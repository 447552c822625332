"""What a run's console shows: gan1d's bar, its result line and run dir, and the warnings that matter; none of the
framework's lines a gan1d user cannot act on."""

import os
import subprocess
import sys

import lightning as L
import pytest

from gan1d.errors import Diverged
from gan1d.run import train

# Lines of Lightning's and matplotlib's that a gan1d run must not show.
NOISE = ["Training:", "Epoch 0:", "`Trainer.fit` stopped", "Tip:", "litlogger", "The `srun` command is available",
         "No artists with labels found", "GPU available:", "0/?"]
SHORT = ["steps=20", "data.eval_size=2000", "logger=none"]  # shorter than log_every: loss curves with no points


def console(*args: str, cwd, path: str) -> str:
    """stdout and stderr of ``python -m gan1d.train args`` as a user's terminal gets them: warnings shown, and an
    ``srun`` on the PATH as on a machine with SLURM installed."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "SLURM_NTASKS", "SLURM_JOB_NAME")}
    proc = subprocess.run([sys.executable, "-m", "gan1d.train", *args], cwd=cwd, capture_output=True, text=True,
                          env={**env, "PATH": f"{path}{os.pathsep}{env['PATH']}"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture
def fake_srun(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    srun = bin_dir / "srun"
    srun.write_text("#!/bin/sh\nexit 0\n")
    srun.chmod(0o755)
    return str(bin_dir)


def test_a_run_and_a_sweep_show_gan1d_lines_only(tmp_path, fake_srun):
    run = console(*SHORT, "hydra.run.dir=plain", cwd=tmp_path, path=fake_srun)
    sweep = console("-m", "seed=0,1", *SHORT, "hydra.sweep.dir=sweep", cwd=tmp_path, path=fake_srun)
    for out in (run, sweep):
        assert not [line for line in NOISE if line in out], out
        assert "iterations: 100%|" in out and "20/20" in out  # gan1d's bar, to the end
    assert run.count("gan1d: ok after 20 iterations (") == 1 and "; run dir plain" in run
    assert sweep.count("gan1d: ok after 20 iterations (") == 2
    assert "; run dir sweep/0" in sweep and "; run dir sweep/1" in sweep and "sweep summary: sweep/summary.md" in sweep


def test_a_slurm_job_is_still_seen_as_one(monkeypatch, fake_srun):
    """Quieting the srun hint leaves Lightning's SLURM detection as it is: inside a SLURM job it is used."""
    from lightning.fabric.plugins.environments import SLURMEnvironment

    from gan1d.run import quiet_frameworks

    monkeypatch.setenv("PATH", f"{fake_srun}{os.pathsep}{os.environ['PATH']}")
    for key, value in {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "train", "SLURM_NODELIST": "localhost",
                       "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_JOB_ID": "7"}.items():
        monkeypatch.setenv(key, value)
    quiet_frameworks()
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    assert isinstance(trainer._accelerator_connector.cluster_environment, SLURMEnvironment)


class BarProbe(L.Callback):
    """Keeps the tqdm bar the run drew."""

    bar = None

    def on_train_batch_end(self, trainer, pl_module, *args):
        BarProbe.bar = trainer.progress_bar_callback.train_progress_bar


def test_a_failed_run_closes_its_bar(make_cfg):
    """Left open, a failed run's bar is drawn again when the process exits: after pytest's summary, say."""
    with pytest.raises(Diverged):
        train(make_cfg("steps=60", "iterations_per_batch=10", "checkpoint_every=10", "logger=none",
                       "+callbacks.poison._target_=helpers.PoisonAt", "+callbacks.poison.iteration=20",
                       "+callbacks.probe._target_=test_console.BarProbe"))
    assert BarProbe.bar is not None and BarProbe.bar.disable  # tqdm's close() disables it: nothing left to draw
