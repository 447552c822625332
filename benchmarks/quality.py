"""Quality: does a recipe learn its target, every seed? Trains a grid of presets x targets x seeds, samples 20,000
values from each run's checkpoint with gan1d.sample, scores them against the target, and prints a table.

    python benchmarks/quality.py [--seeds 10] [--jobs 2] [--presets default seed2017] [--targets ...]
                                 [--out benchmarks/results] [--name quality]

A seed passes its target's bar (BARS): the Gaussians W1/sd <= 0.04 and KS <= 0.02 (several times the sampling
noise of 20,000 samples, docs/results.md); the other one-mode targets W1/sd <= 0.04 and KS <= 0.03; the mixtures
W1/sd <= 0.05, KS <= 0.04 and every mode at least 0.8x its weight of mass; comb every mode at least 0.5x.
"least mode ratio" (mixtures): the smallest mass any mode got over its weight, over all seeds (0 = a missed mode);
the per-mode table gives every mode's. Writes NAME.json, NAME.md, NAME_overlays.png (each preset's median run on
the first target) and, for several targets, NAME_targets.png (the first preset's median and worst run on each
target) to --out; NAME is --name (quality). With --correct, each run is also scored on 20,000 samples resampled by
the discriminator's correction (gan1d.correction): the table then has each preset twice, corrected and not, and
says what the correction's fit cost against its run's training time. With --reuse a grid resumes where it stopped.
"""

import argparse
import json
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from gan1d.report import KS_BAR, W1_BAR

if TYPE_CHECKING:
    from gan1d.targets import Target

PRESETS = {
    "default": [],
    "basic": ["experiment=basic"],
    "seed2017": ["experiment=seed2017"],
    # Ablations: the default with one piece taken away.
    "no_r1": ["penalties.r1_gamma=0"],
    "no_ema": ["optim.ema=0"],
    "no_r1_no_ema": ["penalties.r1_gamma=0", "optim.ema=0"],
    "uniform_noise": ["model.generator.noise=uniform"],
    # Probes of the default on the random mixtures it misses (benchmarks/results/quality_random_mixtures_probes.md).
    "categories_20": ["model.generator.categories=20"],
    "categories_20_batch_512": ["model.generator.categories=20", "data.batch_size=512"],
    "categories_20_r1_3": ["model.generator.categories=20", "penalties.r1_gamma=3"],
    "categories_20_ema_0.9995": ["model.generator.categories=20", "optim.ema=0.9995"],
    "categories_20_decay_0.25": ["model.generator.categories=20", "optim.lr_decay_start=0.25"],
    "categories_20_batch_384_6000_steps": ["model.generator.categories=20", "data.batch_size=384", "steps=6000"],
    "categories_20_batch_512_5000_steps": ["model.generator.categories=20", "data.batch_size=512", "steps=5000"],
    "categories_20_batch_1024_3000_steps": ["model.generator.categories=20", "data.batch_size=1024", "steps=3000"],
    "categories_20_batch_1024_5000_steps": ["model.generator.categories=20", "data.batch_size=1024", "steps=5000"],
    "categories_20_batch_1024_5000_steps_r1_3": ["model.generator.categories=20", "data.batch_size=1024", "steps=5000",
                                                 "penalties.r1_gamma=3"],
    "r1_0.1": ["penalties.r1_gamma=0.1"],
    # Issue #40's point 5: D sees each sample's random Fourier features (benchmarks/fourier_probe.py).
    **{f"fourier_{b}": ["preprocessor._target_=fourier_probe.Fourier", "+preprocessor.features=64",
                        f"+preprocessor.bandwidth={b}"] for b in (4, 8)},
    # Issue #40's point 5: a prior over the code, learned from D's odds (benchmarks/prior_probe.py).
    **{f"prior_{r}": ["model._target_=prior_probe.PriorGAN", "model.generator._target_=prior_probe.PriorGenerator",
                      f"+model.rate={r}"] for r in (0, 0.1, 0.5, 2)},
    "not_standardized": ["data.standardize=false"],
    # Every target of the zoo, and the same preset with one of its pieces taken away.
    "multimodal": ["experiment=multimodal"],
    "multimodal_one_d_step": ["experiment=multimodal", "optim.d_steps=1"],
    "multimodal_no_categories": ["experiment=multimodal", "model.generator.categories=0"],
    "multimodal_noise_dim_1": ["experiment=multimodal", "model.generator.noise_dim=1"],
    "multimodal_no_decay": ["experiment=multimodal", "optim.lr_decay_start=1"],
    "multimodal_3000_steps": ["experiment=multimodal", "steps=3000"],
    # The default with another loss.
    "minimax": ["loss=minimax"],
    "lsgan": ["loss=lsgan"],
    "hinge": ["loss=hinge"],
    "wgan_gp": ["loss=wgan_gp"],
}
# name: (overrides, bar)
TARGETS = {
    "N(4, 1.25)": (["target=gaussian", "target.mean=4", "target.std=1.25"], "gaussian"),
    "N(-2, 0.5)": (["target=gaussian", "target.mean=-2", "target.std=0.5"], "gaussian"),
    "N(10, 3)": (["target=gaussian", "target.mean=10", "target.std=3"], "gaussian"),
    "uniform": (["target=uniform"], "one mode"),
    "laplace": (["target=laplace"], "one mode"),
    "exponential": (["target=exponential"], "one mode"),
    "lognormal": (["target=lognormal"], "one mode"),
    "student_t(3)": (["target=student_t"], "one mode"),
    "bimodal": (["target=bimodal"], "mixture"),
    "trimodal": (["target=trimodal"], "mixture"),
    "unequal_mixture": (["target=unequal_mixture"], "mixture"),
    "comb": (["target=comb"], "comb"),
    # Mixtures nobody tuned on (gan1d.targets.RandomMixture), drawn from target.seed.
    **{f"random_mixture({k})": (["target=random_mixture", f"target.seed={k}"], "mixture") for k in range(20)},
    # Real data, scored against its held-out part (benchmarks/data.py judges it against its floor).
    "penguins flipper": (["target=penguins_flipper"], "data"),
    "seattle wind": (["target=seattle_wind"], "data"),
}
# bar: (W1/sd at most, KS at most, every mode's mass at least this share of its weight); None: not judged.
BARS = {"gaussian": (W1_BAR, KS_BAR, None), "one mode": (0.04, 0.03, None), "mixture": (0.05, 0.04, 0.8),
        "comb": (None, None, 0.5), "data": (None, None, None)}
ZOO = [name for name, (_, bar) in TARGETS.items() if bar != "data" and not name.startswith("random_mixture")]
RANDOM = [name for name in TARGETS if name.startswith("random_mixture")]
# Unless --targets says otherwise: the default and the multimodal presets on every target of the zoo (the default on
# the unseen mixtures too), the basic recipe wherever a Gaussian sits; the tutorial's recipe and the ablations where
# the tutorial ran.
PRESET_TARGETS = {"default": ZOO + RANDOM, "basic": ["N(4, 1.25)", "N(-2, 0.5)", "N(10, 3)"],
                  **{p: ZOO for p in PRESETS if p.startswith("multimodal")}}
N_SAMPLES, SAMPLE_SEED = 20_000, 1_000_000
# The scores kept per run; the floors and dcr_ratio exist for data targets only.
KEPT = ("w1_over_std", "ks", "mean_error", "std_error", "min_mode_ratio", "w1_over_std_floor", "ks_floor",
        "dcr_ratio")


def run_one(job: dict) -> dict:
    """One training run in a fresh process, then 20,000 samples from its checkpoint, scored."""
    import numpy as np
    import torch
    from hydra import compose, initialize_config_module
    from hydra.utils import instantiate

    from gan1d.run import train
    from gan1d.sample import sample

    torch.set_num_threads(1)  # one thread per job, as the runs train: a reused run's correction fits on one too
    overrides = [*job["overrides"], f"seed={job['seed']}", f"run_dir={job['run_dir']}"]
    with initialize_config_module("gan1d.conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    record_file = Path(job["run_dir"]) / "metrics.json"
    done = json.loads(record_file.read_text()) if job["reuse"] and record_file.exists() else {}
    if done.get("status") == "ok" and (cfg.steps == "auto" or done["steps"] == cfg.steps):
        record, wall = done, done["wall_s"]  # a finished run of this job: score it again, do not retrain
    else:
        start = time.perf_counter()
        record = train(cfg)
        wall = time.perf_counter() - start
    # Fresh noise, not the evaluation set, and different for every seed: one shared draw would give every run the
    # same sampling error.
    samples = sample(job["run_dir"], N_SAMPLES, seed=SAMPLE_SEED + job["seed"])
    np.save(Path(job["run_dir"]) / "samples.npy", samples)
    target = instantiate(cfg.target)
    row = {**{k: job[k] for k in ("preset", "target", "seed", "run_dir")}, "steps": record["steps"],
           "wall_s": round(wall, 2), "steps_per_s": record["steps_per_s"], **scored(samples, target)}
    if not job["correct"]:
        return row
    from gan1d.correction import corrected

    fixed, correction = corrected(job["run_dir"]).sample(N_SAMPLES, seed=SAMPLE_SEED + job["seed"])
    correction["fit_share"] = correction["fit_s"] / record["wall_s"]  # of the run's own training time
    np.save(Path(job["run_dir"]) / "samples_corrected.npy", fixed)
    (Path(job["run_dir"]) / "samples_corrected.json").write_text(json.dumps(correction, indent=2) + "\n")
    return {**row, "preset": f"{job['preset']}, corrected", **scored(fixed, target), "correction": correction,
            "uncorrected": scored(samples, target)}


def scored(x, target: "Target") -> dict:
    """The scores KEPT of the samples ``x`` against ``target``, and each mode's mass over its weight."""
    from gan1d.metrics import Evaluator, mode_masses

    scores = Evaluator(target)(x)
    modes = {"mode_ratios": mode_masses(x, *(m.numpy() for m in target.modes())).tolist()} \
        if hasattr(target, "modes") else {}
    return {**{k: scores[k] for k in KEPT if k in scores}, **modes}


def run_dir(runs: Path, preset: str, target: str, seed: int) -> Path:
    """Where a grid's run of ``preset`` on ``target`` with ``seed`` trains, under ``runs``."""
    return (runs / preset / file_stem(target) / f"seed{seed}").resolve()


def file_stem(name: str) -> str:
    """A target's or column's name as a file name: random_mixture(3) -> random_mixture_3."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_")


def passes(row: dict) -> bool:
    """Whether one run meets its target's bar."""
    w1, ks, ratio = BARS[TARGETS[row["target"]][1]]
    return ((w1 is None or row["w1_over_std"] <= w1) and (ks is None or row["ks"] <= ks)
            and (ratio is None or min(row["mode_ratios"]) >= ratio))


def summarise(rows: list[dict]) -> list[dict]:
    table = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        for target in dict.fromkeys(r["target"] for r in rows if r["preset"] == preset):
            group = [r for r in rows if r["preset"] == preset and r["target"] == target]
            w1, ks = [r["w1_over_std"] for r in group], [r["ks"] for r in group]
            judged = BARS[TARGETS[target][1]] != BARS["data"]
            ratios = [min(r["mode_ratios"]) for r in group if "mode_ratios" in r]
            table.append({"preset": preset, "target": target, "seeds": len(group), "steps": group[0]["steps"],
                          "worst_mode_ratio": min(ratios) if ratios else None,
                          "median_w1_over_std": statistics.median(w1), "worst_w1_over_std": max(w1),
                          "median_ks": statistics.median(ks), "worst_ks": max(ks),
                          "passed": f"{sum(map(passes, group))}/{len(group)}" if judged else "",
                          "median_wall_s": statistics.median(r["wall_s"] for r in group)})
    return table


def markdown(table: list[dict]) -> str:
    lines = ["| preset | target | iterations | median W1/sd | worst W1/sd | median KS | worst KS | seeds passing | "
             "least mode ratio | median wall s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for t in table:
        mass = "" if t["worst_mode_ratio"] is None else f"{t['worst_mode_ratio']:.3f}"
        lines.append(f"| {t['preset']} | {t['target']} | {t['steps']} | {t['median_w1_over_std']:.4f} | "
                     f"{t['worst_w1_over_std']:.4f} | {t['median_ks']:.4f} | {t['worst_ks']:.4f} | {t['passed']} | "
                     f"{mass} | {t['median_wall_s']:.1f} |")
    return "\n".join(lines)


def mode_markdown(rows: list[dict]) -> str:
    """Every mode of every mixture: its weight, and its mass over its weight, median and worst over the seeds."""
    lines = ["| preset | target | mode | weight | median mass / weight | worst mass / weight |",
             "|---|---|---|---|---|---|"]
    for (preset, target), group in _groups(rows).items():
        if "mode_ratios" not in group[0]:
            continue
        weights, means, _ = (m.tolist() for m in target_named(target).modes())
        for k, (weight, mean) in enumerate(zip(weights, means, strict=True)):
            ratios = [r["mode_ratios"][k] for r in group]
            lines.append(f"| {preset} | {target} | {k} (at {mean:g}) | {weight:.3f} | "
                         f"{statistics.median(ratios):.3f} | {min(ratios):.3f} |")
    return "\n".join(lines)


def _groups(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    groups = {}
    for r in rows:
        groups.setdefault((r["preset"], r["target"]), []).append(r)
    return groups


def overlay_figure(rows: list[dict], path: Path, by: str = "preset", ncols: int | None = None,
                   worst: bool = False) -> None:
    """One panel per preset on the first target (by="preset"), or per target for the first preset (by="target"),
    each showing its median run by W1/sd: a typical seed, not the best; with ``worst``, its worst run beside it."""
    import numpy as np

    from gan1d.figures import overlay_data, overlays

    other = "target" if by == "preset" else "preset"
    first = rows[0][other]
    panels = []
    for name in dict.fromkeys(r[by] for r in rows):
        group = sorted((r for r in rows if r[by] == name and r[other] == first), key=lambda r: r["w1_over_std"])
        picks = [("median", group[(len(group) - 1) // 2]), ("worst", group[-1])] if worst else \
            [("median", group[(len(group) - 1) // 2])]
        for which, r in picks if group else ():
            title = (f"{r['preset']}, {r['target']}, seed {r['seed']} ({which} of {len(group)}): "
                     f"W1/sd {r['w1_over_std']:.4f}, KS {r['ks']:.4f}")
            samples = np.load(Path(r["run_dir"]) / "samples.npy")
            panels.append(overlay_data(target_named(r["target"]), samples, title))
    overlays(panels, ncols=ncols or len(panels)).savefig(path)


def uncorrected(rows: list[dict]) -> list[dict]:
    """The corrected runs' rows as they were before the correction."""
    return [{**r, **r["uncorrected"], "preset": r["preset"].replace(", corrected", "")} for r in rows
            if "uncorrected" in r]


def correction_line(rows: list[dict]) -> str:
    fits = [r["correction"] for r in rows if "correction" in r]
    if not fits:
        return ""
    return (f"\n\nThe correction: fitted in {min(f['fit_s'] for f in fits):.1f}-{max(f['fit_s'] for f in fits):.1f} s, "
            f"at most {max(f['fit_share'] for f in fits):.0%} of its run's training time; "
            f"{min(f['acceptance'] for f in fits):.1%}-{max(f['acceptance'] for f in fits):.1%} of draws accepted")


def target_named(name: str) -> "Target":
    from hydra import compose, initialize_config_module
    from hydra.utils import instantiate

    with initialize_config_module("gan1d.conf", version_base="1.3"):
        return instantiate(compose("train", overrides=[*TARGETS[name][0], "run_dir=."]).target)


def run_jobs(args: argparse.Namespace) -> list[dict]:
    """Every (preset, target, seed) of the parsed arguments, ``args.jobs`` at a time, each in a fresh process."""
    extra = [f"steps={args.steps}"] if args.steps else []
    jobs = [{"preset": p, "target": t, "seed": s, "overrides": [*TARGETS[t][0], *PRESETS[p], *extra],
             "reuse": args.reuse, "correct": args.correct,
             "run_dir": str(run_dir(args.runs, p, t, s))}
            for p in args.presets for t in args.targets or PRESET_TARGETS.get(p, ["N(4, 1.25)"])
            for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs, max_tasks_per_child=1) as pool:
        return list(pool.map(run_one, jobs))


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1")
    ap.add_argument("--jobs", type=int, default=2, help="runs in parallel (one torch thread each)")
    ap.add_argument("--presets", nargs="+", default=["default", "seed2017"], choices=list(PRESETS))
    ap.add_argument("--targets", nargs="+", default=None, choices=list(TARGETS),
                    help="for every preset (default: the three Gaussians for default, N(4, 1.25) for the others)")
    ap.add_argument("--steps", type=int, default=None, help="override every preset's iterations (smoke tests)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--name", default="quality", help="file names in --out: NAME.json, NAME.md, NAME_overlays.png")
    ap.add_argument("--runs", type=Path, default=Path("outputs/benchmarks/quality"), help="where the runs go")
    ap.add_argument("--reuse", action="store_true", help="score runs already finished in --runs instead of retraining")
    ap.add_argument("--correct", action="store_true", help="score the corrected samples too (gan1d.correction)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    rows = run_jobs(args)
    table = summarise(rows + uncorrected(rows))
    md = markdown(table)
    modes = mode_markdown(rows)
    md += "\n\nEvery mode's mass over its weight:\n\n" + modes if modes.count("\n") > 1 else ""
    md += correction_line(rows)
    print(md)
    print(f"\n{len(rows)} runs in {time.perf_counter() - start:.0f} s; each target's bar is in BARS, scored on "
          f"{N_SAMPLES} samples from gan1d.sample")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps({"table": table, "runs": rows}, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(md + "\n")
    overlay_figure(rows, args.out / f"{args.name}_overlays.png")
    if len({r["target"] for r in rows if r["preset"] == rows[0]["preset"]}) > 1:  # a gallery of the targets
        overlay_figure(rows, args.out / f"{args.name}_targets.png", by="target", ncols=2, worst=True)
    return table


if __name__ == "__main__":
    sys.exit(main() and 0)
