"""The classic 1-D results of GAN theory, each run through gan1d's training path and set against the math; writes
docs/classics.md (every number and figure in it comes from this run), docs/classics/*.png and
benchmarks/results/classics.json.

    python benchmarks/classics.py [--out docs]
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import lightning as L
import numpy as np
import torch
from hydra import compose, initialize_config_module
from matplotlib.figure import Figure

from gan1d.build import build_run, build_trainer, checked_target
from gan1d.dirac import outcome
from gan1d.losses import LOSSES
from gan1d.run import train

FAST = ["logger=none", "~callbacks.loss_curves", "~callbacks.checkpoint", "callbacks.progress_bar.refresh_rate=0"]
DIRAC = {  # preset: what the paper shows it doing (Mescheder et al. 2018, section 2 and figures 1-3)
    "dirac_simultaneous": "spirals out (section 2: simultaneous gradient descent does not converge)",
    "dirac_alternating": "cycles (section 2: alternating gradient descent does not converge)",
    "dirac_r1_weak": "converges (zero-centred gradient penalty, R1; Theorem 4.1)",
    "dirac_r1": "converges (R1; Theorem 4.1)",
    "dirac_wgan": "cycles (section 3: WGAN does not converge)",
    "dirac_wgan_gp": "cycles (section 3: WGAN-GP does not converge; here the one-sided penalty, 0 near psi = 0)",
}
# D trained alone against a generator frozen to N(1, 0.5), the target N(0, 1): D* is exact.
D_ALONE = ["experiment=optimal_d"]
SEEDS = (0, 1, 2, 3)
# The generator starts 6 target sds above N(0, 1) (conf/experiment/vanishing.yaml: plain gradient steps, as Adam
# would rescale the vanishing gradient back to full-size steps; no R1, no EMA).
FAR, FIRST = ["experiment=vanishing"], 20
with initialize_config_module("gan1d.conf", version_base="1.3"):
    _far = compose("train", overrides=FAR)
OFFSET, FAR_STEPS = _far.model.generator.init_offset, _far.steps
FAR_LOSSES = ("minimax", "non_saturating", "wgan_gp")

DERIVATION = """\
## The Dirac-GAN's linearised update (derivation)

The target is a point mass at 0, the generator one parameter theta (every sample equals it), the discriminator
D(x) = psi x. With the loss written as f(D(fake)) + f(-D(real)) (non-saturating and minimax: f(t) = -log sigmoid(-t)
on the fakes' side, WGAN: f(t) = t), the only equilibrium is (theta, psi) = (0, 0). Near it, with a = |f'(0)|
(1/2 for the logistic losses, 1 for WGAN) and gamma the R1 weight (gamma/2 |dD/dx|^2 = gamma/2 psi^2 on the reals):

- D step (size h): psi <- psi - h (a theta + gamma psi), the matrix [[1, 0], [-h a, 1 - h gamma]]
- G step (size h): theta <- theta + h a psi, the matrix [[1, h a], [0, 1]]

Simultaneous steps add the two changes: M = [[1, h a], [-h a, 1 - h gamma]]; unregularised its eigenvalues are
1 +- i h a, so |lambda| = sqrt(1 + h^2 a^2) > 1: it spirals out. Alternating (D then G) multiplies them:
M = G D = [[1 - h^2 a^2, h a (1 - h gamma)], [-h a, 1 - h gamma]], with det M = 1 - h gamma. Unregularised
det M = 1 and |trace| = |2 - h^2 a^2| < 2, so the eigenvalues are complex on the unit circle: it cycles. With R1 and
complex eigenvalues |lambda| = sqrt(det M) = sqrt(1 - h gamma) < 1; where the discriminant is positive, the
eigenvalues are real and the spectral radius the larger root, (|trace| + sqrt(trace^2 - 4 det)) / 2. WGAN is the
same with a = 1; the one-sided gradient penalty max(0, |dD/dx| - 1)^2 is 0 while |psi| < 1, so it changes nothing.
gan1d.dirac.spectral_radius composes these matrices from the formulas; the run measures the per-step factor as
exp of the least-squares slope of log sqrt(theta^2 + psi^2) over its iterations.
"""


def run(overrides, run_dir):
    with initialize_config_module("gan1d.conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"run_dir={run_dir}", *overrides, *FAST])
    return train(cfg)


class Trace(L.Callback):
    """G's gradient norm after every iteration (log_every=1) and the generated mean before and after each."""

    def __init__(self):
        self.grad_norm, self.mean = [], []

    def _mean(self, module):
        return module.generator.sample(4000, torch.Generator().manual_seed(0)).mean().item()

    def on_train_start(self, trainer, module):
        self.mean.append(self._mean(module))

    def on_train_batch_end(self, trainer, module, *args):
        self.grad_norm.append(module.latest["grad_norm/g"])
        self.mean.append(self._mean(module))


def far_start(loss, run_dir):
    """One run from the far start; returns its measurements and the trained module."""
    with initialize_config_module("gan1d.conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"run_dir={run_dir}", *FAR, f"loss={loss}", *FAST])
    run, trace = build_run(cfg, checked_target(cfg)), Trace()
    build_trainer(cfg, callbacks=[trace], logger=False).fit(run.model, datamodule=run.datamodule)
    start = trace.mean[0]
    halfway = next((i for i, m in enumerate(trace.mean) if abs(m) <= abs(start) / 2), None)
    return {"grad_norm_first": float(np.median(trace.grad_norm[:FIRST])), "start_mean": start,
            "end_mean": trace.mean[-1], "halfway": halfway}, run.model


def saturation_figure(module, path):
    """D(x) with the reals' density and the fakes' histogram, and how hard each loss pushes a fake at x under this
    same D: minimax's push is D(x) times non-saturating's, nothing where D is near 0."""
    x = torch.linspace(-4, OFFSET + 3, 600)
    fakes = module.generator.sample(20_000, torch.Generator().manual_seed(0)).numpy()
    fig = Figure(figsize=(9, 3.4))
    left, right = fig.subplots(1, 2)
    left.plot(x, module.discriminate(x).cpu(), color="k", label="D(x)")
    left.set(xlabel="x", ylabel="D(x)", ylim=(0, 1.05),
             title=f"minimax after {FAR_STEPS} iterations: D ~ 0 at the fakes")
    density = left.twinx()  # the fakes' spike would flatten D on a shared axis
    density.plot(x, torch.exp(-x**2 / 2) / np.sqrt(2 * np.pi), color="tab:blue", label="target N(0, 1)")
    density.hist(fakes, bins=60, density=True, color="tab:red", alpha=0.5, label="generated")
    density.set(ylabel="density")
    fig.legend(loc="upper center", fontsize=8, bbox_to_anchor=(0.3, 0.85))
    bulk = np.quantile(fakes, [0.01, 0.99])
    for name, color in (("minimax", "tab:red"), ("non_saturating", "tab:green")):
        z = x.clone().reshape(-1, 1).requires_grad_(True)
        logits = module.discriminator(module.preprocessor(z))
        (push,) = torch.autograd.grad(LOSSES[name][1](logits) * len(z), z)
        right.semilogy(x, push.abs().squeeze(1).detach(), color=color, label=name)
    right.axvspan(*bulk, color="tab:red", alpha=0.2, label="the fakes (1-99%)")
    right.set(xlabel="x", title="|d loss_G / dx| per generated sample, same D")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()
    out = Path(args.out)
    figures = out / "classics"
    figures.mkdir(parents=True, exist_ok=True)
    results = {"dirac": {}, "d_star": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in DIRAC:
            record = run([f"experiment={preset}"], Path(tmp) / preset)
            shutil.copy(Path(tmp) / preset / "phase_portrait.png", figures / f"{preset}.png")
            results["dirac"][preset] = {"factor": record["dirac_factor"], "rho": record["dirac_spectral_radius"],
                                        "outcome": outcome(record["dirac_factor"])}
        untrained = run([*D_ALONE, "steps=1", "seed=0"], Path(tmp) / "untrained")["d_star_gap"]
        gaps = []
        for seed in SEEDS:
            gaps.append(run([*D_ALONE, f"seed={seed}"], Path(tmp) / f"d_star{seed}")["d_star_gap"])
        shutil.copy(Path(tmp) / "d_star0" / "pdf_overlay.png", figures / "d_star.png")
        results["d_star"] = {"seeds": list(SEEDS), "gaps": gaps, "untrained": untrained}
        results["vanishing"] = {}
        for loss in FAR_LOSSES:
            results["vanishing"][loss], module = far_start(loss, Path(tmp) / f"far_{loss}")
            if loss == "minimax":
                saturation_figure(module, figures / "vanishing.png")
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/results/classics.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "classics.md").write_text(markdown(results))
    print((out / "classics.md").read_text())


def markdown(results):
    lines = ["# The classic 1-D results of GAN theory, measured", "",
             "Generated by `python benchmarks/classics.py` (do not edit by hand); every run goes through gan1d's",
             "own training path (the LightningModule, its losses and optimizers).", "",
             "## 1. Dirac-GAN (Mescheder, Geiger and Nowozin 2018, \"Which training methods for GANs do actually "
             "converge?\", sections 2-4, figure 1)", "",
             "Per-step factor of the distance to equilibrium sqrt(theta^2 + psi^2): measured over the run against the",
             "spectral radius of the linearised update (derivation below). Step size h = 0.5 for both players.", "",
             "| command | paper | measured factor | spectral radius | rel. diff | outcome |",
             "|---|---|---|---|---|---|"]
    for preset, r in results["dirac"].items():
        diff = abs(r["factor"] - r["rho"]) / r["rho"]
        lines.append(f"| `python -m gan1d.train experiment={preset}` | {DIRAC[preset]} | {r['factor']:.5f} "
                     f"| {r['rho']:.5f} | {diff:.2%} | {r['outcome']} |")
    lines += ["", "Trajectories in the (theta, psi) plane over the gradient vector field (the paper's figure 1):", ""]
    lines += [f"![{preset}](classics/{preset}.png)" for preset in results["dirac"]]
    d = results["d_star"]
    lines += ["", DERIVATION, "## 2. The optimal discriminator (Goodfellow et al. 2014, Proposition 1)", "",
              "For a fixed generator, D*(x) = p(x) / (p(x) + q(x)). Here the target is N(0, 1), the generator frozen",
              "to N(1, 0.5) (`optim.g_steps=0`, gan1d.optimal.AffineGenerator), so q is exact, and D is trained "
              "alone for 600 iterations. The run logs `eval/d_star_gap`, the mean |D - D*| over the target's "
              "central 99%; the overlay draws D* beside D (with a KDE of the samples for q where the generator's "
              "distribution has no closed form).", "",
              "| seeds | mean \\|D - D*\\| after 600 iterations | an untrained D | test tolerance |",
              "|---|---|---|---|",
              f"| {', '.join(map(str, d['seeds']))} | {min(d['gaps']):.4f} - {max(d['gaps']):.4f} "
              f"| {d['untrained']:.4f} | 0.03 |", "",
              "The test (tests/test_classics.py) holds trained D to 0.03: about twice what the seeds reach, a tenth",
              "of an untrained D's gap.", "", "![D and D*](classics/d_star.png)", ""]
    lines += vanishing_section(results["vanishing"])
    return "\n".join(lines) + "\n"


def vanishing_section(results):
    ns, mm = results["non_saturating"]["grad_norm_first"], results["minimax"]["grad_norm_first"]
    lines = ["## 3. Vanishing gradients of the minimax loss (Goodfellow et al. 2014, section 3; Arjovsky and Bottou "
             "2017, section 2.2)", "",
             "\"Early in learning, when G is poor, D can reject samples with high confidence [...] log(1 - D(G(z)))",
             "saturates\": the generator starts "
             f"{OFFSET:g} sds above the target N(0, 1) (`model.generator.init_offset={OFFSET:g}`), with "
             "`experiment=vanishing`: one D step, plain gradient steps of 0.05 for both players (Adam would rescale "
             "a small gradient back to full-size steps), no R1 and no EMA. "
             f"`grad_norm/g` is the median over the first {FIRST} iterations; \"half way\" is the first iteration "
             "at which the generated mean is within half its starting distance of 0.", "",
             "| loss | G's gradient norm, first iterations | orders below non-saturating | generated mean: start, "
             f"after {FAR_STEPS} | iterations to half way |", "|---|---|---|---|---|"]
    for loss, r in results.items():
        orders = f"{np.log10(ns / r['grad_norm_first']):.2f}"
        halfway = r["halfway"] if r["halfway"] is not None else f"not within {FAR_STEPS}"
        lines.append(f"| {loss} | {r['grad_norm_first']:.4f} | {orders} | {r['start_mean']:.2f}, "
                     f"{r['end_mean']:.2f} | {halfway} |")
    lines += ["", f"Minimax's generator gradient is {ns / mm:.0f} times (10^{np.log10(ns / mm):.1f}) smaller "
              "than non-saturating's from the same start. Command: `python -m gan1d.train experiment=vanishing "
              "loss=minimax` (or loss=non_saturating, loss=wgan_gp). The figure, from the minimax run's "
              "last iteration, shows why: D is near 0 where the fakes are, and minimax's push on a fake, D(x) "
              "times non-saturating's, vanishes there.", "", "![vanishing gradients](classics/vanishing.png)", ""]
    return lines


if __name__ == "__main__":
    main()
