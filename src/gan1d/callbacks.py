"""Callbacks: evaluation, pictures, the run record, checkpoints and graceful stops. Each acts only at its own
cadence (in iterations), so the training loop pays nothing for them in between."""

import logging
import signal
import sys
import threading
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ProgressBar
from tqdm import tqdm

from gan1d.drawing import Painter
from gan1d.errors import Diverged
from gan1d.files import atomic_file, atomic_path, write_json
from gan1d.metrics import Evaluator

log = logging.getLogger(__name__)

PROGRESS_BAR_METRICS = ("eval/w1_over_std", "eval/ks")


def is_due(pl_module, every: int) -> bool:
    """True every ``every`` iterations and at the last one. Checked at batch ends: a batch holds several iterations,
    and ``iterations_per_batch`` divides every cadence, so no due iteration falls inside a batch."""
    return pl_module.iteration % every == 0 or pl_module.finished


def d_reading(pl_module):
    """D's reading at each x of an array, as an array: for a per-sample discriminator (pack 1)."""
    return lambda x: pl_module.discriminate(torch.as_tensor(x, dtype=torch.float32)).cpu().numpy()


def d_star_parts(pl_module):
    """(the generator D is trained against, its samples on the evaluation noise) where D's optimum is p / (p + q)
    (gan1d.optimal: a per-sample D under a loss that has one), else None. The trained network, not the weight
    average and not the model's samples (rounded, with atoms): it is the one D faces. None for a column with atoms:
    D sees its continuous part only, and the target's pdf is the whole column's."""
    from gan1d.optimal import LOSSES_WITH_D_STAR

    if (pl_module.preprocessor.pack != 1 or pl_module.loss_name not in LOSSES_WITH_D_STAR
            or len(pl_module.trainer.datamodule.target.atoms.values)):
        return None
    with torch.no_grad():
        samples = pl_module.generator(pl_module.trainer.datamodule.eval_noise.to(pl_module.device)).squeeze(1)
    return pl_module.generator, samples.cpu().numpy()


class Evaluation(L.Callback):
    """Every ``every`` iterations: sample the fixed evaluation noise and score it (W1, W1/sd, KS, moments), and
    where D has an optimum p / (p + q), D's mean distance from it over the target's central 99%
    (``eval/d_star_gap``, gan1d.optimal). A data target with a validation part is scored against that part; its
    held-out test part only once, at the last iteration (``test/`` scores), so nothing tuned on the running scores
    has seen it."""

    def __init__(self, every: int = 250):
        self.every = every
        self.evaluator = self.test = None

    def on_fit_start(self, trainer, pl_module):
        target = trainer.datamodule.target
        self.evaluator = Evaluator(target)
        self.test = Evaluator(target, "test") if getattr(target, "reference_part", "test") == "validation" else None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if not is_due(pl_module, self.every):
            return
        samples = pl_module.evaluation_samples()
        scores = {f"eval/{name}": value for name, value in self.evaluator(samples).items()}
        if (parts := d_star_parts(pl_module)) is not None:
            from gan1d.optimal import d_star_gap

            gap = d_star_gap(trainer.datamodule.target, *parts, d_reading(pl_module))
            if gap is not None:
                scores["eval/d_star_gap"] = gap
        if self.test is not None and pl_module.finished:
            scores.update({f"test/{name}": value for name, value in self.test(samples).items()})
        pl_module.report(scores)
        # TensorBoard's Histograms and Distributions tabs show the generated distribution moving.
        pl_module.dashboard.histogram("generated", samples, pl_module.iteration)


class Figures(L.Callback):
    """Every ``every`` iterations, two figures, each a logger image (in TensorBoard the slider shows the evolution);
    at the end the run directory gets the last of each as ``TAG.png``:

    - ``pdf_overlay``: the target pdf against the generated samples; for a per-sample discriminator (pack 1) also
      D(x) and, in a panel below, its push on a generated sample at each x (-d loss_G / dx). All of them also make
      an animation, ``training.gif``.
    - ``generator_map``: G(z) over the noise's range against the ideal map F^-1(C(z)) (for 1-D noise).

    The data are computed here; in a run of 3 figure points or more the drawing (and the PNG encoding) happens in a
    separate process (``background``), and each image reaches the logger once it is drawn, so training does not
    wait for matplotlib."""

    def __init__(self, every: int = 500, animation: str = "training.gif", background: bool = True):
        self.every, self.animation, self.background = every, animation, background
        self.painter = None
        self.map_inputs = None  # the generator map's noise, the same at every figure point
        self.pending = []  # (iteration, tag, future of the PNG), oldest first
        self.last = {}  # tag: its latest PNG
        self.frames = []  # the overlays' PNGs, not raw pixels: a long run keeps them all

    def on_fit_start(self, trainer, pl_module):
        from gan1d.figures import map_inputs

        # The drawing process is slow to start (matplotlib's import): it pays off when figures are drawn
        # while training goes on, not for a short run whose one or two figures come at its end. The jobs of a
        # population share one, set before (gan1d.population).
        if self.painter is None:
            self.painter = Painter(self.background and trainer.datamodule.steps >= 3 * self.every)
        sampler = pl_module.sampler
        self.map_inputs = map_inputs(sampler.noise, sampler.noise_dim, sampler.categories)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if is_due(pl_module, self.every):
            from gan1d.figures import generator_map_png, map_data, overlay_png

            done, target = pl_module.iteration, trainer.datamodule.target
            self.pending.append((done, "pdf_overlay", self.painter.draw(overlay_png, self._overlay(pl_module))))
            mapped = pl_module.generate(self.map_inputs).cpu().numpy()
            title = f"generator map, iteration {done}"
            sampler = pl_module.sampler
            data = map_data(target, sampler.noise, self.map_inputs, mapped, title, sampler.noise_dim,
                            sampler.categories)
            self.pending.append((done, "generator_map", self.painter.draw(generator_map_png, data)))
        self._log_drawn(pl_module)

    @staticmethod
    def _overlay(pl_module):
        from gan1d.figures import overlay_data

        samples = pl_module.evaluation_samples().cpu().numpy()
        w1 = pl_module.latest.get("eval/w1_over_std")  # from the latest evaluation
        title = f"iteration {pl_module.iteration}" + (f"   W1/sd {w1:.4f}" if w1 is not None else "")
        target = pl_module.trainer.datamodule.target
        d_curve = push_curve = optimal = None
        if pl_module.preprocessor.pack == 1:  # a pack's judgement has no value at a single x
            d_curve = d_reading(pl_module)
            push_curve = lambda x: pl_module.push(torch.as_tensor(x, dtype=torch.float32)).cpu().numpy()  # noqa: E731
        if (parts := d_star_parts(pl_module)) is not None:
            from gan1d.optimal import optimal_curve

            optimal = optimal_curve(target, *parts)
        return overlay_data(target, samples, title, d_curve, pl_module.d_prob, push_curve, optimal)

    def _log_drawn(self, pl_module, wait: bool = False) -> None:
        while self.pending and (wait or self.pending[0][2].done()):
            done, tag, image = self.pending.pop(0)
            png = self.last[tag] = image.result()
            if tag == "pdf_overlay":
                self.frames.append(png)
            pl_module.dashboard.image(tag, png, done)

    def on_train_end(self, trainer, pl_module):
        from gan1d.figures import save_animation

        self._log_drawn(pl_module, wait=True)
        run_dir = Path(trainer.default_root_dir)
        for tag, png in self.last.items():  # none for a run resumed after its last iteration: nothing new to show
            with atomic_file(run_dir / f"{tag}.png", "wb") as f:
                f.write(png)
        if self.frames:
            with atomic_file(run_dir / self.animation, "wb") as f:
                save_animation(self.frames, f)

    def on_exception(self, trainer, pl_module, exception):
        for *_, image in self.pending:  # no figures for a run that stops on an error or Ctrl-C
            image.cancel()
        self.teardown(trainer, pl_module, "fit")

    def teardown(self, trainer, pl_module, stage):
        if self.painter is not None:  # None if the fit failed before it started
            self.painter.close()
            self.painter = None  # a next fit starts its own (or is given a population's)


class LossCurves(L.Callback):
    """Keeps the logged losses and D's mean outputs and, at the end, draws them as one figure: ``loss_curves.png``
    in the run directory and a logger image. While training, the same numbers are live in the logger's scalars."""

    def __init__(self, filename: str = "loss_curves.png"):
        self.filename = filename
        self.history = {}

    def on_fit_start(self, trainer, pl_module):
        self.history = {name: [] for name in pl_module.logged if name.startswith(("loss/", "d_out/"))}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        done = pl_module.iteration
        if done % pl_module.log_every == 0:
            for name, points in self.history.items():
                if name in pl_module.latest:
                    points.append((done, pl_module.latest[name]))

    def on_train_end(self, trainer, pl_module):
        from gan1d.figures import loss_curves, to_png

        png = to_png(loss_curves(self.history, pl_module.d_prob, pl_module.d_equilibrium))
        with atomic_file(Path(trainer.default_root_dir) / self.filename, "wb") as f:
            f.write(png)
        pl_module.dashboard.image("loss_curves", png, pl_module.iteration)


class RunRecord(L.Callback):
    """Writes ``metrics.json`` in the run directory when training ends, however it ends: how long, how fast, how
    good, and a ``status``: ok, interrupted, diverged or failed (with the reason); for data, the ``data`` it trained
    on (gan1d.targets.Empirical.record) and, beside the validation scores, the ``test`` part's. ``steps_per_s`` is
    the training loop's speed, from the start of the first iteration to the end of the last (with everything due at
    the cadences in between); ``wall_s`` is the whole fit, start-up and end-of-run files included. A job of a
    population (``replicas`` set, by gan1d.population) shares that loop with the other replicas: its speed is then
    ``replica_steps_per_s``, its own iterations per second of that shared loop, beside ``replicas``, and there is no
    ``steps_per_s``, which would read as a solo run's speed. Also logs the run's
    hyperparameters with its final W1/sd and KS to TensorBoard's HParams tab (every run logs the same keys, so a
    sweep compares side by side)."""

    HP_METRICS = {"hp/w1_over_std": "w1_over_std", "hp/ks": "ks"}

    def __init__(self, hparams: dict | None = None, filename: str = "metrics.json"):
        self.hparams, self.filename = dict(hparams or {}), filename
        self.replicas = None  # the population's size, for a job of one
        self.start = self.first_step = self.last_step = None
        self.first_iteration = 0
        self.record = {}

    def on_fit_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_start(self, trainer, pl_module):
        # TensorBoard's HParams tab needs the metric tags declared up front.
        pl_module.dashboard.hparams(self.hparams, {tag: float("nan") for tag in self.HP_METRICS})

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
        if isinstance(exception, Stopped):
            self.write(trainer, pl_module, "interrupted")
        elif isinstance(exception, KeyboardInterrupt):
            self.write(trainer, pl_module, "interrupted", "stopped at once, not at an iteration's end: checkpoints/"
                                                          "last.ckpt, if any, is the last one written before")
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
            **self._speed(round((done - self.first_iteration) / loop_s, 2) if loop_s > 0 else None),
            "target": repr(trainer.datamodule.target),
            **({"length_rule": rule} if (rule := trainer.datamodule.length_rule) else {}),
        }
        record.update(scores(pl_module.latest, "eval/"))
        if test := scores(pl_module.latest, "test/"):
            record["test"] = test
        if data := getattr(trainer.datamodule.target, "record", None):
            record["data"] = data
        write_json(Path(trainer.default_root_dir) / self.filename, record)
        self.record = record
        return record


    def _speed(self, per_s: float | None) -> dict:
        if self.replicas is None:
            return {"steps_per_s": per_s}
        return {"replica_steps_per_s": per_s, "replicas": self.replicas}


def scores(latest: dict, prefix: str) -> dict:
    """The latest scores under ``prefix``, named without it."""
    return {k[len(prefix):]: v for k, v in latest.items() if k.startswith(prefix)}


class Checkpoint(L.Callback):
    """``checkpoints/last.ckpt`` every ``every`` iterations, at the end, and when stopped by Ctrl-C or SIGTERM at the
    end of an iteration (GracefulStop); written atomically, and only while the weights are finite, so a diverged run
    keeps its last good one. A stop inside an iteration (a second Ctrl-C) keeps the last one written before: a
    checkpoint of half an iteration would resume into a different run."""

    def __init__(self, every: int = 500, filename: str = "checkpoints/last.ckpt"):
        self.every, self.filename = every, filename

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if is_due(pl_module, self.every):
            self.save(trainer, pl_module)

    def on_exception(self, trainer, pl_module, exception):
        if isinstance(exception, Stopped):
            self.save(trainer, pl_module)

    def save(self, trainer, pl_module) -> None:
        if not all(torch.isfinite(p).all() for p in pl_module.parameters()):
            raise Diverged(f"the weights became NaN or Inf by iteration {pl_module.iteration}")
        path = Path(trainer.default_root_dir) / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            trainer.save_checkpoint(tmp, weights_only=False)  # the full state: optimizers and loops, to resume from


class Stopped(KeyboardInterrupt):
    """Training stopped by Ctrl-C or SIGTERM at the end of an iteration: a state to checkpoint and resume from."""


class GracefulStop(L.Callback):
    """Ctrl-C or SIGTERM stops training at the end of the current iteration, never half-way through one, so that the
    checkpoint written on the way out resumes (``ckpt_path=...``) exactly: the module's loop ends its batch there,
    and the batch end raises Stopped. A second Ctrl-C stops at once, inside the iteration, and writes no
    checkpoint (the last one written stays)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = None
        self.previous = {}
        self.module = None

    def on_train_start(self, trainer, pl_module):
        self.module = pl_module
        if threading.current_thread() is threading.main_thread():  # signals can only be caught there
            self.previous = {s: signal.signal(s, self._request) for s in self.SIGNALS}

    def _request(self, signum, frame):
        if self.requested is not None:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        self.module.stop_requested = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.requested is not None and not pl_module.finished:
            log.warning("%s received: stopped after iteration %d", self.requested, pl_module.iteration)
            raise Stopped  # Lightning's graceful shutdown: on_exception hooks, then exit code 1

    def on_train_end(self, trainer, pl_module):
        self._restore()

    def on_exception(self, trainer, pl_module, exception):
        self._restore()

    def _restore(self):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}


class IterationBar(ProgressBar):
    """gan1d's bar: iterations done out of the run's length (a batch holds several), with the latest W1/sd and KS,
    redrawn every ``refresh_rate`` iterations (0 hides it). One plain tqdm bar, made at the first batch, after the
    run's start-up lines."""

    def __init__(self, refresh_rate: int = 50):
        super().__init__()
        self.refresh_rate, self.enabled = refresh_rate, refresh_rate > 0
        self.train_progress_bar: tqdm | None = None

    def disable(self) -> None:  # Lightning's call on every process but the first
        self.enabled = False

    def enable(self) -> None:
        self.enabled = self.refresh_rate > 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.train_progress_bar is None:
            self.train_progress_bar = tqdm(desc="iterations", total=trainer.datamodule.steps,
                                           initial=pl_module.iteration, disable=not self.enabled, leave=True,
                                           dynamic_ncols=True, file=sys.stdout, smoothing=0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        bar, done = self.train_progress_bar, pl_module.iteration
        if self.enabled and (done - bar.n >= self.refresh_rate or done == bar.total):
            bar.n = done
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # and redraws

    def on_train_epoch_end(self, *_):
        self._close()  # the stream's end: before the run's last figures and record, which the rate leaves out

    def on_exception(self, trainer, pl_module, exception):
        self._close()  # left open, the bar would be drawn again whenever the process exits

    def _close(self):
        if self.train_progress_bar is not None:
            self.train_progress_bar.close()
            self.train_progress_bar = None

    def get_metrics(self, trainer, pl_module):
        return {name.split("/", 1)[1]: f"{pl_module.latest[name]:.4f}" for name in PROGRESS_BAR_METRICS
                if name in pl_module.latest}
