"""Builds a run's parts from its config: the target (checked first, by gan1d.checks) and Lightning's Trainer, each
refusal one line naming the key."""

from typing import TYPE_CHECKING

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from gan1d.checks import check_config
from gan1d.errors import ConfigError
from gan1d.loading import DataError
from gan1d.targets import BadArgument, Target

if TYPE_CHECKING:
    import lightning as L


def checked_target(cfg: DictConfig) -> Target:
    """Checks every key of ``cfg``, then builds its target (which checks its own arguments and data)."""
    check_config(cfg)
    target = build_target(cfg.target)
    if cfg.data.standardize and target.moments()["std"] == 0:
        raise ConfigError(f"data.standardize=true cannot standardise {target}: it has no spread to divide by; set "
                          "data.standardize=false")
    return target


def build_target(node: DictConfig) -> Target:
    """The target a config node (``cfg.target``) describes. Its constructor checks its own arguments and, for data,
    the file: a bad argument becomes one line naming the key (``target.KEY=VALUE ...``), bad data one line naming
    the file (``target.path=FILE: ...``)."""
    try:
        return instantiate(node)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, BadArgument):
            raise ConfigError(f"target.{cause}") from None
        if isinstance(cause, DataError):
            raise ConfigError(str(cause)) from None
        if isinstance(cause, TypeError):  # an argument the target does not take (+target.stdd=1)
            raise ConfigError(f"target={node.get('_target_')}: {cause}") from None
        raise


def build_trainer(cfg: DictConfig, **parts: object) -> "L.Trainer":
    """Lightning's Trainer from ``cfg.trainer``; a key or value it refuses (``+trainer.foo=1``,
    ``trainer.enable_progress_bar=false`` beside gan1d's bar) becomes one line with Lightning's reason."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        return instantiate(cfg.trainer, **parts)
    except InstantiationException as err:
        if isinstance(err.__cause__, (MisconfigurationException, TypeError, ValueError)):
            raise ConfigError(f"trainer: Lightning refused the trainer config: {err.__cause__}") from None
        raise
