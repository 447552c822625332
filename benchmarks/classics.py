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

from hydra import compose, initialize_config_module

from gan1d.dirac import outcome
from gan1d.train import train

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
D_ALONE = ["target=gaussian", "target.mean=0", "target.std=1", "model.generator.hidden=[]", "model.g_steps=0",
           "model.r1_gamma=0", "model.ema=0", "model.generator.noise_dim=1", "model.generator.categories=0",
           "model.d_steps=1", "optim.lr_decay_start=1", "+callbacks.freeze._target_=gan1d.optimal.AffineGenerator",
           "+callbacks.freeze.weight=0.5", "+callbacks.freeze.bias=1.0", "steps=600", "eval_every=${steps}",
           "figure_every=${steps}"]
SEEDS = (0, 1, 2, 3)

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
              "to N(1, 0.5) (`model.g_steps=0`, gan1d.optimal.AffineGenerator), so q is exact, and D is trained "
              "alone for 600 iterations. The run logs `eval/d_star_gap`, the mean |D - D*| over the target's "
              "central 99%; the overlay draws D* beside D (with a KDE of the samples for q where the generator's "
              "distribution has no closed form).", "",
              "| seeds | mean \\|D - D*\\| after 600 iterations | an untrained D | test tolerance |",
              "|---|---|---|---|",
              f"| {', '.join(map(str, d['seeds']))} | {min(d['gaps']):.4f} - {max(d['gaps']):.4f} "
              f"| {d['untrained']:.4f} | 0.03 |", "",
              "The test (tests/test_classics.py) holds trained D to 0.03: about twice what the seeds reach, a tenth",
              "of an untrained D's gap.", "", "![D and D*](classics/d_star.png)", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
