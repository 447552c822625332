"""Statistics of a sample, shared one way: gan1d.targets (a data target's own moments) and gan1d.metrics (the
generated samples') both import them, and this module imports neither."""

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
