"""Train a GAN on a 1-D target: ``python -m gan1d.train target.mean=4 trainer.accelerator=gpu``.

This file only composes and wires: every part is a ``_target_`` in the config (conf/train.yaml).
"""

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig

from gan1d.errors import ConfigError, check_config


def train(cfg: DictConfig) -> dict:
    """Build everything from ``cfg``, fit, and return the run record (what metrics.json holds)."""
    import torch

    check_config(cfg)
    torch.set_num_threads(cfg.threads)
    import lightning as L

    from gan1d.callbacks import RunRecord

    # Lightning prints through a console handler of its own *and* passes records on to the root logger that Hydra
    # set up, so every line came twice. Hydra's handlers alone put them on the console and in the run's train.log.
    logging.getLogger("lightning").handlers.clear()

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    target = instantiate(cfg.target)
    datamodule = instantiate(cfg.data, target=target)
    model = instantiate(cfg.model)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=instantiate(cfg.logger))
    trainer.fit(model, datamodule=datamodule)
    return next(c for c in callbacks if isinstance(c, RunRecord)).record


def _is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(version_base="1.3", config_path="pkg://gan1d.conf", config_name="train")
def main(cfg: DictConfig) -> float:
    try:
        record = train(cfg)
    except ConfigError as err:
        if _is_multirun():  # let Hydra report it and go on with the other jobs
            raise
        print(f"gan1d: {err}", file=sys.stderr)
        sys.exit(2)
    return record.get("w1_over_std", float("nan"))


if __name__ == "__main__":
    main()
