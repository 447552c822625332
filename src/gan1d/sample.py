"""Draw samples from a trained generator: ``python -m gan1d.sample ckpt=PATH n=N out=FILE``.

PATH is a checkpoint file or a run directory (then its ``checkpoints/last.ckpt``). FILE ends in .npy or .csv.
Needs nothing but the checkpoint: the generator is rebuilt from the plain config stored in it, without Lightning
or Hydra, and the file is loaded with ``weights_only=True`` so that it cannot run code. ``correct=true`` resamples
the generator's draws toward the target by a classifier fitted after training (gan1d.correction); that reads the
run dir's saved config for the target, and keeps the fitted classifier there.
"""

import os
import sys
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from gan1d.checkpoints import SampleError, load_generator
from gan1d.checks import BOOLEAN, SEED, integer_in, is_text, show
from gan1d.errors import ConfigError
from gan1d.files import atomic_file

USAGE = ("usage: python -m gan1d.sample ckpt=PATH [n=20000] [out=samples.npy] [seed=0] [correct=false] "
         "[allow_changed=false] (ckpt_path= works as ckpt=)")
DEFAULTS = {"ckpt": None, "n": 20_000, "out": "samples.npy", "seed": 0, "correct": False, "allow_changed": False}
MOST = 10**8  # samples in one file: 400 MB as .npy
# What each argument of gan1d.sample and gan1d.evaluate may be (OmegaConf reads ckpt=5 as a number, seed=true as a
# boolean); the file name's ending is checked by the command that writes it.
ARGUMENTS = {
    "ckpt": (is_text, "the path of a checkpoint file or run directory"),
    "n": (integer_in(1, MOST), f"an integer in [1, {MOST}]"),
    "out": (is_text, "a file name"),
    "seed": SEED,
    "config_dir": (is_text, "the path of a folder of your own presets"),
    "allow_changed": BOOLEAN,
    "correct": BOOLEAN,
}


def sample(ckpt: str | os.PathLike, n: int, seed: int = 0, correct: bool = False,
           allow_changed: bool = False) -> np.ndarray:
    """``n`` samples from the generator in ``ckpt``; ``correct``: resampled by the discriminator's correction, fitted
    to the run's own data even if its file changed since training where ``allow_changed``."""
    return samples_and_decimals(ckpt, n, seed, correct, allow_changed)[0]


def samples_and_decimals(ckpt: str | os.PathLike, n: int, seed: int, correct: bool,
                         allow_changed: bool) -> tuple[np.ndarray, int | None]:
    """``sample``'s samples, and the decimals of the data its generator rounds to (None: as they are)."""
    if correct:
        from gan1d.correction import corrected  # which builds the target through Hydra: only where it is asked for

        run = corrected(ckpt, allow_changed)
        return run.sample(n, seed)[0], run.generator.decimals
    generator = load_generator(ckpt)
    return generator.sample(n, torch.Generator().manual_seed(seed)).numpy(), generator.decimals


def output_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    if out.suffix not in (".npy", ".csv"):
        raise SampleError(f"out={out}: the file name must end in .npy or .csv")
    return out


def save(samples: np.ndarray, out: str | os.PathLike, decimals: int | None = None) -> Path:
    """Write .npy or .csv atomically: a temporary file in the same folder, then a rename. A .csv holds the data's
    ``decimals`` where the generator keeps them (float32's 0.3 would read 0.300000012), else 9 significant digits."""
    out = output_path(out)
    try:
        with atomic_file(out, "wb") as f:
            if out.suffix == ".csv":
                np.savetxt(f, samples, fmt="%.9g" if decimals is None else f"%.{max(decimals, 0)}f")
            else:
                np.save(f, samples)
    except OSError as err:
        raise SampleError(f"out={out}: cannot write it ({err.strerror})") from None
    return out


def parse_args(argv: list[str], defaults: dict = DEFAULTS, usage: str = USAGE) -> dict:
    """key=value arguments over ``defaults``, checked; ``ckpt_path`` (gan1d.train's name) works as ``ckpt``."""
    bad = [a for a in argv if "=" not in a]
    if bad:
        raise SampleError(f"arguments are key=value, got {bad[0]!r}; {usage}")
    given = OmegaConf.to_container(OmegaConf.from_dotlist(argv))
    if "ckpt_path" in given:
        if "ckpt" in given:
            raise SampleError("give ckpt or ckpt_path, not both: they name the same checkpoint")
        given["ckpt"] = given.pop("ckpt_path")
    args = {**defaults, **given}
    unknown = sorted(set(args) - set(defaults))
    if unknown:
        raise SampleError(f"unknown key {unknown[0]!r}: allowed keys are {sorted(defaults)}")
    if args["ckpt"] is None:
        raise SampleError(f"ckpt is required; {usage}")
    for key, value in given.items():  # the defaults are valid; gan1d.evaluate's out and config_dir default to None
        ok, allowed = ARGUMENTS[key]
        if not ok(value):
            raise SampleError(f"{key}={show(value)} is not allowed: it must be {allowed}")
    return args


def main(argv: list[str] | None = None) -> None:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        output_path(args["out"])  # a wrong file name is reported before any work is done
        samples, decimals = samples_and_decimals(args["ckpt"], args["n"], args["seed"], args["correct"],
                                                 args["allow_changed"])
        out = save(samples, args["out"], decimals)
    except ConfigError as err:  # a SampleError, or a config error from the correction's target
        print(f"gan1d.sample: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {args['n']} {'corrected ' if args['correct'] else ''}samples to {out}")


if __name__ == "__main__":
    main()
