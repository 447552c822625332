"""Sweep summary: one row per job of a Hydra multirun, and a figure that answers the sweep's question.

Runs by itself when a multirun ends (a Hydra callback, see ``hydra.callbacks`` in conf/train.yaml), and on demand:

    python -m gan1d.report SWEEP_DIR

Writes ``summary.csv``, ``summary.md`` and ``summary.png`` in SWEEP_DIR: a heatmap of W1/sd over the two swept keys
when two were swept, bars otherwise. Failed jobs are listed with their one-line reason.
"""

import csv
import io
import json
import math
import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

from gan1d.errors import ConfigError
from gan1d.files import atomic_file

COLUMNS = ("job", "overrides", "status", "w1_over_std", "ks", "wall_s", "steps", "run_dir", "reason")


class SweepSummary(Callback):
    """Hydra callback: summarise the sweep as soon as the multirun ends."""

    def on_multirun_end(self, config, **kwargs) -> None:
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
        overrides = [str(o) for o in OmegaConf.load(overrides_file)]
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


def summarise(sweep_dir: str | os.PathLike) -> list[dict]:
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ConfigError(f"{sweep_dir}: no such sweep directory")
    rows = read_jobs(sweep_dir)
    if not rows:
        raise ConfigError(f"{sweep_dir}: no jobs found (expected folders with .hydra/overrides.yaml)")
    keys = swept_keys(rows)
    try:
        for name, text in (("summary.csv", to_csv(rows)), ("summary.md", to_markdown(rows, keys))):
            with atomic_file(sweep_dir / name) as f:
                f.write(text)
        with atomic_file(sweep_dir / "summary.png", "wb") as f:
            figure(rows, keys).savefig(f, format="png")
    except OSError as err:
        raise ConfigError(f"{sweep_dir}: cannot write the summary there ({err.strerror})") from None
    return rows


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "overrides": " ".join(row["overrides"])})
    return buf.getvalue()


def to_markdown(rows: list[dict], keys: list[str]) -> str:
    head = [*keys, "status", "W1/sd", "KS", "wall s", "run dir"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in sorted(rows, key=lambda r: _score(r)):
        chosen = dict(o.split("=", 1) for o in row["overrides"] if "=" in o)
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


def figure(rows: list[dict], keys: list[str]):
    """A heatmap of W1/sd over two swept keys, bars (one per job) otherwise; failed jobs show as such."""
    from gan1d.figures import sweep_bars, sweep_heatmap

    chosen = [dict(o.split("=", 1) for o in r["overrides"] if "=" in o) for r in rows]
    scores = [_score(r) for r in rows]
    if len(keys) == 2 and all(k in c for c in chosen for k in keys):
        xs, ys = (_sort_values({c[k] for c in chosen}) for k in keys)
        cells = {(c[keys[0]], c[keys[1]]): score for c, score in zip(chosen, scores)}
        # Every cell of the grid exactly once (not, say, an Optuna search's points, which may repeat one cell and
        # miss another even where their number fills the grid).
        if len(cells) == len(xs) * len(ys) == len(rows):
            return sweep_heatmap([[cells[(x, y)] for x in xs] for y in ys], xs, ys, keys)
    labels = [" ".join(c.get(k, "") for k in keys) or r["job"] for c, r in zip(chosen, rows)]
    return sweep_bars(labels, scores, ", ".join(keys) or "job")


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
