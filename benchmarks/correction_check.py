"""How well the correction's check predicts what the correction does to a run's scored samples.

For each run of a benchmarks/quality.py grid (its --runs folder) whose correction.pt holds a fitted classifier, the
classifier is read back (not refitted) and judged two ways: by a check, which scores the generator's draws and the
correction's on the target's exact distribution; and as quality.py scores it, on 20,000 samples each (uncorrected
and corrected, the correction forced on). The table says, per check, how many corrections it kept, how many of the
kept ones made the scored W1/sd or KS worse by more than 10%, how many of the refused ones would have helped, and
how many runs pass their bar with the check's choice.

Checks compared: ``unpaired`` draws N raw and N corrected draws apart (the check of d77ff62, N=20,000); ``paired``
scores N raw draws and the subset of those same draws the correction keeps, so that both share their sampling error
(but the subset is smaller: its W1 and KS against the exact distribution carry more sampling bias).
Rules: ``sum`` keeps where the two ratios (corrected / raw) sum below 2; ``sum+cap`` also refuses a ratio above 1.1.

    python benchmarks/correction_check.py --runs outputs/benchmarks/corrected --out benchmarks/results
"""

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from quality import N_SAMPLES, RANDOM, SAMPLE_SEED, ZOO, passes, run_dir, scored, target_named  # noqa: E402

from gan1d.checkpoints import load_generator  # noqa: E402
from gan1d.correction import Correction, Fit, OddsNet, checked  # noqa: E402
from gan1d.metrics import ks, wasserstein1  # noqa: E402

CHECKS = {"unpaired 20k": ("unpaired", 20_000), "unpaired 200k": ("unpaired", 200_000),
          "paired 200k": ("paired", 200_000)}
RULES = {"sum": lambda r: sum(r) < 2, "sum+cap": lambda r: sum(r) < 2 and max(r) <= 1.1}


def read_correction(path: Path) -> Correction:
    state = torch.load(path, map_location="cpu", weights_only=True)
    how = Fit(**{k: v for k, v in state["record"]["fit"].items() if k in Fit.__dataclass_fields__})
    odds = OddsNet(how.features, how.bandwidth, how.hidden, how.seed)
    odds.load_state_dict(state["state_dict"])
    return Correction(odds, state["log_bound"], {})


def check_ratios(correction, generator, target, kind: str, n: int) -> tuple[float, float]:
    """The check's W1 and KS ratios: gan1d.correction's own check (unpaired), or the paired variant."""
    scores = lambda x: (wasserstein1(x, target), ks(x, target))  # noqa: E731
    if kind == "unpaired":
        check = checked(correction, generator, scores, Fit(check_draws=n))
        return check["w1_ratio"], check["ks_ratio"]
    rng = torch.Generator().manual_seed(Fit.seed + 1)  # the draws gan1d's check starts from
    raw = generator.sample(n, rng, atoms=False)
    kept = raw[torch.rand(len(raw), generator=rng) < correction.acceptance(raw)]
    (w1_raw, ks_raw), (w1_kept, ks_kept) = scores(raw.numpy()), scores(kept.numpy())
    return w1_kept / w1_raw, ks_kept / ks_raw


def probe(run_dir: Path, name: str, seed: int) -> dict:
    target, generator = target_named(name), load_generator(run_dir / "checkpoints" / "last.ckpt")
    correction = read_correction(run_dir / "correction.pt")
    rng_seed = SAMPLE_SEED + seed  # quality.py's noise for this run's scored samples
    raw = generator.sample(N_SAMPLES, torch.Generator().manual_seed(rng_seed)).numpy()
    fixed = correction.sample(generator, N_SAMPLES, torch.Generator().manual_seed(rng_seed))[0].numpy()
    row = {"target": name, "seed": seed, "raw": scored(raw, target), "corrected": scored(fixed, target)}
    row["checks"] = {label: check_ratios(correction, generator, target, *how) for label, how in CHECKS.items()}
    return row


def summary(rows: list[dict]) -> str:
    lines = ["| check | rule | kept | kept, a score >10% worse | refused, both scores better | pass |",
             "|---|---|---|---|---|---|"]
    with_bar = lambda r, side: {**r[side], "target": r["target"]}  # noqa: E731
    for label in CHECKS:
        for rule_name, rule in RULES.items():
            kept = [rule(r["checks"][label]) for r in rows]
            worse = sum(k and worsens(r) for k, r in zip(kept, rows, strict=True))
            missed = sum(not k and helps(r) for k, r in zip(kept, rows, strict=True))
            passed = sum(passes(with_bar(r, "corrected" if k else "raw")) for k, r in zip(kept, rows, strict=True))
            lines.append(f"| {label} | {rule_name} | {sum(kept)}/{len(rows)} | {worse} | {missed} | "
                         f"{passed}/{len(rows)} |")
    always = sum(passes(with_bar(r, "corrected")) for r in rows)
    never = sum(passes(with_bar(r, "raw")) for r in rows)
    lines.append(f"\nWithout a check: {always}/{len(rows)} pass corrected, {never}/{len(rows)} uncorrected.")
    return "\n".join(lines)


def worsens(r: dict) -> bool:
    return any(r["corrected"][k] > 1.1 * r["raw"][k] for k in ("w1_over_std", "ks"))


def helps(r: dict) -> bool:
    return all(r["corrected"][k] < r["raw"][k] for k in ("w1_over_std", "ks"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=Path, default=Path("outputs/benchmarks/corrected"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--name", default="correction_check")
    args = ap.parse_args()
    partial = args.out / f"{args.name}.json"
    rows = json.loads(partial.read_text()) if partial.is_file() else []
    done = {(r["target"], r["seed"]) for r in rows}
    for name in ZOO + RANDOM:
        for seed in range(args.seeds):
            folder = run_dir(args.runs, "default", name, seed)
            if (name, seed) in done or not (folder / "correction.pt").is_file():
                continue
            rows.append(probe(folder, name, seed))
            partial.write_text(json.dumps(rows, indent=1) + "\n")  # resumable: a rerun goes on from here
            print(name, seed, rows[-1]["checks"], flush=True)
    table = summary(rows)
    (args.out / f"{args.name}.md").write_text(f"# The correction's check against its outcome\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
