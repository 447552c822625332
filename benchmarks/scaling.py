"""How cost grows: iterations/s and peak memory of gan1d's training against batch size and hidden width.

    python benchmarks/scaling.py [--steps 1000] [--accelerator gpu] [--out benchmarks/results]

Every point is a real run, ``gan1d.run.train`` with the default cadences for ``steps`` iterations; speed is the
run record's ``steps_per_s`` (start-up excluded). Batch sizes run at the default width (64); widths (both networks,
both hidden layers) at the default batch (256). Each point runs in a fresh process. Peak memory: on a GPU,
``torch.cuda.max_memory_allocated``; on the CPU, the process's peak resident memory (Linux's VmHWM), which
includes Python, torch and Lightning themselves (the smallest point shows that floor). Writes scaling.json,
scaling.md and scaling.png to --out (with the suffix _gpu for --accelerator gpu).
"""

import argparse
import json
import multiprocessing
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from throughput import make_cfg  # this folder's throughput.py: the same config, composed the same way

from gan1d.run import train

BATCHES = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
WIDTHS = [16, 32, 64, 128, 256, 512]
DEFAULT_BATCH, DEFAULT_WIDTH = 256, 64


def peak_memory_mib(gpu: bool) -> float:
    """The GPU allocator's peak, or the process's peak resident memory (Linux's VmHWM)."""
    if gpu:
        return torch.cuda.max_memory_allocated() / 2**20
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def run_point(batch: int, width: int, steps: int, accelerator: str) -> dict:
    """One run, in a fresh process (see main), so that its peak memory is its own."""
    with tempfile.TemporaryDirectory() as tmp:
        record = train(make_cfg([f"steps={steps}", f"data.batch_size={batch}", f"trainer.accelerator={accelerator}",
                                 f"model.generator.hidden=[{width},{width}]",
                                 f"model.discriminator.hidden=[{width},{width}]"], tmp))
    its = record["steps_per_s"]
    return {"batch": batch, "width": width, "it_s": its, "samples_s": round(its * batch),
            "peak_mib": round(peak_memory_mib(accelerator == "gpu"), 1)}


def markdown(rows: list[dict]) -> str:
    lines = ["| batch | hidden width | iterations/s | samples/s (batch x it/s) | peak memory MiB |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['batch']} | {r['width']} | {r['it_s']:.1f} | {r['samples_s']:,} | {r['peak_mib']:.1f} |"
              for r in rows]
    return "\n".join(lines)


def plot(rows: list[dict], device: str, path: Path) -> None:
    from gan1d.figures import Figure

    fig = Figure(figsize=(10, 6.5), dpi=100)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.09, top=0.91, wspace=0.25, hspace=0.3)
    axes = fig.subplots(2, 2)
    series = [("batch", "batch size", [r for r in rows if r["width"] == DEFAULT_WIDTH]),
              ("width", "hidden width (G and D, both layers)", [r for r in rows if r["batch"] == DEFAULT_BATCH])]
    for col, (key, label, group) in enumerate(series):
        group = sorted(group, key=lambda r: r[key])
        x = [r[key] for r in group]
        for row, (metric, ylabel) in enumerate([("it_s", "iterations/s"), ("peak_mib", "peak memory, MiB")]):
            ax = axes[row, col]
            ax.plot(x, [r[metric] for r in group], "o-")
            ax.set_xscale("log", base=2)
            ax.set_xlabel(label)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
    fig.suptitle(f"gan1d training cost, {device}", fontsize=11)
    fig.savefig(path)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1000, help="iterations per point")
    ap.add_argument("--batches", type=int, nargs="+", default=BATCHES)
    ap.add_argument("--widths", type=int, nargs="+", default=WIDTHS)
    ap.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args(argv)
    gpu = args.accelerator == "gpu"
    device = torch.cuda.get_device_name() if gpu else f"CPU, torch {torch.__version__}, threads=1 (the default)"
    # dict.fromkeys: the default (batch, width) point is in both series but runs once
    points = dict.fromkeys([(b, DEFAULT_WIDTH) for b in args.batches] + [(DEFAULT_BATCH, w) for w in args.widths])
    print(f"device: {device}; {args.steps} iterations per point\n")
    print("\n".join(markdown([]).splitlines()[:2]))
    rows = []
    # A fresh process per point: peak memory is a high-water mark, which an earlier, larger point would hold up.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        for batch, width in points:
            rows.append(pool.submit(run_point, batch, width, args.steps, args.accelerator).result())
            print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    suffix = "_gpu" if gpu else ""
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"scaling{suffix}.json").write_text(json.dumps({"device": device, "steps": args.steps, "rows": rows},
                                                               indent=2) + "\n")
    (args.out / f"scaling{suffix}.md").write_text(f"device: {device}; {args.steps} iterations per point\n\n"
                                                  + markdown(rows) + "\n")
    plot(rows, device, args.out / f"scaling{suffix}.png")
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
