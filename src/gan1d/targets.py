"""Target distributions: what the generator must learn to imitate.

Each target wraps a ``torch.distributions`` object for its pdf and cdf. Sampling takes an explicit
``torch.Generator`` so that every data stream (worker, rank) is reproducible on its own; that is why it goes
through the inverse cdf rather than ``dist.sample()``, which only draws from the global RNG.
"""

import numpy as np
import torch
from torch import distributions as D


class Target:
    """A 1-D distribution with ``sample``, ``pdf`` and ``cdf``; subclasses only build ``self.dist``."""

    name = "target"

    def __init__(self, dist: D.Distribution):
        self.dist = dist

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        # Keep u away from 0 and 1 where icdf is infinite.
        u = u.clamp(1e-12, 1 - 1e-12)
        return self.dist.icdf(u.to(self.dist.mean.dtype)).float()

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64)
        return self.dist.log_prob(x).exp()

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        return self.dist.cdf(torch.as_tensor(x, dtype=torch.float64))

    @property
    def mean(self) -> float:
        return float(self.dist.mean)

    @property
    def std(self) -> float:
        return float(self.dist.stddev)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean:.4g}, std={self.std:.4g})"


def _f64(value) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float64)


class Gaussian(Target):
    def __init__(self, mean: float = 4.0, std: float = 1.25):
        super().__init__(D.Normal(_f64(mean), _f64(std)))


class Uniform(Target):
    def __init__(self, low: float = 0.0, high: float = 1.0):
        super().__init__(D.Uniform(_f64(low), _f64(high)))

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        # Uniform.log_prob raises outside the support; the density there is simply 0.
        x = torch.as_tensor(x, dtype=torch.float64)
        inside = (x >= self.dist.low) & (x < self.dist.high)
        return inside / (self.dist.high - self.dist.low)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64)
        return ((x - self.dist.low) / (self.dist.high - self.dist.low)).clamp(0, 1)


class Mixture(Target):
    """Weighted Gaussians; weights need not sum to one."""

    def __init__(self, weights=(0.5, 0.5), means=(-2.0, 2.0), stds=(0.5, 0.5)):
        if not len(weights) == len(means) == len(stds):
            raise ValueError("mixture weights, means and stds must have the same length")
        weights = _f64(weights)
        super().__init__(
            D.MixtureSameFamily(D.Categorical(probs=weights / weights.sum()), D.Normal(_f64(means), _f64(stds)))
        )

    def modes(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(weights, means, stds) of the components, for the mode-coverage metrics."""
        comp = self.dist.component_distribution
        return self.dist.mixture_distribution.probs, comp.loc, comp.scale

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        # MixtureSameFamily has no icdf: pick a component, then draw from it.
        probs = self.dist.mixture_distribution.probs
        k = torch.multinomial(probs, n, replacement=True, generator=generator)
        comp = self.dist.component_distribution
        z = torch.randn(n, generator=generator, dtype=torch.float64)
        return (comp.loc[k] + comp.scale[k] * z).float()


class Comb(Mixture):
    """``modes`` equal Gaussians, ``spacing`` apart and centred on 0: the many-mode test of mode collapse."""

    def __init__(self, modes: int = 8, spacing: float = 2.0, std: float = 0.25):
        means = [(i - (modes - 1) / 2) * spacing for i in range(modes)]
        super().__init__([1.0] * modes, means, [std] * modes)


class Laplace(Target):
    """Heavier tails than a Gaussian, and a sharp peak."""

    def __init__(self, loc: float = 0.0, scale: float = 1.0):
        super().__init__(D.Laplace(_f64(loc), _f64(scale)))


class Exponential(Target):
    """Skewed, with a hard edge at 0."""

    def __init__(self, rate: float = 1.0):
        super().__init__(D.Exponential(_f64(rate)))

    def pdf(self, x):
        x = torch.as_tensor(x, dtype=torch.float64)
        return torch.where(x >= 0, self.dist.rate * torch.exp(-self.dist.rate * x.clamp_min(0)), 0.0)

    def cdf(self, x):
        return self.dist.cdf(torch.as_tensor(x, dtype=torch.float64).clamp_min(0))


class LogNormal(Target):
    """exp(N(mu, sigma)): skewed, with a long right tail."""

    def __init__(self, mu: float = 0.0, sigma: float = 0.5):
        super().__init__(D.LogNormal(_f64(mu), _f64(sigma)))

    def pdf(self, x):
        x = torch.as_tensor(x, dtype=torch.float64)
        return torch.where(x > 0, self.dist.log_prob(x.clamp_min(1e-300)).exp(), 0.0)

    def cdf(self, x):
        return self.dist.cdf(torch.as_tensor(x, dtype=torch.float64).clamp_min(1e-300))


class StudentT(Target):
    """Heavy tails: with df <= 4 the kurtosis is infinite, and W1 is the metric that still means something."""

    def __init__(self, df: float = 3.0, loc: float = 0.0, scale: float = 1.0):
        super().__init__(D.StudentT(_f64(df), _f64(loc), _f64(scale)))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        # torch's StudentT has no icdf and draws only from the global RNG; Bailey's polar method (1994) needs
        # nothing but uniforms: accept (u, v) in the unit disc, then t = u * sqrt(df (w^(-2/df) - 1) / w).
        df, out = self.dist.df, []
        while sum(len(o) for o in out) < n:
            uv = torch.rand(2, 2 * n, generator=generator, dtype=torch.float64) * 2 - 1
            w = (uv**2).sum(0)
            keep = (w < 1) & (w > 0)
            u, w = uv[0, keep], w[keep]
            out.append(u * torch.sqrt(df * (w ** (-2 / df) - 1) / w))
        t = torch.cat(out)[:n]
        return (self.dist.loc + self.dist.scale * t).float()

    def cdf(self, x):
        # The regularised incomplete beta function, which torch lacks; scipy has it.
        from scipy import special

        z = ((torch.as_tensor(x, dtype=torch.float64) - self.dist.loc) / self.dist.scale).numpy()
        df = float(self.dist.df)
        tail = 0.5 * special.betainc(df / 2, 0.5, df / (df + z**2))  # P(T > |z|)
        return torch.from_numpy(np.where(z > 0, 1 - tail, tail))

    @property
    def std(self) -> float:
        # Infinite for df <= 2; the scale then stands in for it (W1/sd becomes W1/scale).
        value = float(self.dist.stddev)
        return value if torch.isfinite(self.dist.stddev) else float(self.dist.scale)
