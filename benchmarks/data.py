"""Data as the target: the default recipe on a data file, scored against the file's held-out part next to the noise
floor (the training part against the held-out part), and for draws of a known distribution, the same checkpoints
scored by gan1d.evaluate against that distribution itself.

    python benchmarks/data.py [--seeds 5] [--jobs 2] [--out benchmarks/results] [--runs outputs/benchmarks/data]

Data sets: 20,000 draws of N(4, 1.25) (seeded, written to RUNS/normal_draws.npy), and the two real data sets shipped
with gan1d (penguins_flipper, seattle_wind). Every run is scored on 20,000 fresh samples from its checkpoint.
The bars, for the draws: W1/sd and KS within 1.5x of their floors against the held-out part, and W1/sd <= 0.04 and
KS <= 0.02 against the exact N(4, 1.25), on every seed. Writes data.json, data.md and data_overlays.png (each data
set's median seed: the generated histogram on the held-out data's density) to --out.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import quality

DRAWS, DRAWS_SEED, DRAWS_N = "N(4, 1.25) draws", 2026, 20_000
REAL = ["penguins flipper", "seattle wind"]
EXACT = ["target=gaussian", "target.mean=4", "target.std=1.25"]
FLOOR_BAR = 1.5


def exact_scores(row: dict) -> dict:
    """The run's checkpoint scored by gan1d.evaluate against the exact N(4, 1.25), on the same 20,000 samples."""
    from gan1d.evaluate import evaluate

    scores = evaluate(row["run_dir"], EXACT, n=quality.N_SAMPLES, seed=quality.SAMPLE_SEED + row["seed"])
    return {"exact_w1_over_std": scores["w1_over_std"], "exact_ks": scores["ks"]}


def per_seed_markdown(rows: list[dict]) -> str:
    lines = ["| seed | W1/sd | W1/sd floor | ratio | KS | KS floor | ratio | dcr_ratio | exact W1/sd | exact KS |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['w1_over_std']:.4f} | {r['w1_over_std_floor']:.4f} | "
                     f"{r['w1_over_std'] / r['w1_over_std_floor']:.2f} | {r['ks']:.4f} | {r['ks_floor']:.4f} | "
                     f"{r['ks'] / r['ks_floor']:.2f} | {r['dcr_ratio']:.3f} | {r['exact_w1_over_std']:.4f} | "
                     f"{r['exact_ks']:.4f} |")
    return "\n".join(lines)


def summary_markdown(rows: list[dict]) -> str:
    lines = ["| data | values (train / held-out) | median W1/sd | W1/sd floor | worst W1/sd / floor | median KS | "
             "KS floor | worst KS / floor | median dcr_ratio |", "|---|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["target"] for r in rows):
        group = [r for r in rows if r["target"] == name]
        dcr = [r["dcr_ratio"] for r in group if "dcr_ratio" in r]
        lines.append(f"| {name} | {group[0]['sizes']} | {statistics.median(r['w1_over_std'] for r in group):.4f} | "
                     f"{group[0]['w1_over_std_floor']:.4f} | "
                     f"{max(r['w1_over_std'] / r['w1_over_std_floor'] for r in group):.2f} | "
                     f"{statistics.median(r['ks'] for r in group):.4f} | {group[0]['ks_floor']:.4f} | "
                     f"{max(r['ks'] / r['ks_floor'] for r in group):.2f} | "
                     f"{f'{statistics.median(dcr):.3f}' if dcr else 'not defined (rounded data)'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    ap.add_argument("--jobs", type=int, default=2, help="runs in parallel (one torch thread each)")
    ap.add_argument("--steps", type=int, default=None, help="override the recipe's iterations (smoke tests)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--runs", type=Path, default=Path("outputs/benchmarks/data"), help="where the runs go")
    ap.add_argument("--reuse", action="store_true", help="score runs already finished in --runs instead of retraining")
    args = ap.parse_args(argv)
    args.runs.mkdir(parents=True, exist_ok=True)
    draws = (args.runs / "normal_draws.npy").resolve()
    np.save(draws, np.random.default_rng(DRAWS_SEED).normal(4, 1.25, DRAWS_N))
    quality.TARGETS[DRAWS] = (["target=empirical", f"target.path={draws}"], "data")
    args.presets, args.targets = ["default"], [DRAWS, *REAL]
    start = time.perf_counter()
    rows = quality.run_jobs(args)
    for r in rows:
        t = quality.target_named(r["target"])
        r["sizes"] = f"{len(t.train)} / {len(t.held_out)}"
        if r["target"] == DRAWS:
            r.update(exact_scores(r))
    draws_rows = [r for r in rows if r["target"] == DRAWS]
    md = (f"The default recipe, {rows[0]['steps']} iterations, seeds 0-{args.seeds - 1}; each run scored on "
          f"{quality.N_SAMPLES} fresh samples from its checkpoint against the held-out part; floor: the training part "
          f"against the held-out part.\n\n{summary_markdown(rows)}\n\n{DRAWS}, every seed (exact: the same "
          f"checkpoint and samples against N(4, 1.25) itself, by gan1d.evaluate):\n\n{per_seed_markdown(draws_rows)}")
    print(md)
    w1_bar, ks_bar, _ = quality.BARS["gaussian"]
    passed = sum(r["w1_over_std"] <= FLOOR_BAR * r["w1_over_std_floor"] and r["ks"] <= FLOOR_BAR * r["ks_floor"]
                 and r["exact_w1_over_std"] <= w1_bar and r["exact_ks"] <= ks_bar for r in draws_rows)
    print(f"\n{len(rows)} runs in {time.perf_counter() - start:.0f} s; {DRAWS}: {passed}/{len(draws_rows)} seeds "
          f"within {FLOOR_BAR}x of both floors and passing W1/sd <= {w1_bar}, KS <= {ks_bar} exactly")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "data.json").write_text(json.dumps({"runs": rows}, indent=2) + "\n")
    (args.out / "data.md").write_text(md + "\n")
    quality.overlay_figure(rows, args.out / "data_overlays.png", by="target", ncols=len(args.targets))
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
