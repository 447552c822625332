"""A training run from Python: ``cfg = compose(OVERRIDES)`` is the config ``python -m gan1d.train OVERRIDES`` would
run; ``record = train(cfg)`` builds its parts (gan1d.build), fits them and returns the run record (metrics.json).
The CLI (gan1d.train) and the population launcher call these; so does a notebook, as ``from gan1d import compose,
train``.
"""

import gc
import json
import logging
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from gan1d.build import build_run, build_trainer, checked_target
from gan1d.errors import ConfigError, Diverged
from gan1d.files import write_json
from gan1d.renamed import renamed

log = logging.getLogger(__name__)
_run_dirs_given: set[Path] = set()


def compose(overrides: Sequence[str] = (), run_dir=None, config_dir=None) -> DictConfig:
    """The config ``python -m gan1d.train OVERRIDES`` would run, composed without Hydra's command line.

    ``run_dir`` defaults to a fresh outputs/DATE/TIME under the current directory, as the CLI's; ``config_dir`` is
    a folder of your own presets (as ``--config-dir``), e.g. one holding target/my_data.yaml for target=my_data.
    """
    from hydra import compose as compose_config
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    overrides = renamed(overrides)
    if config_dir is not None:
        overrides.append(f"hydra.searchpath=[file://{Path(config_dir).resolve()}]")
    # Hydra holds one global state: step out of any that is set up (a second call, a Hydra app), then restore it.
    outer = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("gan1d.conf", version_base="1.3"):
            cfg = compose_config("train", overrides=overrides)
    finally:
        if outer is not None:
            GlobalHydra.instance().initialize(outer)
    cfg.run_dir = str(Path(run_dir).resolve() if run_dir is not None else _fresh_run_dir())
    return cfg


def _fresh_run_dir() -> Path:
    """outputs/DATE/TIME as the CLI names it, with -1, -2, ... where that one exists or was handed out already."""
    base = Path("outputs").resolve() / datetime.now().strftime("%Y-%m-%d/%H-%M-%S")
    path, k = base, 0
    while path.exists() or path in _run_dirs_given:
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    _run_dirs_given.add(path)
    return path


def train(cfg: DictConfig) -> dict:
    """Build everything from ``cfg``, fit, and return the run record (what metrics.json holds)."""
    target = checked_target(cfg)  # built: a bad argument or data file stops the run here, before anything is written
    check_search(target)
    from gan1d.callbacks import RunRecord

    quiet_frameworks()
    run = build_run(cfg, target)
    trainer = build_trainer(cfg, callbacks=run.callbacks, logger=run.logger)
    with frozen_garbage():
        # weights_only=True: resuming reads tensors and plain data only, so a checkpoint file cannot run code.
        trainer.fit(run.model, datamodule=run.datamodule, ckpt_path=run.ckpt, weights_only=True)
    record = next(c for c in run.callbacks if isinstance(c, RunRecord)).record
    log.info(result_line(record, cfg.run_dir))
    return record


def result_line(record: dict, run_dir: str) -> str:
    """The line a run's console ends with: how it ended, how fast, how good, and where its files are."""
    if "replica_steps_per_s" in record:
        speed = f"{record['replica_steps_per_s']} it/s for each of {record['replicas']} replicas"
    else:
        speed = f"{record['steps_per_s']} it/s"
    scores = f": W1/sd {record['w1_over_std']:.4f}, KS {record['ks']:.4f}" if "w1_over_std" in record else ""
    path = Path(run_dir)
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    return f"gan1d: {record['status']} after {record['steps']} iterations ({speed}){scores}; run dir {shown}"


def failure(err: Exception) -> str:
    """The one line that says why a run stopped on ``err``."""
    if isinstance(err, Diverged):
        return (f"training diverged: {err}; metrics.json says status: diverged, and checkpoints/last.ckpt is the "
                "last good one")
    return str(err) if isinstance(err, ConfigError) else f"{type(err).__name__}: {err}"


def record_failure(run_dir: Path, message: str) -> None:
    """In a sweep, one failed job must not stop the others or the summary, so it is recorded, not raised: Hydra's
    basic launcher would skip on_multirun_end (and the summary) after a raised job."""
    record = run_dir / "metrics.json"
    if not record.exists() or json.loads(record.read_text()).get("status") == "ok":
        write_json(record, {"status": "failed", "reason": message})
    log.error("gan1d: %s", message)


def check_search(target) -> None:
    """A search (any sweeper but Hydra's basic one minimises what ``main`` returns) on data must tune on a
    validation part: tuned on the held-out part, its score would be an optimistic one."""
    if not HydraConfig.initialized() or getattr(target, "reference_part", "validation") == "validation":
        return
    sweeper = str(HydraConfig.get().sweeper.get("_target_", ""))
    if HydraConfig.get().mode == RunMode.MULTIRUN and not sweeper.endswith(".BasicSweeper"):
        raise ConfigError(f"validation=0 with the sweeper {sweeper.rsplit('.', 1)[-1]}: a search on data must tune on "
                          "a validation part, not on the held-out part it is scored on; set validation=0.2 "
                          "(hparams_search=optuna_lr does)")


def quiet_frameworks() -> None:
    """Lightning's and torch's messages that a gan1d user cannot act on, and Lightning's second console handler."""
    # Lightning prints through a console handler of its own *and* passes records on to the root logger that Hydra
    # set up, so every line would come twice. Hydra's handlers alone put them on the console and in the run's train.log.
    logging.getLogger("lightning").handlers.clear()
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_LIGHTNING_CHATTER)
    # A run trains on one device, never with srun: Lightning's hint to launch with srun does not apply (its SLURM
    # detection inside a SLURM job is untouched).
    warnings.filterwarnings("ignore", message="The `srun` command is available on your system but is not used")
    # The stream resumes exactly by itself (item i depends only on the seed and i), so this caution does not apply.
    warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
    # Lightning 2.6 on torch 2.13 warns about its own use of a torch API; nothing a gan1d user can act on.
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    # logger=csv writes into the run dir, which holds the run's other files: the CSV logger warns that the folder
    # is not empty, though all it replaces is an old metrics.csv.
    warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")


class _Chatter(logging.Filter):
    """Lightning's start and end lines a gan1d user does not need: the devices found (an unused GPU still warns),
    the fit's end (gan1d's result line says it) and its tips advertising other products."""

    LINES = ("GPU available:", "TPU available:", "HPU available:", "LOCAL_RANK:", "`Trainer.fit` stopped:",
             "\N{ELECTRIC LIGHT BULB} Tip:")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.LINES)


_LIGHTNING_CHATTER = _Chatter()


@contextmanager
def frozen_garbage():
    # The framework's long-lived objects, frozen out of the collector: a full collection mid-training does not rescan
    # them; what the run creates is collected as usual.
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()  # a sweep runs many jobs in one process: each run's objects become collectable again
