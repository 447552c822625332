"""Train a GAN on a 1-D target: ``python -m gan1d.train target.mean=4 trainer.accelerator=gpu``.

This file only composes and wires: every part is a ``_target_`` in the config (conf/train.yaml).
"""

import gc
import json
import logging
import math
import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig

from gan1d.errors import ConfigError, Diverged, build_target, build_trainer, check_config
from gan1d.files import write_json

EXIT_CONFIG, EXIT_DIVERGED = 2, 3
log = logging.getLogger(__name__)


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
    datamodule = instantiate(cfg.data, target=build_target(cfg))
    model = instantiate(cfg.model)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    trainer = build_trainer(cfg, callbacks=callbacks, logger=instantiate(cfg.logger))
    # torch, Lightning and Hydra leave ~430,000 long-lived objects, which every full garbage collection re-scanned
    # (0.37 s, in the middle of training). Frozen, they are skipped; what the run creates is collected as usual.
    gc.freeze()
    try:
        # weights_only=True: resuming reads tensors and plain data only, so a checkpoint file cannot run code.
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
    finally:
        gc.unfreeze()  # a sweep runs many jobs in one process: each run's objects become collectable again
    return next(c for c in callbacks if isinstance(c, RunRecord)).record


@hydra.main(version_base="1.3", config_path="pkg://gan1d.conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """The task function. Returns the final W1/sd, the number a sweeper (e.g. Optuna) minimises."""
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        return train(cfg).get("w1_over_std", math.nan)
    except ConfigError as err:
        code, message = EXIT_CONFIG, str(err)
    except Diverged as err:
        code, message = EXIT_DIVERGED, (f"training diverged: {err}; metrics.json says status: diverged, and "
                                        "checkpoints/last.ckpt is the last good one")
    except Exception as err:
        if not multirun:  # a bug: the traceback is for us
            raise
        log.exception("the job failed")
        code, message = 1, f"{type(err).__name__}: {err}"
    if not multirun:
        print(f"gan1d: {message}", file=sys.stderr)
        sys.exit(code)
    # In a sweep, one failed job must not stop the others or the summary, so it is recorded, not raised: Hydra's
    # basic launcher would skip on_multirun_end (and the summary) after a raised job.
    record = Path(HydraConfig.get().runtime.output_dir) / "metrics.json"
    if not record.exists() or json.loads(record.read_text()).get("status") == "ok":
        write_json(record, {"status": "failed", "reason": message})
    log.error("gan1d: %s", message)
    return math.nan


if __name__ == "__main__":
    main()
