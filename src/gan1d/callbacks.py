"""Callbacks: evaluation, pictures, the run record, checkpoints and graceful stops. Each acts only at its own
cadence (in iterations), so the training loop pays nothing for them in between."""

import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
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
    """True every ``every`` iterations and at the last one. Checked at batch ends: a batch holds several iterations,
    and ``iterations_per_batch`` divides every cadence, so no due iteration falls inside a batch."""
    return pl_module.iteration % every == 0 or is_last(trainer, pl_module)


def is_last(trainer: L.Trainer, pl_module) -> bool:
    return pl_module.iteration >= trainer.datamodule.steps


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


class Painter:
    """Draws figures in a separate process, so training never waits for matplotlib: on these small networks one
    figure costs as much as 30 iterations. ``draw(fn, *args)`` returns a Future of ``fn(*args)``; ``fn`` must be a
    module-level function of plain arrays (it is pickled). ``background=False`` draws in this process instead.

    The process comes from a fork server that has imported gan1d.figures (matplotlib) once, so a second run in the
    same process (a sweep) starts its painter in milliseconds; the first waits for the server's imports, on another
    thread. It ignores Ctrl-C and SIGTERM, which the training process handles (GracefulStop).
    """

    def __init__(self, background: bool = True):
        self.pool = None
        methods = multiprocessing.get_all_start_methods()
        # A process of joblib's loky launcher has a start method of its own, which its children cannot re-create.
        if background and multiprocessing.get_start_method(allow_none=True) not in (None, *methods):
            background = False
        self.starting = threading.Thread(target=self._start, args=(methods,), daemon=True) if background else None
        if self.starting is not None:
            # Started aside: the first process from a fork server waits for its imports (seconds), training need not.
            self.starting.start()

    def _start(self, methods: list[str]) -> None:
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            context.set_forkserver_preload(["gan1d.figures"])
        pool = ProcessPoolExecutor(1, mp_context=context, initializer=_ignore_stop_signals)
        try:
            pool.submit(int).result()  # the process is up
            self.pool = pool
        except Exception as err:  # no drawing process here: draw in this one rather than lose the figures
            log.warning("figures are drawn in the training process: no drawing process could start (%s)", err)
            pool.shutdown(wait=False, cancel_futures=True)

    def draw(self, fn, *args) -> Future:
        if self.starting is not None:
            self.starting.join()
        if self.pool is not None:
            return self.pool.submit(fn, *args)
        done = Future()
        done.set_result(fn(*args))
        return done

    def close(self) -> None:
        if self.starting is not None:
            self.starting.join()
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.starting = self.pool = None


def _ignore_stop_signals() -> None:
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)


class PdfOverlay(L.Callback):
    """Every ``every`` iterations: the target pdf against the generated samples, with D(x) for a per-sample
    discriminator, as a TensorBoard image (the slider shows the evolution). At the end the run directory gets the
    last one as ``pdf_overlay.png`` and all of them as an animation, ``training.gif``.

    The samples and D(x) are computed here; in a run of 3 figures or more the drawing happens in a separate process
    (``background``), and each image reaches TensorBoard once it is drawn, so training does not wait for
    matplotlib."""

    def __init__(self, every: int = 500, filename: str = "pdf_overlay.png", animation: str = "training.gif",
                 background: bool = True):
        self.every, self.filename, self.animation, self.background = every, filename, animation, background
        self.painter = None
        self.pending = []  # (iteration, future of the image), oldest first
        self.frames = []

    def on_fit_start(self, trainer, pl_module):
        # The drawing process takes seconds to start (it imports the training script's modules): it pays off when
        # figures are drawn while training goes on, not for a short run whose one or two figures come at its end.
        self.painter = Painter(self.background and trainer.datamodule.steps >= 3 * self.every)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if is_due(trainer, pl_module, self.every):
            from gan1d.figures import overlay_data, overlay_rgb

            done = pl_module.iteration
            samples = pl_module.generate(trainer.datamodule.eval_noise).cpu().numpy()
            w1 = pl_module.latest.get("eval/w1_over_std")  # from the latest evaluation
            title = f"iteration {done}" + (f"   W1/sd {w1:.4f}" if w1 is not None else "")
            d_curve = None
            if pl_module.preprocessor.pack == 1:
                d_curve = lambda x: pl_module.discriminate(torch.as_tensor(x, dtype=torch.float32)).cpu().numpy()  # noqa: E731
            data = overlay_data(trainer.datamodule.target, samples, title, d_curve)
            self.pending.append((done, self.painter.draw(overlay_rgb, data)))
        self._log_drawn(pl_module)

    def _log_drawn(self, pl_module, wait: bool = False) -> None:
        while self.pending and (wait or self.pending[0][1].done()):
            done, image = self.pending.pop(0)
            rgb = image.result()
            self.frames.append(rgb)
            pl_module.logger.experiment.add_image("pdf_overlay", rgb, done, dataformats="HWC")

    def on_train_end(self, trainer, pl_module):
        from PIL import Image

        from gan1d.figures import save_animation

        self._log_drawn(pl_module, wait=True)
        if not self.frames:  # resumed after the last iteration: nothing new to show
            return
        run_dir = Path(trainer.default_root_dir)
        with atomic_file(run_dir / self.filename, "wb") as f:
            Image.fromarray(self.frames[-1]).save(f, format="PNG")
        with atomic_file(run_dir / self.animation, "wb") as f:
            save_animation(self.frames, f)

    def on_exception(self, trainer, pl_module, exception):
        self.teardown(trainer, pl_module, "fit")

    def teardown(self, trainer, pl_module, stage):
        if self.painter is not None:  # None if the fit failed before it started
            self.painter.close()


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

    def on_train_end(self, trainer, pl_module):
        from gan1d.figures import loss_curves

        fig = loss_curves(self.history)
        fig.savefig(Path(trainer.default_root_dir) / self.filename)
        pl_module.logger.experiment.add_figure("loss_curves", fig, pl_module.iteration)


class RunRecord(L.Callback):
    """Writes ``metrics.json`` in the run directory when training ends, however it ends: how long, how fast, how
    good, and a ``status``: ok, interrupted, diverged or failed (with the reason). ``steps_per_s`` is the training
    loop's speed, from the start of the first iteration to the end of the last (with everything due at the cadences
    in between); ``wall_s`` is the whole fit, start-up and end-of-run files included. Also logs the run's
    hyperparameters with its final W1/sd and KS to TensorBoard's HParams tab (every run logs the same keys, so a
    sweep compares side by side)."""

    HP_METRICS = {"hp/w1_over_std": "w1_over_std", "hp/ks": "ks"}

    def __init__(self, hparams: dict | None = None, filename: str = "metrics.json"):
        self.hparams, self.filename = dict(hparams or {}), filename
        self.start = self.first_step = self.last_step = None
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

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.last_step = time.perf_counter()

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
        loop_s = (self.last_step or now) - (self.first_step or now)
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
    """Lightning's bar, counting what matters here: iterations, out of ``steps`` (a batch holds several)."""

    def on_train_epoch_start(self, trainer, *_):
        super().on_train_epoch_start(trainer, *_)
        self.train_progress_bar.set_description("iterations")
        self.train_progress_bar.total = trainer.datamodule.steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # Lightning's bar shows batch_idx + 1; here that is the iteration count, refreshed every refresh_rate of them.
        super().on_train_batch_end(trainer, pl_module, outputs, batch, pl_module.iteration - 1)

    def get_metrics(self, trainer, pl_module):
        shown = {name.split("/", 1)[1]: f"{pl_module.latest[name]:.4f}" for name in PROGRESS_BAR_METRICS
                 if name in pl_module.latest}
        return {**super().get_metrics(trainer, pl_module), **shown}
