"""How long a run trains when ``steps: auto`` (the default): one bump in the target's samples, a short run; several,
a long one. The recipe is never told the number of modes; it counts the bumps a kernel density estimate shows."""

import numpy as np

AUTO = "auto"
ONE_MODE_STEPS, MODES_STEPS = 3000, 8000  # a single bump settles fast; the modes of a mixture need longer
SAMPLES = 10_000  # target samples the rule looks at (a data target: its training part, resampled)
GRID = 1024  # points of the binned density estimate
LEAST_HEIGHT = 0.02  # a bump lower than this share of the highest is a tail's noise, not a mode
LEAST_DIP = 0.1  # a bump must rise this share of its own height above the dip to its higher neighbour


def modes_seen(x: np.ndarray) -> int:
    """The bumps of a Gaussian kernel density estimate of ``x`` (Silverman's bandwidth), binned on a grid."""
    from scipy.signal import find_peaks

    x = np.asarray(x, dtype=np.float64)
    q25, q75 = np.quantile(x, [0.25, 0.75])
    bandwidth = 0.9 * (min(x.std(), (q75 - q25) / 1.34) or x.std()) * len(x) ** -0.2
    lo, hi = np.quantile(x, [0.001, 0.999])  # the far tails' few values would only stretch the grid
    counts, edges = np.histogram(x, bins=GRID, range=(lo - 3 * bandwidth, hi + 3 * bandwidth))
    offsets = np.arange(-4 * bandwidth, 4 * bandwidth + (step := edges[1] - edges[0]), step)
    density = np.convolve(counts, np.exp(-0.5 * (offsets / bandwidth) ** 2), mode="same")
    peaks, props = find_peaks(density, prominence=0)
    heights = density[peaks]
    return int(((heights >= LEAST_HEIGHT * density.max()) & (props["prominences"] >= LEAST_DIP * heights)).sum())


def auto_steps(samples: np.ndarray) -> tuple[int, str]:
    """The run length for a target of these samples, and the rule's one-line account of it (in metrics.json)."""
    modes = modes_seen(samples)
    steps = ONE_MODE_STEPS if modes == 1 else MODES_STEPS
    return steps, f"steps=auto: a density estimate of {len(samples)} target samples shows {modes} " \
                  f"mode{'s' if modes > 1 else ''}, so {steps} iterations"
