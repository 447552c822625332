"""Score a trained generator against any target: ``python -m gan1d.evaluate ckpt=RUN_DIR [target=...] [n=20000]``.

Without ``target=`` the target is the one the run was trained on (read from its .hydra/config.yaml). With it, any
target gan1d's config groups compose: a formula with its keys (``target=gaussian target.mean=4``) or data
(``target=empirical target.path=x.csv``). The scores are the training run's: W1, W1/sd, KS and moments, and for
data, two-sample against the held-out part, with the noise floor and dcr_ratio. Prints one line and writes JSON
(``out=``, by default evaluation.json in the run directory). Needs no Lightning.
"""

import os
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

import gan1d.conf  # noqa: F401  (registers the resolvers a run's saved config may use)
from gan1d.checks import build_target, check_config
from gan1d.errors import ConfigError
from gan1d.files import write_json
from gan1d.metrics import Evaluator
from gan1d.sample import SampleError, checkpoint_path, parse_args, sample
from gan1d.targets import Target

USAGE = ("usage: python -m gan1d.evaluate ckpt=PATH [target=NAME target.KEY=VALUE ...] [n=20000] [seed=0] "
         "[out=FILE.json] [config_dir=DIR]")
DEFAULTS = {"ckpt": None, "n": 20_000, "seed": 0, "out": None, "config_dir": None}


def evaluate(ckpt: str | os.PathLike, target: list[str] | None = None, n: int = 20_000, seed: int = 0,
             config_dir: str | os.PathLike | None = None) -> dict:
    """Scores of ``n`` samples (noise seed ``seed``) from the generator in ``ckpt`` against ``target``: a list of
    overrides (["target=gaussian", "target.mean=4"]), or None for the target the run was trained on."""
    path = checkpoint_path(ckpt)
    scored = build_target(trained_target(path)) if target is None else composed_target(target, config_dir)
    scores = Evaluator(scored)(sample(path, n, seed))
    return {"ckpt": str(path), "target": repr(scored), "n": n, "seed": seed, **scores}


def run_dir_of(ckpt: str | os.PathLike) -> Path:
    """The run directory of a checkpoint: the directory given, or the one holding checkpoints/last.ckpt."""
    path = Path(ckpt)
    if path.is_dir():
        return path
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent


def trained_target(ckpt: str | os.PathLike) -> DictConfig:
    """The target node of the run's saved config; a relative data path is taken from where that run started."""
    run_dir = run_dir_of(ckpt)
    saved = run_dir / ".hydra" / "config.yaml"
    if not saved.is_file():
        raise SampleError(f"ckpt={ckpt}: no {saved} to read the trained target from; name one, e.g. "
                          "target=gaussian target.mean=4")
    node = OmegaConf.load(saved).target
    hydra_file = run_dir / ".hydra" / "hydra.yaml"
    if node.get("path") and not Path(node.path).is_absolute() and hydra_file.is_file():
        node.path = str(Path(OmegaConf.load(hydra_file).hydra.runtime.cwd) / node.path)
    return node


def composed_target(overrides: list[str], config_dir: str | os.PathLike | None = None) -> Target:
    """The target ``gan1d.train OVERRIDES`` would train on, its config checked as gan1d.train checks it."""
    from hydra.errors import HydraException

    from gan1d.train import compose

    try:
        cfg = compose(overrides, run_dir=".", config_dir=config_dir)
    except HydraException as err:  # an unknown option or key
        raise ConfigError(_one_line(str(err))) from None
    return check_config(cfg)


def _one_line(message: str) -> str:
    """Hydra's message in one line, the options it lists included, its config search path left out."""
    segments = []
    for line in message.partition("\nConfig search path:")[0].strip().splitlines():
        if line.startswith("\t") and segments:  # an option listed under the line before
            segments[-1] += (" " if segments[-1].endswith(":") else ", ") + line.strip()
        elif line.strip():
            segments.append(line.strip().rstrip("."))
    return "; ".join(segments)


def split_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(target overrides, the other key=value arguments)."""
    def is_target(arg: str) -> bool:
        return arg.split("=", 1)[0].lstrip("+~").split(".", 1)[0] == "target"

    return [a for a in argv if is_target(a)], [a for a in argv if not is_target(a)]


def main(argv: list[str] | None = None) -> None:
    try:
        overrides, rest = split_args(sys.argv[1:] if argv is None else argv)
        args = parse_args(rest, DEFAULTS, USAGE)
        out = Path(args["out"] or run_dir_of(args["ckpt"]) / "evaluation.json")
        if out.suffix != ".json":
            raise SampleError(f"out={out}: the file name must end in .json")
        result = evaluate(args["ckpt"], overrides or None, args["n"], args["seed"], args["config_dir"])
        try:
            write_json(out, result)
        except OSError as err:
            raise SampleError(f"out={out}: cannot write it ({err.strerror})") from None
    except ConfigError as err:
        print(f"gan1d.evaluate: {err}", file=sys.stderr)
        sys.exit(2)
    print(summary(result) + f"; wrote {out}")


def summary(result: dict) -> str:
    """One line: W1/sd and KS, with the floor and dcr_ratio for data."""
    floors = "w1_over_std_floor" in result
    w1 = f"W1/sd {result['w1_over_std']:.4f}" + (f" (floor {result['w1_over_std_floor']:.4f})" if floors else "")
    ks = f"KS {result['ks']:.4f}" + (f" (floor {result['ks_floor']:.4f})" if floors else "")
    dcr = f", dcr_ratio {result['dcr_ratio']:.3f}" if "dcr_ratio" in result else ""
    against = "the held-out part of " if floors else ""
    return f"{w1}, {ks}{dcr}: {result['n']} samples against {against}{result['target']}"


if __name__ == "__main__":
    main()
