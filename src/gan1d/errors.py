"""Checks a config before anything is built, so a mistyped value ends with one line that names the key, the value
given and what is allowed, instead of a traceback from deep inside torch or Lightning."""

import importlib.util
import math

from omegaconf import DictConfig, ListConfig, OmegaConf

from gan1d.losses import LOSSES
from gan1d.networks import ACTIVATIONS, NOISE

ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")


class ConfigError(ValueError):
    """A bad value in the user's config; reported as one line, without a traceback."""


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _integer(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive_int(v) -> bool:
    return _integer(v) and v > 0


def _positive(v) -> bool:
    return _number(v) and v > 0


def _ints(v) -> bool:
    return isinstance(v, (list, ListConfig)) and all(_positive_int(h) for h in v)


def _activations(v) -> bool:
    names = [v] if isinstance(v, str) else v
    return isinstance(names, (list, ListConfig)) and all(a in ACTIVATIONS for a in names)


def _betas(v) -> bool:
    return isinstance(v, (list, ListConfig)) and len(v) == 2 and all(_number(b) and 0 <= b < 1 for b in v)


def _positives(v) -> bool:
    return isinstance(v, (list, ListConfig)) and len(v) > 0 and all(_positive(x) for x in v)


def _numbers(v) -> bool:
    return isinstance(v, (list, ListConfig)) and len(v) > 0 and all(_number(x) for x in v)


POSITIVE_INT = (_positive_int, "a positive integer")
POSITIVE = (_positive, "a positive finite number")
NUMBER = (_number, "a finite number")
ACTIVATION = (_activations, f"one of {sorted(ACTIVATIONS)}, or a list of them, one per hidden layer")

CADENCES = ("log_every", "eval_every", "figure_every", "checkpoint_every")
RULES = {
    "seed": (_integer, "an integer"),
    "steps": POSITIVE_INT,
    "threads": POSITIVE_INT,
    "log_every": POSITIVE_INT,
    "eval_every": POSITIVE_INT,
    "figure_every": POSITIVE_INT,
    "checkpoint_every": POSITIVE_INT,
    "iterations_per_batch": POSITIVE_INT,
    "optim.g_lr": POSITIVE,
    "optim.d_lr": POSITIVE,
    "optim.betas": (_betas, "two numbers in [0, 1), e.g. [0.5,0.999]"),
    "data.batch_size": POSITIVE_INT,
    "data.eval_size": POSITIVE_INT,
    "data.num_workers": (lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    "preprocessor.pack": POSITIVE_INT,
    "model.loss": (lambda v: v in LOSSES, f"one of {list(LOSSES)}"),
    "model.d_steps": POSITIVE_INT,
    "model.g_steps": POSITIVE_INT,
    "model.r1_gamma": (lambda v: _number(v) and v >= 0, "a finite number >= 0 (0 turns it off)"),
    "model.r2_gamma": (lambda v: _number(v) and v >= 0, "a finite number >= 0 (0 turns it off)"),
    "model.gp_gamma": (lambda v: _number(v) and v >= 0, "a finite number >= 0 (0 turns it off)"),
    "model.gp_one_sided": (lambda v: isinstance(v, bool), "true or false"),
    "model.ema": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1) (0 turns it off)"),
    "model.generator.noise": (lambda v: v in NOISE, f"one of {list(NOISE)}"),
    "model.generator.noise_dim": POSITIVE_INT,
    "model.generator.hidden": (_ints, "a list of positive integers, e.g. [64,64]"),
    "model.generator.activations": ACTIVATION,
    "model.discriminator.hidden": (_ints, "a list of positive integers, e.g. [64,64]"),
    "model.discriminator.activations": ACTIVATION,
    "trainer.accelerator": (lambda v: v in ACCELERATORS, f"one of {list(ACCELERATORS)}"),
}

TARGET_RULES = {
    "Gaussian": {"mean": NUMBER, "std": POSITIVE},
    "Uniform": {"low": NUMBER, "high": NUMBER},
    "Mixture": {"weights": (_positives, "a list of positive numbers"), "means": (_numbers, "a list of finite numbers"),
                "stds": (_positives, "a list of positive numbers")},
    "Laplace": {"loc": NUMBER, "scale": POSITIVE},
    "Exponential": {"rate": POSITIVE},
    "LogNormal": {"mu": NUMBER, "sigma": POSITIVE},
    "StudentT": {"df": POSITIVE, "loc": NUMBER, "scale": POSITIVE},
    "Comb": {"modes": POSITIVE_INT, "spacing": POSITIVE, "std": POSITIVE},
}


def check_config(cfg: DictConfig) -> None:
    rules = dict(RULES)
    kind = str(cfg.target.get("_target_", "")).rsplit(".", 1)[-1]
    rules.update({f"target.{k}": rule for k, rule in TARGET_RULES.get(kind, {}).items()})
    for key, (ok, allowed) in rules.items():
        value = OmegaConf.select(cfg, key, throw_on_missing=False)
        if not ok(value):
            raise ConfigError(f"{key}={_show(value)} is not allowed: it must be {allowed}")
    _check_relations(cfg)


def _check_relations(cfg: DictConfig) -> None:
    n = cfg.iterations_per_batch
    for key in CADENCES:
        if cfg[key] % n:
            raise ConfigError(f"{key}={cfg[key]} must be a multiple of iterations_per_batch={n} (a batch of "
                              "iterations runs whole); leave iterations_per_batch out and it fits the cadences")
    pack, batch = cfg.preprocessor.pack, cfg.data.batch_size
    if batch % pack:
        raise ConfigError(f"preprocessor.pack={pack} must divide data.batch_size={batch}")
    t = cfg.target
    if "low" in t and not t.low < t.high:
        raise ConfigError(f"target.low={t.low} must be below target.high={t.high}")
    if "weights" in t and not len(t.weights) == len(t.means) == len(t.stds):
        raise ConfigError("target.weights, target.means and target.stds must have the same length, got "
                          f"{len(t.weights)}, {len(t.means)} and {len(t.stds)}")
    _check_length(cfg)
    _check_logger(cfg)
    accelerator = cfg.trainer.accelerator
    if missing := _missing_device(accelerator):
        raise ConfigError(f"trainer.accelerator={accelerator}: {missing}; use trainer.accelerator=cpu")


def _check_length(cfg: DictConfig) -> None:
    """Lightning's own run lengths would end training at the wrong place: gan1d's length is steps=."""
    steps = cfg.trainer.get("max_steps", -1)
    if steps != -1:
        raise ConfigError(f"trainer.max_steps={steps} is not used: gan1d trains for steps= iterations (Lightning's "
                          f"max_steps counts optimizer steps, 2 or more per iteration); use steps={steps}")
    epochs = cfg.trainer.get("max_epochs", 1)
    if epochs != 1:
        raise ConfigError(f"trainer.max_epochs={epochs} is not used: a run is one pass over a stream of steps= "
                          f"iterations; set its length with steps= (now steps={cfg.steps})")


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


def _show(value) -> str:
    if isinstance(value, (DictConfig, ListConfig)):
        return str(OmegaConf.to_container(value))
    return repr(value) if isinstance(value, str) else str(value)


class Diverged(RuntimeError):
    """Training produced NaN or Inf; the run stops, its metrics.json says so and the last good checkpoint stays."""
