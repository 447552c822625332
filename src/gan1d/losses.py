"""GAN losses on the discriminator's raw outputs, and the regularisers beside them: R1/R2, the gradient penalty,
and freezing D for the generator's step. ``LOSSES[name]`` is (discriminator loss, generator loss);
``D_OUTPUT[name]`` says how to read D's output under that loss.

``non_saturating`` is what the tutorial trains with (BCE with target 1 for fakes); ``minimax`` is the original
saturating form, whose generator gradient vanishes exactly when the discriminator is winning; ``wgan`` is the
Wasserstein critic loss, which needs a gradient penalty (``penalties.gp_gamma``, see conf/loss/wgan_gp.yaml).
Each averages over the last dimension, the samples: a population's outputs (replicas, n) give one loss per replica.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def d_non_saturating(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # -log D(x) - log(1 - D(G(z))), with D = sigmoid(logit)
    return F.softplus(-real).mean(-1) + F.softplus(fake).mean(-1)


def g_non_saturating(fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean(-1)  # -log D(G(z))


def g_minimax(fake: torch.Tensor) -> torch.Tensor:
    return -F.softplus(fake).mean(-1)  # log(1 - D(G(z))), minimised


def d_lsgan(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((real - 1).pow(2).mean(-1) + fake.pow(2).mean(-1))


def g_lsgan(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (fake - 1).pow(2).mean(-1)


def d_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real).mean(-1) + F.relu(1 + fake).mean(-1)


def g_hinge(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean(-1)


def d_wgan(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return fake.mean(-1) - real.mean(-1)


def g_wgan(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean(-1)


LOSSES = {
    "non_saturating": (d_non_saturating, g_non_saturating),
    "minimax": (d_non_saturating, g_minimax),
    "lsgan": (d_lsgan, g_lsgan),
    "hinge": (d_hinge, g_hinge),
    "wgan": (d_wgan, g_wgan),
}


# How to read D's output under each loss: as a probability (the sigmoid of the logit) or raw, and the value it
# takes at equilibrium, when the generator matches the target (None: any value; only real minus fake means something).
D_OUTPUT = {
    "non_saturating": ("prob", 0.5),
    "minimax": ("prob", 0.5),
    "lsgan": ("raw", 0.5),  # labels 0 and 1: the optimal D is p_data / (p_data + p_g)
    "hinge": ("raw", None),
    "wgan": ("raw", None),
}


@dataclass
class Penalties:
    """The discriminator's regularisers and their weights: the config's ``penalties`` node (0 turns one off)."""

    r1_gamma: float = 1.0  # R1: the gradient penalty on real samples
    r2_gamma: float = 0.0  # R2: the same penalty on generated samples
    gp_gamma: float = 0.0  # WGAN-GP: the gradient penalty between real and generated (loss=wgan_gp sets it)
    gp_one_sided: bool = True  # WGAN-GP penalises gradient norms above 1 only

    def on(self) -> tuple[str, ...]:
        """The names of the penalties that are on: r1, r2, gp."""
        return tuple(name for name, gamma in (("r1", self.r1_gamma), ("r2", self.r2_gamma), ("gp", self.gp_gamma))
                     if gamma > 0)


@contextmanager
def frozen(params: list[torch.Tensor]) -> Iterator[None]:
    """No gradients for ``params`` inside the block."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def gradient_norm_penalty(d_out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """1/2 E||grad_x D(x)||^2 (Mescheder et al. 2018): R1 on real samples, R2 on generated ones. It keeps D from
    sharpening without bound around the data, which is what lets the simultaneous game converge. ``z`` is (n, 1),
    or (replicas, n, 1) with one value per replica."""
    (grad,) = torch.autograd.grad(d_out.sum(), z, create_graph=True)
    return 0.5 * grad.pow(2).sum((-2, -1)) / d_out.shape[-1]


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], pack: int, z_real: torch.Tensor,
                     z_fake: torch.Tensor, alpha: torch.Tensor, one_sided: bool = True) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E(||grad D(x_hat)|| - 1)^2 at random points between real and fake packs,
    x_hat = alpha real + (1 - alpha) fake with ``alpha`` uniform in [0, 1), one per pack (shape (packs, 1), or
    (replicas, packs, 1)); ``critic`` maps standardised samples to D's output. One-sided (Petzka et al. 2018)
    penalises only norms above 1: two-sided, a 1-D critic's slope is held near +-1 everywhere and the generator
    swings around the target instead of settling."""
    alpha = alpha.repeat_interleave(pack, -2)  # one mixing weight per pack, which D judges as a whole
    z_hat = (alpha * z_real.detach() + (1 - alpha) * z_fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(z_hat).sum(), z_hat, create_graph=True)
    excess = grad.reshape(*grad.shape[:-2], -1, pack).norm(dim=-1) - 1
    return (excess.clamp(min=0) if one_sided else excess).pow(2).mean(-1)
