"""Atoms: values a column repeats far more often than a continuous density allows (a rainfall record's dry days,
a claims table's zeros). A generator network is a smooth map of continuous noise, so it can only blur an atom into
a bump; gan1d instead places each atom exactly, with its weight, and trains the network on the values left.

The rule, on the training part only: a value is an atom when it occurs at least MIN_COUNT times and at least RATIO
times as often as each of its NEIGHBOURS nearest distinct values on either side. Rounded readings (whole minutes,
millimetres) repeat every value about as often as its neighbours, so rounding alone makes no atoms.
"""

from typing import NamedTuple

import numpy as np

MIN_COUNT = 10  # fewer repeats than this say too little to call a value an atom
RATIO = 10  # how many times its most frequent neighbour's count an atom's must be
NEIGHBOURS = 5  # distinct values compared on each side
RULE = (f"a training value repeated at least {MIN_COUNT} times and at least {RATIO}x as often as each of its "
        f"{NEIGHBOURS} nearest distinct values on either side")


class Atoms(NamedTuple):
    values: np.ndarray  # float64, ascending
    counts: np.ndarray  # how often each occurs in the values they were found in
    total: int  # how many values they were found in

    @property
    def weights(self) -> np.ndarray:
        return self.counts / max(self.total, 1)

    def record(self) -> list[dict]:
        """For data.json: each atom's value, count and weight."""
        return [{"value": float(v), "count": int(c), "weight": float(w)}
                for v, c, w in zip(self.values, self.counts, self.weights, strict=True)]


NO_ATOMS = Atoms(np.empty(0), np.empty(0, dtype=np.int64), 0)


def find_atoms(x: np.ndarray) -> Atoms:
    """The atoms among the values ``x`` by the rule above."""
    values, counts = np.unique(x, return_counts=True)
    # Each distinct value's busiest neighbour: the largest count among the NEIGHBOURS on each side.
    padded = np.pad(counts, NEIGHBOURS)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * NEIGHBOURS + 1)
    neighbour = np.maximum(windows[:, :NEIGHBOURS].max(1), windows[:, NEIGHBOURS + 1:].max(1))
    atom = (counts >= MIN_COUNT) & (counts >= RATIO * neighbour)
    return Atoms(values[atom], counts[atom], len(x))


def without(x: np.ndarray, atoms: Atoms) -> np.ndarray:
    """The values of ``x`` that are not atoms: the continuous part."""
    return x[~np.isin(x, atoms.values)]


def at(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which of ``x`` equal one of ``values``, compared in float32: the generator makes float32 samples, and an atom
    such as 0.1 is not the same number in float32 and in float64."""
    return np.isin(np.float32(x), np.float32(values))


def shares(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each of ``values``'s share of the samples ``x``."""
    x = np.float32(x)
    return np.array([np.mean(x == v) if len(x) else 0.0 for v in np.float32(values)])


def exact(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``x`` with every float32 rendering of an atom put back to the atom's own value, so that two-sample scores
    meet the data's atoms where they are."""
    x, rendered = np.array(x, dtype=np.float64), np.float32(x)
    for v in values:
        x[rendered == np.float32(v)] = v
    return x
