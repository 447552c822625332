"""What a GPU gives one run: iterations/s of the default recipe on a CUDA GPU, eager and as replayed CUDA graphs,
against the same recipe on one CPU core of the same machine, in one run.

    python benchmarks/gpu.py [--steps 3000] [--repeats 3] [--compile] [--out benchmarks/results]

Every run is ``gan1d.run.train`` as the CLI builds it (default cadences: logging, evaluation, figures,
checkpoints); its speed is the run record's ``steps_per_s``, from the first iteration to the last (the capture, at
the fourth iteration, is inside it; start-up is not). Each run has a fresh process; the CPU reference is pinned to
one core (``os.sched_setaffinity``) with one torch thread. Rows:

- ``cpu, 1 core``: ``trainer.accelerator=cpu``, the reference;
- ``gpu, eager``: ``trainer.accelerator=gpu cuda_graph=false``, one kernel launch at a time;
- ``gpu, CUDA graph``: ``trainer.accelerator=gpu``, each iteration one replayed graph (gan1d's default there);
- with ``--compile``, ``gpu, torch.compile``: the same static step under ``torch.compile(mode="reduce-overhead")``
  (CUDA graphs made by Inductor) instead of gan1d's explicit capture, the other way to capture. It is not a gan1d
  option; the step takes a gradient of a gradient (R1), and a run that fails is reported in its row.

The runs go round the rows ``repeats`` times (each round in another order); each row's figure is the median, and
the ratio is to the CPU row's median. The aim: ``gpu, CUDA graph`` at least 3x ``cpu, 1 core``. Without CUDA, only
the CPU row runs and the table says the others need a CUDA GPU. Writes gpu_solo.json, gpu_solo.md and gpu_solo.png to
--out.
"""

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from throughput import make_cfg  # this folder's throughput.py: the same config, composed the same way

ROWS = {  # name: (overrides, pinned to one CPU core)
    "cpu, 1 core": (["trainer.accelerator=cpu"], True),
    "gpu, eager": (["trainer.accelerator=gpu", "cuda_graph=false"], False),
    "gpu, CUDA graph": (["trainer.accelerator=gpu"], False),
    "gpu, torch.compile": (["trainer.accelerator=gpu"], False),
}
BAR = 3  # the CUDA graph row against the CPU row


def compile_instead_of_capture() -> None:
    """Makes gan1d run its static step under torch.compile(mode="reduce-overhead") instead of capturing it."""
    import gan1d.cuda_graphs
    from gan1d.cuda_graphs import StaticIteration

    class CompiledIteration(StaticIteration):
        def __init__(self, step, buffers, optimizers):
            super().__init__(torch.compile(step, mode="reduce-overhead"), buffers, optimizers)
            self.capture = False  # call the compiled step every time: Inductor records and replays its graphs

    gan1d.cuda_graphs.StaticIteration = CompiledIteration


def run(row: str, steps: int) -> float | str:
    """One run's iterations/s, in a fresh process (see main); what went wrong instead, if it failed."""
    from gan1d.run import train

    overrides, one_core = ROWS[row]
    if one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if row == "gpu, torch.compile":
        compile_instead_of_capture()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            record = train(make_cfg([*overrides, f"steps={steps}", "threads=1"], tmp))
        except Exception as err:  # a row that cannot run is a result too (torch.compile's, most likely)
            return f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
    return record["steps_per_s"] if record["status"] == "ok" else f"{record['status']}: {record.get('reason')}"


def devices() -> dict:
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), platform.processor())
    return {"gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None, "cpu": cpu,
            "cores": os.cpu_count(), "torch": torch.__version__}


def summarise(runs: dict[str, list], cpu_row: str = "cpu, 1 core") -> list[dict]:
    rows = []
    for name, results in runs.items():
        speeds = [r for r in results if isinstance(r, float)]
        rows.append({"run": name, "it_s": round(statistics.median(speeds), 1) if speeds else None,
                     "runs": results, "failed": next((r for r in results if isinstance(r, str)), None)})
    reference = rows[0]["it_s"] if rows[0]["run"] == cpu_row else None
    for row in rows:
        row["x_cpu"] = round(row["it_s"] / reference, 2) if row["it_s"] and reference else None
    return rows


def markdown(rows: list[dict], skipped: list[str], info: dict, steps: int) -> str:
    lines = [f"GPU: {info['gpu'] or 'none'}; CPU: {info['cpu']} ({info['cores']} cores); torch {info['torch']}; "
             f"default recipe, {steps} iterations per run", "",
             "| run | iterations/s (median) | x one CPU core | runs |", "|---|---|---|---|"]
    for r in rows:
        speed = f"{r['it_s']:.1f}" if r["it_s"] else f"failed: {r['failed']}"
        ratio = f"{r['x_cpu']:.2f}" if r["x_cpu"] else "-"
        lines.append(f"| {r['run']} | {speed} | {ratio} | {', '.join(map(str, r['runs']))} |")
    lines += [f"| {name} | needs a CUDA GPU | - | - |" for name in skipped]
    return "\n".join(lines)


def plot(rows: list[dict], info: dict, path: Path) -> None:
    from gan1d.figures import Figure

    measured = [r for r in rows if r["it_s"]]
    fig = Figure(figsize=(8, 1.2 + 0.6 * len(measured)), dpi=100)
    ax = fig.subplots()
    ax.barh([r["run"] for r in measured], [r["it_s"] for r in measured], color="tab:blue")
    ax.invert_yaxis()
    if measured and measured[0]["run"] == "cpu, 1 core":
        ax.axvline(BAR * measured[0]["it_s"], color="tab:red", ls="--", label=f"{BAR}x one CPU core")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("iterations/s, default recipe (higher is better)")
    ax.set_title(f"one run: {info['gpu'] or 'no GPU'} against one core of {info['cpu']}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3000, help="iterations per run (the default recipe's)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per row")
    ap.add_argument("--compile", action="store_true", help="add the torch.compile(mode='reduce-overhead') row")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args(argv)
    info = devices()
    if not info["gpu"]:
        print("no CUDA GPU on this machine (torch.cuda.is_available() is False): only the CPU row runs")
    names = [name for name in ROWS if args.compile or name != "gpu, torch.compile"]
    runnable = [name for name in names if info["gpu"] or "trainer.accelerator=cpu" in ROWS[name][0]]
    skipped = [name for name in names if name not in runnable]
    runs = {name: [] for name in runnable}
    # One process per run: each GPU run starts cold as a user's does, and the CPU run's pinning stays its own.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        for r in range(args.repeats):
            order = runnable[r % len(runnable):] + runnable[:r % len(runnable)]  # each row leads a round in turn
            for name in order:
                runs[name].append(pool.submit(run, name, args.steps).result())
    rows = summarise(runs)
    table = markdown(rows, skipped, info, args.steps)
    print("\n" + table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_solo.json").write_text(json.dumps({"devices": info, "steps": args.steps, "rows": rows,
                                                        "needs_gpu": skipped}, indent=2) + "\n")
    (args.out / "gpu_solo.md").write_text(table + "\n")
    plot(rows, info, args.out / "gpu_solo.png")
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
