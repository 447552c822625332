"""This checkout against another commit of gan1d, run by run: the same W1/sd and KS, and the speed, of the runs a
change to the core must keep (the default on N(4, 1.25), target=trimodal, experiment=seed2017; seed 0), and of a
population of the default's seeds 0-3 (gan1d.population; its W1/sd and KS: each replica's, joined).

    git worktree add /tmp/base COMMIT
    python benchmarks/side_by_side.py --base /tmp/base [--pairs 3] [--json FILE]

Each run is a fresh interpreter with one checkout's ``src`` and ``conf`` (the other's imports never mix in),
``logger=none``, the rest of the config as the CLI builds it. The speed runs alternate in pairs, base first in odd
pairs and this checkout first in even ones, and the ratio is the median of the pairs' ratios: on a shared machine
the speed of both drifts over seconds, and a pair sees the same drift. Prints a markdown table.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
POPULATION = ["replicas=4", "steps=1500"]  # the runs' own override, read by ONE_RUN: a population of seeds 0-3
QUALITY = {"default": [], "trimodal": ["target=trimodal"], "population": POPULATION}  # the same to the last bit
SPEED = {"default": [], "seed2017": ["experiment=seed2017"], "population": POPULATION}  # iterations per second

# gan1d.conf is the checkout's conf/ (an installed gan1d maps it there): loaded from the checkout's own, by path.
ONE_RUN = """
import importlib.util, json, sys, tempfile
conf = sys.argv[1] + "/conf"
spec = importlib.util.spec_from_file_location("gan1d.conf", conf + "/__init__.py", submodule_search_locations=[conf])
sys.modules["gan1d.conf"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sys.modules["gan1d.conf"])
try:
    from gan1d.run import compose, train
except ImportError:  # a checkout from before gan1d.run (3f141e7, the core move's base): the CLI module held them
    from gan1d.train import compose, train
replicas = int(sys.argv[2].removeprefix("replicas=")) if sys.argv[2:3] and sys.argv[2].startswith("replicas=") else 0
overrides = ["logger=none", *sys.argv[2 + bool(replicas):]]
with tempfile.TemporaryDirectory() as root:
    if replicas:
        from gan1d.population import train_population
        records = train_population([compose([*overrides, f"seed={k}"], run_dir=f"{root}/{k}") for k in range(replicas)])
        record = {k: " ".join(f"{r[k]:.7f}" for r in records) for k in ("w1_over_std", "ks")}
        record["steps_per_s"] = records[0]["replica_steps_per_s"]  # the shared loop's iterations per second
    else:
        record = train(compose(overrides, run_dir=root))
print(json.dumps({k: record[k] for k in ("w1_over_std", "ks", "steps_per_s")}))
"""


def run(checkout: Path, overrides: list[str]) -> dict:
    """One run of ``checkout``'s gan1d, from a folder of its own; its record's W1/sd, KS and iterations per second."""
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run([sys.executable, "-c", ONE_RUN, str(checkout), *overrides], cwd=cwd, text=True,
                              capture_output=True, env={**os.environ, "PYTHONPATH": str(checkout / "src")})
    if proc.returncode != 0:
        sys.exit(f"{checkout}: {' '.join(overrides)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="a checkout (git worktree) of the other commit")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sources = {"base": args.base.resolve(), "this": HERE}
    quality = {name: {side: run(src, overrides) for side, src in sources.items()}
               for name, overrides in QUALITY.items()}
    speed = {name: [] for name in SPEED}
    for pair in range(args.pairs):
        order = list(sources.items()) if pair % 2 == 0 else list(sources.items())[::-1]
        for name, overrides in SPEED.items():
            speed[name].append({side: run(src, overrides)["steps_per_s"] for side, src in order})
    print("| run | W1/sd base | W1/sd this | KS base | KS this | same |")
    print("|---|---|---|---|---|---|")
    for name, sides in quality.items():
        base, this = sides["base"], sides["this"]
        same = base["w1_over_std"] == this["w1_over_std"] and base["ks"] == this["ks"]
        w1, ks = ([format(side[key], ".7f") if isinstance(side[key], float) else side[key] for side in (base, this)]
                  for key in ("w1_over_std", "ks"))
        print(f"| {name} | {w1[0]} | {w1[1]} | {ks[0]} | {ks[1]} | {'bit for bit' if same else 'NO'} |")
    print("\n| run | it/s base | it/s this | this / base, pairs | median |")
    print("|---|---|---|---|---|")
    for name, pairs in speed.items():
        ratios = [p["this"] / p["base"] for p in pairs]
        base, this = (" ".join(f"{p[side]:.0f}" for p in pairs) for side in ("base", "this"))
        each = " ".join(f"{r:.3f}" for r in ratios)
        print(f"| {name} | {base} | {this} | {each} | {statistics.median(ratios):.3f} |")
    if args.json:
        args.json.write_text(json.dumps({"quality": quality, "speed": speed}, indent=1))


if __name__ == "__main__":
    main()
