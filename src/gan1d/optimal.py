"""The optimal discriminator for the current generator (Goodfellow et al. 2014, Proposition 1): D*(x) = p(x) /
(p(x) + q(x)), p the target's density and q the generator's, and how far the learned D is from it.

q is exact where the generator's distribution has a closed form (an affine map of one normal noise coordinate:
a Gaussian), else a Gaussian kernel density estimate of its samples (Silverman's bandwidth). D* is what D
estimates under the losses whose optimal D is p / (p + q): the logistic ones read as a probability, and LSGAN's
raw output with labels 0 and 1.
"""

from collections.abc import Callable

import lightning as L
import numpy as np
import torch

from gan1d.estimators import kde, silverman
from gan1d.networks import Generator
from gan1d.targets import Target

LOSSES_WITH_D_STAR = ("non_saturating", "minimax", "lsgan")
CENTRAL = (0.005, 0.995)  # the target's central 99%, where the gap is measured
POINTS = 200  # evenly spaced there


def gaussian_output(generator: Generator) -> tuple[float, float] | None:
    """(mean, std) of the generator's output where it is exactly Gaussian: one linear layer on one normal noise
    coordinate, loc + scale (w z + b). None otherwise."""
    net = generator.net
    if not isinstance(net, torch.nn.Sequential) or len(net) != 1:
        return None
    if generator.noise != "normal" or generator.noise_dim != 1 or generator.categories:
        return None
    w, b = net[0].weight.item(), net[0].bias.item()
    loc, scale = generator.loc.item(), generator.scale.item()
    return loc + scale * b, abs(scale * w)


def generated_pdf(generator: Generator, samples: np.ndarray) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """q, the generator's density, as a function of x, and what it is (for a figure's label)."""
    gaussian = gaussian_output(generator)
    if gaussian is not None and gaussian[1] > 0:
        mean, std = gaussian
        return (lambda x: np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))), "q exact"
    samples = np.asarray(samples, dtype=np.float64)
    bandwidth = silverman(samples)
    return (lambda x: kde(samples, bandwidth, x)), "q a KDE of the generated samples"


def d_star(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """p / (p + q); 1/2 where neither has mass (no sample of either to tell them apart)."""
    total = p + q
    return np.where(total > 0, p / np.where(total > 0, total, 1), 0.5)


def central_grid(target: Target) -> np.ndarray | None:
    """POINTS points across the target's central 99%; None for a target without spread there (a point mass)."""
    lo, hi = target.quantile(np.array(CENTRAL))
    return np.linspace(lo, hi, POINTS) if hi > lo else None


def optimal_curve(target: Target, generator: Generator, samples: np.ndarray
                  ) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """D* as a function of x, and its label."""
    q, label = generated_pdf(generator, samples)
    return (lambda x: d_star(target.pdf(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy(), q(x))), label


def d_star_gap(target: Target, generator: Generator, samples: np.ndarray,
               discriminate: Callable[[np.ndarray], np.ndarray]) -> float | None:
    """The mean of |D(x) - D*(x)| over the target's central 99%; None where it has no spread."""
    x = central_grid(target)
    if x is None:
        return None
    optimal, _ = optimal_curve(target, generator, samples)
    return float(np.abs(discriminate(x) - optimal(x)).mean())


class AffineGenerator(L.Callback):
    """Sets a one-layer generator to loc + scale (weight z + bias) when the fit starts: with normal noise, a known
    Gaussian (with optim.g_steps=0 it stays so): D* is then exact."""

    def __init__(self, weight: float, bias: float):
        self.weight, self.bias = weight, bias

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        with torch.no_grad():
            pl_module.generator.net[0].weight.fill_(self.weight)
            pl_module.generator.net[0].bias.fill_(self.bias)
