"""A data file's values split into parts by their content, not by their position in the file.

Each value's key is a hash of its float64 bits, the split seed and its occurrence among equal values (the first,
second, ... 2.5 of the file, in whatever rows they stand); the key's uniform u in [0, 1) puts it in the test part
when u < holdout, in the validation part when u < holdout + validation, else in the training part. The parts
depend on the values and the seed alone: reordering the rows changes nothing, and a row appended moves no other
value from one part to another. The test part is the same with or without a validation part.
"""

from typing import NamedTuple

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15  # splitmix64's increment: spreads consecutive seeds and counts apart


class Parts(NamedTuple):
    train: np.ndarray  # each sorted
    validation: np.ndarray
    test: np.ndarray


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on an array of uint64 (wrapping arithmetic): every input bit moves every output bit."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def occurrences(x: np.ndarray) -> np.ndarray:
    """For sorted ``x``: how many equal values come before each one (0 for the first of its run)."""
    index = np.arange(len(x))
    first = np.r_[True, x[1:] != x[:-1]]
    return index - np.maximum.accumulate(np.where(first, index, 0))


def uniforms(x: np.ndarray, seed: int) -> np.ndarray:
    """Each sorted value's key as a uniform in [0, 1): a hash of (its float64 bits, ``seed``, its occurrence)."""
    bits = (x + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into 0.0: equal values, equal bits
    salt = _mix(np.array([seed], dtype=np.uint64) + np.uint64(GOLDEN))
    key = _mix(_mix(bits ^ salt) + occurrences(x).astype(np.uint64) * np.uint64(GOLDEN))
    return (key >> np.uint64(11)).astype(np.float64) * 2.0**-53


def split(values: np.ndarray, holdout: float, validation: float, seed: int) -> Parts:
    """The values' training, validation and test parts (validation: 0 for none)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    u = uniforms(x, seed)
    test, validating = u < holdout, (u >= holdout) & (u < holdout + validation)
    return Parts(x[~test & ~validating], x[validating], x[test])
