"""Score a trained generator against any target: ``python -m gan1d.evaluate ckpt=RUN_DIR [target=...] [n=20000]``.

Without ``target=`` the target is the one the run was trained on (read from its .hydra/config.yaml). With it, any
target gan1d's config groups compose: a formula with its keys (``target=gaussian target.mean=4``) or data
(``target=empirical target.path=x.csv``). The scores are the training run's: W1, W1/sd, KS and moments, and for
data, two-sample against the part the run was scored on (validation, else held-out; a small sample: all its
values, in-sample; beside a validation part, the test part apart), with the noise floor and dcr_ratio. Prints one
line and writes JSON (``out=``, by default evaluation.json in the run directory). Needs no Lightning. The run's
own data file is read from the absolute path its data.json records, and refused in one line if it changed since
(``allow_changed=true`` scores it anyway). ``correct=true`` scores the samples resampled by the discriminator's
correction (gan1d.correction) and keeps the uncorrected scores beside them, with the correction's acceptance rate
and wall time.
"""

import os
import sys
from pathlib import Path

import gan1d.conf  # noqa: F401  (registers the resolvers a run's saved config may use)
from gan1d.build import build_target, checked_target
from gan1d.checkpoints import SampleError, check_unchanged, checkpoint_path, run_dir_of, trained_target
from gan1d.correction import corrected
from gan1d.errors import ConfigError
from gan1d.files import write_json
from gan1d.metrics import Evaluator
from gan1d.sample import parse_args, sample
from gan1d.targets import Target

USAGE = ("usage: python -m gan1d.evaluate ckpt=PATH [target=NAME target.KEY=VALUE ...] [n=20000] [seed=0] "
         "[out=FILE.json] [config_dir=DIR] [allow_changed=false] [correct=false]")
DEFAULTS = {"ckpt": None, "n": 20_000, "seed": 0, "out": None, "config_dir": None, "allow_changed": False,
            "correct": False}


def evaluate(ckpt: str | os.PathLike, target: list[str] | None = None, n: int = 20_000, seed: int = 0,
             config_dir: str | os.PathLike | None = None, allow_changed: bool = False, correct: bool = False) -> dict:
    """Scores of ``n`` samples (noise seed ``seed``) from the generator in ``ckpt`` against ``target``: a list of
    overrides (["target=gaussian", "target.mean=4"]), or None for the target the run was trained on. The run's own
    data file is refused if it changed since training (its sha256 or split differs from the run's data.json), as
    its held-out part may then hold training values, unless ``allow_changed``. ``correct``: the scores are the
    corrected samples'; ``uncorrected`` and ``correction`` (acceptance, fit_s, sample_s, the figure) are beside them."""
    path = checkpoint_path(ckpt)
    scored = build_target(trained_target(path)) if target is None else composed_target(target, config_dir)
    if not allow_changed:
        check_unchanged(scored, run_dir_of(path))
    raw = sample(path, n, seed)
    scores = scores_of(raw, scored)
    if correct:
        run = corrected(path, allow_changed, scored if target is None else None)
        x, record = run.sample(n, seed)
        record["figure"] = str(run.draw(raw, x))
        scores = {**scores_of(x, scored), "uncorrected": scores, "correction": record}
    against = {"scored_against": scored.scored_against} if hasattr(scored, "scored_against") else {}
    return {"ckpt": str(path), "target": repr(scored), **against, "n": n, "seed": seed, **scores}


def scores_of(x, scored: Target) -> dict:
    scores = Evaluator(scored)(x)
    if getattr(scored, "reference_part", None) == "validation":  # as the run reports it: the test part apart
        scores["test"] = Evaluator(scored, "test")(x)
    return scores


def composed_target(overrides: list[str], config_dir: str | os.PathLike | None = None) -> Target:
    """The target ``gan1d.train OVERRIDES`` would train on, its config checked as gan1d.train checks it."""
    from hydra.errors import HydraException

    from gan1d.run import compose

    try:
        cfg = compose(overrides, run_dir=".", config_dir=config_dir)
    except HydraException as err:  # an unknown option or key
        raise ConfigError(_one_line(str(err))) from None
    return checked_target(cfg)


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
        result = evaluate(args["ckpt"], overrides or None, args["n"], args["seed"], args["config_dir"],
                          args["allow_changed"], args["correct"])
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
    against = f"{result['scored_against']} of " if "scored_against" in result else ""
    line = f"{w1}, {ks}{dcr}: {result['n']} samples against {against}{result['target']}"
    if "correction" not in result:
        return line
    before, record = result["uncorrected"], result["correction"]
    return (f"corrected: {line}; uncorrected W1/sd {before['w1_over_std']:.4f}, KS {before['ks']:.4f}; "
            f"{verdict(record)}, fitted in {record['fit_s']:.1f} s")


def verdict(record: dict) -> str:
    """What the correction did, and what its check found."""
    check, unchanged = record["check"], "so these are the generator's own"
    if not record["above_chance"]:
        return (f"off: it told the two apart no better than chance, {unchanged} (gain {record['gain_nats']:.1e} "
                f"nats, standard error {record['gain_se']:.1e}, on {check['on']})")
    what = f"{record['acceptance']:.1%} of draws accepted" if check["kept"] else \
        f"off: it did not bring the draws closer to the check's values, {unchanged}"
    ratios = f": W1 x{check['w1_ratio']:.2f}, KS x{check['ks_ratio']:.2f}" if "w1_ratio" in check else ""
    return f"{what} (checked on {check['on']}{ratios})"


if __name__ == "__main__":
    main()
