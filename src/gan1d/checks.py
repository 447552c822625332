"""Checks a config before anything is built, so a mistyped value ends with one line that names the key, the value
given and what is allowed, instead of a traceback from deep inside torch or Lightning.

Every key of conf/ a user may set is checked here: its type, its range, and the few relations between keys. The
target's arguments are checked by the target itself as gan1d.build builds it (its constructor raises BadArgument,
or DataError for a data file), and reported there as one line too.
"""

import importlib.util
import os
from collections.abc import Callable, Sequence

from omegaconf import DictConfig, ListConfig, OmegaConf

from gan1d import targets
from gan1d.errors import ConfigError
from gan1d.length import AUTO, MODES_STEPS, ONE_MODE_STEPS
from gan1d.losses import LOSSES
from gan1d.networks import ACTIVATIONS, NOISE
from gan1d.renamed import RENAMED
from gan1d.targets import is_number

OPTIMIZERS = ("adam", "sgd")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
PRECISIONS = (32, "32", "32-true", "16-mixed", "bf16-mixed")  # those a run was checked to train in
SEEDS = 2**32 - 1  # Lightning's seed_everything takes seeds in [0, 2**32 - 1]
CORES = os.cpu_count() or 1
# What one loader batch, one layer and one evaluation may hold: far beyond any useful run, well below a crash.
LOADER_BATCH_FLOATS, WIDEST, EVAL_MOST = 2**28, 8192, 10**6


def _integer(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive_int(v: object) -> bool:
    return _integer(v) and v > 0


def _positive(v: object) -> bool:
    return is_number(v) and v > 0


def _widths(v: object) -> bool:
    return isinstance(v, (list, ListConfig)) and all(_positive_int(h) and h <= WIDEST for h in v)


def _activations(v: object) -> bool:
    names = [v] if isinstance(v, str) else v
    return isinstance(names, (list, ListConfig)) and all(isinstance(a, str) and a in ACTIVATIONS for a in names)


def _betas(v: object) -> bool:
    return isinstance(v, (list, ListConfig)) and len(v) == 2 and all(is_number(b) and 0 <= b < 1 for b in v)


def is_text(v: object) -> bool:
    return isinstance(v, str) and v != ""


def _one(v: object) -> bool:
    return _integer(v) and v == 1


def _name_in(names: Sequence[str]) -> Callable[[object], bool]:
    return lambda v: isinstance(v, str) and v in names


def integer_in(low: int, high: int) -> Callable[[object], bool]:
    return lambda v: _integer(v) and low <= v <= high


POSITIVE_INT = (_positive_int, "a positive integer")
LENGTH = (lambda v: v == AUTO or _positive_int(v), f"a positive integer, or {AUTO} (gan1d.length's rule: "
                                                   f"{ONE_MODE_STEPS} for one mode, {MODES_STEPS} for several)")
POSITIVE = (_positive, "a positive finite number")
PENALTY = (lambda v: is_number(v) and v >= 0, "a finite number >= 0 (0 turns it off)")
BOOLEAN = (lambda v: isinstance(v, bool), "true or false")
SEED = (integer_in(0, SEEDS), f"an integer in [0, {SEEDS}]")
BETAS = (_betas, "two numbers in [0, 1), e.g. [0.5,0.999]")
NOISE_KIND = (_name_in(NOISE), f"one of {list(NOISE)}")
NOISE_DIM = (integer_in(1, 4096), "an integer in [1, 4096]")
CATEGORIES = (integer_in(0, 4096), "an integer in [0, 4096] (0: no categorical code)")
DECAY_START = (lambda v: is_number(v) and 0 <= v <= 1, "a number in [0, 1] (1: constant learning rates)")
WIDTHS = (_widths, f"a list of integers in [1, {WIDEST}], e.g. [64,64] ([] for a linear network)")
ACTIVATION = (_activations, f"one of {sorted(ACTIVATIONS)}, or a list of them, one per hidden layer")
PATH = (is_text, "a non-empty path")
G_STEPS = (lambda v: _integer(v) and v >= 0, "an integer >= 0 (0: D trained alone, the generator as it starts)")
OPTIMIZER = (_name_in(OPTIMIZERS), f"one of {list(OPTIMIZERS)}")

# The cadences: where the run logs, evaluates, draws and saves. The callbacks' keys follow the top-level ones.
CADENCES = ("log_every", "eval_every", "figure_every", "checkpoint_every", "callbacks.evaluation.every",
            "callbacks.figures.every", "callbacks.checkpoint.every")
RULES = {
    "seed": SEED,
    "steps": LENGTH,
    "threads": (integer_in(1, CORES), f"an integer in [1, {CORES}] (the CPU cores of this machine)"),
    "run_dir": PATH,
    "cuda_graph": BOOLEAN,
    "ckpt_path": (lambda v: v is None or is_text(v), "null or the path of a checkpoint file or run directory"),
    **{key: POSITIVE_INT for key in CADENCES},
    "iterations_per_batch": POSITIVE_INT,
    "optim.name": OPTIMIZER,
    "optim.g_lr": POSITIVE,
    "optim.d_lr": POSITIVE,
    "optim.betas": BETAS,
    "optim.lr_decay_start": DECAY_START,
    "optim.d_steps": POSITIVE_INT,
    "optim.g_steps": G_STEPS,
    "optim.simultaneous": BOOLEAN,
    "optim.ema": (lambda v: is_number(v) and 0 <= v < 1, "a number in [0, 1) (0 turns it off)"),
    "penalties.r1_gamma": PENALTY,
    "penalties.r2_gamma": PENALTY,
    "penalties.gp_gamma": PENALTY,
    "penalties.gp_one_sided": BOOLEAN,
    "data.steps": LENGTH,
    "data.iterations_per_batch": POSITIVE_INT,
    "data.batch_size": POSITIVE_INT,
    "data.seed": SEED,
    "data.eval_size": (integer_in(1, EVAL_MOST), f"an integer in [1, {EVAL_MOST}] (samples per evaluation)"),
    "data.standardize": BOOLEAN,
    "data.num_workers": (integer_in(0, CORES), f"an integer in [0, {CORES}] (loader processes; 0: none)"),
    "preprocessor.pack": POSITIVE_INT,
    "model.loss": (_name_in(LOSSES), f"one of {list(LOSSES)}"),
    "model.preprocessor.pack": POSITIVE_INT,
    "model.generator.noise": NOISE_KIND,
    "model.generator.noise_dim": NOISE_DIM,
    "model.generator.categories": CATEGORIES,
    "model.generator.hidden": WIDTHS,
    "model.generator.activations": ACTIVATION,
    "model.generator.init_offset": (is_number, "a finite number (G's initial offset, in standardised units; 0: none)"),
    "model.discriminator.hidden": WIDTHS,
    "model.discriminator.activations": ACTIVATION,
    # After the model's keys, which these follow: an error names the key the user set.
    "callbacks.figures.background": BOOLEAN,
    "callbacks.progress_bar.refresh_rate": (lambda v: _integer(v) and v >= 0, "an integer >= 0 (0 hides the bar)"),
    # The logger group's keys; each preset has some of them (logger=none: none).
    "logger.save_dir": PATH,
    "logger.name": (lambda v: isinstance(v, str), "a folder name ('': the run dir itself)"),
    "logger.version": (lambda v: isinstance(v, str), "a folder name ('': the run dir itself)"),
    "logger.default_hp_metric": BOOLEAN,
    "logger.experiment_name": (is_text, "a non-empty MLflow experiment name"),
    "logger.run_name": (is_text, "a non-empty MLflow run name"),
    "logger.tracking_uri": (is_text, "an MLflow tracking URI, e.g. sqlite:///outputs/mlflow/mlflow.db"),
    "logger.artifact_location": PATH,
    "logger.tags": (lambda v: isinstance(v, DictConfig), "a mapping of tag names to values"),
    "logger.log_model": (lambda v: v is False, "false: gan1d writes its own checkpoints"),
    "trainer.accelerator": (_name_in(ACCELERATORS), f"one of {list(ACCELERATORS)}"),
    # One device: several would need gradient synchronisation that the two-optimizer loop does not do.
    "trainer.devices": (lambda v: _one(v) or (isinstance(v, (list, ListConfig)) and len(v) == 1
                                              and _integer(v[0]) and v[0] >= 0),
                        "1, or one device index in a list, e.g. [1]: gan1d trains on one device"),
    "trainer.num_nodes": (_one, "1: gan1d trains on one device"),
    # A run is one epoch, which the module ends after `steps` iterations: 0 would train nothing.
    "trainer.max_epochs": (_one, "1: a run is one epoch of steps= iterations; set its length with steps="),
    # Lightning's optimizer steps, d_steps + g_steps of them per iteration: a second run length beside steps=.
    "trainer.max_steps": (lambda v: _integer(v) and v == -1, "-1 (unset): a run's length is steps= iterations, not "
                                                             "Lightning's optimizer steps; set steps= instead"),
    "trainer.precision": (lambda v: not isinstance(v, bool) and v in PRECISIONS, f"one of {list(PRECISIONS)}"),
    "trainer.gradient_clip_val": (lambda v: v is None, "null: the module steps its optimizers itself, unclipped"),
    "trainer.accumulate_grad_batches": (_one, "1: every iteration steps both optimizers"),
    "trainer.default_root_dir": PATH,
}
# Keys whose node a user may leave out (a callback removed with ~callbacks.NAME, a trainer key not given).
OPTIONAL = ("callbacks.", "trainer.num_nodes", "trainer.max_steps", "trainer.precision", "trainer.gradient_clip_val",
            "trainer.accumulate_grad_batches", "logger.")
MISSING = object()


def check_config(cfg: DictConfig) -> None:
    """Checks every key and how they relate; the target checks its own arguments as gan1d.build builds it."""
    for old, new in RENAMED.items():  # in a config file of the user's: overrides are renamed before composing
        if OmegaConf.select(cfg, old, default=MISSING) is not MISSING:
            raise ConfigError(f"{old} is now {new}: set that instead")
    for key, (ok, allowed) in RULES.items():
        value = OmegaConf.select(cfg, key, default=MISSING, throw_on_missing=False)
        if value is MISSING and key.startswith(OPTIONAL):
            continue
        value = None if value is MISSING else value
        if not ok(value):
            raise ConfigError(f"{key}={show(value)} is not allowed: it must be {allowed}")
    _check_relations(cfg)


def _check_relations(cfg: DictConfig) -> None:
    n = cfg.data.iterations_per_batch
    per_batch = "iterations_per_batch" if n == cfg.iterations_per_batch else "data.iterations_per_batch"
    for key in CADENCES:
        value = OmegaConf.select(cfg, key)
        if value is not None and value % n:
            raise ConfigError(f"{key}={value} must be a multiple of {per_batch}={n} (a batch of iterations runs "
                              "whole); leave iterations_per_batch out and it fits the cadences")
    pack, batch = cfg.model.preprocessor.pack, cfg.data.batch_size
    if batch % pack:
        raise ConfigError(f"preprocessor.pack={pack} must divide data.batch_size={batch}")
    d, g = cfg.optim.d_steps, cfg.optim.g_steps
    if cfg.optim.simultaneous and (d, g) != (1, 1):
        raise ConfigError(f"optim.simultaneous=true takes one D and one G step per iteration, not optim.d_steps={d} "
                          f"and optim.g_steps={g}: set both to 1")
    dim = cfg.model.generator.noise_dim + cfg.model.generator.categories
    floats = (n if cfg.data.steps == AUTO else min(n, cfg.data.steps)) * batch * (d + (d + g) * dim)
    if floats > LOADER_BATCH_FLOATS:
        raise ConfigError(f"data.batch_size={batch}, {per_batch}={n}, optim.d_steps={d}, optim.g_steps={g} and "
                          f"noise_dim + categories={dim} make loader batches of {floats:,} numbers, more than the "
                          f"{LOADER_BATCH_FLOATS:,} allowed: lower one of them")
    for net in ("generator", "discriminator"):
        hidden, activations = cfg.model[net].hidden, cfg.model[net].activations
        if not isinstance(activations, str) and len(activations) != len(hidden):
            raise ConfigError(f"model.{net}.activations={show(activations)} must name one activation per hidden "
                              f"layer of model.{net}.hidden={show(hidden)}, or be a single name for all")
    _check_logger(cfg)
    accelerator = cfg.trainer.accelerator
    if missing := _missing_device(accelerator):
        raise ConfigError(f"trainer.accelerator={accelerator}: {missing}; use trainer.accelerator=cpu")


def _check_logger(cfg: DictConfig) -> None:
    # The optional loggers' packages, by the class a logger config names.
    needs = {"MLFlowLogger": ("mlflow", "pip install -e '.[mlflow]'")}
    kind = str(OmegaConf.select(cfg, "logger._target_", default="")).rsplit(".", 1)[-1]
    if kind in needs and importlib.util.find_spec(needs[kind][0]) is None:
        package, install = needs[kind]
        raise ConfigError(f"logger={package} needs {package}, which is not installed: {install} (or use "
                          "logger=tensorboard, csv or none)")


def _missing_device(accelerator: str) -> str | None:
    if accelerator in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            return "no CUDA GPU is available on this machine (torch.cuda.is_available() is False)"
    if accelerator == "mps":
        import torch

        if not torch.backends.mps.is_available():
            return "no Apple GPU (MPS) is available on this machine (torch.backends.mps.is_available() is False)"
    return None


def show(value: object) -> str:
    """A value as the user would have typed it on the command line."""
    if isinstance(value, (DictConfig, ListConfig)):
        return str(OmegaConf.to_container(value))
    return targets.show(value)
