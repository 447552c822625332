"""The classic 1-D results of GAN theory, each measured through gan1d's real training path against the math
(docs/classics.md): the Dirac-GAN's rate of convergence or divergence."""

import json

import numpy as np
import pytest
import torch

from gan1d.dirac import measured_factor, outcome, spectral_radius, update_matrix
from gan1d.metrics import Evaluator, wasserstein1
from gan1d.run import train
from gan1d.targets import PointMass

FAST = ["logger=none", "~callbacks.loss_curves", "~callbacks.checkpoint", "callbacks.progress_bar.refresh_rate=0"]
H, A = 0.5, 0.5  # the presets' step size; f'(0) of the logistic losses
D_STAR_TOLERANCE = 0.03  # about twice the gap trained seeds reach, a tenth of an untrained D's (docs/classics.md)

# preset: (the spectral radius in closed form, docs/classics.md; what the distance to equilibrium does)
DIRAC = {
    "dirac_simultaneous": (np.sqrt(1 + H**2 * A**2), "spirals out"),
    "dirac_alternating": (1.0, "cycles"),
    "dirac_r1_weak": (np.sqrt(1 - H * 0.3), "converges"),  # complex eigenvalues: |lambda|^2 = det = 1 - h gamma
    "dirac_r1": (None, "converges"),  # real eigenvalues: the larger root, checked against the matrix below
    "dirac_wgan": (1.0, "cycles"),
    "dirac_wgan_gp": (1.0, "cycles"),
}


@pytest.mark.parametrize("preset", DIRAC)
def test_dirac_gan_contracts_by_the_spectral_radius_of_its_linearised_update(make_cfg, tmp_path, preset):
    """Trained through the LightningModule (SGD, D then G, or both from the same point): the measured per-step
    factor of the distance to (0, 0) is the analytic spectral radius within 1%, and the outcome is the paper's."""
    record = train(make_cfg(f"experiment={preset}", *FAST, shrink=False))
    closed_form, expected = DIRAC[preset]
    rho = record["dirac_spectral_radius"]
    if closed_form is not None:
        assert rho == pytest.approx(closed_form, rel=1e-9)
    assert record["dirac_factor"] == pytest.approx(rho, rel=0.01)
    assert outcome(record["dirac_factor"]) == expected
    trajectory = json.loads((tmp_path / "trajectory.json").read_text())
    assert len(trajectory["theta"]) == record["steps"] + 1
    assert (tmp_path / "phase_portrait.png").stat().st_size > 10_000


def test_spectral_radius_closed_forms():
    """The composed matrices against the closed forms of docs/classics.md, for other step sizes than the presets'."""
    h, a = 0.3, 0.5
    assert spectral_radius("non_saturating", h, h, simultaneous=True) == pytest.approx(np.sqrt(1 + h**2 * a**2))
    alternating = update_matrix("non_saturating", h, h)
    assert np.linalg.det(alternating) == pytest.approx(1) and np.trace(alternating) == pytest.approx(2 - h**2 * a**2)
    gamma = 0.3
    r1 = update_matrix("non_saturating", h, h, gamma)
    assert np.linalg.det(r1) == pytest.approx(1 - h * gamma)
    assert np.trace(r1) == pytest.approx(2 - h * gamma - h**2 * a**2)
    # Unequal step sizes: R1 damps by D's step alone (the presets' equal ones cannot tell the two apart).
    g_lr, d_lr = 0.3, 0.2
    unequal = update_matrix("non_saturating", g_lr, d_lr, gamma)
    assert np.linalg.det(unequal) == pytest.approx(1 - d_lr * gamma)
    assert np.trace(unequal) == pytest.approx(2 - d_lr * gamma - g_lr * d_lr * a**2)
    # n critic steps, then one generator step: det 1, trace 2 - n h^2 (WGAN, a = 1).
    wgan = update_matrix("wgan", h, h, d_steps=5)
    assert np.linalg.det(wgan) == pytest.approx(1) and np.trace(wgan) == pytest.approx(2 - 5 * h**2)


def test_measured_factor_is_exact_on_a_geometric_spiral_and_averages_an_ellipse():
    k = np.arange(300)
    spiral = 0.97**k
    assert measured_factor(spiral * np.cos(0.2 * k), spiral * np.sin(0.2 * k)) == pytest.approx(0.97, rel=1e-12)
    assert measured_factor(np.cos(0.2 * k), 3 * np.sin(0.2 * k)) == pytest.approx(1, abs=1e-3)


def test_simultaneous_steps_take_both_gradients_at_the_same_point(make_cfg):
    """One iteration from (theta, psi) = (1, 1) with h = 0.5: each player moves by its gradient there, D's by
    sigmoid(1) * 1 and G's by sigmoid(-1) * 1; alternating, G's gradient is taken at D's new psi."""
    from gan1d.build import build_run, build_trainer, checked_target

    for simultaneous in (True, False):
        cfg = make_cfg("experiment=dirac_simultaneous", *FAST, "steps=1", "model.generator.theta=1",
                       "model.discriminator.psi=1", f"optim.simultaneous={simultaneous}", shrink=False)
        run = build_run(cfg, checked_target(cfg))
        build_trainer(cfg, callbacks=[], logger=False).fit(run.model, datamodule=run.datamodule)
        theta, psi = run.model.generator.net.theta.item(), run.model.discriminator.net.weight.item()
        sig = torch.sigmoid(torch.tensor(1.0)).item()
        assert psi == pytest.approx(1 - H * sig)
        psi_seen = 1.0 if simultaneous else psi
        assert theta == pytest.approx(1 + H * torch.sigmoid(torch.tensor(-psi_seen)).item() * psi_seen)


def test_w1_to_a_point_mass_is_the_mean_distance_to_it():
    x = torch.tensor([-1.0, 0.5, 2.0, 3.5])
    target = PointMass(at=0.5)
    assert wasserstein1(x, target) == pytest.approx(float((x - 0.5).abs().mean()))
    scores = Evaluator(target)(x)
    assert scores["w1_over_std"] == scores["w1"] and scores["target_std"] == 0


def test_a_point_mass_cannot_be_standardised(make_cfg):
    from gan1d.build import checked_target
    from gan1d.errors import ConfigError

    with pytest.raises(ConfigError, match="data.standardize=false"):
        checked_target(make_cfg("target=point_mass"))


def test_a_discriminator_trained_alone_approaches_the_optimal_one(make_cfg, tmp_path):
    """Goodfellow et al. 2014, Proposition 1: for a fixed generator the optimal D is p / (p + q). D trained alone
    against a generator frozen to N(1, 0.5) ends within D_STAR_TOLERANCE of it, on average over the target's
    central 99% (docs/classics.md: measured over seeds, and where an untrained D starts)."""
    record = train(make_cfg("experiment=optimal_d", *FAST, shrink=False))
    assert record["gen_mean"] == pytest.approx(1, abs=0.02) and record["gen_std"] == pytest.approx(0.5, abs=0.02)
    assert record["d_star_gap"] < D_STAR_TOLERANCE


# Section 3's far start (docs/classics.md), its first 20 iterations.
FAR = ["experiment=vanishing", "steps=20", "log_every=20"]


def test_minimax_generator_gradient_vanishes_from_a_far_start(make_cfg):
    """Goodfellow et al. 2014, section 3: with the generator started at init_offset, D rejects its samples and
    log(1 - D(G(z))) saturates; over the first 20 iterations G's gradient norm under minimax is more than an order
    of magnitude below non-saturating's (docs/classics.md measures about 1.5 orders)."""
    from gan1d.build import build_run, build_trainer, checked_target

    norms = {}
    for loss in ("minimax", "non_saturating"):
        cfg = make_cfg(*FAR, f"loss={loss}", *FAST, shrink=False)
        run = build_run(cfg, checked_target(cfg))
        start = run.model.generator.sample(4000, torch.Generator().manual_seed(0)).mean().item()
        assert start == pytest.approx(6, abs=0.5)
        build_trainer(cfg, callbacks=[], logger=False).fit(run.model, datamodule=run.datamodule)
        norms[loss] = run.model.latest["grad_norm/g"]
    assert norms["non_saturating"] > 10 * norms["minimax"]
