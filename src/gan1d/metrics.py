"""How close generated samples are to the target, in numbers.

W1 is the integral of |F_n - F| against the continuous target, taken between the sorted samples (where F_n jumps)
merged with a fine grid of the target's quantiles: F_n is constant on each interval and F, known at both ends, is
taken as linear there, so each interval's share is exact up to F's curvature between close points (and the
intervals are small wherever the target has mass). The target's mass beyond its 1e-9 and 1 - 1e-9 quantiles is
left out: for a target with a mean, a share of W1 far below the sampling noise; for Student-t with df <= 1, whose
W1 to any sample is infinite, this is W1 over the rest. W1 / target std makes it scale-free.

The target's own moments are exact (``Target.moments``); one it does not have (Student-t's skew at df 3, say) is
None, and so is the error against it.

A data target (``Empirical``) has no exact cdf: W1 and KS are two-sample, against one of its parts (see Evaluator),
next to the noise floor at that size (DataScores) and the memorisation ratio ``dcr_ratio``; its moments are that
part's.
"""

import math

import numpy as np
import torch

from gan1d.atoms import shares
from gan1d.estimators import moments
from gan1d.targets import Target

Samples = torch.Tensor | np.ndarray  # values, of any shape (flattened)

TAIL = 1e-9  # the target's mass left out on each side
NODES = 2001  # quantile levels from TAIL to 1 - TAIL, evenly spaced in log-odds: dense in the bulk, into the tails


def _numpy(x) -> np.ndarray:
    return torch.as_tensor(x).detach().double().cpu().numpy().ravel()


def quantile_nodes(target: Target) -> tuple[np.ndarray, np.ndarray]:
    """The target's quantiles at NODES levels, and its cdf there: the grid W1 integrates on beside the samples."""
    log_odds = np.linspace(-1, 1, NODES) * math.log(1 / TAIL - 1)
    x = np.unique(target.quantile(1 / (1 + np.exp(-log_odds))))
    return x, _numpy(target.cdf(torch.from_numpy(x)))


def wasserstein1(samples: Samples, target: Target, nodes: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """W1 between the samples and the target; ``nodes``: quantile_nodes(target), when computed once for many."""
    x = np.sort(_numpy(samples))
    return _wasserstein1(x, _numpy(target.cdf(torch.from_numpy(x))), *(nodes or quantile_nodes(target)))


def _wasserstein1(x: np.ndarray, cdf_x: np.ndarray, grid: np.ndarray, cdf_grid: np.ndarray) -> float:
    """W1 from the sorted samples ``x`` and the target's cdf at them and at the ``grid``."""
    points, cdf = np.concatenate([x, grid]), np.concatenate([cdf_x, cdf_grid])
    order = np.argsort(points, kind="stable")  # two sorted runs: merged in linear time
    points, cdf = points[order], cdf[order]
    empirical = np.searchsorted(x, points[:-1], side="right") / len(x)  # F_n on [points[k], points[k + 1])
    a, b = cdf[:-1] - empirical, cdf[1:] - empirical  # F - F_n at the two ends: linear in between
    # Beyond the grid F is flat to within TAIL: its outer end's value, not a line over what may be a long interval.
    a = np.where(points[:-1] >= grid[-1], b, a)
    b = np.where(points[1:] <= grid[0], a, b)
    area = np.abs(a + b) / 2
    crossing = a * b < 0  # |F - F_n| dips to 0 inside: two triangles
    area[crossing] = (a[crossing] ** 2 + b[crossing] ** 2) / (2 * (np.abs(a[crossing]) + np.abs(b[crossing])))
    return float(np.dot(np.diff(points), area))


def ks(samples: Samples, target: Target) -> float:
    """Kolmogorov-Smirnov statistic sup|F_n - F|, as scipy.stats.kstest computes it, without its p-value's cost."""
    x = np.sort(_numpy(samples))
    return _ks(_numpy(target.cdf(torch.from_numpy(x))))


def _ks(cdf_x: np.ndarray) -> float:
    """From the target's cdf at the sorted samples."""
    n = len(cdf_x)
    return float(max((np.arange(1, n + 1) / n - cdf_x).max(), (cdf_x - np.arange(n) / n).max()))


def wasserstein1_two_sample(x: Samples, y: Samples) -> float:
    """W1 between two samples' empirical distributions, exactly, as scipy.stats.wasserstein_distance: the integral
    of |F_x - F_y| between consecutive points of both."""
    x, y = np.sort(_numpy(x)), np.sort(_numpy(y))
    points = np.sort(np.concatenate([x, y]))
    fx = np.searchsorted(x, points[:-1], side="right") / len(x)
    fy = np.searchsorted(y, points[:-1], side="right") / len(y)
    return float(np.sum(np.abs(fx - fy) * np.diff(points)))


def ks_two_sample(x: Samples, y: Samples) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup|F_x - F_y| over both samples' points, as scipy.stats.ks_2samp."""
    x, y = np.sort(_numpy(x)), np.sort(_numpy(y))
    points = np.concatenate([x, y])
    fx = np.searchsorted(x, points, side="right") / len(x)
    fy = np.searchsorted(y, points, side="right") / len(y)
    return float(np.abs(fx - fy).max())


def closest_distances(x: Samples, reference: np.ndarray) -> np.ndarray:
    """Distance from each value of ``x`` to its nearest value in ``reference`` (sorted): the 1-D distance to
    closest record."""
    x = _numpy(x)
    i = np.searchsorted(reference, x).clip(1, len(reference) - 1)
    return np.minimum(np.abs(x - reference[i - 1]), np.abs(x - reference[i]))


BOOTSTRAPS, BAND = 200, (5, 95)  # a small sample's floor: its resamples, and the percentiles of its band


class DataScores:
    """What a data target adds to the scores: the noise floor and the memorisation ratio.

    - ``w1_over_std_floor``, ``ks_floor``: with a held-out part, the same statistics between the training part and
      it, that is, what the training data itself scores against it: the floor at this size. For a small sample
      (``in_sample``: scored against the very values it trains on) there is no unseen part; the floor is then what
      sampling noise alone gives at this size, by the bootstrap: the median of each statistic between the values
      and a resample of them, with its 5-95% band (``*_floor_p5``, ``*_floor_p95``).
    - ``dcr_ratio``: the median distance from generated samples to their nearest training value, over the median
      distance from held-out values to theirs (in-sample: from each value to its nearest other value); well below
      1, the generator copies its training data. Left out where that median is 0 (over half the values repeat one:
      rounded data, where a copy and a fresh draw look the same).
    """

    def __init__(self, train: np.ndarray, reference: np.ndarray, std: float, in_sample: bool = False):
        self.train = train
        if in_sample:
            self.floor, reference_distances = bootstrap_floor(train, std), nearest_other(train)
        else:
            self.floor = {"w1_over_std_floor": wasserstein1_two_sample(train, reference) / std,
                          "ks_floor": ks_two_sample(train, reference)}
            reference_distances = closest_distances(reference, train)
        self.reference_dcr = float(np.median(reference_distances))

    def __call__(self, x: np.ndarray) -> dict[str, float]:
        out = dict(self.floor)
        if self.reference_dcr > 0:
            out["dcr_ratio"] = float(np.median(closest_distances(x, self.train))) / self.reference_dcr
        return out


def bootstrap_floor(x: np.ndarray, std: float, resamples: int = BOOTSTRAPS) -> dict[str, float | list[float]]:
    """W1/sd and KS between the values ``x`` and resamples of them (with replacement, seeded): the median and band."""
    rng = np.random.default_rng(0)
    w1, ks_ = np.empty(resamples), np.empty(resamples)
    for i in range(resamples):
        draw = x[rng.integers(len(x), size=len(x))]
        w1[i], ks_[i] = wasserstein1_two_sample(draw, x) / std, ks_two_sample(draw, x)
    out = {}
    for name, values in (("w1_over_std_floor", w1), ("ks_floor", ks_)):
        out[name] = float(np.median(values))
        out.update({f"{name}_p{q}": float(np.percentile(values, q)) for q in BAND})
    return out


def nearest_other(x: np.ndarray) -> np.ndarray:
    """Distance from each value of the sorted ``x`` to its nearest other value (leave one out)."""
    gaps = np.diff(x)
    return np.minimum(np.r_[np.inf, gaps], np.r_[gaps, np.inf])


class Evaluator:
    """Scores samples against one target; the target-side work (quantile grid or data floor, moments) is done once.

    A data target is scored against one of its parts: by default its ``reference`` (the validation part if it has
    one, else the held-out part; a small sample's all values), or the one named by ``part`` ("test")."""

    def __init__(self, target: Target, part: str | None = None):
        self.target = target
        self.reference = None
        if hasattr(target, "parts"):
            self.reference = target.reference if part is None else getattr(target.parts, part)
            self.std = float(self.reference.std())
            self.target_moments = moments(self.reference)
            self.data_scores = DataScores(target.train, self.reference, self.std, target.regime == "small")
            self.atoms = target.atoms.values
            self.target_atom_share = float(shares(self.reference, self.atoms).sum())
        else:
            self.std = target.std
            self.target_moments = target.moments()
            self.nodes = quantile_nodes(target)

    def __call__(self, samples: Samples) -> dict[str, float | None]:
        x = np.sort(_numpy(samples) if self.reference is None else self.target.as_data(_numpy(samples)))
        w1, ks_ = self._distances(x)
        out = {"w1": w1, "w1_over_std": w1 / self.std, "ks": ks_}
        for k, v in moments(x).items():
            truth = self.target_moments[k]
            out[f"gen_{k}"] = v
            out[f"target_{k}"] = truth
            out[f"{k}_error"] = None if truth is None else v - truth
        if hasattr(self.target, "modes"):
            out.update(mode_coverage(x, *(_numpy(m) for m in self.target.modes())))
        if self.reference is not None:
            out.update(self.data_scores(x))
            if len(self.atoms):  # the share of the samples that are atoms, beside the scored part's
                out.update(atom_share=float(shares(x, self.atoms).sum()), target_atom_share=self.target_atom_share)
        return out

    def _distances(self, x: np.ndarray) -> tuple[float, float]:
        """W1 and KS of the sorted samples: two-sample against a data target's part, else exact."""
        if self.reference is not None:
            return wasserstein1_two_sample(x, self.reference), ks_two_sample(x, self.reference)
        cdf = _numpy(self.target.cdf(torch.from_numpy(x)))  # shared by W1 and KS
        return _wasserstein1(x, cdf, *self.nodes), _ks(cdf)


def _near(x: np.ndarray, means: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """Which samples belong to which mode: those within 3 sd of its mean, where 99.73% of its own mass lies."""
    return np.abs(x[:, None] - means[None, :]) <= 3 * stds[None, :]


def mode_masses(x: np.ndarray, weights: np.ndarray, means: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """Each mode's share of the samples over the share the target puts in the same window (its own 99.73% and
    whatever its neighbours spill there): 1 is right, 0 a missed mode."""
    from scipy.special import ndtr

    w = weights / weights.sum()
    lo, hi = (means - 3 * stds)[:, None], (means + 3 * stds)[:, None]
    expected = (w * (ndtr((hi - means) / stds) - ndtr((lo - means) / stds))).sum(1)
    return _near(x, means, stds).mean(0) / expected


def mode_coverage(x: np.ndarray, weights: np.ndarray, means: np.ndarray, stds: np.ndarray) -> dict[str, float]:
    """Mode collapse, in numbers:

    - ``modes_covered``: share of modes holding at least half the mass they should;
    - ``min_mode_mass``: the smallest share of all samples that any mode holds (0.5 each is perfect for two equal
      modes; 0 is a missed mode);
    - ``min_mode_ratio``: the smallest ratio of a mode's mass to its weight (see mode_masses; 1 is perfect);
    - ``high_quality``: share of samples near some mode (PacGAN's "high-quality samples"; 0.997 is perfect).
    """
    near = _near(x, means, stds)
    ratios = mode_masses(x, weights, means, stds)
    return {
        "modes_covered": float((ratios >= 0.5).mean()),
        "min_mode_mass": float(near.mean(0).min()),
        "min_mode_ratio": float(ratios.min()),
        "high_quality": float(near.any(1).mean()),
    }
