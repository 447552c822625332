"""How long the sweep summary takes for a large sweep: ``python -m gan1d.report`` over 10,000 run dirs.

    python benchmarks/report_scale.py [--runs 10000] [--repeats 3] [--out benchmarks/results]

The run dirs are synthetic but laid out as a real multirun leaves them: SWEEP/N/.hydra/overrides.yaml (Hydra's list
of the job's overrides), SWEEP/N/metrics.json (gan1d's run record, every key a real one has) and SWEEP/multirun.yaml;
1 job in 100 has no metrics.json (it died). Four sweep shapes, each summarised by the command a user runs (a fresh
process, imports included), median of --repeats: a grid of two keys (heatmap), settings x seeds (the rows over
seeds), one key of many values (bars), and a search (scatter). Writes report_scale.md and report_scale.json to --out.
"""

import argparse
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPES = {  # name: (what the user swept, overrides of job n of N, sweeper)
    "grid": ("optim.g_lr x optim.d_lr, 100 x 100",
             lambda n, N: [f"optim.g_lr={1e-4 * (1 + n // 100)}", f"optim.d_lr={1e-4 * (1 + n % 100)}"], "basic"),
    "seeds": ("optim.g_lr (100 values) x seed (100)",
              lambda n, N: [f"optim.g_lr={1e-4 * (1 + n // 100)}", f"seed={n % 100}"], "basic"),
    "one_key": ("seed, N values", lambda n, N: [f"seed={n}"], "basic"),
    "search": ("an Optuna search of 2 keys, N trials",
               lambda n, N: [f"optim.g_lr={10 ** random.uniform(-5, -2):.6g}",
                             f"optim.d_lr={10 ** random.uniform(-5, -2):.6g}"], "optuna_study"),
}


def record(n: int) -> dict | None:
    """A run record like the one gan1d writes when a job ends; None for the 1 job in 100 that died before that."""
    if n % 100 == 99:
        return None
    w1 = 10 ** random.uniform(-2.2, -0.5)
    return {"status": "ok", "steps": 4000, "wall_s": round(random.uniform(20, 40), 3), "steps_per_s": 150.0,
            "target": "Gaussian(mu=4.0, sigma=1.25)", "w1": w1 * 1.25, "w1_over_std": w1, "ks": w1 / 2,
            "mean_gap": 0.01, "std_gap": 0.01, "skew_gap": 0.02, "kurtosis_gap": 0.05}


def make_sweep(root: Path, shape: str, runs: int) -> Path:
    _, overrides_of, sweeper = SHAPES[shape]
    random.seed(0)
    for n in range(runs):
        job = root / str(n)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides_of(n, runs)))
        if (rec := record(n)) is not None:
            (job / "metrics.json").write_text(json.dumps(rec, indent=2))
    (root / "multirun.yaml").write_text(f"hydra:\n  runtime:\n    choices:\n      hydra/sweeper: {sweeper}\n")
    return root


def time_report(sweep: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gan1d.report", str(sweep)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"gan1d.report failed on {sweep}:\n{done.stderr[-2000:]}")
    return wall


def machine() -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip() or "unknown"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, Python {platform.python_version()}, commit {commit}"


def markdown(rows: list[dict], runs: int, repeats: int) -> str:
    lines = [f"machine: {machine()}; {runs:,} synthetic run dirs per sweep, `python -m gan1d.report SWEEP` in a fresh "
             f"process (imports included), median of {repeats}", "",
             "| sweep | swept | s (median) | s (each) | ms per run | summary.csv KB | summary.png KB |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['shape']} | {r['swept']} | {r['median_s']:.2f} | {', '.join(f'{s:.2f}' for s in r['each_s'])} "
              f"| {1000 * r['median_s'] / runs:.2f} | {r['csv_kb']:.0f} | {r['png_kb']:.0f} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--out", type=Path, default=None, help="where report_scale.md and .json go (none: print)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sweeps = {s: make_sweep(Path(tmp) / s, s, args.runs) for s in args.shapes}
        times = {s: [] for s in args.shapes}
        for _ in range(args.repeats):  # shapes interleaved, so that a slow minute of the machine hits them all
            for shape, sweep in sweeps.items():
                times[shape].append(time_report(sweep))
        for shape, sweep in sweeps.items():
            rows.append({"shape": shape, "swept": SHAPES[shape][0].replace("N", f"{args.runs:,}"),
                         "median_s": statistics.median(times[shape]), "each_s": times[shape],
                         "csv_kb": (sweep / "summary.csv").stat().st_size / 1024,
                         "png_kb": (sweep / "summary.png").stat().st_size / 1024})
    table = markdown(rows, args.runs, args.repeats)
    print(table, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "report_scale.md").write_text(table)
        (args.out / "report_scale.json").write_text(json.dumps({"machine": machine(), "runs": args.runs,
                                                                "rows": rows}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
