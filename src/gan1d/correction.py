"""The discriminator's correction: resample a trained generator's draws toward the target.

A classifier that tells the target's samples (label 1) from the generator's (label 0) is, at its optimum,
D* = p / (p + q), so its odds D / (1 - D) are p / q: how much more often the target has a value than the generator
makes it. Keeping each generated draw with probability min(1, (p/q) / M) (discriminator rejection sampling, Azadi
et al. 2019) thins what the generator over-makes, the bridges between modes, and so fills in what it under-makes,
a light mode. M, the bound, is the odds' 99.9th percentile over the generator's draws: the 0.1% of draws above it
are kept as if at M, so a rare spike of the odds cannot make the acceptance rate vanish.

The training run's D is not that classifier: it chased a moving generator and was regularised to keep the game
stable. The correction fits a fresh one after training, on the generator's final draws against the target's
(for data: the training part only), with random Fourier features in front, so that it can resolve modes far
narrower than the data's range: an MLP on the raw value learns smooth functions first and misses them. For data,
its target side is the training values each spread by its distance to its 5th nearest (``spread``): drawn as they
are, n values are n spikes those features resolve, and the gaps between them, a sparse tail's most, would read as
generated. It is fitted once per checkpoint and kept in the run dir as ``correction.pt``.

A classifier that tells fresh draws of the two apart no better than a coin flip has found nothing to correct:
after ``probe_step`` of its steps, its log-likelihood gain over a coin flip on 100,000 new draws of each side must be
above zero, or the fit stops there and the correction is off. Where the generator has learned a Gaussian, it is
below zero at every point of the fit (benchmarks/results/correction_probe.md). For data, the target's new draws are
the same training values spread again, so the probe rarely stops a data correction.

A correction is kept only where a check says it helps: 200,000 corrected draws must sit closer than 200,000 of the
generator's own (by W1 and KS together: their ratios sum below 2) to the exact distribution of a formula, or to a
data target's validation part, which neither the generator nor the classifier saw; fewer draws leave the check noise
on runs near their floor (benchmarks/results/correction_check.md). Otherwise it is off, and the corrected samples
are the generator's own. Data without a validation part (target.validation=0, the default) are not checked: every
other value but the held-out part's trained the generator, which then sits closer to them than to unseen data, so a
check on them turns off a correction that helps (benchmarks/results/data_checked_on_training_probe.md).

``python -m gan1d.sample ckpt=RUN correct=true`` and ``python -m gan1d.evaluate ckpt=RUN correct=true`` use it.
"""

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan1d.atoms import without
from gan1d.build import build_target
from gan1d.checkpoints import SampleError, check_unchanged, checkpoint_path, load_generator, run_dir_of, trained_target
from gan1d.estimators import spacing
from gan1d.files import atomic_path
from gan1d.metrics import ks, ks_two_sample, wasserstein1, wasserstein1_two_sample
from gan1d.networks import SAMPLE_CHUNK, Generator
from gan1d.targets import Empirical, Target

FILE = "correction.pt"
CHUNK = 2**16  # generated draws per round of rejection


@dataclass(frozen=True)
class Fit:
    """How the classifier is fitted; each knob's default is the one the benchmarks measured."""

    samples: int = 100_000  # draws from each side
    steps: int = 2000  # Adam steps on minibatches of both sides
    batch: int = 1024  # draws per side per step
    lr: float = 3e-3  # Adam's rate, falling linearly to 0
    features: int = 64  # random Fourier features
    bandwidth: float = 16.0  # sd of their frequencies, per standardised unit: resolves widths down to ~1/bandwidth
    hidden: int = 64  # width of the MLP's two hidden layers
    bound_quantile: float = 0.999  # M: this quantile of the odds over the generator's draws
    check_draws: int = 200_000  # generated draws, and as many corrected ones, scored in the check
    probe_step: int = 500  # after this many steps, a classifier no better than a coin flip on new draws stops, off
    probe_draws: int = 100_000  # new draws of each side for that probe
    neighbours: int = 5  # data: each training value drawn spread by its distance to its k-th nearest; 0: as it is
    seed: int = 0

    def __post_init__(self):
        if self.steps < 1 or self.probe_step < 1:
            raise ValueError(f"Fit: steps ({self.steps}) and probe_step ({self.probe_step}) must be at least 1")
        if self.neighbours < 0:
            raise ValueError(f"Fit: neighbours ({self.neighbours}) must be 0 (off) or more")


class OddsNet(nn.Module):
    """log(p/q) of a value in the target's units: the value standardised by the target's location and scale, its
    random Fourier features cos(w z + b) beside it, then a two-layer MLP."""

    def __init__(self, features: int, bandwidth: float, hidden: int, seed: int):
        super().__init__()
        rng = torch.Generator().manual_seed(seed)
        self.register_buffer("frequencies", torch.randn(features, generator=rng) * bandwidth)
        self.register_buffer("phases", torch.rand(features, generator=rng) * 2 * math.pi)
        self.register_buffer("loc", torch.tensor(0.0))
        self.register_buffer("scale", torch.tensor(1.0))
        self.net = nn.Sequential(nn.Linear(features + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = ((x - self.loc) / self.scale).unsqueeze(1)
        return self.net(torch.cat([z, torch.cos(z * self.frequencies + self.phases)], 1)).squeeze(1)


class Correction:
    """A fitted OddsNet and its bound: ``sample(generator, n, rng)`` draws n corrected samples and says what share
    of the generated draws it kept; ``record`` says what the fit cost and found, and its check (``record["check"]``:
    ``kept`` false turns the correction off, every draw kept)."""

    def __init__(self, odds: OddsNet, log_bound: float, record: dict):
        self.odds, self.log_bound, self.record = odds.eval(), log_bound, record
        self.on = record.get("check", {}).get("kept", True)

    @torch.no_grad()
    def acceptance(self, x: torch.Tensor) -> torch.Tensor:
        return (self.odds(x) - self.log_bound).exp().clamp(max=1)

    @torch.no_grad()
    def sample(self, generator: Generator, n: int, rng: torch.Generator) -> tuple[torch.Tensor, float]:
        if not self.on:  # its check found it no help: the generator's own samples, as gan1d.sample draws them
            return generator.sample(n, rng), 1.0
        x, acceptance = self.resample(generator, n, rng)
        if len(generator.atom_values):  # the atoms keep their exact weights: drawn as the generator draws them
            z = generator.noise_like(n, rng)
            placed = torch.cat([generator.draw(chunk) for chunk in z.split(SAMPLE_CHUNK)]).squeeze(1)
            x = torch.where(generator.drew_atom(z), placed, x)
        return x, acceptance

    def resample(self, generator: Generator, n: int, rng: torch.Generator) -> tuple[torch.Tensor, float]:
        """``n`` of the network's draws kept by rejection, and the share kept."""
        kept, drawn, have = [], 0, 0
        while have < n:
            x = generator.sample(CHUNK, rng, atoms=False)
            x = x[torch.rand(len(x), generator=rng) < self.acceptance(x)]
            kept.append(x)
            drawn, have = drawn + CHUNK, have + len(x)
        return torch.cat(kept)[:n], have / drawn


def fit(generator: Generator, target: Target, how: Fit = Fit()) -> Correction:
    """The correction of ``generator`` toward ``target``, kept where its check says it helps (see the module's
    docstring). Both sides are continuous parts: a data target's atoms are set apart in training and placed
    exactly by the generator."""
    start = time.perf_counter()
    correction = fit_odds(generator, real_draws(target, how), how)
    if not correction.record["above_chance"]:
        check = {"on": f"{how.probe_draws:,} fresh draws of each side", "kept": False}
    elif not isinstance(target, Empirical):  # a formula: checked against the exact distribution
        check = checked(correction, generator, lambda x: (wasserstein1(x, target), ks(x, target)), how)
    elif len(held := without(target.validation, target.atoms)):
        as_data = target.as_data
        check = checked(correction, generator, lambda x: (wasserstein1_two_sample(as_data(x), held),
                                                          ks_two_sample(as_data(x), held)), how)
        check["on"] = f"the validation part's {len(held)} values (its atoms set apart)"
    else:
        check = {"on": "nothing: the generator trained on every value but the held-out part's (target.validation "
                       "> 0 holds a part apart to check on)", "kept": True}
    return Correction(correction.odds, correction.log_bound,
                      {"fit_s": time.perf_counter() - start, "log_bound": correction.log_bound, "fit": asdict(how),
                       **correction.record, "check": check})


def real_draws(target: Target, how: Fit) -> Callable[[int, torch.Generator], torch.Tensor]:
    """What the classifier takes for the target's draws: a formula's own; a data target's training values spread."""
    return spread(target, how.neighbours) if isinstance(target, Empirical) and how.neighbours else target.sample


def spread(target: Empirical, k: int) -> Callable[[int, torch.Generator], torch.Tensor]:
    """Draws of a data target's training values (its atoms apart), each plus N(0, h^2), h its distance to its k-th
    nearest (gan1d.estimators.spacing), rounded to the data's decimals as the generator's draws are. Drawn as they
    are, n values are n spikes that the classifier's Fourier features resolve, and what falls between them, a
    sparse tail or a small column's gaps, reads as generated and is thinned (benchmarks/results/correction_probe.md)."""
    values = torch.from_numpy(without(target.train, target.atoms)).float()
    h = torch.from_numpy(spacing(values.double().numpy(), min(k, len(values) - 1))).float()

    def draw(n: int, rng: torch.Generator) -> torch.Tensor:
        i = torch.randint(len(values), (n,), generator=rng)
        x = values[i] + h[i] * torch.randn(n, generator=rng)
        return x if target.decimals is None else torch.round(x, decimals=target.decimals)

    return draw


def checked(correction: Correction, generator: Generator, scores, how: Fit) -> dict:
    """How the correction changes ``scores(x)`` (W1 and KS against the check's values) of the generator's draws:
    their ratios, corrected over uncorrected, and whether they fall on the whole (their sum below 2)."""
    rng = torch.Generator().manual_seed(how.seed + 1)
    raw = generator.sample(how.check_draws, rng, atoms=False).numpy()
    kept = correction.resample(generator, how.check_draws, rng)[0].numpy()
    (w1_raw, ks_raw), (w1_kept, ks_kept) = scores(raw), scores(kept)
    ratios = {"w1_ratio": w1_kept / w1_raw, "ks_ratio": ks_kept / ks_raw}
    return {"on": "the target's exact distribution", **ratios, "kept": sum(ratios.values()) < 2}


def fit_odds(generator: Generator, draw, how: Fit) -> Correction:
    """Fit the classifier on ``how.samples`` draws of each side (``draw(n, rng)``: the target's), stopped at
    ``how.probe_step`` where it does no better than chance on fresh draws; then set its bound on fresh generated
    draws. Its record says how far it got above chance."""
    rng = torch.Generator().manual_seed(how.seed)
    real = draw(how.samples, rng).float()
    fake = generator.sample(how.samples, rng, atoms=False)
    unseen = torch.Generator().manual_seed(how.seed + 2)  # its own stream: the fit's draws are the same with or without
    probe = torch.cat([draw(how.probe_draws, unseen).float(), generator.sample(how.probe_draws, unseen, atoms=False)])
    with torch.random.fork_rng():  # the MLP's initial weights, seeded without moving the caller's generator
        torch.manual_seed(how.seed)
        odds = OddsNet(how.features, how.bandwidth, how.hidden, how.seed)
    odds.loc.fill_(real.mean())
    odds.scale.fill_(real.std())
    optimizer = torch.optim.Adam(odds.parameters(), lr=how.lr)
    decay = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / how.steps)
    labels = torch.cat([torch.ones(how.batch), torch.zeros(how.batch)])
    for step in range(1, how.steps + 1):
        pick = torch.randint(how.samples, (2, how.batch), generator=rng)
        logits = odds(torch.cat([real[pick[0]], fake[pick[1]]]))
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        decay.step()
        if step == min(how.probe_step, how.steps):
            record = gain_over_chance(odds, probe)
            if not record["above_chance"]:
                break
    record["steps_taken"] = step
    with torch.no_grad():
        log_bound = float(odds(generator.sample(how.samples, rng, atoms=False)).quantile(how.bound_quantile))
    return Correction(odds, log_bound, record)


@torch.no_grad()
def gain_over_chance(odds: Callable[[torch.Tensor], torch.Tensor], probe: torch.Tensor) -> dict:
    """The classifier's log-likelihood gain over chance (log 2 minus its cross-entropy) on ``probe``, the target's
    draws then as many generated ones, in nats, with its standard error; above chance where it is above zero (a
    classifier that learned nothing that holds beyond its training draws scores below)."""
    real = torch.arange(len(probe)) < len(probe) // 2
    gains = math.log(2) - F.binary_cross_entropy_with_logits(odds(probe), real.float(), reduction="none")
    nats, se = float(gains.mean()), float(gains.std()) / math.sqrt(len(gains))
    return {"gain_nats": nats, "gain_se": se, "above_chance": nats > 0}


def checkpoint_digest(ckpt: Path) -> str:
    return hashlib.sha256(ckpt.read_bytes()).hexdigest()


def save(correction: Correction, path: Path, digest: str) -> None:
    """Kept with the digest of the checkpoint it was fitted for: a resumed run's new checkpoint is fitted anew."""
    state = {"state_dict": correction.odds.state_dict(), "log_bound": correction.log_bound,
             "record": correction.record, "checkpoint_sha256": digest}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load(path: Path, digest: str) -> Correction | None:
    """The correction saved at ``path`` for the checkpoint of this digest, or None if there is none or it was for
    another."""
    if not path.is_file():
        return None
    state, how = torch.load(path, map_location="cpu", weights_only=True), Fit()
    # Fitted for another checkpoint, or with other knobs than this version's (a smaller check, say): fitted anew.
    if state["checkpoint_sha256"] != digest or state["record"].get("fit") != asdict(how):
        return None
    odds = OddsNet(how.features, how.bandwidth, how.hidden, how.seed)
    odds.load_state_dict(state["state_dict"])
    return Correction(odds, state["log_bound"], state["record"])


@dataclass
class Corrected:
    """A run's generator and its correction, fitted to ``target``, the one the run trained on."""

    run_dir: Path
    generator: Generator
    correction: Correction
    target: Target
    fitted_now: bool

    def sample(self, n: int, seed: int = 0) -> tuple[np.ndarray, dict]:
        """``n`` corrected samples (noise seed ``seed``), and what the correction cost and accepted."""
        start = time.perf_counter()
        x, acceptance = self.correction.sample(self.generator, n, torch.Generator().manual_seed(seed))
        return x.numpy(), {**self.correction.record, "acceptance": acceptance, "fitted_now": self.fitted_now,
                           "sample_s": time.perf_counter() - start}

    def draw(self, raw: np.ndarray, kept: np.ndarray, draws: int = 1_000_000) -> Path:
        """RUN/correction.png: the target, the generated (``raw``) and corrected (``kept``) samples, over the
        classifier's log p/q against the one measured from ``draws`` generated samples. Returns its path."""
        from gan1d.figures import bin_edges, correction_figure, overlay_data, smooth_density, to_png

        why = "its check found it no help" if self.correction.record["above_chance"] else "no better than chance"
        title = "the discriminator's correction" + ("" if self.correction.on else f": off, {why}")
        data = overlay_data(self.target, raw, title)._replace(corrected=kept)
        # q as the overlay draws it: the continuous part's density, on bins that hold whole steps of rounded data.
        edges = bin_edges(data.x[0], data.x[-1], data.decimals, bins=len(data.x))
        centres = (edges[:-1] + edges[1:]) / 2
        generated = self.generator.sample(draws, torch.Generator().manual_seed(1)).numpy()
        q, p = smooth_density(generated, edges, data.atoms), self.target.pdf(torch.from_numpy(centres)).numpy()
        with np.errstate(divide="ignore"):
            log_ratio = np.where(q > 0, np.log(p) - np.log(q), np.nan)
        with torch.no_grad():
            log_odds = self.correction.odds(torch.from_numpy(data.x).float()).numpy()
        out = self.run_dir / "correction.png"
        with atomic_path(out) as tmp:
            tmp.write_bytes(to_png(correction_figure(data, log_odds, (centres, log_ratio), self.correction.log_bound)))
        return out


def corrected(ckpt: str | os.PathLike, allow_changed: bool = False, target: Target | None = None) -> Corrected:
    """The run's generator with its correction: read from the run dir's correction.pt when it was fitted for this
    checkpoint, else fitted now on the target the run trained on (for data: its training part) and saved there.
    The run's own data file is refused if it changed since training, unless ``allow_changed``; ``target``: that
    target where the caller has built and checked it already."""
    path = checkpoint_path(ckpt)
    generator, run_dir, digest = load_generator(path), run_dir_of(path), checkpoint_digest(path)
    target = target or trained_on(path, allow_changed)
    correction = load(run_dir / FILE, digest)
    if correction is not None:
        return Corrected(run_dir, generator, correction, target, fitted_now=False)
    correction = fit(generator, target)
    save(correction, run_dir / FILE, digest)
    return Corrected(run_dir, generator, correction, target, fitted_now=True)


def trained_on(ckpt: Path, allow_changed: bool = False) -> Target:
    """The target the run trained on, refused in one line where the run does not say or its data file changed."""
    run_dir = run_dir_of(ckpt)
    if not (run_dir / ".hydra" / "config.yaml").is_file():
        raise SampleError(f"correct=true: {run_dir} has no .hydra/config.yaml to say what the run trained on, so "
                          "there is nothing to fit the correction to (correct=false samples the generator as it is)")
    target = build_target(trained_target(ckpt))
    if not allow_changed:
        check_unchanged(target, run_dir)
    return target
