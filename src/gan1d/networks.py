"""Generator and discriminator: small MLPs with configurable widths and activations.

The generator owns its noise (kind, width and an optional categorical code) and an output affine
``loc + scale * net(z)``: with ``loc``/``scale`` set from target samples the network only has to learn a standardised
shape, so training behaves the same wherever the target sits and however wide it is. ``config`` holds the
constructor arguments, so a checkpoint can rebuild the generator with nothing but torch (see ``gan1d.sample``).
"""

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
}
NOISE = ("uniform", "normal")
SAMPLE_CHUNK = 2**16


def mlp(in_features: int, hidden: list[int], activations: str | list[str], out_features: int) -> nn.Sequential:
    """Linear layers of widths ``hidden``, each followed by its activation, then a linear output."""
    if isinstance(activations, str):
        activations = [activations] * len(hidden)
    if len(activations) != len(hidden):
        raise ValueError(f"{len(hidden)} hidden layers need {len(hidden)} activations, got {list(activations)}")
    layers, width = [], in_features
    for h, act in zip(hidden, activations, strict=True):
        if act not in ACTIVATIONS:
            raise ValueError(f"activation '{act}' is not one of {sorted(ACTIVATIONS)}")
        layers += [nn.Linear(width, h), ACTIVATIONS[act]()]
        width = h
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def sample_noise(kind: str, n: int, dim: int, generator: torch.Generator | None = None,
                 categories: int = 0) -> torch.Tensor:
    """``dim`` columns of ``kind`` noise, then, with ``categories`` > 0, a one-hot code of one of that many equally
    likely categories (drawn after the noise, so the noise does not depend on it)."""
    if kind == "uniform":  # the tutorial's: uniform on [0, 1)
        z = torch.rand(n, dim, generator=generator)
    elif kind == "normal":
        z = torch.randn(n, dim, generator=generator)
    else:
        raise ValueError(f"noise '{kind}' is not one of {list(NOISE)}")
    if not categories:
        return z
    code = torch.randint(categories, (n,), generator=generator)
    return torch.cat([z, nn.functional.one_hot(code, categories).to(z.dtype)], 1)


def noise_cdf(kind: str, z: torch.Tensor) -> torch.Tensor:
    """P(noise <= z) for one coordinate of the noise: the ideal 1-D generator is the target's quantile function of
    it, F^-1(noise_cdf(z)) (drawn as the generator map)."""
    if kind == "uniform":
        return z.clamp(0, 1)
    if kind == "normal":
        return torch.special.ndtr(z)
    raise ValueError(f"noise '{kind}' is not one of {list(NOISE)}")


def noise_quantile(kind: str, u: torch.Tensor) -> torch.Tensor:
    """The inverse of noise_cdf: the noise value below which a share ``u`` of the noise lies."""
    if kind == "uniform":
        return u
    if kind == "normal":
        return torch.special.ndtri(u)
    raise ValueError(f"noise '{kind}' is not one of {list(NOISE)}")


class Constant(nn.Module):
    """One learned output, ``theta``, whatever the input: a generator of a point mass (the Dirac-GAN's)."""

    def __init__(self, theta: float):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([float(theta)]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.theta.expand(len(z), 1)


class Generator(nn.Module):
    """``theta``: instead of the MLP, one learned parameter that every sample equals (the Dirac-GAN of Mescheder
    et al. 2018); null: the MLP. ``init_offset``: added to the MLP's output bias at init, in standardised units, so
    the generator starts that far from the target (the vanishing gradients of Goodfellow et al. 2014, section 3).

    ``forward`` is the network, the density training learns; ``draw`` and ``sample`` are the model: the network's
    values rounded to the data's ``decimals`` (gan1d.rounding), with the data's ``atoms`` (value, weight) placed
    exactly beside them (gan1d.atoms). set_support sets both from the data."""

    def __init__(self, noise: str = "normal", noise_dim: int = 1, hidden: Sequence[int] = (64, 64),
                 activations: str | Sequence[str] = "elu",
                 categories: int = 0, theta: float | None = None, init_offset: float = 0.0,
                 atoms: Sequence[Sequence[float]] = (), decimals: int | None = None):
        super().__init__()
        activations = activations if isinstance(activations, str) else [str(a) for a in activations]
        # Plain types only, so checkpoints load with weights_only=True (no OmegaConf ListConfig in here).
        self.config = dict(noise=noise, noise_dim=noise_dim, hidden=[int(h) for h in hidden], activations=activations,
                           categories=categories, theta=None if theta is None else float(theta),
                           init_offset=float(init_offset))
        self.set_support([a[0] for a in atoms], [a[1] for a in atoms], decimals)
        self.noise, self.noise_dim, self.categories = noise, noise_dim, categories
        self.net = mlp(noise_dim + categories, list(hidden), activations, 1) if theta is None else Constant(theta)
        if categories and theta is None:
            with torch.no_grad():  # the categories start as far apart as a lone noise input's values would
                self.net[0].weight[:, noise_dim:].uniform_(-1, 1)
        if init_offset and theta is None:
            with torch.no_grad():
                self.net[-1].bias += init_offset
        self.register_buffer("loc", torch.tensor(0.0))
        self.register_buffer("scale", torch.tensor(1.0))

    def set_support(self, values: Sequence[float], weights: Sequence[float], decimals: int | None) -> None:
        """The data's own values: atoms to place exactly, each with its share of the samples, and the decimals the
        network's values are rounded to (None: as they are)."""
        self.config["atoms"] = [[float(v), float(w)] for v, w in zip(values, weights, strict=True)]
        self.config["decimals"] = decimals
        self.atom_values = torch.tensor([float(v) for v in values])
        self.atom_cdf = torch.tensor([float(w) for w in weights], dtype=torch.float64).cumsum(0)
        self.decimals = decimals

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.loc + self.scale * self.net(z)

    def continuous(self, z: torch.Tensor) -> torch.Tensor:
        """The network's values at the data's resolution."""
        x = self(z)
        return x if self.decimals is None else torch.round(x, decimals=self.decimals)

    def draw(self, z: torch.Tensor) -> torch.Tensor:
        """The model's samples for the noise ``z``: where the first noise value falls in the atoms' share of its
        distribution, an atom (by its weight); elsewhere the network, on that noise value stretched back over the
        whole distribution, so that what the network makes keeps exactly the distribution training gave it."""
        if not len(self.atom_values):
            return self.continuous(z)
        u, cdf = self._share_of_noise(z)
        share = cdf[-1]
        atom = u < share
        # (u - share) / (1 - share) is uniform again on the rest; 1 itself would be an infinite normal noise value.
        fresh = noise_quantile(self.noise, ((u - share) / (1 - share)).clamp(0, 1 - torch.finfo(u.dtype).eps))
        x = self.continuous(torch.cat([torch.where(atom, z[:, :1], fresh.to(z.dtype)), z[:, 1:]], 1))
        which = torch.searchsorted(cdf, u, right=True).clamp(max=len(cdf) - 1)  # the atom whose slice u is in
        return torch.where(atom, self.atom_values.to(x)[which], x)

    def drew_atom(self, z: torch.Tensor) -> torch.Tensor:
        """Which of the noise draws ``z`` draw makes atoms (by the noise: a network value may round onto one)."""
        if not len(self.atom_values):
            return torch.zeros(len(z), dtype=torch.bool, device=z.device)
        u, cdf = self._share_of_noise(z)
        return (u < cdf[-1]).squeeze(1)

    def _share_of_noise(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The first noise value as the share of the noise below it, and the atoms' cumulative weights, in float64
        where the device has it (Apple's GPUs do not)."""
        precise = torch.float32 if z.device.type == "mps" else torch.float64
        return noise_cdf(self.noise, z[:, :1].to(precise)), self.atom_cdf.to(z.device, precise)

    def noise_like(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_noise(self.noise, n, self.noise_dim, generator, self.categories)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, atoms: bool = True) -> torch.Tensor:
        """``n`` samples of the model; ``atoms=False``: without the atoms (the continuous part)."""
        z = self.noise_like(n, generator).to(self.loc.device)
        make = self.draw if atoms else self.continuous
        # In chunks: the hidden layers of 10^8 samples at once would take tens of GB.
        return torch.cat([make(chunk) for chunk in z.split(SAMPLE_CHUNK)]).squeeze(1)


class Discriminator(nn.Module):
    """Maps a pack's features to one logit (the sigmoid lives in the loss, where it is numerically safe). ``psi``:
    instead of the MLP, the line D(x) = psi x through the origin, starting at that slope (the Dirac-GAN's)."""

    def __init__(self, in_features: int, hidden: Sequence[int] = (64, 64),
                 activations: str | Sequence[str] = "leaky_relu", psi: float | None = None):
        super().__init__()
        if psi is None:
            self.net = mlp(in_features, list(hidden), activations, 1)
        else:
            self.net = nn.Linear(in_features, 1, bias=False)
            nn.init.constant_(self.net.weight, psi)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(1)
