"""A probe of issue #40's point 5: a prior over the generator's categorical code, learned from D's odds.

The default draws each of its 10 codes with probability 0.1. A mode of weight 0.089 then gets a code and has to
spend 0.011 of it elsewhere, on a bridge or on a neighbour; a light mode of weight 0.04 has to share one. Here each
code k is drawn with a learned probability pi_k instead. Every ``every`` iterations, D's odds (its logit's exp,
which at D's optimum is p/q) are averaged over fresh draws of each code, and pi moves toward codes whose draws D
takes for real more often than for generated: log pi_k += rate * factor * log(mean odds_k), renormalised, with no
code below about ``floor`` / K (a code at zero could never come back), ``factor`` the learning rates' decay, so pi
settles as the game does. Where code k alone covers mode m, the fixed point is pi_k = m's weight.

The code is chosen as the atoms are (gan1d.networks.Generator.draw): by where the first noise value's share u falls
among pi's cumulative weights, u then stretched back over the whole noise, so the draw stays a deterministic function
of the stream's noise and the network sees its noise as before:

    PYTHONPATH=benchmarks python benchmarks/quality.py --presets prior_0.5 --targets ... --seeds 1

Not part of gan1d: adopted only where it passes everything the default passes, in no more time. A probe's limits:
no Apple GPU (float64 noise), no CUDA graphs, no resuming (the prior lives in the generator's config, not its weights),
and a run is scored in the process that trained it (quality.py without --reuse).
"""

import math

import torch
from torch import nn

import gan1d.checkpoints
from gan1d.module import GAN1D
from gan1d.networks import Generator, noise_cdf, noise_quantile, sample_noise

PROBE_DRAWS = 512  # fresh draws of each code per update of pi


class PriorGenerator(Generator):
    """A Generator whose ``categories`` codes are drawn with the probabilities ``prior`` (None: equally likely)."""

    def __init__(self, *args, prior: list[float] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_prior(prior or [1 / self.categories] * self.categories)

    def set_prior(self, prior: list[float]) -> None:
        self.config["prior"] = [float(p) for p in prior]
        self.prior = torch.tensor(self.config["prior"], dtype=torch.float64)
        self.prior_cdf = self.prior.cumsum(0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.by_code(self.coded(z))

    def by_code(self, z: torch.Tensor) -> torch.Tensor:
        """The network on noise whose one-hot code is taken as it is."""
        return super().forward(z)

    def coded(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` with its code drawn by the prior from its first noise value, that value stretched back."""
        u = noise_cdf(self.noise, z[..., :1].double())
        cdf = self.prior_cdf.to(z.device)
        k = torch.searchsorted(cdf, u.contiguous(), right=True).clamp(max=len(cdf) - 1)
        weights = self.prior.to(z.device)
        share = ((u - cdf[k] + weights[k]) / weights[k]).clamp(1e-12, 1 - 1e-12)  # u's place within its code's slice
        first = noise_quantile(self.noise, share).to(z.dtype)
        code = nn.functional.one_hot(k.squeeze(-1), self.categories).to(z.dtype)
        return torch.cat([first, z[..., 1:self.noise_dim], code], -1)


class PriorGAN(GAN1D):
    """GAN1D whose generator's code prior moves toward the codes D under-rates (see the module's docstring)."""

    uncapturable = "the code prior changes between iterations, outside a CUDA graph's replay"

    def __init__(self, *args, every: int = 50, rate: float = 0.5, floor: float = 0.2, **kwargs):
        super().__init__(*args, **kwargs)
        self.every, self.rate, self.floor = every, rate, floor
        # quality.py samples the finished run through gan1d.checkpoints.load_generator, which builds a plain
        # Generator: in the process that trains this probe, its generator stands in and takes the saved prior.
        gan1d.checkpoints.Generator = PriorGenerator

    def _end_iteration(self, done: int):
        super()._end_iteration(done)
        if done % self.every == 0:
            self.update_prior(done)

    @torch.no_grad()
    def update_prior(self, done: int) -> None:
        g, k = self.generator, self.generator.categories
        z = sample_noise(g.noise, k * PROBE_DRAWS, g.noise_dim).to(self.device)
        code = nn.functional.one_hot(torch.arange(k, device=self.device).repeat_interleave(PROBE_DRAWS), k)
        # One logit per draw (pack 1), read as log(p/q): the non-saturating loss's D.
        logits = self.critic(self.standardize(g.by_code(torch.cat([z, code.to(z)], 1))))
        log_odds = torch.logsumexp(logits.view(k, PROBE_DRAWS).double(), 1) - math.log(PROBE_DRAWS)
        factor = self.learning_rates(done)[0] / self.g_lr if self.optim.lr_decay_start < 1 else 1.0
        log_prior = g.prior.log() + self.rate * factor * log_odds
        prior = torch.softmax(log_prior, 0).clamp(min=self.floor / k)
        prior = (prior / prior.sum()).tolist()
        for generator in filter(None, (self.generator, self.generator_ema)):
            generator.set_prior(prior)
        self.report({"prior/least": min(prior), "prior/most": max(prior)})

