"""Builds a run's parts from its config: the target (checked first, by gan1d.checks), the data, model, callbacks
and logger (build_run), and Lightning's Trainer, each refusal one line naming the key."""

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gan1d.checks import check_config
from gan1d.errors import ConfigError
from gan1d.files import write_json
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


class Run(NamedTuple):
    datamodule: object
    model: object
    callbacks: list
    logger: object  # False for none
    ckpt: Path | None  # the checkpoint to resume from


def build_run(cfg: DictConfig, target) -> Run:
    """A run's parts, as ``train`` builds them: the same config gives the same data and initial weights."""
    import lightning as L
    import torch

    from gan1d.checkpoints import checkpoint_path

    torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    ckpt = checkpoint_path(cfg.ckpt_path, key="ckpt_path") if cfg.ckpt_path else None
    save_config(cfg)
    save_data_record(cfg, target)
    datamodule = build_datamodule(cfg, target)
    model = build_model(cfg)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    # logger=none leaves cfg.logger null; Lightning reads logger=None as "its default logger", False as none.
    logger = instantiate(cfg.logger) if cfg.logger is not None else False
    return Run(datamodule, model, callbacks, logger, ckpt)


def save_config(cfg: DictConfig) -> None:
    """The composed config in RUN_DIR/.hydra/config.yaml, as Hydra's command line leaves it (gan1d.evaluate reads
    the trained target there), for runs started from Python."""
    path = Path(cfg.run_dir) / ".hydra" / "config.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, path)


def save_data_record(cfg: DictConfig, target) -> None:
    """RUN_DIR/data.json for a data target: the file as given and absolute, its sha256, the counts and the split
    (Empirical.record); gan1d.evaluate reads the file from there and refuses one that has changed since."""
    if (record := getattr(target, "record", None)) is not None:
        write_json(Path(cfg.run_dir) / "data.json", record)


def build_datamodule(cfg: DictConfig, target: Target):
    """The data stream of ``cfg.data``, drawing what the model consumes: noise as its generator takes it, and one
    minibatch for each of an iteration's D and G updates."""
    g = cfg.model.generator
    return instantiate(cfg.data, target=target, noise=g.noise, noise_dim=g.noise_dim, categories=g.categories,
                       d_steps=cfg.optim.d_steps, g_steps=cfg.optim.g_steps)


def build_model(cfg: DictConfig, **kwargs: object):
    """The module of ``cfg.model``, logging at the run's ``log_every`` and on a GPU capturing its iterations as
    ``cuda_graph`` says (``kwargs``: more arguments for Hydra's instantiate, e.g. another ``_target_``)."""
    return instantiate(cfg.model, log_every=cfg.log_every, cuda_graph=cfg.cuda_graph, **kwargs)
