"""A column's resolution: the decimals its values are written to (whole minutes, tenths of a millimetre).

The network learns a density, as it must: rounding has no gradient. Its samples are then rounded as the data were,
so that they take the data's values (a whole-minute column gets whole minutes) and are scored as such: against
rounded data a continuous sample pays, in KS, for every step of the data's staircase it smooths over.
"""

import numpy as np

AUTO = "auto"
COARSEST, FINEST = -6, 6  # the decimals looked for: from millions to millionths
ULPS = 4  # how far off its decimals, in float64 units in the last place, a value still counts as written to them
FINER = 1e-6  # ... where a unit in the last place is at most this share of the decimal's step


def decimals_of(x: np.ndarray) -> int | None:
    """The fewest decimals every value of ``x`` is written to (-1: multiples of 10), or None: finer than FINEST, or
    not decimal at all (a float32 file's 0.1 is 0.10000000149 in float64). A value a float64 rounding error off its
    decimal (1.7000000000000002, a sum's 0.30000000000000004) counts as written to it."""
    return next((d for d in range(COARSEST, FINEST + 1) if near(x, d).all()), None)


def canonical(x: np.ndarray, places: int | None) -> np.ndarray:
    """``x`` with each value a rounding error off its ``places`` decimals put on them: 1.7000000000000002 and 1.7
    are one value of the data, and count as one in its ties, atoms and scores."""
    return x if places is None else np.where(near(x, places), np.round(x, places), x)


def near(x: np.ndarray, places: int) -> np.ndarray:
    # A few units in the last place: float64 arithmetic's error, far below float32's (which marks a float32 file);
    # only where that unit is far finer than the decimal (past 2**53 a float64 has no digit to spare for an error).
    ulp, off = np.spacing(np.abs(x)), np.abs(np.round(x, places) - x)
    return (off == 0) | ((off <= ULPS * ulp) & (ulp < FINER * 10.0**-places))


def at_resolution(x: np.ndarray, places: int | None) -> np.ndarray:
    """``x`` (float64) rounded to ``places`` decimals: float32 samples put back on the data's own decimal values
    (float32's 0.3 is 0.30000001192 in float64, which two-sample scores would count as another value)."""
    return x if places is None else np.round(x, places)
