"""A column's resolution: the decimals its values are written to (whole minutes, tenths of a millimetre).

The network learns a density, as it must: rounding has no gradient. Its samples are then rounded as the data were,
so that they take the data's values (a whole-minute column gets whole minutes) and are scored as such: against
rounded data a continuous sample pays, in KS, for every step of the data's staircase it smooths over.
"""

import numpy as np

AUTO = "auto"
COARSEST, FINEST = -6, 6  # the decimals looked for: from millions to millionths


def decimals_of(x: np.ndarray) -> int | None:
    """The fewest decimals every value of ``x`` is written to (-1: multiples of 10), or None: finer than FINEST, or
    not decimal at all (a float32 file's 0.1 is 0.10000000149 in float64)."""
    return next((d for d in range(COARSEST, FINEST + 1) if np.array_equal(np.round(x, d), x)), None)


def at_resolution(x: np.ndarray, places: int | None) -> np.ndarray:
    """``x`` (float64) rounded to ``places`` decimals: float32 samples put back on the data's own decimal values
    (float32's 0.3 is 0.30000001192 in float64, which two-sample scores would count as another value)."""
    return x if places is None else np.round(x, places)
