"""Target distributions: what the generator must learn to imitate.

Each target wraps a ``torch.distributions`` object for its pdf and cdf; ``Empirical`` is a sample from a file
instead. Sampling takes an explicit ``torch.Generator`` so that every data stream (worker, rank) is reproducible on
its own; that is why it goes through the inverse cdf rather than ``dist.sample()``, which only draws from the
global RNG.
"""

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import distributions as D

from gan1d.atoms import NO_ATOMS, RULE, Atoms, exact, find_atoms, shares, without
from gan1d.estimators import kde, moments, silverman
from gan1d.loading import NONFINITE, DataError, read
from gan1d.rounding import AUTO, at_resolution, canonical, decimals_of
from gan1d.split import Parts, split

# The quantiles that must fit float32 samples: a target beyond them is not one the generator can be trained on.
BULK = 1e-6
FLOAT32_LIMIT, FLOAT32_RESOLUTION = 1e30, 1e-4


class BadArgument(ValueError):
    """A target argument out of range, named: gan1d.train reports it in one line as ``target.NAME=VALUE ...``."""

    def __init__(self, name: str, value: object, allowed: str):
        super().__init__(f"{name}={show(value)} is not allowed: it must be {allowed}")


def show(value: object) -> str:
    """A value as the user would have typed it on the command line."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return str(list(value)) if _is_list(value) else str(value)


def _is_list(value: object) -> bool:
    return not isinstance(value, (str, bytes)) and hasattr(value, "__len__") and hasattr(value, "__iter__")


def is_number(value: object) -> bool:
    """A finite int or float, not a bool: what a numeric key may be (gan1d.checks uses it too)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(name: str, value: object, positive: bool = False) -> float:
    """``value`` as a float, or BadArgument naming ``name``."""
    if not is_number(value) or (positive and value <= 0):
        raise BadArgument(name, value, "a positive finite number" if positive else "a finite number")
    return float(value)


def integer(name: str, value: object, low: int) -> int:
    """``value`` if it is an integer >= ``low``, else BadArgument naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BadArgument(name, value, "a positive integer" if low == 1 else f"an integer >= {low}")
    return value


def numbers(name: str, values: object, positive: bool = False) -> list[float]:
    if not _is_list(values) or len(values) == 0 or not all(is_number(v) and (v > 0 or not positive) for v in values):
        raise BadArgument(name, values, "a non-empty list of " + ("positive " if positive else "") + "finite numbers")
    return [float(v) for v in values]


class Target:
    """A 1-D distribution with ``sample``, ``pdf``, ``cdf``, ``quantile`` and exact ``moments``; subclasses build
    ``self.dist`` from validated arguments (a bad one raises BadArgument, naming it)."""

    name = "target"
    atoms = NO_ATOMS  # values the generator places exactly beside what it learns (gan1d.atoms): only data has them
    decimals = None  # the decimals the generator's samples are rounded to (gan1d.rounding): only data has them

    def __init__(self, dist: D.Distribution):
        self.dist = dist

    def check_float32(self, location: tuple[str, object] | None, spread: tuple[str, object]) -> None:
        """Refuse a target that float32 samples cannot hold: its bulk beyond float32's range, or too narrow for its
        resolution. ``location``, ``spread``: the (name, value) of the argument to blame for each."""
        lo, mid, hi = self.quantile(np.array([BULK, 0.5, 1 - BULK])).tolist()
        if location is not None and not abs(mid) < FLOAT32_LIMIT:
            raise BadArgument(*location, f"such that float32 samples hold the target: its median {mid:.4g} is beyond "
                                         f"+-{FLOAT32_LIMIT:g}")
        far = max(abs(lo), abs(hi))
        if not far < FLOAT32_LIMIT or not hi - lo > max(FLOAT32_RESOLUTION * far, 1 / FLOAT32_LIMIT):
            raise BadArgument(*spread, f"such that float32 samples resolve the target: its {BULK:g} and 1-{BULK:g} "
                                       f"quantiles, {lo:.4g} and {hi:.4g}, must lie within +-{FLOAT32_LIMIT:g} and "
                                       f"at least {FLOAT32_RESOLUTION:g} x their size apart")

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

    def quantile(self, p: np.ndarray) -> np.ndarray:
        """The inverse cdf at probabilities ``p`` (an array in (0, 1)), in float64."""
        return self.dist.icdf(torch.as_tensor(p, dtype=torch.float64)).numpy()

    def moments(self) -> dict[str, float | None]:
        """Exact mean, std, skewness and excess kurtosis; None for a moment the distribution does not have."""
        raise NotImplementedError

    @property
    def mean(self) -> float:
        return float(self.dist.mean)

    @property
    def std(self) -> float:
        return float(self.dist.stddev)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean:.4g}, std={self.std:.4g})"


def _f64(value: float | list[float]) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float64)


def _moments(mean: float | None, std: float | None, skew: float | None,
             kurtosis: float | None) -> dict[str, float | None]:
    return {"mean": mean, "std": std, "skew": skew, "kurtosis": kurtosis}


class Gaussian(Target):
    def __init__(self, mean: float = 4.0, std: float = 1.25):
        super().__init__(D.Normal(_f64(number("mean", mean)), _f64(number("std", std, positive=True))))
        self.check_float32(("mean", mean), ("std", std))

    def moments(self) -> dict[str, float | None]:
        return _moments(self.mean, self.std, 0.0, 0.0)


class Uniform(Target):
    def __init__(self, low: float = 0.0, high: float = 1.0):
        if not number("low", low) < number("high", high):
            raise BadArgument("low", low, f"below high={high}")
        super().__init__(D.Uniform(_f64(float(low)), _f64(float(high))))
        self.check_float32(("low", low), ("high", high))

    def moments(self) -> dict[str, float | None]:
        return _moments(self.mean, self.std, 0.0, -1.2)

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

    def __init__(self, weights: Sequence[float] = (0.5, 0.5), means: Sequence[float] = (-2.0, 2.0),
                 stds: Sequence[float] = (0.5, 0.5)):
        weights, means = numbers("weights", weights, positive=True), numbers("means", means)
        stds = numbers("stds", stds, positive=True)
        if not len(weights) == len(means) == len(stds):
            raise BadArgument("weights", weights, f"as long as means ({len(means)}) and stds ({len(stds)}): one "
                                                  "weight, mean and std per component")
        self._build(weights, means, stds)
        self.check_float32(("means", means), ("stds", stds))

    def _build(self, weights: list[float], means: list[float], stds: list[float]) -> None:
        """The mixture of validated components."""
        weights = _f64(weights)
        super().__init__(
            D.MixtureSameFamily(D.Categorical(probs=weights / weights.sum()), D.Normal(_f64(means), _f64(stds)))
        )

    def quantile(self, p: np.ndarray) -> np.ndarray:
        # No closed form: bisection on the cdf, inside a bracket that holds every component's 1e-300 tails.
        w, mu, sd = (t[:, None] for t in self.modes())
        p = torch.as_tensor(p, dtype=torch.float64)
        lo, hi = torch.full_like(p, (mu - 40 * sd).min().item()), torch.full_like(p, (mu + 40 * sd).max().item())
        for _ in range(100):  # halves the bracket down to float64's resolution
            mid = (lo + hi) / 2
            below = (w * torch.special.ndtr((mid - mu) / sd)).sum(0) < p
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        return ((lo + hi) / 2).numpy()

    def moments(self) -> dict[str, float | None]:
        # Central moments as weighted sums over the components: each is N(d, sd^2) around the mixture's mean.
        w, mu, sd = (t.numpy() for t in self.modes())
        mean = float((w * mu).sum())
        d = mu - mean
        var = (w * (d**2 + sd**2)).sum()
        third = (w * (d**3 + 3 * d * sd**2)).sum()
        fourth = (w * (d**4 + 6 * d**2 * sd**2 + 3 * sd**4)).sum()
        return _moments(mean, float(np.sqrt(var)), float(third / var**1.5), float(fourth / var**2 - 3))

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
        modes = integer("modes", modes, 1)
        spacing, std = number("spacing", spacing, positive=True), number("std", std, positive=True)
        self._build([1.0] * modes, [(i - (modes - 1) / 2) * spacing for i in range(modes)], [std] * modes)
        # Centred on 0: only its width can fail float32, and the spacing makes it unless there is a single mode.
        self.check_float32(None, ("spacing", spacing) if (modes - 1) * spacing > std else ("std", std))


class RandomMixture(Mixture):
    """A mixture no recipe was tuned on, drawn from ``seed``: 2-6 Gaussian modes, weights at least ``min_weight``
    (the rest split by a flat Dirichlet), widths log-uniform in [0.2, 1], and each gap between neighbouring means
    their two widths summed times a factor log-uniform in [1.5, 6]: from modes that nearly touch
    (a shoulder more than a dip) to modes far apart. Centred on 0. ``target=random_mixture target.seed=K``."""

    def __init__(self, seed: int = 0, min_weight: float = 0.05):
        seed = integer("seed", seed, 0)
        min_weight = number("min_weight", min_weight, positive=True)
        rng = np.random.default_rng([seed, 0x6A1D])  # salted: target.seed=K is not the run's seed=K stream
        k = int(rng.integers(2, 7))
        if not min_weight * k < 1:
            raise BadArgument("min_weight", min_weight, f"below 1/{k}, as this seed draws {k} modes")
        weights = min_weight + (1 - k * min_weight) * rng.dirichlet(np.ones(k))
        stds = np.exp(rng.uniform(np.log(0.2), np.log(1.0), k))
        gaps = (stds[:-1] + stds[1:]) * np.exp(rng.uniform(np.log(1.5), np.log(6.0), k - 1))
        means = np.concatenate([[0.0], np.cumsum(gaps)])
        self.seed = seed
        self._build(weights.tolist(), (means - means.mean()).tolist(), stds.tolist())

    def __repr__(self) -> str:
        w, mu, sd = (", ".join(f"{v:.3g}" for v in t.tolist()) for t in self.modes())
        return f"RandomMixture(seed={self.seed}: weights [{w}], means [{mu}], stds [{sd}])"


class Laplace(Target):
    """Heavier tails than a Gaussian, and a sharp peak."""

    def __init__(self, loc: float = 0.0, scale: float = 1.0):
        super().__init__(D.Laplace(_f64(number("loc", loc)), _f64(number("scale", scale, positive=True))))
        self.check_float32(("loc", loc), ("scale", scale))

    def moments(self) -> dict[str, float | None]:
        return _moments(self.mean, self.std, 0.0, 3.0)


class Exponential(Target):
    """Skewed, with a hard edge at 0."""

    def __init__(self, rate: float = 1.0):
        super().__init__(D.Exponential(_f64(number("rate", rate, positive=True))))
        self.check_float32(None, ("rate", rate))

    def moments(self) -> dict[str, float | None]:
        return _moments(self.mean, self.std, 2.0, 6.0)

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64)
        return torch.where(x >= 0, self.dist.rate * torch.exp(-self.dist.rate * x.clamp_min(0)), 0.0)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        return self.dist.cdf(torch.as_tensor(x, dtype=torch.float64).clamp_min(0))


class LogNormal(Target):
    """exp(N(mu, sigma)): skewed, with a long right tail."""

    def __init__(self, mu: float = 0.0, sigma: float = 0.5):
        super().__init__(D.LogNormal(_f64(number("mu", mu)), _f64(number("sigma", sigma, positive=True))))
        self.check_float32(("mu", mu), ("sigma", sigma))

    def moments(self) -> dict[str, float | None]:
        s2 = float(self.dist.scale) ** 2
        return _moments(self.mean, self.std, (math.exp(s2) + 2) * math.sqrt(math.expm1(s2)),
                        math.exp(4 * s2) + 2 * math.exp(3 * s2) + 3 * math.exp(2 * s2) - 6)

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64)
        return torch.where(x > 0, self.dist.log_prob(x.clamp_min(1e-300)).exp(), 0.0)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        return self.dist.cdf(torch.as_tensor(x, dtype=torch.float64).clamp_min(1e-300))


class StudentT(Target):
    """Heavy tails: with df <= 4 the kurtosis is infinite, and W1 is the metric that still means something."""

    def __init__(self, df: float = 3.0, loc: float = 0.0, scale: float = 1.0):
        df, loc, scale = number("df", df, positive=True), number("loc", loc), number("scale", scale, positive=True)
        super().__init__(D.StudentT(_f64(df), _f64(loc), _f64(scale)))
        self.check_float32(("loc", loc), ("df", df) if df < 1 else ("scale", scale))

    def quantile(self, p: np.ndarray) -> np.ndarray:
        from scipy import special

        return float(self.dist.loc) + float(self.dist.scale) * special.stdtrit(float(self.dist.df), np.asarray(p))

    def moments(self) -> dict[str, float | None]:
        # The k-th moment exists for df > k only: the mean for df > 1, the std for 2, the skew for 3, kurtosis for 4.
        df = float(self.dist.df)
        return _moments(self.mean if df > 1 else None, float(self.dist.stddev) if df > 2 else None,
                        0.0 if df > 3 else None, 6 / (df - 4) if df > 4 else None)

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

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
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


class PointMass(Target):
    """All the mass at ``at``: the Dirac-GAN's target (Mescheder et al. 2018). It has no density (``pdf`` is 0),
    its cdf is a step, and W1 to it is the mean of |x - at|. Its std is 0, so ``scale`` stands in for it where a
    score is divided by the target's spread (W1/sd is then W1/scale); standardising by its samples' spread is
    refused (gan1d.build.checked_target), so runs on it set data.standardize=false."""

    def __init__(self, at: float = 0.0, scale: float = 1.0):
        super().__init__(None)  # no torch distribution: every method is the point's own
        self.at, self.scale = number("at", at), number("scale", scale, positive=True)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.full((n,), self.at)

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(torch.as_tensor(x, dtype=torch.float64))

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.as_tensor(x, dtype=torch.float64) >= self.at).double()

    def quantile(self, p: np.ndarray) -> np.ndarray:
        return np.full(np.shape(p), self.at)

    def moments(self) -> dict[str, float | None]:
        return _moments(self.at, 0.0, None, None)

    @property
    def mean(self) -> float:
        return self.at

    @property
    def std(self) -> float:
        return self.scale

    def __repr__(self) -> str:
        return f"PointMass(at={self.at:.4g})"


def check_continuous(where: str, continuous: np.ndarray, atoms: Atoms) -> None:
    """The values left beside the atoms must be enough, and varied enough, for the generator to learn from."""
    found = ", ".join(f"{v:g} ({c} times)" for v, c in zip(atoms.values, atoms.counts, strict=True))
    if len(continuous) < Empirical.MIN_VALUES or np.float32(continuous[0]) == np.float32(continuous[-1]):
        raise DataError(f"{where}: beside its atoms {found}, {len(continuous)} training values are left, too few or "
                        f"too alike to learn a continuous part from (at least {Empirical.MIN_VALUES} that vary): "
                        "train on it with target.atoms=false")


class Empirical(Target):
    """A 1-D sample read from a file (``gan1d.loading``), split once by its values' content (``gan1d.split``) into a
    training part, a held-out test part and, if ``validation`` > 0, a validation part for tuning.

    Training draws from the training part, with replacement, through the given generator (so the stream stays
    seeded and resumable). With ``atoms`` the training part's atoms (gan1d.atoms: values repeated far more often than
    a continuous density allows) are set apart: the generator places them exactly with their weights, and training
    draws from the values left, the continuous part. With ``decimals`` ("auto": the fewest the training values are
    written to, gan1d.rounding; null: none) the generator's samples are rounded as the data were.

    The run is scored against its ``reference``: the validation part if there is one, else the held-out part, which
    training never sees; ``pdf`` is the kernel density estimate of the reference's values that are not atoms, for
    the overlay (which draws the atoms apart), ``cdf`` the reference's empirical cdf, ``quantile`` its inverse,
    ``moments`` (``mean``, ``std``) its own. The split depends on the values and ``split_seed`` alone, not on the
    run's seed or the rows' order: every seed of a sweep trains on the same part and is scored on the same held-out
    part.

    A sample too small for parts of MIN_PART values (the ``small`` regime, from MIN_VALUES values) is trained on
    whole and scored against itself, beside a bootstrap floor (gan1d.metrics.DataScores). ``record`` is what the
    run dir's data.json keeps: the file (as given and absolute), its sha256, the counts, the split and its parts.
    A bad argument raises BadArgument, a file that cannot be learned from DataError.
    """

    MIN_PART = 50  # values in each part: below this a two-sample KS cannot tell a good generator from a poor one
    MIN_VALUES = 20  # below this even the values themselves say too little to score a generator by

    def __init__(self, path: str | None = None, column: int | str | None = None, holdout: float = 0.2,
                 nonfinite: str = "drop", split_seed: int = 0, validation: float = 0.0, atoms: bool = True,
                 decimals: int | str | None = AUTO):
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise BadArgument("path", path, "the data file to learn from (.npy, .csv, .tsv or .txt), e.g. "
                                            "target.path=data.csv")
        if column is not None and (isinstance(column, bool) or not isinstance(column, (int, str))):
            raise BadArgument("column", column, "a column name or index (null: the file's only column)")
        if not (is_number(holdout) and 0 < holdout < 1):
            raise BadArgument("holdout", holdout, "a number strictly between 0 and 1, the share of the data held out "
                                                  "for scoring")
        if not (is_number(validation) and 0 <= validation < 1 - holdout):
            raise BadArgument("validation", validation, f"a number in [0, {1 - holdout:g}) (below 1 - target.holdout), "
                                                        "the share held apart for tuning; 0: none")
        if nonfinite not in NONFINITE:
            raise BadArgument("nonfinite", nonfinite, f"one of {list(NONFINITE)}")
        if not isinstance(atoms, bool):
            raise BadArgument("atoms", atoms, "true (values repeated far more often than a continuous density allows "
                                              "are placed exactly) or false (the generator learns them as it can)")
        if not (decimals in (AUTO, None) or (isinstance(decimals, int) and not isinstance(decimals, bool))):
            raise BadArgument("decimals", decimals, "auto (the fewest decimals the training values are written to), "
                                                    "null (samples as the network makes them) or a whole number")
        split_seed = integer("split_seed", split_seed, 0)
        data = read(path, column, nonfinite)
        where, n = f"target.path={path}", len(data.values)
        if n < self.MIN_VALUES:
            raise DataError(f"{where}: {n} values are too few: gan1d needs at least {self.MIN_VALUES} to train on "
                            "and to score against")
        parts = split(data.values, holdout, validation, split_seed)
        sizes = (len(parts.train), len(parts.test)) + ((len(parts.validation),) if validation else ())
        self.regime = "split" if min(sizes) >= self.MIN_PART else "small"
        if self.regime == "small" and validation:
            raise DataError(f"{where}: {n} values are too few for target.validation={validation}: the training, "
                            f"validation and held-out parts get {len(parts.train)}, {len(parts.validation)} and "
                            f"{len(parts.test)}, and each needs at least {self.MIN_PART} (tune on more data, or "
                            "without a search: validation=0)")
        if self.regime == "small":  # too few to hold any out: train on all, scored in-sample beside a bootstrap floor
            everything = np.sort(data.values)
            parts = Parts(everything, everything[:0], everything[:0])
        if parts.train[0] == parts.train[-1]:
            raise DataError(f"{where}: the values do not vary (the {len(parts.train)} training values all equal "
                            f"{parts.train[0]:g}): a constant has no spread to learn and no scale to standardise by")
        low, high = np.float32(parts.train[[0, -1]])  # the training part is sorted; gan1d trains in float32
        if low == high:
            raise DataError(f"{where}: the values do not vary in float32, which gan1d trains in (the "
                            f"{len(parts.train)} training values all round to {low:g}): shift them to near 0, or "
                            "scale them, so that their spread shows")
        self.decimals = decimals_of(parts.train) if decimals == AUTO else decimals
        parts = Parts(*(canonical(part, self.decimals) for part in parts))
        self.atoms = find_atoms(parts.train) if atoms else NO_ATOMS
        continuous = without(parts.train, self.atoms)
        if len(self.atoms.values):
            check_continuous(where, continuous, self.atoms)
        self.path, self.column, self.parts = str(Path(path).expanduser().resolve()), column, parts
        self.train, self.validation, self.held_out = parts
        # What the run is scored against: the validation part if any, else the held-out part, else all values.
        self.reference_part = next(k for k in ("validation", "test", "train") if len(getattr(parts, k)))
        self.reference = getattr(parts, self.reference_part)
        self.record = {"path_given": str(path), "path": self.path, "sha256": data.sha256, "column": column,
                       "rows": data.rows, "values": n, "dropped": data.rows - n, "nonfinite": nonfinite,
                       "split_seed": split_seed, "holdout": holdout, "validation": validation,
                       "regime": self.regime, "parts": {k: len(v) for k, v in parts._asdict().items()},
                       "scored_against": self.scored_against,
                       "atoms": self.atoms.record(), "atom_rule": RULE if atoms else "none looked for (atoms=false)",
                       "decimals": self.decimals, "decimals_given": decimals}
        self._train = torch.from_numpy(continuous).float()
        # The overlay's density is the reference's continuous part (its atoms are drawn apart, as spikes).
        self._smooth = without(self.reference, self.atoms)
        self.bandwidth = silverman(self._smooth) or silverman(continuous)

    @property
    def scored_against(self) -> str:
        if self.regime == "small":
            return f"all {len(self.train)} values, the ones it trains on (in-sample): too few to hold any out"
        name = "validation" if self.reference_part == "validation" else "held-out"
        return f"the {name} part ({len(self.reference)} values)"

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._train[torch.randint(len(self._train), (n,), generator=generator)]

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        # A Gaussian kernel on every reference value that is not an atom, weighted by their share.
        x = torch.as_tensor(x, dtype=torch.float64).numpy()
        if not len(self._smooth):
            return torch.zeros(len(x), dtype=torch.float64)
        return torch.from_numpy(kde(self._smooth, self.bandwidth, x) * len(self._smooth) / len(self.reference))

    @property
    def pdf_label(self) -> str:
        name = {"validation": "validation data", "test": "held-out data", "train": "data"}[self.reference_part]
        atoms = ", atoms apart" if len(self.atoms.values) else ""
        return f"{name} (KDE of {len(self._smooth)} values{atoms})"

    def as_data(self, x: np.ndarray) -> np.ndarray:
        """The generator's float32 samples read as the data's values: its atoms and its decimals exactly."""
        return at_resolution(exact(x, self.atoms.values), self.decimals)

    def atom_shares(self) -> np.ndarray:
        """Each atom's share of the reference part."""
        return shares(self.reference, self.atoms.values)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64).numpy()
        return torch.from_numpy(np.searchsorted(self.reference, x, side="right") / len(self.reference))

    def quantile(self, p: np.ndarray) -> np.ndarray:
        # The inverse of the step cdf above: the smallest reference value whose cdf reaches p.
        return np.quantile(self.reference, np.asarray(p, dtype=np.float64), method="inverted_cdf")

    def moments(self) -> dict[str, float | None]:
        return moments(self.reference)  # by the same estimator as the generated samples'

    @property
    def mean(self) -> float:
        return float(self.reference.mean())

    @property
    def std(self) -> float:
        return float(self.reference.std())

    def __repr__(self) -> str:
        column = "" if self.column is None else f", column={self.column!r}"
        validation = f", validation={len(self.validation)}" if len(self.validation) else ""
        return (f"Empirical(path={self.path!r}{column}, train={len(self.train)}{validation}, "
                f"held_out={len(self.held_out)})")
