"""Target distributions: what the generator must learn to imitate.

Each target wraps a ``torch.distributions`` object for its pdf and cdf; ``Empirical`` is a sample from a file
instead. Sampling takes an explicit ``torch.Generator`` so that every data stream (worker, rank) is reproducible on
its own; that is why it goes through the inverse cdf rather than ``dist.sample()``, which only draws from the
global RNG.
"""

import math
from pathlib import Path

import numpy as np
import torch
from torch import distributions as D

from gan1d.errors import ConfigError
from gan1d.loading import DataError, read_column


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

    def quantile(self, u) -> np.ndarray:
        """F^-1(u) for probabilities u, by inverting the cdf on a fine grid (monotone interpolation): every target
        has a cdf, not all an icdf (mixtures have none). The grid spans a large fixed sample's extremes."""
        bulk = self.sample(100_000, torch.Generator().manual_seed(0)).double()
        lo, hi = bulk.min().item(), bulk.max().item()
        x = torch.linspace(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), 20_001, dtype=torch.float64)
        return np.interp(np.asarray(u, dtype=np.float64), self.cdf(x).numpy(), x.numpy())

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


class Empirical(Target):
    """A 1-D sample read from a file (``gan1d.loading``), split once into a training part and a held-out part.

    Training draws from the training part, with replacement, through the given generator (so the stream stays
    seeded and resumable). Scoring compares with the held-out part, which training never sees: ``pdf`` is its
    kernel density estimate (for the overlay), ``cdf`` its empirical cdf, ``mean`` and ``std`` its moments. The
    split depends on ``split_seed`` alone, not on the run's seed: every seed of a sweep trains on the same part
    and is scored on the same held-out part.
    """

    MIN_PART = 50  # values in each part: below this a two-sample KS cannot tell a good generator from a poor one

    def __init__(self, path: str | None = None, column: int | str | None = None, holdout: float = 0.2,
                 nonfinite: str = "drop", split_seed: int = 0):
        if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 < holdout < 1:
            raise ConfigError(f"target.holdout={holdout} is not allowed: it must be a number strictly between 0 and "
                              "1, the share of the data held out for scoring")
        if isinstance(split_seed, bool) or not isinstance(split_seed, int):
            raise ConfigError(f"target.split_seed={split_seed!r} is not allowed: it must be an integer")
        values = read_column(path, column, nonfinite)
        where = f"target.path={path}"
        order = np.random.default_rng(split_seed).permutation(len(values))
        n_held = round(holdout * len(values))
        train, held_out = np.sort(values[order[n_held:]]), np.sort(values[order[:n_held]])
        if min(len(train), len(held_out)) < self.MIN_PART:
            raise DataError(f"{where}: {len(values)} values are too few: with target.holdout={holdout} the training "
                            f"part gets {len(train)} and the held-out part {len(held_out)}, and each needs at least "
                            f"{self.MIN_PART} for a two-sample W1 and KS to tell a good generator from a poor one")
        if train[0] == train[-1]:
            raise DataError(f"{where}: the values do not vary (the {len(train)} training values all equal "
                            f"{train[0]:g}): a constant has no spread to learn and no scale to standardise by")
        self.path, self.column = str(Path(path).expanduser().resolve()), column
        self.train, self.held_out = train, held_out
        self._train = torch.from_numpy(train).float()
        self.bandwidth = _silverman(held_out) or _silverman(train)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._train[torch.randint(len(self._train), (n,), generator=generator)]

    def pdf(self, x) -> torch.Tensor:
        # A Gaussian kernel on every held-out value, summed in blocks to bound the memory at 4,096 x len(x).
        x = torch.as_tensor(x, dtype=torch.float64).numpy()
        density = np.zeros(x.shape)
        for block in np.array_split(self.held_out, -(-len(self.held_out) // 4096)):
            density += np.exp(-0.5 * ((x[..., None] - block) / self.bandwidth) ** 2).sum(-1)
        return torch.from_numpy(density / (len(self.held_out) * self.bandwidth * math.sqrt(2 * math.pi)))

    @property
    def pdf_label(self) -> str:
        return f"held-out data (KDE of {len(self.held_out)} values)"

    def cdf(self, x) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64).numpy()
        return torch.from_numpy(np.searchsorted(self.held_out, x, side="right") / len(self.held_out))

    @property
    def mean(self) -> float:
        return float(self.held_out.mean())

    @property
    def std(self) -> float:
        return float(self.held_out.std())

    def __repr__(self) -> str:
        column = "" if self.column is None else f", column={self.column!r}"
        return f"Empirical(path={self.path!r}{column}, train={len(self.train)}, held_out={len(self.held_out)})"


def _silverman(x: np.ndarray) -> float:
    """Silverman's rule-of-thumb bandwidth, 0.9 min(sd, IQR / 1.34) n^(-1/5); 0 for a sample without spread."""
    q75, q25 = np.quantile(x, [0.75, 0.25])
    spread = min(x.std(), (q75 - q25) / 1.34) or x.std()
    return float(0.9 * spread * len(x) ** -0.2)


def build_target(config) -> Target:
    """``instantiate(config)``, with a bad value or data file reported as its own one-line error rather than inside
    Hydra's InstantiationException."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(config)
    except InstantiationException as err:
        if isinstance(err.__cause__, ConfigError):
            raise err.__cause__ from None
        raise
