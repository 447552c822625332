"""Train a GAN on a 1-D target: ``python -m gan1d.train target.mean=4 trainer.accelerator=gpu``.

This file only composes and wires: every part is a ``_target_`` in the config (conf/train.yaml).
"""

import logging
import sys
import warnings

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig

from gan1d.errors import ConfigError, Diverged, check_config

EXIT_CONFIG, EXIT_DIVERGED = 2, 3


def train(cfg: DictConfig) -> dict:
    """Build everything from ``cfg``, fit, and return the run record (what metrics.json holds)."""
    check_config(cfg)
    import lightning as L
    import torch

    from gan1d.callbacks import RunRecord
    from gan1d.sample import checkpoint_path

    # Lightning prints through a console handler of its own *and* passes records on to the root logger that Hydra
    # set up, so every line came twice. Hydra's handlers alone put them on the console and in the run's train.log.
    logging.getLogger("lightning").handlers.clear()
    # The stream resumes exactly by itself (item i depends only on the seed and i), so this caution does not apply.
    warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
    # Lightning 2.6 on torch 2.13 warns about its own use of a torch API; nothing a gan1d user can act on.
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    ckpt = checkpoint_path(cfg.ckpt_path, key="ckpt_path") if cfg.ckpt_path else None
    target = instantiate(cfg.target)
    datamodule = instantiate(cfg.data, target=target)
    model = instantiate(cfg.model)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=instantiate(cfg.logger))
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt)
    return next(c for c in callbacks if isinstance(c, RunRecord)).record


@hydra.main(version_base="1.3", config_path="pkg://gan1d.conf", config_name="train")
def main(cfg: DictConfig) -> float:
    try:
        record = train(cfg)
    except ConfigError as err:
        _fail(err, EXIT_CONFIG, str(err))
    except Diverged as err:
        _fail(err, EXIT_DIVERGED, f"training diverged: {err}; metrics.json says status: diverged, and "
              "checkpoints/last.ckpt is the last good one")
    return record.get("w1_over_std", float("nan"))


def _fail(err: Exception, code: int, message: str) -> None:
    """One line and an exit code for the user; in a multirun, Hydra reports the job and goes on with the others."""
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise err
    print(f"gan1d: {message}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
