"""A sweep as populations against the same sweep one job after another: wall time, and where each job lands.

    python benchmarks/population.py [--seeds 4] [--lrs 5e-4 1e-3] [--steps 3000] [--repeats 3] [--accelerator cpu]

Each sweep is the user's command, ``python -m gan1d.train -m seed=... optim.g_lr=...``, run once with Hydra's basic
launcher and once with ``hydra/launcher=population`` (which trains the sweep's jobs as one population), the two
alternating, ``--repeats`` times; the wall time is the whole command's (start-up, every job, the sweep summary).
The ratio is basic / population per repeat, so above 1 means the population launcher is faster. Each job of the
two sweeps is the same run (the same seed and learning rate), trained solo by one and as a replica by the other:
the table of jobs shows how far apart their final W1/sd and weights land. Writes population.json and
population.md to --out (with the suffix _gpu for --accelerator gpu).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

LAUNCHERS = ("basic", "population")


def sweep(launcher: str, seeds: int, lrs: list[str], steps: int, accelerator: str, folder: Path) -> float:
    """Run the sweep with ``launcher`` into ``folder``; returns its wall time in seconds."""
    command = [sys.executable, "-m", "gan1d.train", "-m", f"hydra/launcher={launcher}",
               f"seed=range(0,{seeds})", f"optim.g_lr={','.join(lrs)}", f"steps={steps}",
               f"trainer.accelerator={accelerator}", f"hydra.sweep.dir={folder}"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{launcher} sweep failed:\n{proc.stderr[-3000:]}")
    return wall


def jobs(folder: Path) -> dict[tuple, dict]:
    """Each job of a sweep by (seed, g_lr): its final W1/sd and generator weights."""
    found = {}
    for record in sorted(folder.glob("*/metrics.json")):
        run = record.parent
        config = OmegaConf.load(run / ".hydra" / "config.yaml")
        state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
        found[(config.seed, config.optim.g_lr)] = {
            "w1_over_std": json.loads(record.read_text())["w1_over_std"], "weights": state}
    return found


def compare(solo: dict, population: dict) -> list[dict]:
    rows = []
    for key in sorted(solo):
        a, b = solo[key], population[key]
        gap = max((a["weights"][name] - b["weights"][name]).abs().max().item() for name in a["weights"])
        rows.append({"seed": key[0], "g_lr": key[1], "solo_w1_over_std": a["w1_over_std"],
                     "replica_w1_over_std": b["w1_over_std"], "max_weight_gap": gap})
    return rows


def markdown(device: str, args, walls: dict[str, list[float]], ratios: list[float], rows: list[dict]) -> str:
    n = args.seeds * len(args.lrs)
    lines = [f"device: {device}; a sweep of {n} jobs ({args.seeds} seeds x g_lr {', '.join(args.lrs)}), "
             f"{args.steps} iterations each, {args.repeats} repeats, launchers alternating", "",
             "| launcher | wall s (median) | wall s (each repeat) |", "|---|---|---|"]
    lines += [f"| {name} | {statistics.median(walls[name]):.1f} | {', '.join(f'{w:.1f}' for w in walls[name])} |"
              for name in LAUNCHERS]
    lines += ["", f"basic / population wall time: median {statistics.median(ratios):.2f} "
              f"(each repeat: {', '.join(f'{r:.2f}' for r in ratios)})", "",
              "Each job trained solo (basic launcher) and as a replica (population launcher), last repeat:", "",
              "| seed | g_lr | W1/sd solo | W1/sd replica | largest weight gap |", "|---|---|---|---|---|"]
    lines += [f"| {r['seed']} | {r['g_lr']} | {r['solo_w1_over_std']:.4f} | {r['replica_w1_over_std']:.4f} | "
              f"{r['max_weight_gap']:.1e} |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=4, help="seeds 0 .. SEEDS-1 for each learning rate")
    ap.add_argument("--lrs", nargs="+", default=["5e-4", "1e-3"], help="optim.g_lr values")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3, help="pairs of sweeps, the launchers alternating")
    ap.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args(argv)
    gpu = args.accelerator == "gpu"
    device = torch.cuda.get_device_name() if gpu else f"CPU, torch {torch.__version__}, threads=1 (the default)"
    walls: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for name in LAUNCHERS if repeat % 2 == 0 else LAUNCHERS[::-1]:
                folder = Path(tmp) / f"{name}{repeat}"
                walls[name].append(sweep(name, args.seeds, args.lrs, args.steps, args.accelerator, folder))
                print(f"repeat {repeat}: {name} {walls[name][-1]:.1f} s", flush=True)
        last = args.repeats - 1
        rows = compare(*(jobs(Path(tmp) / f"{name}{last}") for name in LAUNCHERS))
    ratios = [b / p for b, p in zip(walls["basic"], walls["population"], strict=True)]
    table = markdown(device, args, walls, ratios, rows)
    print("\n" + table)
    suffix = "_gpu" if gpu else ""
    result = {"device": device, "seeds": args.seeds, "lrs": args.lrs, "steps": args.steps, "walls": walls,
              "ratios": ratios, "jobs": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"population{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"population{suffix}.md").write_text(table + "\n")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
