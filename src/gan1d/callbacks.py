"""Callbacks: evaluation, pictures, the run record, checkpoints and graceful stops. Each acts only at its own
cadence (in iterations), so the training loop pays nothing for them in between."""

import logging
import os
import signal
import threading
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar

from gan1d.errors import Diverged
from gan1d.files import atomic_file, write_json
from gan1d.metrics import Evaluator

log = logging.getLogger(__name__)

PROGRESS_BAR_METRICS = ("eval/w1_over_std", "eval/ks")


def is_due(trainer: L.Trainer, pl_module, every: int) -> bool:
    """True every ``every`` iterations and at the last one."""
    done = pl_module.iteration
    return done % every == 0 or done >= trainer.num_training_batches


class Evaluation(L.Callback):
    """Every ``every`` iterations: sample the fixed evaluation noise and score it (W1, W1/sd, KS, moments)."""

    def __init__(self, every: int = 250):
        self.every = every
        self.evaluator = None

    def on_fit_start(self, trainer, pl_module):
        self.evaluator = Evaluator(trainer.datamodule.target)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if not is_due(trainer, pl_module, self.every):
            return
        samples = pl_module.generate(trainer.datamodule.eval_noise)
        scores = {f"eval/{name}": value for name, value in self.evaluator(samples).items()}
        pl_module.report(scores)
        # TensorBoard's Histograms and Distributions tabs show the generated distribution moving.
        pl_module.logger.experiment.add_histogram("generated", samples, pl_module.iteration)


class PdfOverlay(L.Callback):
    """Every ``every`` iterations: the target pdf against the generated samples, with D(x) for a per-sample
    discriminator, as a TensorBoard image (the slider shows the evolution). At the end the run directory gets the
    last one as ``pdf_overlay.png`` and all of them as an animation, ``training.gif``."""

    def __init__(self, every: int = 500, filename: str = "pdf_overlay.png", animation: str = "training.gif"):
        self.every, self.filename, self.animation = every, filename, animation
        self.frames = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if not is_due(trainer, pl_module, self.every):
            return
        from gan1d.figures import pdf_overlay, save_animation, to_rgb  # matplotlib only once there is a picture

        done = pl_module.iteration
        samples = pl_module.generate(trainer.datamodule.eval_noise).cpu().numpy()
        w1 = pl_module.latest.get("eval/w1_over_std")  # from the latest evaluation
        title = f"iteration {done}" + (f"   W1/sd {w1:.4f}" if w1 is not None else "")
        d_curve = None
        if pl_module.preprocessor.pack == 1:
            d_curve = lambda x: pl_module.discriminate(torch.as_tensor(x, dtype=torch.float32)).cpu().numpy()  # noqa: E731
        rgb = to_rgb(pdf_overlay(trainer.datamodule.target, samples, title, d_curve))
        self.frames.append(rgb)
        pl_module.logger.experiment.add_image("pdf_overlay", rgb, done, dataformats="HWC")
        if done >= trainer.num_training_batches:
            from PIL import Image

            run_dir = Path(trainer.default_root_dir)
            with atomic_file(run_dir / self.filename, "wb") as f:
                Image.fromarray(rgb).save(f, format="PNG")
            with atomic_file(run_dir / self.animation, "wb") as f:
                save_animation(self.frames, f)


class LossCurves(L.Callback):
    """Keeps the logged losses and, at the end, draws them as one figure: ``loss_curves.png`` in the run directory
    and a TensorBoard image. While training, the same numbers are live in TensorBoard's Scalars tab."""

    NAMES = ("loss/d", "loss/g", "d_out/real", "d_out/fake")

    def __init__(self, filename: str = "loss_curves.png"):
        self.filename = filename
        self.history = {name: [] for name in self.NAMES}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        done = pl_module.iteration
        if done % pl_module.log_every == 0:
            for name in self.NAMES:
                if name in pl_module.latest:
                    self.history[name].append((done, pl_module.latest[name]))
        if done >= trainer.num_training_batches:
            from gan1d.figures import loss_curves

            fig = loss_curves(self.history)
            fig.savefig(Path(trainer.default_root_dir) / self.filename)
            pl_module.logger.experiment.add_figure("loss_curves", fig, done)


class RunRecord(L.Callback):
    """Writes ``metrics.json`` in the run directory when training ends, however it ends: how long, how fast, how
    good, and a ``status``: ok, interrupted, diverged or failed (with the reason). Also logs the run's
    hyperparameters with its final W1/sd and KS to TensorBoard's HParams tab (every run logs the same keys, so a
    sweep compares side by side)."""

    HP_METRICS = {"hp/w1_over_std": "w1_over_std", "hp/ks": "ks"}

    def __init__(self, hparams: dict | None = None, filename: str = "metrics.json"):
        self.hparams, self.filename = dict(hparams or {}), filename
        self.start = self.first_step = None
        self.first_iteration = 0
        self.record = {}

    def on_fit_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_start(self, trainer, pl_module):
        if pl_module.logger is not None:  # HParams needs its metric tags declared up front
            pl_module.logger.log_hyperparams(self.hparams, {tag: float("nan") for tag in self.HP_METRICS})

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.first_step is None:  # time the loop from its first iteration: start-up is not training speed
            self.first_step = time.perf_counter()
            self.first_iteration = pl_module.iteration

    def on_train_end(self, trainer, pl_module):
        self.write(trainer, pl_module, "ok")
        if pl_module.logger is not None:
            hp = {tag: self.record[key] for tag, key in self.HP_METRICS.items() if key in self.record}
            pl_module.logger.log_metrics(hp, step=pl_module.iteration)

    def on_exception(self, trainer, pl_module, exception):
        if isinstance(exception, KeyboardInterrupt):
            self.write(trainer, pl_module, "interrupted")
        elif isinstance(exception, Diverged):
            self.write(trainer, pl_module, "diverged", str(exception))
        else:
            self.write(trainer, pl_module, "failed", f"{type(exception).__name__}: {exception}")

    def write(self, trainer, pl_module, status: str, reason: str | None = None) -> dict:
        now = time.perf_counter()
        done = pl_module.iteration
        loop_s = now - (self.first_step or now)
        record = {
            "status": status,
            **({"reason": reason} if reason else {}),
            "steps": done,
            "wall_s": round(now - (self.start or now), 3),
            "steps_per_s": round((done - self.first_iteration) / loop_s, 2) if loop_s > 0 else None,
            "target": repr(trainer.datamodule.target),
        }
        prefix = "eval/"
        record.update({k[len(prefix):]: v for k, v in pl_module.latest.items() if k.startswith(prefix)})
        write_json(Path(trainer.default_root_dir) / self.filename, record)
        self.record = record
        return record


class Checkpoint(L.Callback):
    """``checkpoints/last.ckpt`` every ``every`` iterations, at the end, and when stopped by Ctrl-C or SIGTERM;
    written atomically, and only while the weights are finite, so a diverged run keeps its last good one."""

    def __init__(self, every: int = 500, filename: str = "checkpoints/last.ckpt"):
        self.every, self.filename = every, filename

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if is_due(trainer, pl_module, self.every):
            self.save(trainer, pl_module)

    def on_exception(self, trainer, pl_module, exception):
        if isinstance(exception, KeyboardInterrupt):
            self.save(trainer, pl_module)

    def save(self, trainer, pl_module) -> None:
        if not all(torch.isfinite(p).all() for p in pl_module.parameters()):
            raise Diverged(f"the weights became NaN or Inf by iteration {pl_module.iteration}")
        path = Path(trainer.default_root_dir) / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        trainer.save_checkpoint(tmp, weights_only=False)  # the full state: optimizers and loops, to resume from
        os.replace(tmp, path)


class GracefulStop(L.Callback):
    """Ctrl-C or SIGTERM stops training at the next iteration boundary, never half-way through one, so that the
    checkpoint written on the way out resumes (``ckpt_path=...``) exactly. A second Ctrl-C stops at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = None
        self.previous = {}

    def on_train_start(self, trainer, pl_module):
        if threading.current_thread() is threading.main_thread():  # signals can only be caught there
            self.previous = {s: signal.signal(s, self._request) for s in self.SIGNALS}

    def _request(self, signum, frame):
        if self.requested is not None:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.requested is not None:
            log.warning("%s received: stopping after iteration %d", self.requested, pl_module.iteration)
            raise KeyboardInterrupt  # Lightning's graceful shutdown: on_exception hooks, then exit code 1

    def on_train_end(self, trainer, pl_module):
        self._restore()

    def on_exception(self, trainer, pl_module, exception):
        self._restore()

    def _restore(self):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}


class IterationBar(TQDMProgressBar):
    """Lightning's bar, labelled in what it counts here: training iterations (one epoch of ``steps`` batches)."""

    def on_train_epoch_start(self, trainer, *_):
        super().on_train_epoch_start(trainer, *_)
        self.train_progress_bar.set_description("iterations")

    def get_metrics(self, trainer, pl_module):
        shown = {name.split("/", 1)[1]: f"{pl_module.latest[name]:.4f}" for name in PROGRESS_BAR_METRICS
                 if name in pl_module.latest}
        return {**super().get_metrics(trainer, pl_module), **shown}
