"""Sweep summary: one row per job of a Hydra multirun, and a figure that answers the sweep's question.

Runs by itself when a multirun ends (a Hydra callback, see ``hydra.callbacks`` in conf/train.yaml), and on demand:

    python -m gan1d.report SWEEP_DIR

Writes ``summary.csv``, ``summary.md`` and ``summary.png`` in SWEEP_DIR: a heatmap of W1/sd over the two swept keys
when two were swept (each cell numbered up to 400 cells), bars otherwise (past 60, one curve of W1/sd by rank), and
for a search (a sweeper that picks the values, e.g. Optuna) each searched key against W1/sd. Failed jobs are listed
with their one-line reason. When ``seed`` is one of the swept keys, the jobs are also grouped by their other
overrides: median and worst W1/sd and KS over the seeds, and how many seeds passed the quality bar; the figure then
shows the medians. One seed cannot rank configs; the median over seeds can.
"""

import csv
import io
import json
import math
import os
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from gan1d.errors import ConfigError
from gan1d.files import atomic_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLUMNS = ("job", "overrides", "status", "w1_over_std", "ks", "wall_s", "steps", "run_dir", "reason")
# The rows over seeds, in summary.csv after the jobs' own (column "row": "job" or "seeds").
SEED_COLUMNS = ("seeds", "passed", "failed", "median_w1_over_std", "worst_w1_over_std", "median_ks", "worst_ks")
W1_BAR, KS_BAR = 0.04, 0.02  # the project's quality bar: a seed passes with W1/sd <= 0.04 and KS <= 0.02
BAR = f"W1/sd <= {W1_BAR} and KS <= {KS_BAR}"
# libyaml's parser where PyYAML has it: a large sweep has one overrides.yaml per job to read
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SweepSummary(Callback):
    """Hydra callback: summarise the sweep as soon as the multirun ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: object) -> None:
        rows = summarise(Path(config.hydra.sweep.dir))
        failed = [r["job"] for r in rows if r["status"] != "ok"]
        print(f"sweep summary: {Path(config.hydra.sweep.dir) / 'summary.md'}")
        if failed:  # the sweep as a whole did not succeed: say so in the exit code, after the summary is written
            print(f"gan1d: {len(failed)} of {len(rows)} jobs did not finish ok (jobs {', '.join(failed)})",
                  file=sys.stderr)
            sys.exit(1)


def read_jobs(sweep_dir: Path) -> list[dict]:
    """Every job folder (one with .hydra/overrides.yaml), with its overrides and its metrics.json, if any."""
    rows = []
    for overrides_file in sorted(sweep_dir.glob("*/.hydra/overrides.yaml"), key=_job_order):
        run_dir = overrides_file.parent.parent
        overrides = [str(o) for o in yaml.load(overrides_file.read_text(), Loader=YAML_LOADER)]
        metrics_file = run_dir / "metrics.json"
        try:
            record = json.loads(metrics_file.read_text())
        except FileNotFoundError:
            record = {"status": "failed", "reason": "no metrics.json: the job stopped before training ended"}
        except (OSError, ValueError) as err:  # not gan1d's (its writes are atomic): edited or foreign
            record = {"status": "failed", "reason": f"metrics.json cannot be read ({type(err).__name__})"}
        rows.append({"job": run_dir.name, "overrides": overrides, "run_dir": str(run_dir),
                     **{k: record.get(k) for k in COLUMNS if k in record}})
    return rows


def _job_order(path: Path):
    name = path.parent.parent.name
    return (0, int(name)) if name.isdigit() else (1, name)


def swept_keys(rows: list[dict]) -> list[str]:
    """The override keys whose values differ between jobs, in the order they were given."""
    values: dict[str, set] = {}
    for row in rows:
        for key, value in (o.split("=", 1) for o in row["overrides"] if "=" in o):
            values.setdefault(key, set()).add(value)
    return [k for k, v in values.items() if len(v) > 1]


def searched(sweep_dir: Path) -> bool:
    """True for a search: a sweeper that picks the values itself (e.g. Optuna), not Hydra's grid (basic)."""
    multirun = sweep_dir / "multirun.yaml"  # Hydra writes the sweep's config there
    if not multirun.exists():
        return False
    choices = OmegaConf.load(multirun).hydra.runtime.choices
    return choices.get("hydra/sweeper", "basic") != "basic"


def summarise(sweep_dir: str | os.PathLike) -> list[dict]:
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ConfigError(f"{sweep_dir}: no such sweep directory")
    rows = read_jobs(sweep_dir)
    if not rows:
        raise ConfigError(f"{sweep_dir}: no jobs found (expected folders with .hydra/overrides.yaml)")
    keys = swept_keys(rows)
    groups = seed_groups(rows, keys) if "seed" in keys else []
    try:
        for name, text in (("summary.csv", to_csv(rows, groups)), ("summary.md", to_markdown(rows, keys, groups))):
            with atomic_file(sweep_dir / name) as f:
                f.write(text)
        with atomic_file(sweep_dir / "summary.png", "wb") as f:
            figure(rows, keys, groups, searched(sweep_dir)).savefig(f, format="png")
    except OSError as err:
        raise ConfigError(f"{sweep_dir}: cannot write the summary there ({err.strerror})") from None
    return rows


def _chosen(row: dict) -> dict[str, str]:
    return dict(o.split("=", 1) for o in row["overrides"] if "=" in o)


def seed_groups(rows: list[dict], keys: list[str]) -> list[dict]:
    """One row per setting of the swept keys other than seed, best median W1/sd first: the median and worst W1/sd
    and KS over its seeds that finished, how many of its seeds passed the bar, and how many failed."""
    others = [k for k in keys if k != "seed"]
    jobs_of: dict[tuple, list[dict]] = {}
    for row in rows:
        jobs_of.setdefault(tuple(_chosen(row).get(k, "") for k in others), []).append(row)
    groups = []
    for setting, jobs in jobs_of.items():
        done = [r for r in jobs if math.isfinite(_score(r)) and r.get("ks") is not None]
        w1, ks = [r["w1_over_std"] for r in done], [r["ks"] for r in done]
        groups.append({"setting": dict(zip(others, setting, strict=True)), "jobs": [r["job"] for r in jobs],
                       "seeds": len(jobs),
                       "passed": sum(a <= W1_BAR and b <= KS_BAR for a, b in zip(w1, ks, strict=True)),
                       "failed": len(jobs) - len(done),
                       "median_w1_over_std": statistics.median(w1) if done else None,
                       "worst_w1_over_std": max(w1, default=None), "median_ks": statistics.median(ks) if done else None,
                       "worst_ks": max(ks, default=None)})
    return sorted(groups, key=lambda g: math.inf if g["median_w1_over_std"] is None else g["median_w1_over_std"])


def to_csv(rows: list[dict], groups: list[dict] = ()) -> str:
    buf = io.StringIO()
    columns = ("row", *COLUMNS, *SEED_COLUMNS) if groups else COLUMNS
    writer = csv.DictWriter(buf, columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({"row": "job", **row, "overrides": " ".join(row["overrides"])})
    for group in groups:
        overrides = " ".join(f"{k}={v}" for k, v in group["setting"].items())
        writer.writerow({**group, "row": "seeds", "job": " ".join(group["jobs"]), "overrides": overrides})
    return buf.getvalue()


def to_markdown(rows: list[dict], keys: list[str], groups: list[dict] = ()) -> str:
    lines = []
    if groups:
        others = list(groups[0]["setting"])
        head = [*others, "seeds", f"passed ({BAR})", "failed", "median W1/sd", "worst W1/sd", "median KS", "worst KS"]
        lines += ["Over seeds, best median first:", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for g in groups:
            lines.append("| " + " | ".join([*g["setting"].values(), str(g["seeds"]), f"{g['passed']}/{g['seeds']}",
                                            str(g["failed"]), _fmt(g["median_w1_over_std"]),
                                            _fmt(g["worst_w1_over_std"]), _fmt(g["median_ks"]),
                                            _fmt(g["worst_ks"])]) + " |")
        lines += ["", "Every job:", ""]
    head = [*keys, "status", "W1/sd", "KS", "wall s", "run dir"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in sorted(rows, key=lambda r: _score(r)):
        chosen = _chosen(row)
        status = row["status"] + (f" ({row['reason']})" if row.get("reason") else "")
        lines.append("| " + " | ".join([*(chosen.get(k, "") for k in keys), status, _fmt(row.get("w1_over_std")),
                                        _fmt(row.get("ks")), _fmt(row.get("wall_s"), 1), row["run_dir"]]) + " |")
    return "\n".join(lines) + "\n"


def _score(row: dict) -> float:
    value = row.get("w1_over_std")
    return value if row.get("status") == "ok" and value is not None and math.isfinite(value) else math.inf


def _fmt(value, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _sort_values(values):
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def figure(rows: list[dict], keys: list[str], groups: list[dict] = (), search: bool = False) -> "Figure":
    """For a search, each searched key against W1/sd. Otherwise a heatmap of W1/sd over two swept keys, bars (one
    per job, past MOST_BARS one curve of W1/sd by rank) else; with seeds swept, one cell or bar per setting of the
    other keys, at the median over its seeds.
    Failed jobs show as such."""
    from gan1d.figures import MOST_BARS, sweep_bars, sweep_heatmap, sweep_ranked, sweep_scatter

    chosen = [_chosen(r) for r in rows]
    scores = [_score(r) for r in rows]
    names = [r["job"] for r in rows]
    what = f"final W1/sd of {len(rows)} jobs"
    if search:
        return sweep_scatter({k: [c.get(k, "") for c in chosen] for k in keys}, scores, what)
    if groups and len(groups) > 1:  # one point per setting of the other keys
        keys = list(groups[0]["setting"])
        chosen = [g["setting"] for g in groups]
        scores = [math.inf if g["median_w1_over_std"] is None else g["median_w1_over_std"] for g in groups]
        names = [f"jobs {' '.join(g['jobs'])}" for g in groups]
        what = f"median W1/sd over seeds ({groups[0]['seeds']} each) of {len(groups)} settings"
    if len(keys) == 2 and all(k in c for c in chosen for k in keys):
        xs, ys = (_sort_values({c[k] for c in chosen}) for k in keys)
        cells = {(c[keys[0]], c[keys[1]]): score for c, score in zip(chosen, scores, strict=True)}
        # Every cell of the grid exactly once (not, say, an Optuna search's points, which may repeat one cell and
        # miss another even where their number fills the grid).
        if len(cells) == len(xs) * len(ys) == len(chosen):
            return sweep_heatmap([[cells[(x, y)] for x in xs] for y in ys], xs, ys, keys, what)
    if len(scores) > MOST_BARS:
        return sweep_ranked(scores, what)
    labels = [" ".join(c.get(k, "") for k in keys) or name for c, name in zip(chosen, names, strict=True)]
    return sweep_bars(labels, scores, ", ".join(keys) or "job", what)


def write_trials(sweep_dir: Path, trials: list[dict]) -> None:
    """trials.csv and trials.md beside the summary, for a search with a study (hydra/sweeper=optuna_study): one row
    per trial of the study, every worker's, with its params, W1/sd and state; the .md best first."""
    keys = sorted({k for t in trials for k in t["params"]})
    columns = ("trial", *keys, "w1_over_std", "state", "run_dir", "reason")
    rows = [{**t, **t["params"]} for t in trials]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    head = ["trial", *keys, "W1/sd", "state", "run dir"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in sorted(rows, key=lambda r: math.inf if r["w1_over_std"] is None else r["w1_over_std"]):
        state = row["state"] + (f" ({row['reason']})" if row.get("reason") else "")
        lines.append("| " + " | ".join([str(row["trial"]), *(f"{row.get(k, '')}" for k in keys),
                                        _fmt(row["w1_over_std"]), state, row["run_dir"]]) + " |")
    for name, text in (("trials.csv", buf.getvalue()), ("trials.md", "\n".join(lines) + "\n")):
        with atomic_file(sweep_dir / name) as f:
            f.write(text)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m gan1d.report SWEEP_DIR", file=sys.stderr)
        sys.exit(2)
    try:
        rows = summarise(args[0])
    except ConfigError as err:
        print(f"gan1d.report: {err}", file=sys.stderr)
        sys.exit(2)
    print((Path(args[0]) / "summary.md").read_text(), end="")
    print(f"{len(rows)} jobs; wrote summary.csv, summary.md and summary.png in {args[0]}")


if __name__ == "__main__":
    main()
