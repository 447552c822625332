"""Training speed: gan1d's real training path against a plain PyTorch loop of the same recipe.

    python benchmarks/throughput.py [--repeats 7] [--steps N] [--presets default seed2017] [--accelerator gpu]
                                    [--startup-repeats 3] [--json FILE]

The Lightning side is ``gan1d.run.train(cfg)`` exactly as the CLI builds it, with the default logging, evaluation,
figure, checkpoint and progress-bar cadence; its speed is the run record's ``steps_per_s`` (first iteration to the
end, start-up excluded). The plain side is the loop one would write by hand over the same networks, data stream,
losses, R1/EMA and optimizers (fused Adam), built from the same config, with no logging, evaluation, figures or
checkpoints. It calls D once on the real and once on the fake minibatch, backpropagates each loss through both
networks, averages the weights one tensor at a time and leaves the garbage collector as it is; gan1d's own step
scores both in one D call where no R1/R2 penalty is on, freezes the discriminator's weights for the generator's
step, averages them in one fused call, and gan1d.run freezes the framework's objects out of the collector's
scans (gc.freeze).

The two run in pairs, ``repeats`` pairs, each pair back to back (alternately plain first and gan1d first), and the
ratio gan1d / plain is the median of the pairs' ratios (1.0 = the framework costs nothing): on a shared machine
the speed of both drifts over seconds, and a pair sees the same drift. The table also shows the medians
of each side and the range of the pairs' ratios. Then start-up: the time a fresh interpreter takes to import torch
and lightning, against the time from the command to gan1d's first iteration.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import DictConfig

from gan1d.build import build_datamodule, build_model
from gan1d.losses import gradient_norm_penalty
from gan1d.run import train

PRESETS = {"default": [], "seed2017": ["experiment=seed2017"]}


def make_cfg(overrides: list[str], run_dir: str) -> DictConfig:
    with initialize_config_module("gan1d.conf", version_base="1.3"):
        return compose("train", overrides=[*overrides, f"run_dir={run_dir}"])


def plain_loop(cfg: DictConfig) -> float:
    """Iterations/s of a bare loop over the same parts that gan1d.run builds from ``cfg``."""
    torch.manual_seed(cfg.seed)
    datamodule = build_datamodule(cfg, instantiate(cfg.target))
    model = build_model(cfg).to(cfg.trainer.accelerator if cfg.trainer.accelerator != "gpu" else "cuda")
    model.set_location_scale(datamodule.loc, datamodule.scale)
    G, D, pre, ema = model.generator, model.discriminator, model.preprocessor, model.generator_ema
    opt_g, opt_d = model.configure_optimizers()
    device = model.generator.loc.device
    t = 0
    start = time.perf_counter()
    # The same loader as gan1d's (several iterations per batch, an endless stream), one iteration at a time.
    batches = iter(datamodule.train_dataloader())
    while t < datamodule.steps:
        reals, noises, _ = next(batches)
        for real, noise in zip(reals.to(device, non_blocking=True), noises.to(device, non_blocking=True), strict=True):
            if model.optim.lr_decay_start < 1:  # linear to 0 from lr_decay_start of the way on
                factor = min(1.0, (1 - t / datamodule.steps) / (1 - model.optim.lr_decay_start))
                opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"] = model.g_lr * factor, model.d_lr * factor
            for i in range(model.optim.d_steps):
                z = pre.standardize(real[i]).requires_grad_(model.r1_gamma > 0)
                d_real = D(pre.features(z))
                with torch.no_grad():
                    fake = G(noise[i])
                loss_d = model.d_loss(d_real, D(pre(fake)))
                if model.r1_gamma > 0:
                    loss_d = loss_d + model.r1_gamma * gradient_norm_penalty(d_real, z)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
            for j in range(model.optim.g_steps):
                loss_g = model.g_loss(D(pre(G(noise[model.optim.d_steps + j]))))
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
            if ema is not None:
                with torch.no_grad():
                    decay = min(model.ema, (1 + t) / (10 + t))
                    for avg, p in zip(ema.parameters(), G.parameters(), strict=True):
                        avg.lerp_(p, 1 - decay)
            t += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return datamodule.steps / (time.perf_counter() - start)


# Start-up, timed inside a fresh interpreter from its first line: to the end of `import torch, lightning`, and to
# the start of gan1d.train's first iteration (the moment the run record starts its clock).
IMPORTS = "import time; t0 = time.perf_counter(); import torch, lightning; print(time.perf_counter() - t0)"
FIRST_ITERATION = """import time; t0 = time.perf_counter()
import runpy, sys
from gan1d.callbacks import RunRecord
start = RunRecord.on_train_batch_start
def first(self, *args):
    if self.first_step is None:
        print("FIRST_ITERATION_S", time.perf_counter() - t0, flush=True)
    start(self, *args)
RunRecord.on_train_batch_start = first
sys.argv = ["gan1d.train", "steps=1", "hydra.run.dir=" + sys.argv[1]]
runpy.run_module("gan1d.train", run_name="__main__")
"""


def startup(repeats: int) -> dict:
    """Median seconds to import torch and lightning, and from the command to gan1d's first iteration."""
    imports, first = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            imports.append(float(subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True,
                                                check=True).stdout.split()[-1]))
            out = subprocess.run([sys.executable, "-c", FIRST_ITERATION, f"{tmp}/{r}"], capture_output=True,
                                 text=True, check=True).stdout
            first.append(float(re.search(r"FIRST_ITERATION_S ([0-9.]+)", out).group(1)))  # amid the bar's output
    return {"import_torch_lightning_s": round(statistics.median(imports), 2),
            "to_first_iteration_s": round(statistics.median(first), 2), "repeats": repeats}


def lightning_run(cfg: DictConfig) -> tuple[float, int]:
    record = train(cfg)
    return record["steps_per_s"], record["steps"]


def bench(preset: str, overrides: list[str], repeats: int) -> dict:
    plain, lightning = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            cfg = make_cfg(overrides, f"{tmp}/{r}")
            torch.set_num_threads(cfg.threads)
            if r % 2:  # alternate who goes first, so neither always meets the machine in the same state
                speed, steps = lightning_run(cfg)
                plain.append(plain_loop(cfg))
            else:
                plain.append(plain_loop(cfg))
                speed, steps = lightning_run(cfg)
            lightning.append(speed)
    ratios = [ours / bare for ours, bare in zip(lightning, plain, strict=True)]
    return {"preset": preset, "steps": steps, "plain_it_s": round(statistics.median(plain), 1),
            "gan1d_it_s": round(statistics.median(lightning), 1), "ratio": round(statistics.median(ratios), 3),
            "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3), "repeats": repeats,
            "plain_runs": [round(x, 1) for x in plain], "gan1d_runs": [round(x, 1) for x in lightning]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7, help="pairs of runs per preset")
    ap.add_argument("--steps", type=int, default=None, help="iterations per run (default: each preset's own)")
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    ap.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--startup-repeats", type=int, default=3, help="0 skips the start-up timing")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    extra = [f"trainer.accelerator={args.accelerator}"] + ([f"steps={args.steps}"] if args.steps else [])
    device = torch.cuda.get_device_name() if args.accelerator == "gpu" else f"CPU, torch {torch.__version__}"
    # The training runs' progress bars go to stdout too: the table comes once they are all done.
    rows = [bench(name, PRESETS[name] + extra, args.repeats) for name in args.presets]
    result = {"device": device, "rows": rows}
    lines = [f"device: {device}", "", "| preset | iterations | plain loop it/s | gan1d it/s | gan1d / plain | "
             "pairs' range |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['preset']} | {r['steps']} | {r['plain_it_s']} | {r['gan1d_it_s']} | {r['ratio']:.2f} | "
              f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f} |" for r in rows]
    if args.startup_repeats:
        result["startup"] = times = startup(args.startup_repeats)
        lines += ["", f"start-up (median of {args.startup_repeats}): import torch, lightning "
                  f"{times['import_torch_lightning_s']} s; python -m gan1d.train to its first iteration "
                  f"{times['to_first_iteration_s']} s "
                  f"({times['to_first_iteration_s'] / times['import_torch_lightning_s']:.2f}x)"]
    print("\n" + "\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
