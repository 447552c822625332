"""A probe of issue #40's point 5: the discriminator fed random Fourier features of each sample.

The correction's classifier resolves modes far narrower than the data's range only with random Fourier features in
front (an MLP on the raw value learns smooth functions first: spectral bias). This preprocessor gives the training
run's discriminator the same features, to see whether the generator itself then places the light modes:

    python benchmarks/quality.py --presets fourier_8 --targets ... --seeds 1   (PYTHONPATH=benchmarks)

Not part of gan1d: adopted only where it passes everything the default passes, in no more time.
"""

import math

import torch

from gan1d.preprocessors import Preprocessor


class Fourier(Preprocessor):
    """Each standardised sample beside ``features`` random Fourier features cos(w z + b), w ~ N(0, bandwidth^2)."""

    def __init__(self, pack: int = 1, features: int = 64, bandwidth: float = 8.0, seed: int = 0):
        super().__init__(pack)
        rng = torch.Generator().manual_seed(seed)
        self.register_buffer("frequencies", torch.randn(features, generator=rng) * bandwidth)
        self.register_buffer("phases", torch.rand(features, generator=rng) * 2 * math.pi)
        self.features_per_sample = features + 1

    def features(self, z: torch.Tensor) -> torch.Tensor:
        p = z.reshape(-1, self.pack, 1)
        return torch.cat([p, torch.cos(p * self.frequencies + self.phases)], -1).flatten(1)
