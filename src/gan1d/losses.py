"""GAN losses on the discriminator's raw outputs. ``LOSSES[name]`` is (discriminator loss, generator loss);
``D_OUTPUT[name]`` says how to read D's output under that loss.

``non_saturating`` is what the tutorial trains with (BCE with target 1 for fakes); ``minimax`` is the original
saturating form, whose generator gradient vanishes exactly when the discriminator is winning; ``wgan`` is the
Wasserstein critic loss, which needs a gradient penalty (``model.gp_gamma``, see conf/loss/wgan_gp.yaml).
Each averages over the last dimension, the samples: a population's outputs (replicas, n) give one loss per replica.
"""

import torch.nn.functional as F


def d_non_saturating(real, fake):
    # -log D(x) - log(1 - D(G(z))), with D = sigmoid(logit)
    return F.softplus(-real).mean(-1) + F.softplus(fake).mean(-1)


def g_non_saturating(fake):
    return F.softplus(-fake).mean(-1)  # -log D(G(z))


def g_minimax(fake):
    return -F.softplus(fake).mean(-1)  # log(1 - D(G(z))), minimised


def d_lsgan(real, fake):
    return 0.5 * ((real - 1).pow(2).mean(-1) + fake.pow(2).mean(-1))


def g_lsgan(fake):
    return 0.5 * (fake - 1).pow(2).mean(-1)


def d_hinge(real, fake):
    return F.relu(1 - real).mean(-1) + F.relu(1 + fake).mean(-1)


def g_hinge(fake):
    return -fake.mean(-1)


def d_wgan(real, fake):
    return fake.mean(-1) - real.mean(-1)


def g_wgan(fake):
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
