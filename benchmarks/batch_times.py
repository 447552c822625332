"""Where a run's loop loses time between cadences: each Lightning batch's training-step time, and which batches
take longer than the rest.

    python benchmarks/batch_times.py [--runs 3] [--json FILE] [OVERRIDE ...]

Trains ``experiment=seed2017`` (and the overrides) ``--runs`` times in this process, timing GAN1D.training_step per
batch (iterations_per_batch iterations each, the cadences' work excluded, which runs between batches). "slow" are the
batches over 1.2x the run's median, named by their last iteration; "excess" is what every batch took beyond the
median, summed, as a share of the run's training-step time: the iterations' own slowdown, not the cadences' work.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from throughput import make_cfg  # this folder's throughput.py: the same config, composed the same way

import gan1d.module
from gan1d.run import train


def timed_run(overrides: list[str]) -> dict:
    times = []
    step = gan1d.module.GAN1D.training_step

    def timed(module, *args, **kwargs):
        start = time.perf_counter()
        step(module, *args, **kwargs)
        times.append((module.iteration, time.perf_counter() - start))

    gan1d.module.GAN1D.training_step = timed
    try:
        with tempfile.TemporaryDirectory() as run_dir:
            cfg = make_cfg(["experiment=seed2017", *overrides], run_dir)
            torch.set_num_threads(cfg.threads)
            record = train(cfg)
    finally:
        gan1d.module.GAN1D.training_step = step
    usual = statistics.median(dt for _, dt in times)
    return {"steps_per_s": record["steps_per_s"], "median_batch_ms": round(1000 * usual, 1),
            "slow_batches_ms": {done: round(1000 * dt, 1) for done, dt in times if dt > 1.2 * usual},
            "excess_share": round(sum(max(0.0, dt - usual) for _, dt in times) / sum(dt for _, dt in times), 4)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the runs here")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    runs = [timed_run(args.overrides) for _ in range(args.runs)]
    print("\n| overrides | run | it/s | median batch ms | slow batches (iteration: ms) | excess share of the steps |")
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(runs):
        print(f"| {' '.join(args.overrides) or '(default)'} | {i} | {r['steps_per_s']:.0f} | {r['median_batch_ms']} | "
              f"{', '.join(f'{k}: {v:.0f}' for k, v in r['slow_batches_ms'].items())} | {r['excess_share']:.1%} |")
    if args.json:
        args.json.write_text(json.dumps({"overrides": args.overrides, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
