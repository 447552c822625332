"""How close generated samples are to the target, in numbers.

W1 is computed exactly against the continuous target, as the integral of |F_n - F| over a fine grid, so the only
noise in it is the generated sample's own. W1 / target std makes it scale-free. As a floor: 20,000 samples drawn
from N(4, 1.25) itself score W1/sd about 0.008 and KS about 0.005.

A data target (``Empirical``) has no exact cdf: W1 and KS are two-sample, against its held-out part, next to the
same statistics between its training and held-out parts (the noise floor at that size), and the memorisation
ratio ``dcr_ratio``.
"""

import numpy as np
import torch

from gan1d.targets import Target

GRID = 50_001  # W1 agrees with a 200,001-point grid to 1e-6 here, at a quarter of the cost


def _numpy(x) -> np.ndarray:
    return torch.as_tensor(x).detach().double().cpu().numpy().ravel()


def _reference_sample(target: Target) -> np.ndarray:
    """A large fixed target sample: its extremes bound the W1 grid (the mass beyond them is ~1e-6, negligible in
    W1) and its moments stand in for the target's skew and kurtosis."""
    return _numpy(target.sample(1_000_000, torch.Generator().manual_seed(0)))


def _target_range(target: Target) -> tuple[float, float]:
    t = _reference_sample(target)
    return float(t.min()), float(t.max())


def wasserstein1(samples, target: Target, bounds: tuple[float, float] | None = None) -> float:
    x = np.sort(_numpy(samples))
    lo, hi = bounds or _target_range(target)
    grid = np.linspace(min(lo, x[0]), max(hi, x[-1]), GRID)
    empirical = np.searchsorted(x, grid, side="right") / len(x)
    true = _numpy(target.cdf(torch.from_numpy(grid)))
    return float(np.trapezoid(np.abs(empirical - true), grid))


def ks(samples, target: Target) -> float:
    """Kolmogorov-Smirnov statistic sup|F_n - F|, as scipy.stats.kstest computes it, without its p-value's cost."""
    x = np.sort(_numpy(samples))
    cdf = _numpy(target.cdf(torch.from_numpy(x)))
    n = len(x)
    return float(max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(n) / n).max()))


def wasserstein1_two_sample(x, y) -> float:
    """W1 between two samples' empirical distributions, exactly, as scipy.stats.wasserstein_distance: the integral
    of |F_x - F_y| between consecutive points of both."""
    x, y = np.sort(_numpy(x)), np.sort(_numpy(y))
    points = np.sort(np.concatenate([x, y]))
    fx = np.searchsorted(x, points[:-1], side="right") / len(x)
    fy = np.searchsorted(y, points[:-1], side="right") / len(y)
    return float(np.sum(np.abs(fx - fy) * np.diff(points)))


def ks_two_sample(x, y) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup|F_x - F_y| over both samples' points, as scipy.stats.ks_2samp."""
    x, y = np.sort(_numpy(x)), np.sort(_numpy(y))
    points = np.concatenate([x, y])
    fx = np.searchsorted(x, points, side="right") / len(x)
    fy = np.searchsorted(y, points, side="right") / len(y)
    return float(np.abs(fx - fy).max())


def closest_distances(x, reference: np.ndarray) -> np.ndarray:
    """Distance from each value of ``x`` to its nearest value in ``reference`` (sorted): the 1-D distance to
    closest record."""
    x = _numpy(x)
    i = np.searchsorted(reference, x).clip(1, len(reference) - 1)
    return np.minimum(np.abs(x - reference[i - 1]), np.abs(x - reference[i]))


class DataScores:
    """What a data target adds to the scores: the noise floor and the memorisation ratio.

    - ``w1_over_std_floor``, ``ks_floor``: the same statistics between the training part and the held-out part,
      that is, what the training data itself scores against the held-out part: the floor at this size.
    - ``dcr_ratio``: the median distance from generated samples to their nearest training value, over the median
      distance from held-out values to theirs; well below 1, the generator copies its training data. Left out
      where the held-out median is 0 (over half the held-out values repeat a training value: rounded data, where
      a copy and a fresh draw look the same).
    """

    def __init__(self, train: np.ndarray, held_out: np.ndarray, std: float):
        self.train = train
        self.floor = {"w1_over_std_floor": wasserstein1_two_sample(train, held_out) / std,
                      "ks_floor": ks_two_sample(train, held_out)}
        self.held_out_dcr = float(np.median(closest_distances(held_out, train)))

    def __call__(self, x: np.ndarray) -> dict[str, float]:
        out = dict(self.floor)
        if self.held_out_dcr > 0:
            out["dcr_ratio"] = float(np.median(closest_distances(x, self.train))) / self.held_out_dcr
        return out


def moments(x: np.ndarray) -> dict[str, float]:
    with np.errstate(divide="ignore", invalid="ignore"):  # a collapsed generator has no skew or kurtosis: nan
        return _moments(x)


def _moments(x: np.ndarray) -> dict[str, float]:
    mean = x.mean()
    centred = x - mean
    var = (centred**2).mean()
    return {
        "mean": float(mean),
        "std": float(np.sqrt(var)),
        "skew": float((centred**3).mean() / var**1.5),  # as scipy.stats.skew
        "kurtosis": float((centred**4).mean() / var**2 - 3),  # excess, as scipy.stats.kurtosis: 0 for a Gaussian
    }


class Evaluator:
    """Scores samples against one target; the target-side work (range, moments) is done once."""

    def __init__(self, target: Target):
        self.target = target
        self.held_out = getattr(target, "held_out", None)  # a data target: scored against its held-out part
        if self.held_out is not None:
            self.target_moments = moments(self.held_out)
            self.data_scores = DataScores(target.train, self.held_out, target.std)
            return
        reference = _reference_sample(target)  # drawn once: it serves the grid bounds and the moments
        self.bounds = float(reference.min()), float(reference.max())
        self.target_moments = moments(reference)
        self.target_moments.update(mean=target.mean, std=target.std)

    def __call__(self, samples) -> dict[str, float]:
        x = _numpy(samples)
        gen = moments(x)
        if self.held_out is not None:
            w1, ks_ = wasserstein1_two_sample(x, self.held_out), ks_two_sample(x, self.held_out)
        else:
            w1, ks_ = wasserstein1(x, self.target, self.bounds), ks(x, self.target)
        out = {"w1": w1, "w1_over_std": w1 / self.target.std, "ks": ks_}
        for k, v in gen.items():
            out[f"gen_{k}"] = v
            out[f"target_{k}"] = self.target_moments[k]
            out[f"{k}_error"] = v - self.target_moments[k]
        if hasattr(self.target, "modes"):
            out.update(mode_coverage(x, *(_numpy(m) for m in self.target.modes())))
        if self.held_out is not None:
            out.update(self.data_scores(x))
        return out


def mode_coverage(x: np.ndarray, weights: np.ndarray, means: np.ndarray, stds: np.ndarray) -> dict[str, float]:
    """Mode collapse, in numbers. A sample belongs to a mode when it lies within 3 sd of the mode's mean.

    - ``modes_covered``: share of modes holding at least half the mass they should (weight x 0.997);
    - ``min_mode_mass``: the smallest share of all samples that any mode holds (0.5 each is perfect for two equal
      modes; 0 is a missed mode);
    - ``high_quality``: share of samples near some mode (PacGAN's "high-quality samples"; 0.997 is perfect).
    """
    near = np.abs(x[:, None] - means[None, :]) <= 3 * stds[None, :]
    mass = near.mean(0)
    return {
        "modes_covered": float((mass >= 0.5 * 0.9973 * weights).mean()),
        "min_mode_mass": float(mass.min()),
        "high_quality": float(near.any(1).mean()),
    }
