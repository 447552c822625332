"""What the discriminator sees: samples standardised, then grouped in packs and turned into features.

The discriminator judges ``pack`` samples at a time. ``pack = 1`` is the textbook per-sample discriminator;
``pack = batch size`` is the tutorial's, which sees a whole minibatch at once and so can judge its spread.
The discriminator's input width follows from ``width``; nobody has to compute it by hand.
"""

import torch
from torch import nn


class Preprocessor(nn.Module):
    """Standardise with ``loc``/``scale`` (set from target samples, kept in checkpoints), then ``features``."""

    features_per_sample = 1

    def __init__(self, pack: int = 1):
        super().__init__()
        self.pack = pack
        self.register_buffer("loc", torch.tensor(0.0))
        self.register_buffer("scale", torch.tensor(1.0))

    @property
    def width(self) -> int:
        return self.features_per_sample * self.pack

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.loc) / self.scale

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised samples of shape (n, 1) to features of shape (n / pack, width)."""
        return z.reshape(-1, self.pack)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.standardize(x))


class Raw(Preprocessor):
    """The pack as it is."""


class Diffs(Preprocessor):
    """The pack, plus each sample's difference from the pack mean."""

    features_per_sample = 2

    def features(self, z: torch.Tensor) -> torch.Tensor:
        p = z.reshape(-1, self.pack)
        return torch.cat([p, p - p.mean(1, keepdim=True)], 1)


class Variances(Preprocessor):
    """The pack, plus each sample's squared difference from the pack mean (the tutorial's default)."""

    features_per_sample = 2

    def features(self, z: torch.Tensor) -> torch.Tensor:
        p = z.reshape(-1, self.pack)
        return torch.cat([p, (p - p.mean(1, keepdim=True)) ** 2], 1)


class Moments(Preprocessor):
    """Only the pack's mean, std, skewness and excess kurtosis: four numbers whatever the pack size."""

    @property
    def width(self) -> int:
        return 4

    def features(self, z: torch.Tensor) -> torch.Tensor:
        p = z.reshape(-1, self.pack)
        mean = p.mean(1, keepdim=True)
        centred = p - mean
        var = centred.pow(2).mean(1, keepdim=True)
        std = var.clamp_min(1e-12).sqrt()
        skew = centred.pow(3).mean(1, keepdim=True) / std**3
        kurt = centred.pow(4).mean(1, keepdim=True) / var.clamp_min(1e-12) ** 2 - 3
        return torch.cat([mean, std, skew, kurt], 1)
