"""gan1d's configs, shipped as package data (found through pkg://gan1d.conf), and the resolvers they use."""

import math
from importlib.resources import files

from omegaconf import DictConfig, OmegaConf


def iterations_per_batch(most: int, *cadences: int) -> int:
    """The largest number of iterations, up to ``most``, that divides every cadence: a loader batch of that many
    iterations ends exactly where each logging, evaluation, figure and checkpoint is due."""
    common = math.gcd(*cadences)
    return max(n for n in range(1, most + 1) if common % n == 0)


def run_name(run_dir: str) -> str:
    """A run's name for a logger that lists runs by name (MLflow): its overrides, e.g. ``optim.g_lr=0.001,seed=1``
    for a sweep's job, else its run dir."""
    from hydra.core.hydra_config import HydraConfig

    return (HydraConfig.get().job.override_dirname if HydraConfig.initialized() else "") or run_dir


_ABSENT = object()


def hparams(keys: list[str], _root_: DictConfig) -> DictConfig:
    """The values of the config's dotted ``keys``, for a run's hyperparameter record: each named by its last part
    (``optim.g_lr``: ``g_lr``), a ``_target_`` by its group (``target._target_``: ``target``)."""
    named = {}
    for key in keys:
        value = OmegaConf.select(_root_, key, default=_ABSENT)
        if value is _ABSENT:
            raise KeyError(f"gan1d.hparams: {key} is not a key of the config")
        named[key.removesuffix("._target_").rsplit(".", 1)[-1]] = value
    return OmegaConf.create(named)  # a config, not a dict: OmegaConf.resolve can then put it in place

OmegaConf.register_new_resolver("gan1d.iterations_per_batch", iterations_per_batch, replace=True)
OmegaConf.register_new_resolver("gan1d.hparams", hparams, replace=True)


def dataset(name: str) -> str:
    """The path of a data set shipped in gan1d/datasets, wherever gan1d is installed and whatever the cwd."""
    return str(files("gan1d") / "datasets" / name)


OmegaConf.register_new_resolver("gan1d.dataset", dataset, replace=True)
OmegaConf.register_new_resolver("gan1d.run_name", run_name, replace=True)
