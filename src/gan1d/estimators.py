"""Statistics of a sample, shared one way: gan1d.targets (a data target's moments and density), gan1d.metrics and
gan1d.optimal (the generated samples') import them, and this module imports none of those."""

import numpy as np


def moments(x: np.ndarray) -> dict[str, float]:
    """Mean, std, skewness and excess kurtosis of a sample, as scipy.stats computes them (biased)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # a collapsed generator has no skew or kurtosis: nan
        mean = x.mean()
        centred = x - mean
        var = (centred**2).mean()
        return {
            "mean": float(mean),
            "std": float(np.sqrt(var)),
            "skew": float((centred**3).mean() / var**1.5),  # as scipy.stats.skew
            "kurtosis": float((centred**4).mean() / var**2 - 3),  # excess, as scipy.stats.kurtosis: 0 for a Gaussian
        }


KDE_BLOCK = 4096  # samples per block of the kernel sum: memory bounded by KDE_BLOCK x len(x)


def silverman(x: np.ndarray) -> float:
    """Silverman's rule-of-thumb bandwidth, 0.9 min(sd, IQR / 1.34) n^(-1/5); 0 for a sample without spread."""
    q75, q25 = np.quantile(x, [0.75, 0.25])
    spread = min(x.std(), (q75 - q25) / 1.34) or x.std()
    return float(0.9 * spread * len(x) ** -0.2)


def kde(samples: np.ndarray, bandwidth: float, x: np.ndarray) -> np.ndarray:
    """A Gaussian kernel of ``bandwidth`` on every sample, at the points x."""
    x = np.asarray(x, dtype=np.float64)
    density = np.zeros(x.shape)
    for block in np.array_split(samples, -(-len(samples) // KDE_BLOCK)):
        density += np.exp(-0.5 * ((x[..., None] - block) / bandwidth) ** 2).sum(-1)
    return density / (len(samples) * bandwidth * np.sqrt(2 * np.pi))


def spacing(x: np.ndarray, k: int) -> np.ndarray:
    """Each value's distance to its k-th nearest other value of ``x`` (a repeated value's copies count as neighbours
    at distance 0): a bandwidth per value, narrow where values crowd, wide in a sparse tail. Needs k < len(x)."""
    order = np.argsort(x)
    ends = np.full(k, np.inf)  # beyond the smallest and largest value: no neighbour
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([ends, x[order], ends]), 2 * k + 1)
    h = np.empty(len(x))
    h[order] = np.sort(np.abs(windows - x[order, None]), axis=1)[:, k]  # column 0: the value itself
    return h
