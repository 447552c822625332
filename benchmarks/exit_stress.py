"""Exit stress: does every run end with its documented exit code, and nothing from the C++ runtime?

    python benchmarks/exit_stress.py [--kind sweep|run|sigterm] [--repeats 8] [--targets trimodal bimodal]
                                     [--seeds 5] [--steps 3000] [--parallel 1] [--out DIR]

Runs the real CLI as a script or a scheduler would, with stdout and stderr piped (not a terminal):
- sweep: ``python -m gan1d.train -m target=T seed=0,..,S-1`` (expects exit code 0);
- run: one ``python -m gan1d.train target=T`` (expects 0);
- sigterm: one run, sent SIGTERM once its first checkpoint exists (expects 1, metrics.json status interrupted).
Prints one row per attempt and the count of clean exits: the documented exit code and no
"terminate called" (or any other C++ runtime abort) in the output.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

EXPECTED = {"sweep": 0, "run": 0, "sigterm": 1}
RUNTIME_ABORTS = ("terminate called", "Fatal Python error")  # libstdc++'s abort, and Python's own (faulthandler)


def attempt(kind: str, target: str, seeds: int, steps: int, folder: Path) -> dict:
    command = [sys.executable, "-m", "gan1d.train", f"target={target}", f"steps={steps}"]
    if kind == "sweep":  # Hydra's -m goes before the overrides: its parser takes no override after a flag
        command[3:3] = ["-m"]
        command += ["seed=" + ",".join(map(str, range(seeds))), f"hydra.sweep.dir={folder}"]
    else:
        command += [f"hydra.run.dir={folder}"]
    start = time.perf_counter()
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}  # a crash prints every thread's Python stack into the output
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=folder.parent, env=env)
    if kind == "sigterm":
        while proc.poll() is None and not (folder / "checkpoints" / "last.ckpt").exists():
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
    output = proc.communicate()[0].decode(errors="replace")
    aborts = [m for m in RUNTIME_ABORTS if m in output]
    return {"kind": kind, "target": target, "rc": proc.returncode, "expected": EXPECTED[kind],
            "seconds": time.perf_counter() - start, "aborts": aborts,
            "clean": proc.returncode == EXPECTED[kind] and not aborts}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=list(EXPECTED), default="sweep")
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--targets", nargs="+", default=["trimodal", "bimodal"], help="taken in turn")
    ap.add_argument("--seeds", type=int, default=5, help="jobs per sweep")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--parallel", type=int, default=1, help="attempts at once")
    ap.add_argument("--out", type=Path, default=None, help="where the runs go (default: a temporary folder)")
    args = ap.parse_args(argv)
    root = args.out or Path(tempfile.mkdtemp(prefix="gan1d_exit_stress_"))
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(args.kind, args.targets[i % len(args.targets)], args.seeds, args.steps, root / f"attempt{i}")
            for i in range(args.repeats)]
    print("| attempt | kind | target | exit code | expected | seconds | C++ runtime output |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    with ThreadPoolExecutor(args.parallel) as pool:
        for i, row in enumerate(pool.map(lambda job: attempt(*job), jobs)):
            rows.append(row)
            print(f"| {i} | {row['kind']} | {row['target']} | {row['rc']} | {row['expected']} | {row['seconds']:.0f} | "
                  f"{', '.join(row['aborts']) or 'none'} |", flush=True)
    print(f"\nclean exits: {sum(r['clean'] for r in rows)}/{len(rows)} ({args.kind}, {args.steps} iterations, "
          f"{args.parallel} at a time; runs in {root})")
    return rows


if __name__ == "__main__":
    sys.exit(0 if all(r["clean"] for r in main()) else 1)
