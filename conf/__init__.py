"""gan1d's configs, shipped as package data (found through pkg://gan1d.conf), and the one resolver they use."""

import math

from omegaconf import OmegaConf


def iterations_per_batch(most: int, *cadences: int) -> int:
    """The largest number of iterations, up to ``most``, that divides every cadence: a loader batch of that many
    iterations ends exactly where each logging, evaluation, figure and checkpoint is due."""
    common = math.gcd(*cadences)
    return max(n for n in range(1, most + 1) if common % n == 0)


OmegaConf.register_new_resolver("gan1d.iterations_per_batch", iterations_per_batch, replace=True)
