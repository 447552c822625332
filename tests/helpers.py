"""What the tests share besides fixtures: running a command as a user would, and callbacks that interrupt or break
a run on purpose (named as ``_target_``s in test configs: ``+callbacks.kill._target_=helpers.SignalInIteration``)."""

import os
import signal
import subprocess
import sys

import lightning as L
import torch

# Small enough to run in seconds, with every cadence hit at least once.
SHRINK = ["steps=40", "log_every=10", "eval_every=20", "figure_every=20", "data.eval_size=2000"]


def run_cli(module: str, *args: str, cwd: str | os.PathLike, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` the way a user would, from ``cwd``."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


class SignalAt(L.Callback):
    """Sends this process a real signal at a given iteration (a batch end), as a user's Ctrl-C or a scheduler would."""

    def __init__(self, iteration: int, signum: int = signal.SIGINT):
        self.iteration, self.signum = iteration, signum

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: object) -> None:
        if pl_module.iteration == self.iteration:
            os.kill(os.getpid(), self.signum)


class SignalInIteration(L.Callback):
    """Sends this process ``count`` real SIGINTs in the middle of an iteration, just before its first generator
    step, as a user's Ctrl-C at any moment would."""

    def __init__(self, iteration: int, count: int = 1):
        self.iteration, self.count = iteration, count

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        per_iteration = pl_module.optim.d_steps + pl_module.optim.g_steps
        if pl_module.global_step == (self.iteration - 1) * per_iteration + pl_module.optim.d_steps:
            for _ in range(self.count):
                os.kill(os.getpid(), signal.SIGINT)


class PoisonAt(L.Callback):
    """Turns one generator weight into NaN at a given iteration (a batch end)."""

    def __init__(self, iteration: int):
        self.iteration = iteration

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: object) -> None:
        if pl_module.iteration == self.iteration:
            with torch.no_grad():
                next(pl_module.generator.parameters()).view(-1)[0] = float("nan")

