"""Populations: runs of one recipe trained in lockstep, their networks stacked and every step batched.

A replica is a solo run (gan1d.train) with its own seed and, where they differ, its own ``optim.g_lr``,
``optim.d_lr``, ``penalties.r1_gamma`` and ``optim.ema`` (VARIED): its networks are built as that run builds them,
its data is that run's stream, and the population runs the solo module's own iteration on Replicated networks: each
network's weights stacked, and each call to it run on every replica's own weights under torch.func.vmap, as
PyTorch's model-ensembling recipe does. The rest of a step is the solo code too: the losses and penalties reduce
over the samples only, so a batch of replicas gives one value per replica, and the sum of the replicas' losses gives
each replica its own gradient. Each replica has its own Adam (StackedAdam), and lands within seed noise of its solo
run, not bit for bit (a batched kernel sums in another order, and the game amplifies the rounding). A replica whose
losses or weights become NaN or Inf stops alone.

Each replica is a job with its own run dir, written as its solo run writes it: the job's callbacks (evaluation,
figures, loss curves, run record, checkpoint) get the job's own module, whose tensors are views of its slices of
the stacks, and a JobTrainer with the job's data, run dir and logger. A job's checkpoint is a solo run's: gan1d.sample
and gan1d.evaluate read it, ``ckpt_path=`` resumes it alone, and jobs whose ckpt_path names their checkpoints resume
as a population. ``hydra/launcher=population`` (hydra_plugins.gan1d_population_launcher) groups a sweep's jobs.
"""

import contextvars
import functools
import inspect
import json
import logging
import math
import statistics
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import lightning as L
import torch
from hydra.utils import get_class
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from gan1d.build import build_model, build_run, build_trainer, checked_target
from gan1d.callbacks import PROGRESS_BAR_METRICS, Figures, GracefulStop, RunRecord
from gan1d.checkpoints import checkpoint_path
from gan1d.data import StreamDataModule
from gan1d.drawing import Painter
from gan1d.errors import ConfigError, Diverged
from gan1d.module import GAN1D, nonfinite, saved_iteration
from gan1d.run import failure, frozen_garbage, quiet_frameworks, result_line

log = logging.getLogger(__name__)

VARIED = ("seed", "optim.g_lr", "optim.d_lr", "penalties.r1_gamma", "optim.ema")  # may differ between replicas
PER_JOB = (*VARIED, "run_dir", "ckpt_path")  # what may differ between the jobs of one population
# GAN1D's attributes that hold the varied hyperparameters, and the dtype each replica's value is kept in: the
# learning rates and the average's decay in double, as torch's Adam and the solo run compute with them; the
# penalty's weight in the loss's float, as a Python number is used there.
PER_REPLICA = {"g_lr": torch.float64, "d_lr": torch.float64, "r1_gamma": torch.float32, "ema": torch.float64}
NETWORKS = ("generator", "discriminator", "generator_ema", "preprocessor")
SHARED = (GracefulStop, ProgressBar)  # callbacks of the population as a whole: one Ctrl-C, one bar
STACKED_ACCELERATORS = ("cpu", "gpu", "cuda")  # those a population trains on (gan1d.checks lists every run's)
STACKED_PRECISIONS = (32, "32", "32-true")
# The run dir of the job whose callbacks are running, None between them: a job's log file takes its own lines and
# the population's (see the launcher).
current_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("gan1d_current_job", default=None)


# -- which jobs train together ------------------------------------------------------------------------------------
def alone_because(cfg: DictConfig) -> str | None:
    """Why the job ``cfg`` (a task config, without Hydra's node) cannot join a population, or None if it can."""
    try:
        checked_target(cfg)
    except ConfigError:
        return "its config is refused (its run says why)"
    if cfg.model._target_ != "gan1d.module.GAN1D" or cfg.data._target_ != "gan1d.data.StreamDataModule":
        return "a model or data module of its own"
    if cfg.trainer.get("precision", 32) not in STACKED_PRECISIONS:
        return f"trainer.precision={cfg.trainer.precision} (a population trains in 32-bit)"
    if cfg.optim.name != "adam":
        return f"optim.name={cfg.optim.name} (a population steps with a stacked Adam)"
    if cfg.optim.simultaneous:
        return "optim.simultaneous=true (a population steps D, then G)"
    if cfg.trainer.accelerator not in STACKED_ACCELERATORS:
        allowed = ", ".join(STACKED_ACCELERATORS)
        return f"trainer.accelerator={cfg.trainer.accelerator} (a population trains on {allowed})"
    for name, node in cfg.callbacks.items():
        # A job's callbacks get a JobTrainer, which has what gan1d's read, not the whole Trainer yours may.
        if not node._target_.startswith("gan1d.callbacks.") and not issubclass(get_class(node._target_), SHARED):
            return f"callbacks.{name} is not one of gan1d.callbacks"
    return None


def population_key(cfg: DictConfig) -> str | None:
    """What the jobs of one population share: the whole config but PER_JOB, what those keys switch on or off (a
    penalty, the weight average) and the iteration the job resumes from. None for a job that must run alone."""
    try:
        reason = alone_because(cfg)
        start = resumed_at(cfg)
    except Exception as err:  # its own run reports it, as a failed job of the sweep
        reason = failure(err)
    if reason is not None:
        log.info("%s runs alone: %s", cfg.run_dir, reason)
        return None
    plain = OmegaConf.to_container(cfg, resolve=False)
    for key in PER_JOB:
        *path, leaf = key.split(".")
        node = plain
        for part in path:
            node = node.get(part, {})
        node.pop(leaf, None)
    switches = {"r1": cfg.penalties.r1_gamma > 0, "ema": cfg.optim.ema > 0, "from": start}
    return json.dumps([plain, switches], sort_keys=True, default=str)


def resumed_at(cfg: DictConfig) -> int:
    """The iteration the job's checkpoint (ckpt_path) was written at; 0 for a fresh job."""
    if not cfg.ckpt_path:
        return 0
    checkpoint = torch.load(checkpoint_path(cfg.ckpt_path, key="ckpt_path"), map_location="cpu", weights_only=True)
    return saved_iteration(checkpoint, cfg.optim)


def group(keys: list[str | None], most: int) -> list[list[int]]:
    """The jobs of ``keys`` (their population_key, None for a job that runs alone) in the groups they train in, by
    index, in the order of each group's first job: the jobs of one key together, at most ``most`` at a time; a job
    without a partner is a group of its own."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(f"alone {i}" if key is None else key, []).append(i)
    chunks = [members[at:at + most] for members in groups.values() for at in range(0, len(members), most)]
    return sorted(chunks, key=lambda chunk: chunk[0])


class OwnLines(logging.Filter):
    """For a job's log file: its own lines and the population's, not the other jobs'."""

    def __init__(self, run_dir: str):
        super().__init__()
        self.run_dir = str(run_dir)

    def filter(self, record: logging.LogRecord) -> bool:
        return current_job.get() in (None, self.run_dir)


# -- the optimizer ------------------------------------------------------------------------------------------------
class StackedAdam(torch.optim.Optimizer):
    """torch.optim.Adam's update on stacked tensors (replicas, ...), with one learning rate per replica: ``lr`` is
    a tensor of shape (replicas,), the bias corrections are each replica's own, and eps is added as torch adds it.
    A replica whose entry of ``active`` is False keeps its weights and state as they are."""

    def __init__(self, params, lr: torch.Tensor, active: torch.Tensor, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps))
        self.active = active

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:  # Lightning's: it runs the on_before_optimizer_step hooks
            with torch.enable_grad():
                closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)

    def _update(self, p: torch.Tensor, group: dict) -> None:
        beta1, beta2 = group["betas"]
        state = self.state[p]
        if not state:
            state.update(step=torch.zeros(len(p), device=p.device), exp_avg=torch.zeros_like(p),
                         exp_avg_sq=torch.zeros_like(p))
        each = (-1,) + (1,) * (p.dim() - 1)  # a replica's value against its slice of a stacked tensor
        active = self.active.view(each)
        steps = state["step"].add_(self.active).double()
        # In double, as torch computes them from Python numbers; then in the weights' dtype, as its kernels do.
        step_size = (group["lr"] / (1 - beta1**steps)).to(p.dtype).view(each)
        correction2 = (1 - beta2**steps).sqrt().to(p.dtype).view(each)
        exp_avg = state["exp_avg"].lerp(p.grad, 1 - beta1)
        exp_avg_sq = state["exp_avg_sq"].mul(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
        denom = (exp_avg_sq.sqrt() / correction2).add_(group["eps"])
        p.copy_(torch.where(active, p - step_size * exp_avg / denom, p))
        state["exp_avg"].copy_(torch.where(active, exp_avg, state["exp_avg"]))
        state["exp_avg_sq"].copy_(torch.where(active, exp_avg_sq, state["exp_avg_sq"]))

    def load_state_dict(self, state_dict: dict) -> None:
        # The moments and step counts from the checkpoint; the hyperparameters, learning rates included, from the
        # config, on the device, as the population set them up (a decaying rate is set again every iteration).
        own = [{k: v for k, v in group.items() if k != "params"} for group in self.param_groups]
        super().load_state_dict(state_dict)
        for group, hyperparameters in zip(self.param_groups, own, strict=True):
            group.update(hyperparameters)


# -- the population -----------------------------------------------------------------------------------------------
class Population(GAN1D):
    """The replicas of one recipe as one LightningModule: GAN1D's training step on stacked networks. Built like
    the jobs' model (``build_model(cfg, _target_=...)``), then ``stack(jobs)`` puts the jobs' networks in."""

    uncapturable = "a population's iterations run eagerly (their capture as a CUDA graph is not built)"

    def stack(self, jobs: list["Job"]) -> None:
        """The jobs' networks, built and set up as their solo runs build them, stacked into this module's, each
        then Replicated: GAN1D's own computations run on every replica."""
        self.jobs = jobs
        for name in NETWORKS:
            if getattr(self, name) is not None:
                setattr(self, name, replicated(getattr(self, name), [getattr(job.module, name) for job in jobs]))
        for name, dtype in PER_REPLICA.items():  # a number in a solo run; one per replica here, with the weights
            values = torch.tensor([getattr(job.module, name) for job in jobs], dtype=dtype)
            delattr(self, name)
            self.register_buffer(name, values, persistent=False)
        self.register_buffer("active", torch.ones(len(jobs), dtype=torch.bool), persistent=False)

    def setup(self, stage: str) -> None:
        """Nothing: each job was set up from its own data as it was built, and stacked."""

    def bind(self) -> None:
        """Point every job's module at its slices of the stacks, wherever Lightning put them, and give it a solo
        run's optimizers to write its checkpoints with."""
        for name in NETWORKS:
            if getattr(self, name) is not None:
                for key, stacked in tensors(getattr(self, name).network).items():
                    for k, job in enumerate(self.jobs):
                        view = stacked.detach()[k]
                        place(getattr(job.module, name), key,
                              nn.Parameter(view, requires_grad=False) if isinstance(stacked, nn.Parameter) else view)
        for job in self.jobs:
            job.module.to(self.device)
            job.optimizers = job.module.configure_optimizers()

    def on_train_start(self) -> None:
        super().on_train_start()
        self._sums = torch.zeros(len(self.logged), len(self.jobs), device=self.device)  # one column per replica

    def configure_optimizers(self):
        adam = partial(StackedAdam, betas=self.optim.betas, active=self.active)
        return adam(self.generator.parameters(), lr=self.g_lr.clone()), \
            adam(self.discriminator.parameters(), lr=self.d_lr.clone())

    def ema_weight(self, done: int) -> torch.Tensor:
        return 1 - self.ema.clamp(max=(1 + done) / (10 + done))  # the solo warm-up, for each replica's decay

    @torch.no_grad()
    def _update_ema(self, weight: torch.Tensor):
        for average, current in zip(self._ema_params, self._g_params, strict=True):
            each = (-1,) + (1,) * (average.dim() - 1)
            moved = average.lerp(current, weight.to(average.dtype).view(each))
            average.copy_(torch.where(self.active.view(each), moved, average))

    def log_window(self, done: int, means: list[list[float]]) -> None:
        """Each running job's means (``means``: per logged value, one per replica) to its logger; a job whose means
        are NaN or Inf diverged, and stops alone."""
        for k, job in enumerate(self.jobs):
            if job.error is None:
                values = [m[k] for m in means]
                if all(map(math.isfinite, values)):
                    self.for_job(k, job.module.report, dict(zip(self.logged, values, strict=True)))
                else:
                    self.end_job(k, Diverged(nonfinite(done, self.log_every)))

    # -- the jobs -------------------------------------------------------------------------------------------------
    def for_job(self, k: int, fn, *args) -> None:
        """``fn(*args)`` for job ``k``, its log lines its own; an error there ends that job only."""
        try:
            with self.jobs[k].turn():
                fn(*args)
        except Exception as err:
            self.end_job(k, err)

    def dispatch(self, hook: str, args=lambda k: ()) -> None:
        """Every running job's callbacks' ``hook``, as Lightning calls it in a solo run; ``args(k)``: the hook's
        arguments after the trainer and module, for job k."""
        for k, job in enumerate(self.jobs):
            if job.error is None:
                self.for_job(k, lambda job=job, k=k: [getattr(c, hook)(job.trainer, job.module, *args(k))
                                                   for c in job.callbacks])

    def end_job(self, k: int, err: BaseException, alone: bool = True) -> None:
        """Job ``k`` stops on ``err``: its updates stop, and its callbacks and logger see the exception as in a solo
        run that stopped on it (metrics.json says why; the last good checkpoint stays). ``alone``: the others go on."""
        job = self.jobs[k]
        job.error = err
        self.active[k] = False
        with job.turn():
            if alone:
                if not isinstance(err, Diverged):
                    log.exception("the job failed", exc_info=err)
                log.error("gan1d: %s", failure(err))
            for callback in job.callbacks:
                try:
                    callback.on_exception(job.trainer, job.module, err)
                except Exception as late:  # e.g. a checkpoint of NaN weights refused: the other jobs still stop
                    log.error("gan1d: %s", failure(late))
            if job.logger:
                job.logger.finalize("failed")
        if alone and all(job.error is not None for job in self.jobs):
            self.trainer.should_stop = True

    def on_save_checkpoint(self, checkpoint) -> None:
        """Nothing: a population is saved job by job (job_checkpoint), each by its own module."""

    def stacked_state_dict(self, states: list[dict]) -> dict:
        """The jobs' solo state dicts ``states`` as this module's: each tensor stacked, under its Replicated key."""
        return {key: torch.stack([state[key.replace(".network.", ".", 1)] for state in states])
                for key in self.state_dict()}

    def job_checkpoint(self, k: int, checkpoint: dict) -> dict:
        """The checkpoint a solo run of job ``k`` would write now: the population's ``checkpoint`` (its loops' state
        is the solo run's at this iteration) with the job's weights, optimizer states and callbacks' states in
        place."""
        job = self.jobs[k]
        checkpoint["state_dict"] = job.module.state_dict()
        checkpoint["optimizer_states"] = [solo_state(opt, solo, k) for opt, solo in
                                          zip(self.trainer.optimizers, job.optimizers, strict=True)]
        checkpoint["callbacks"] = {c.state_key: c.state_dict() for c in job.callbacks if c.state_dict()}
        for callback in job.callbacks:
            callback.on_save_checkpoint(job.trainer, job.module, checkpoint)
        job.module.on_save_checkpoint(checkpoint)
        return owned(checkpoint)

    def show_progress(self) -> None:
        # The bar's W1/sd and KS: the median over the running jobs.
        for name in PROGRESS_BAR_METRICS:
            values = [job.module.latest[name] for job in self.jobs if job.error is None and name in job.module.latest]
            if values:
                self.latest[name] = statistics.median(values)


def replicated(network: nn.Module, replicas: list[nn.Module]) -> "Replicated":
    """``network``, built as ``replicas`` were, with each of its tensors the replicas' stacked: Replicated."""
    theirs = [tensors(replica) for replica in replicas]
    for key, tensor in tensors(network).items():
        stacked = torch.stack([replica[key].detach() for replica in theirs])
        is_parameter = isinstance(tensor, nn.Parameter)
        place(network, key, nn.Parameter(stacked, tensor.requires_grad) if is_parameter else stacked)
    return Replicated(network)


class Replicated(nn.Module):
    """One network of every replica: the solo network's module with each of its tensors stacked (replicas, ...).
    Calling it, or any method of the network through it, runs the network's own code on each replica's tensors and
    inputs: torch.func.vmap over torch.func.functional_call, as PyTorch's model-ensembling recipe does."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network
        object.__setattr__(self, "call", Call(network))  # not a submodule: its tensors are the network's

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.per_replica("forward", *args)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)  # the network itself
        except AttributeError:
            if name.startswith("_") or name == "network":
                raise
        attribute = getattr(self.network, name)  # e.g. the preprocessor's standardize, features and pack
        return partial(self.per_replica, name) if inspect.ismethod(attribute) else attribute

    def per_replica(self, method: str, *args: torch.Tensor) -> torch.Tensor:
        state = {f"network.{key}": tensor for key, tensor in tensors(self.network).items()}
        return torch.func.vmap(lambda own, *xs: torch.func.functional_call(self.call, own, (method, *xs)))(state, *args)


class Call(nn.Module):
    """A network's method as a module's forward: torch.func.functional_call runs forward only."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, method: str, *args: torch.Tensor) -> torch.Tensor:
        return getattr(self.network, method)(*args)


def solo_state(stacked: StackedAdam, solo: torch.optim.Adam, k: int) -> dict:
    """Replica ``k``'s slice of ``stacked``'s state, as ``solo``, a torch.optim.Adam over its weights, keeps it."""
    for p, q in zip(stacked.param_groups[0]["params"], solo.param_groups[0]["params"], strict=True):
        solo.state[q] = {key: value[k] for key, value in stacked.state[p].items()}
    solo.param_groups[0]["lr"] = float(stacked.param_groups[0]["lr"][k])
    return solo.state_dict()


def stacked_state(states: list[dict]) -> dict:
    """The solo optimizer states ``states`` as one StackedAdam state."""
    first = states[0]["state"]
    return {"state": {i: {key: torch.stack([s["state"][i][key] for s in states]) for key in first[i]} for i in first},
            "param_groups": states[0]["param_groups"]}


def tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(module.named_parameters()), **dict(module.named_buffers())}


def place(module: nn.Module, key: str, tensor: torch.Tensor) -> None:
    """Put ``tensor`` where ``module`` keeps its parameter or buffer ``key`` (dotted)."""
    owner, _, leaf = key.rpartition(".")
    setattr(module.get_submodule(owner), leaf, tensor)


def owned(obj):
    """``obj`` with every tensor copied out of the stacks: saved as it is, a view takes its whole stack along."""
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, dict):
        return {k: owned(v) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(owned(v) for v in obj)
    return obj


# -- the jobs -----------------------------------------------------------------------------------------------------
class JobTrainer:
    """What gan1d's callbacks read of their Trainer, for one job of a population: the job's data, run dir, logger
    and callbacks, the population's epoch, and a checkpoint of the job alone."""

    def __init__(self, job: "Job"):
        self.job, self.population = job, None  # the population's Trainer, once there is one
        self.datamodule, self.default_root_dir, self.callbacks = job.datamodule, str(job.cfg.run_dir), job.callbacks
        self.logger = job.logger or None
        self.loggers = [self.logger] if self.logger else []

    @property
    def current_epoch(self) -> int:
        return self.population.current_epoch if self.population else 0

    def save_checkpoint(self, filepath, weights_only: bool = False) -> None:
        io = self.population.strategy.checkpoint_io
        io.as_job = partial(self.population.lightning_module.job_checkpoint, self.job.index)
        try:
            self.population.save_checkpoint(filepath, weights_only=weights_only)
        finally:
            io.as_job = None


class JobCheckpointIO(TorchCheckpointIO):
    """Writes the checkpoint Lightning makes of the population as ``as_job`` makes it one job's (set by the job's
    JobTrainer while it saves); a population as a whole is never saved."""

    as_job = None

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if self.as_job is None:
            raise RuntimeError("a population is saved job by job, through each job's JobTrainer.save_checkpoint")
        super().save_checkpoint(self.as_job(checkpoint), path, storage_options)


@dataclass
class Job:
    """One replica's run: its config, its solo module (views of its slices once bound), data, callbacks, logger."""

    index: int
    cfg: DictConfig
    module: GAN1D
    datamodule: StreamDataModule
    callbacks: list
    logger: object
    ckpt: Path | None
    trainer: JobTrainer | None = None
    optimizers: tuple = ()
    error: BaseException | None = None

    @contextmanager
    def turn(self):
        """While the job's callbacks run: its module at the population's iteration, its log lines its own."""
        if self.trainer.population is not None:
            self.module.iteration = self.trainer.population.lightning_module.iteration
        token = current_job.set(str(self.cfg.run_dir))
        try:
            yield
        finally:
            current_job.reset(token)

    @property
    def record(self) -> dict:
        return next(c for c in self.callbacks if isinstance(c, RunRecord)).record


class Replicas(L.Callback):
    """The population's Lightning hooks, passed on to every running job's callbacks (Population.dispatch)."""

    def setup(self, trainer, pl_module, stage):
        pl_module.dispatch("setup", lambda k: (stage,))

    def on_fit_start(self, trainer, pl_module):
        pl_module.bind()  # the stacks are on their device now, and restored if resumed
        pl_module.dispatch("on_fit_start")

    def on_train_start(self, trainer, pl_module):
        pl_module.dispatch("on_train_start")

    def on_train_epoch_start(self, trainer, pl_module):
        pl_module.dispatch("on_train_epoch_start")

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        pl_module.dispatch("on_train_batch_start", lambda k: (replica(batch, k), batch_idx))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        pl_module.dispatch("on_train_batch_end", lambda k: (outputs, replica(batch, k), batch_idx))
        pl_module.show_progress()

    def on_train_epoch_end(self, trainer, pl_module):
        pl_module.dispatch("on_train_epoch_end")

    def on_train_end(self, trainer, pl_module):
        pl_module.dispatch("on_train_end")

    def on_fit_end(self, trainer, pl_module):
        pl_module.dispatch("on_fit_end")

    def teardown(self, trainer, pl_module, stage):
        pl_module.dispatch("teardown", lambda k: (stage,))
        for job in pl_module.jobs:
            if job.error is None and job.logger:
                job.logger.finalize("success")

    def on_exception(self, trainer, pl_module, exception):
        # The whole population stops (Ctrl-C, SIGTERM, an error of its own): every running job stops with it.
        for k, job in enumerate(pl_module.jobs):
            if job.error is None:
                pl_module.end_job(k, exception, alone=False)


def replica(batch: tuple[torch.Tensor, ...], k: int) -> tuple[torch.Tensor, ...]:
    """Replica ``k``'s part of a population's batch: the batch its solo run gets."""
    return tuple(part[:, :, k] for part in batch)


# -- the data -----------------------------------------------------------------------------------------------------
class Stacked(IterableDataset):
    """The replicas' streams, batch by batch, stacked on a replica dimension after the step one: each part is
    (iterations, steps, replicas, ...)."""

    def __init__(self, streams: list[IterableDataset]):
        super().__init__()
        self.streams = streams

    def __iter__(self):
        for batches in zip(*self.streams, strict=True):
            yield tuple(torch.stack(parts, 2) for parts in zip(*batches, strict=True))


class PopulationData(L.LightningDataModule):
    """The jobs' data streams as one, replica by replica; each job's stream is exactly its solo run's."""

    def __init__(self, datamodules: list[StreamDataModule]):
        super().__init__()
        self.datamodules, self.steps = datamodules, datamodules[0].steps

    def train_dataloader(self) -> DataLoader:
        start = self.trainer.lightning_module.iteration  # restored before the loader is made, when resuming
        workers = self.datamodules[0].num_workers
        # One copy to the device per loader batch (many iterations), from pinned memory when that is a GPU.
        return DataLoader(Stacked([dm.stream(start) for dm in self.datamodules]), batch_size=None,
                          num_workers=workers, persistent_workers=workers > 0,
                          pin_memory=self.trainer.strategy.root_device.type == "cuda")


class SharedPainter(Painter):
    """One drawing process for the figures of all the jobs of a population: a job that ends does not close it."""

    def close(self) -> None:
        pass

    def finish(self) -> None:
        super().close()


# -- training -----------------------------------------------------------------------------------------------------
def train_population(cfgs: list[DictConfig], callbacks: list[L.Callback] = ()) -> list[dict]:
    """Train the jobs ``cfgs``, configs that differ only in PER_JOB, as one population, each job in its own run dir
    as gan1d.train would; returns each job's run record (what its metrics.json holds). ``callbacks``: Lightning
    callbacks of the population as a whole (its module is a Population)."""
    if any(built_once(cfg) != built_once(cfgs[0]) for cfg in cfgs[1:]):
        raise ConfigError(f"a population's jobs share one recipe: they may differ only in {', '.join(PER_JOB)}")
    quiet_frameworks()
    log.info("%d jobs train as one population: %s", len(cfgs), " ".join(str(cfg.run_dir) for cfg in cfgs))
    jobs, shared = build_jobs(cfgs)
    population = build_model(cfgs[0], _target_=f"{__name__}.{Population.__name__}")
    population.stack(jobs)
    trainer = build_trainer(cfgs[0], callbacks=[Replicas(), *shared, *callbacks], logger=False,
                            plugins=[JobCheckpointIO()])
    painter = share_painter(jobs)
    for job in jobs:
        job.trainer.population = trainer
    try:
        with frozen_garbage(), tempfile.TemporaryDirectory() as folder:
            trainer.fit(population, datamodule=PopulationData([job.datamodule for job in jobs]),
                        ckpt_path=resume_from(population, jobs, Path(folder)), weights_only=True)
    finally:
        if painter is not None:
            painter.finish()
    for job in (job for job in jobs if job.record):  # none for a job that failed before training
        with job.turn():
            log.info(result_line(job.record, job.cfg.run_dir))
    return [job.record for job in jobs]


def built_once(cfg: DictConfig) -> dict:
    """What a population builds from its first job's config for all: the model (of each varied value only whether
    it is on), the trainer and the length."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    for key in VARIED[1:]:  # but the seed: in the model's optim and penalties nodes
        *path, leaf = key.split(".")
        node = functools.reduce(dict.get, path, model)
        node[leaf] = node[leaf] > 0
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer.pop("default_root_dir")
    return {"model": model, "trainer": trainer, "steps": cfg.steps}


def build_jobs(cfgs: list[DictConfig]) -> tuple[list[Job], list[L.Callback]]:
    """Each job's parts, as its solo run builds them (the same initial weights), set up on its own data; and the
    first job's callbacks of the population as a whole (SHARED)."""
    jobs, shared = [], []
    for k, cfg in enumerate(cfgs):
        run = build_run(cfg, checked_target(cfg))
        own = [c for c in run.callbacks if not isinstance(c, SHARED)]
        for record in (c for c in own if isinstance(c, RunRecord)):
            record.replicas = len(cfgs)
        shared = shared or [c for c in run.callbacks if isinstance(c, SHARED)]
        job = Job(k, cfg, run.model, run.datamodule, own, run.logger, run.ckpt)
        job.trainer = JobTrainer(job)
        job.module.trainer = job.trainer
        job.module.setup("fit")  # location and scale from its own data, the penalty's draws, its dashboard
        jobs.append(job)
    return jobs, shared


def share_painter(jobs: list[Job]) -> SharedPainter | None:
    figures = [c for job in jobs for c in job.callbacks if isinstance(c, Figures)]
    if not figures:
        return None
    first, steps = figures[0], jobs[0].datamodule.steps
    painter = SharedPainter(first.background and len(figures) * steps >= 3 * first.every)
    for callback in figures:
        callback.painter = painter
    return painter


def resume_from(population: Population, jobs: list[Job], folder: Path) -> Path | None:
    """With every job resuming (its ckpt_path), the population's checkpoint, stacked from theirs, in ``folder``;
    their callbacks take their states back. None for a fresh population."""
    if all(job.ckpt is None for job in jobs):
        return None
    if any(job.ckpt is None for job in jobs):
        raise ConfigError("ckpt_path: every job of a population resumes, or none does")
    checkpoints = [torch.load(job.ckpt, map_location="cpu", weights_only=True) for job in jobs]
    iterations = {saved_iteration(c, jobs[0].module.optim) for c in checkpoints}
    if len(iterations) > 1:
        raise ConfigError("ckpt_path: the jobs of a population must resume from the same iteration")
    log.info("the population resumes from its jobs' checkpoints, after iteration %d", *iterations)
    for job, checkpoint in zip(jobs, checkpoints, strict=True):
        for callback in job.callbacks:
            if callback.state_key in checkpoint.get("callbacks", {}):
                callback.load_state_dict(checkpoint["callbacks"][callback.state_key])
    stacked = {**checkpoints[0], "callbacks": {},
               "state_dict": population.stacked_state_dict([c["state_dict"] for c in checkpoints]),
               "optimizer_states": [stacked_state([c["optimizer_states"][i] for c in checkpoints])
                                    for i in range(len(checkpoints[0]["optimizer_states"]))]}
    path = folder / "population.ckpt"
    torch.save(stacked, path)
    return path
