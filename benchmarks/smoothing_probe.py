"""A probe of issue #40's data goal: the correction's real side smoothed adaptively, each training value by its own
spacing.

On data the correction's classifier sees the training part as n spikes, and its Fourier features resolve them: a
value between them reads as generated, so the correction thins what falls between training values, the sparse tails
and the small columns most. Here each real draw is a training value plus N(0, h^2), h that value's distance to its
``k``-th nearest training value (small in a dense mode, wide in a tail), rounded to the column's decimals as the
generator's draws are (gan1d.correction.spread, Fit.neighbours: gan1d fits it so since the probe, with k=5); ``k=0``
is the correction as gan1d fitted it before. Every data run of benchmarks/data.py (its run dirs, nothing retrained)
gets its correction fitted again this way (gan1d.correction.fit), and as many corrected samples as data.md scores
(data.N_SAMPLES; 20,000 when the probe ran) scored as data.md scores them:

    python benchmarks/smoothing_probe.py --k 10 --part 0 --parts 2 --out k10_0.json   (and --part 1, at once)
    python benchmarks/smoothing_probe.py --summarise k10_0.json k10_1.json --k 10

Not part of gan1d: results in benchmarks/results/correction_probe.md.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import data  # noqa: E402
import quality  # noqa: E402

from gan1d.checkpoints import load_generator  # noqa: E402
from gan1d.correction import Fit, fit  # noqa: E402

RUNS = HERE.parent / "outputs" / "benchmarks" / "data"
TABLE = HERE / "results" / "data.json"  # today's corrected and uncorrected rows, and the floors


def rescored(column: str, seed: int, k: int) -> dict:
    start = time.perf_counter()
    path = (RUNS / "columns" / f"{column}.npy").resolve()
    target, (train, held_out) = data.column_target(path), data.split(path)
    generator = load_generator(RUNS / "gan1d" / "default" / column / f"seed{seed}" / "checkpoints" / "last.ckpt")
    correction = fit(generator, target, Fit(neighbours=k))  # data.md's columns have no validation part: unchecked
    rng = torch.Generator().manual_seed(quality.SAMPLE_SEED + seed)
    x, acceptance = correction.sample(generator, data.N_SAMPLES, rng)
    samples = target.as_data(x.numpy().astype(np.float64))
    return {"column": column, "seed": seed, "k": k, "acceptance": acceptance, **data.scores(samples, train, held_out),
            "s": round(time.perf_counter() - start, 1)}


def summarise(files: list[Path], k: int) -> None:
    table = json.loads(TABLE.read_text())
    stem = {name: quality.file_stem(name) for name in table["floors"]}
    floors = {stem[name]: floor for name, floor in table["floors"].items()}
    today = {m: {(stem[r["column"]], r["seed"]): r for r in table["runs"] if r["method"] == m}
             for m in ("gan1d", "gan1d corrected")}
    rows = {(r["column"], r["seed"]): r for f in files for r in json.loads(f.read_text()) if r["k"] == k}

    def within(r: dict, column: str) -> bool:
        f = floors[column]
        return r["w1_over_std"] <= 1.1 * f["w1_over_std"] and r["ks"] <= 1.2 * f["ks"]

    runs = sorted(rows)
    ok = {name: {key for key in runs if within(src[key], key[0])}
          for name, src in (("this", rows), *today.items())}
    print(f"{len(runs)} column-seeds; within 1.1x the W1/sd floor and 1.2x the KS floor: {len(ok['this'])} smoothed, "
          f"{len(ok['gan1d corrected'])} corrected as today, {len(ok['gan1d'])} uncorrected")
    print("gained:", ", ".join(f"{c} seed {s}" for c, s in sorted(ok["this"] - ok["gan1d corrected"])) or "none")
    print("lost:", ", ".join(f"{c} seed {s}" for c, s in sorted(ok["gan1d corrected"] - ok["this"])) or "none")
    print("\n| column | W1/sd / floor, today | smoothed | KS / floor, today | smoothed | acceptance, today | smoothed |"
          "\n|---|---|---|---|---|---|---|")
    for column in sorted({c for c, _ in runs}):
        keys = [key for key in runs if key[0] == column]
        cells = [statistics.median(src[key][metric] / scale for key in keys)
                 for metric, scale in (("w1_over_std", floors[column]["w1_over_std"]), ("ks", floors[column]["ks"]),
                                       ("acceptance", 1))
                 for src in (today["gan1d corrected"], rows)]
        print(f"| {column} | " + " | ".join(f"{v:.3f}" if i >= 4 else f"{v:.2f}" for i, v in enumerate(cells)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--summarise", type=Path, nargs="+")
    args = parser.parse_args()
    if args.summarise:
        return summarise(args.summarise, args.k)
    columns = sorted(p.stem for p in (RUNS / "columns").glob("*.npy"))
    jobs = [(c, s) for c in columns for s in range(5)][args.part::args.parts]
    rows = []
    for column, seed in jobs:
        rows.append(rescored(column, seed, args.k))
        print(json.dumps(rows[-1]), flush=True)
        args.out.write_text(json.dumps(rows, indent=1))  # resumable by hand: what is done is kept


if __name__ == "__main__":
    main()
