"""What a data file's size lets gan1d tell apart: the scores a perfect copy of the data gets, at each size.

    python benchmarks/data_size.py [--sizes 20 50 150 500 2000] [--draws 20] [--out benchmarks/results]

For each size, ``--draws`` files of that many values are drawn from a known target (the bimodal config,
0.5 N(-2, 0.5) + 0.5 N(2, 0.5)) and read by gan1d's own Empirical (the default split, holdout 0.2). Per file:
its regime and parts; the floor gan1d logs (split: the training part against the held-out part; small: the
bootstrap median and its 5-95% band); and what a perfect generator (20,000 fresh draws from the true target)
scores against the part the run is scored on. A generator whose score sits inside that spread cannot be told
from a perfect one at this size. Medians over the draws, with the draws' 10-90% spread of the perfect score.
Writes data_size.md and data_size.json to --out.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from gan1d.metrics import Evaluator, ks_two_sample, wasserstein1_two_sample
from gan1d.targets import Empirical, Mixture

TRUTH = dict(weights=[0.5, 0.5], means=[-2.0, 2.0], stds=[0.5, 0.5])
PERFECT = 20_000


def one_file(n: int, draw: int, folder: Path) -> dict:
    """Draw ``n`` values, let gan1d read and split them, and score its floor and a perfect generator."""
    truth = Mixture(**TRUTH)
    path = folder / f"n{n}_d{draw}.npy"
    np.save(path, truth.sample(n, torch.Generator().manual_seed(draw)).double().numpy())
    target = Empirical(path=str(path))
    scores = Evaluator(target).data_scores(np.zeros(1))  # the floor does not depend on the samples
    perfect = truth.sample(PERFECT, torch.Generator().manual_seed(10_000 + draw)).double().numpy()
    ref = target.reference
    row = {"n": n, "draw": draw, "regime": target.regime, "train": len(target.train), "scored_on": len(ref),
           "perfect_w1_over_std": wasserstein1_two_sample(perfect, ref) / ref.std(),
           "perfect_ks": ks_two_sample(perfect, ref)}
    row.update({k: v for k, v in scores.items() if k != "dcr_ratio"})
    return row


def summary(rows: list[dict]) -> dict:
    """One size's medians over its draws (and the perfect score's 10-90% spread)."""
    med = lambda k: float(np.median([r[k] for r in rows])) if k in rows[0] else None  # noqa: E731
    spread = lambda k: [float(q) for q in np.percentile([r[k] for r in rows], [10, 90])]  # noqa: E731
    keys = ["train", "scored_on", "w1_over_std_floor", "ks_floor", "w1_over_std_floor_p5", "w1_over_std_floor_p95",
            "perfect_w1_over_std", "perfect_ks"]
    return {"n": rows[0]["n"], "regime": rows[0]["regime"], **{k: med(k) for k in keys},
            "perfect_w1_over_std_p10_p90": spread("perfect_w1_over_std"), "perfect_ks_p10_p90": spread("perfect_ks")}


def table(sizes: list[dict], draws: int) -> str:
    lines = [f"Known target 0.5 N(-2, 0.5) + 0.5 N(2, 0.5); {draws} files per size, read by gan1d's Empirical "
             "(holdout 0.2); medians over the files. Floor: what gan1d logs as w1_over_std_floor / ks_floor "
             "(split: training part vs held-out part; small: bootstrap median [5-95% band]). Perfect: 20,000 true "
             "draws scored against the part the run is scored on [10-90% over files].", "",
             "| values | regime | trained on / scored on | W1/sd floor | KS floor | perfect W1/sd | perfect KS |",
             "|---|---|---|---|---|---|---|"]
    for s in sizes:
        band = (f" [{s['w1_over_std_floor_p5']:.3f}-{s['w1_over_std_floor_p95']:.3f}]"
                if s["w1_over_std_floor_p5"] is not None else "")
        w, k = s["perfect_w1_over_std_p10_p90"], s["perfect_ks_p10_p90"]
        lines.append(f"| {s['n']} | {s['regime']} | {s['train']:.0f} / {s['scored_on']:.0f} | "
                     f"{s['w1_over_std_floor']:.3f}{band} | {s['ks_floor']:.3f} | "
                     f"{s['perfect_w1_over_std']:.3f} [{w[0]:.3f}-{w[1]:.3f}] | "
                     f"{s['perfect_ks']:.3f} [{k[0]:.3f}-{k[1]:.3f}] |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 150, 500, 2000])
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        sizes = [summary([one_file(n, d, Path(folder)) for d in range(args.draws)]) for n in args.sizes]
    md = table(sizes, args.draws)
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "data_size.md").write_text(md)
    (args.out / "data_size.json").write_text(json.dumps(sizes, indent=1) + "\n")
    return sizes


if __name__ == "__main__":
    main(sys.argv[1:])
