"""A finished run read back from its files: the checkpoint, the generator it saved for sampling, and the target it
trained on (its saved config, and for data its data.json). gan1d.sample, gan1d.evaluate and gan1d.correction read
runs through it; it needs neither Lightning nor Hydra.
"""

import json
import os
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from gan1d.errors import ConfigError
from gan1d.networks import Generator
from gan1d.targets import Target


class SampleError(ConfigError):
    """A bad argument or file where a finished run is read (gan1d.sample, gan1d.evaluate, gan1d.correction);
    reported as one line."""


def checkpoint_path(path: str | os.PathLike, key: str = "ckpt") -> Path:
    """A checkpoint file, or a run directory's checkpoints/last.ckpt; ``key`` names the argument in errors."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    if not path.is_file():
        raise SampleError(f"{key}={path}: no such checkpoint file (give a .ckpt file or a run directory)")
    return path


def saved_generator(path: str | os.PathLike) -> dict:
    """The generator a checkpoint keeps for sampling: its config and weights, as saved."""
    path = checkpoint_path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)["gan1d_generator"]
    except Exception as err:
        raise not_a_checkpoint(path, err) from None


def load_generator(path: str | os.PathLike) -> Generator:
    saved = saved_generator(path)
    try:
        generator = Generator(**saved["config"])
        generator.load_state_dict(saved["state_dict"])
    except Exception as err:
        raise not_a_checkpoint(checkpoint_path(path), err) from None
    return generator.eval()


def not_a_checkpoint(path: Path, err: Exception) -> SampleError:
    # A truncated, foreign or tampered file: say which, not where it broke inside torch.
    return SampleError(f"ckpt={path}: not a gan1d checkpoint ({type(err).__name__})")


def run_dir_of(ckpt: str | os.PathLike) -> Path:
    """The run directory of a checkpoint: the directory given, or the one holding checkpoints/last.ckpt."""
    path = Path(ckpt)
    if path.is_dir():
        return path
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent


def data_record(run_dir: Path) -> dict | None:
    """The run's data.json (the file it trained on, its sha256 and split), or None for a run on a formula."""
    record = run_dir / "data.json"
    return json.loads(record.read_text()) if record.is_file() else None


def trained_target(ckpt: str | os.PathLike) -> DictConfig:
    """The target node of the run's saved config; a data file is the one the run read, by its absolute path."""
    run_dir = run_dir_of(ckpt)
    saved = run_dir / ".hydra" / "config.yaml"
    if not saved.is_file():
        raise SampleError(f"ckpt={ckpt}: no {saved} to read the trained target from; name one, e.g. "
                          "target=gaussian target.mean=4")
    node = OmegaConf.load(saved).target
    if node.get("path") and (record := data_record(run_dir)) is not None:
        node.path = record["path"]
    if node.get("path") and "atoms" not in saved_generator(ckpt)["config"]:
        node.atoms, node.decimals = False, None  # trained before gan1d set atoms apart and kept decimals: as it was
    return node


SPLIT_KEYS = ("sha256", "split_seed", "holdout")  # what fixes the held-out part of a file


def check_unchanged(scored: Target, run_dir: Path) -> None:
    """Refuse to score against the file the run trained on if its content or split is not the run's any more."""
    now = getattr(scored, "record", None)
    if now is None:
        return
    then = data_record(run_dir)
    if then is None and not trained_on_data(run_dir):
        return  # a run on a formula, scored against a file of the user's choice
    if then is None:
        raise SampleError(f"target.path={now['path_given']}: the run in {run_dir} has no data.json to tell whether "
                          "its held-out part is still the one it never trained on; allow_changed=true scores anyway")
    if now["path"] != then["path"]:
        return  # another file: the user's own choice of unseen data
    changed = [k for k in SPLIT_KEYS if now[k] != then[k]]
    if changed:
        key = changed[0]
        raise SampleError(f"target.path={now['path_given']}: its {key} is {_short(now[key])} now and was "
                          f"{_short(then[key])} when the run trained on it, so its held-out part may hold training "
                          "values; allow_changed=true scores anyway")


def trained_on_data(run_dir: Path) -> bool:
    saved = run_dir / ".hydra" / "config.yaml"
    return saved.is_file() and OmegaConf.load(saved).target.get("path") is not None


def _short(value: object) -> str:
    return f"{value[:12]}..." if isinstance(value, str) and len(value) > 12 else str(value)
