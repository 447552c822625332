"""Targets, preprocessors, networks, the data stream and the metrics, each on its own."""

import math

import numpy as np
import pytest
import torch

from gan1d.data import MinibatchStream, StreamDataModule, stream_seed
from gan1d.metrics import Evaluator, ks, wasserstein1
from gan1d.module import gradient_norm_penalty, gradient_penalty
from gan1d.networks import Discriminator, Generator
from gan1d.preprocessors import Diffs, Moments, Raw, Variances
from gan1d.targets import Exponential, Gaussian, Laplace, LogNormal, Mixture, StudentT, Uniform

TARGETS = [Gaussian(4, 1.25), Uniform(-1, 3), Mixture([1, 3], [-2, 2], [0.5, 1.0]), Laplace(1, 0.5),
           Exponential(2.0), LogNormal(0, 0.5), StudentT(6, 1, 2)]


@pytest.mark.parametrize("target", TARGETS, ids=repr)
def test_target_samples_match_its_moments_pdf_and_cdf(target):
    x = target.sample(200_000, torch.Generator().manual_seed(0)).double()
    assert x.mean().item() == pytest.approx(target.mean, abs=0.02)
    assert x.std().item() == pytest.approx(target.std, rel=0.02)
    grid = torch.linspace(x.min().item() - 1, x.max().item() + 1, 20_001, dtype=torch.float64)
    assert torch.trapezoid(target.pdf(grid), grid).item() == pytest.approx(1, abs=1e-3)
    median = torch.quantile(x[:100_000], 0.5)
    assert target.cdf(median).item() == pytest.approx(0.5, abs=0.01)


def test_target_sampling_is_reproducible_per_generator():
    t = Gaussian()
    a, b = (t.sample(5, torch.Generator().manual_seed(1)) for _ in range(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, t.sample(5, torch.Generator().manual_seed(2)))


def test_mixture_weights_are_normalised():
    m = Mixture([1, 3], [-2, 2], [0.5, 0.5])
    x = m.sample(100_000, torch.Generator().manual_seed(0))
    assert (x > 0).float().mean().item() == pytest.approx(0.75, abs=0.01)


@pytest.mark.parametrize("cls,pack,width", [(Raw, 1, 1), (Raw, 100, 100), (Diffs, 4, 8), (Variances, 100, 200),
                                            (Moments, 32, 4)])
def test_preprocessor_widths(cls, pack, width):
    pre = cls(pack)
    assert pre.width == width
    assert pre(torch.randn(128 if 128 % pack == 0 else 200, 1)).shape[1] == width


def test_preprocessor_values():
    x = torch.tensor([[1.0], [2.0], [3.0], [6.0]])
    assert torch.equal(Raw(2)(x), torch.tensor([[1.0, 2.0], [3.0, 6.0]]))
    assert torch.equal(Diffs(4)(x), torch.tensor([[1.0, 2.0, 3.0, 6.0, -2.0, -1.0, 0.0, 3.0]]))
    assert torch.equal(Variances(4)(x), torch.tensor([[1.0, 2.0, 3.0, 6.0, 4.0, 1.0, 0.0, 9.0]]))
    mean, std, skew, kurt = Moments(4)(x)[0].tolist()
    ref = x.squeeze().double().numpy()
    from scipy import stats

    assert (mean, std) == pytest.approx((3.0, ref.std()))
    assert skew == pytest.approx(stats.skew(ref), rel=1e-5)
    assert kurt == pytest.approx(stats.kurtosis(ref), rel=1e-5)


def test_preprocessor_standardises_before_packing():
    pre = Raw(1)
    pre.loc.fill_(4.0)
    pre.scale.fill_(2.0)
    assert torch.equal(pre(torch.tensor([[4.0], [8.0]])), torch.tensor([[0.0], [2.0]]))


def test_networks_shapes_and_output_affine():
    g = Generator(noise="uniform", noise_dim=3, hidden=[8, 8], activations=["elu", "sigmoid"])
    z = g.noise_like(5)
    assert z.shape == (5, 3) and (z >= 0).all() and (z < 1).all()
    base = g(z)
    g.loc.fill_(10.0)
    g.scale.fill_(2.0)
    assert torch.allclose(g(z), 10 + 2 * base)
    assert Discriminator(in_features=7, hidden=[4])(torch.randn(6, 7)).shape == (6,)
    with pytest.raises(ValueError, match="activation 'nope'"):
        Generator(activations="nope")


def stream(seed=0, steps=100, per_batch=1, **kw):
    return MinibatchStream(Gaussian(), batch_size=16, noise="normal", noise_dim=2, d_steps=3, g_steps=2, seed=seed,
                           steps=steps, iterations_per_batch=per_batch, **kw)


def test_gradient_norm_penalty_of_a_linear_discriminator():
    z = torch.randn(32, 1, requires_grad=True)
    assert gradient_norm_penalty(3.0 * z.squeeze(1), z).item() == pytest.approx(0.5 * 3.0**2)  # 1/2 E|dD/dx|^2


@pytest.mark.parametrize("slope,two_sided,one_sided", [(0.5, 0.25, 0.0), (3.0, 4.0, 4.0)])
def test_gradient_penalty_one_and_two_sided(slope, two_sided, one_sided):
    linear = torch.nn.Linear(1, 1)
    with torch.no_grad():
        linear.weight.fill_(slope)
    pre = Raw()
    real, fake = torch.randn(64, 1), torch.randn(64, 1)
    critic = lambda f: linear(f).squeeze(1)  # noqa: E731
    assert gradient_penalty(critic, pre, real, fake, one_sided=False).item() == pytest.approx(two_sided)
    assert gradient_penalty(critic, pre, real, fake, one_sided=True).item() == pytest.approx(one_sided)


def test_stream_shapes_and_distinct_seeds():
    batches = iter(stream(per_batch=4))
    real, noise = next(batches)
    assert real.shape == (4, 3, 16, 1) and noise.shape == (4, 5, 16, 2)  # iterations, steps, batch, features
    assert not torch.equal(real, next(batches)[0])
    again, _ = next(iter(stream(per_batch=4)))
    other_seed, _ = next(iter(stream(seed=1, per_batch=4)))
    other_rank, _ = next(iter(stream(rank=1, per_batch=4)))
    assert torch.equal(real, again)
    assert not torch.equal(real, other_seed) and not torch.equal(real, other_rank)
    assert len({stream_seed(0, p, r) for p in (0, 1) for r in range(4)}) == 8


def test_stream_data_does_not_depend_on_batching_and_ends_at_steps():
    one_by_one = [torch.cat(b) for b in zip(*stream(steps=10))]
    in_fours = list(stream(steps=10, per_batch=4))
    assert [len(real) for real, _ in in_fours] == [4, 4, 2]  # the last batch stops at `steps`
    assert all(torch.equal(a, torch.cat(b)) for a, b in zip(one_by_one, zip(*in_fours)))


def test_stream_resumes_where_it_stopped():
    whole = list(stream(steps=12, per_batch=4))
    resumed = list(stream(steps=12, per_batch=4, start=4))
    assert len(resumed) == 2 and all(torch.equal(a, b) for a, b in zip(whole[1], resumed[0]))
    odd = list(stream(steps=12, per_batch=4, start=6))  # from mid-batch: the first batch ends where batches end
    assert [len(real) for real, _ in odd] == [2, 4] and torch.equal(odd[0][0], whole[1][0][2:])


def test_stream_workers_share_out_the_same_items():
    def loader(workers):
        dm = StreamDataModule(Gaussian(), steps=16, batch_size=8, iterations_per_batch=2, num_workers=workers)
        return list(dm.train_dataloader())

    one, two = loader(0), loader(2)
    assert len(one) == len(two) == 8  # no two workers repeat a batch, and the data does not depend on how many
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(one, two))


def test_datamodule_estimates_scale_from_samples_not_config():
    dm = StreamDataModule(Gaussian(10, 3), steps=1, seed=0)
    assert dm.loc == pytest.approx(10, abs=0.1) and dm.scale == pytest.approx(3, rel=0.03)
    assert dm.loc != 10 and dm.scale != 3
    assert dm.eval_noise.shape == (20_000, 1)
    off = StreamDataModule(Gaussian(10, 3), steps=1, standardize=False)
    assert (off.loc, off.scale) == (0.0, 1.0)


def test_w1_of_a_shift_is_the_shift():
    t = Gaussian(0, 1)
    x = t.sample(50_000, torch.Generator().manual_seed(0))
    assert wasserstein1(x + 0.5, t) == pytest.approx(0.5, abs=0.01)
    assert wasserstein1(x, t) < 0.01


def test_metrics_match_scipy_and_sit_at_the_noise_floor():
    from scipy import stats

    t = Gaussian(4, 1.25)
    x = t.sample(20_000, torch.Generator().manual_seed(3)).numpy()
    ref = stats.wasserstein_distance(x, t.sample(2_000_000, torch.Generator().manual_seed(4)).numpy())
    assert wasserstein1(x, t) == pytest.approx(ref, abs=0.003)
    assert ks(x, t) == pytest.approx(stats.kstest(x, stats.norm(4, 1.25).cdf).statistic, abs=1e-6)
    scores = Evaluator(t)(x)
    assert scores["w1_over_std"] < 0.02 and scores["ks"] < 0.015  # the sampling-noise floor, 20,000 samples
    assert scores["target_mean"] == 4 and math.isclose(scores["target_std"], 1.25)
    assert abs(scores["skew_error"]) < 0.05 and abs(scores["kurtosis_error"]) < 0.1
    assert Evaluator(t)(np.full(20_000, 4.0))["w1_over_std"] > 0.7  # collapse to the mean scores badly


def test_mode_coverage_names_a_collapse():
    bimodal = Mixture([0.5, 0.5], [-2, 2], [0.5, 0.5])
    evaluate = Evaluator(bimodal)
    both = evaluate(bimodal.sample(20_000, torch.Generator().manual_seed(0)))
    assert both["modes_covered"] == 1 and both["min_mode_mass"] > 0.48 and both["high_quality"] > 0.99
    one = evaluate(Gaussian(2, 0.5).sample(20_000, torch.Generator().manual_seed(0)))
    assert one["modes_covered"] == 0.5 and one["min_mode_mass"] == 0 and one["high_quality"] > 0.99
    between = evaluate(Gaussian(0, 0.2).sample(20_000, torch.Generator().manual_seed(0)))  # mass between the modes
    assert between["high_quality"] < 0.02 and between["modes_covered"] == 0


def test_student_t_matches_scipy():
    from scipy import stats

    t = StudentT(3, 0.5, 2)
    x = t.sample(50_000, torch.Generator().manual_seed(0)).numpy()
    assert stats.kstest(x, stats.t(3, 0.5, 2).cdf).statistic < 0.01
    grid = np.linspace(-10, 10, 41)
    assert np.allclose(t.cdf(torch.from_numpy(grid)).numpy(), stats.t(3, 0.5, 2).cdf(grid), atol=1e-12)


@pytest.mark.parametrize("executable", ["python", "/nonexistent/python", "/bin/true"],
                         ids=["drawing process", "cannot start", "dies at once"])
def test_painter_never_blocks_and_never_loses_a_figure(monkeypatch, executable):
    from gan1d import callbacks
    from gan1d.callbacks import Painter
    from gan1d.figures import OverlayData, overlay_png

    x = np.linspace(-3, 3, 50)
    data = OverlayData(x, np.exp(-x**2 / 2), np.random.default_rng(0).normal(size=500), "test")
    if executable != "python":
        monkeypatch.setattr(callbacks.sys, "executable", executable)
    painter = Painter(background=True)
    try:
        figure = painter.draw(overlay_png, data)
        if executable == "python":
            assert not figure.done()  # queued while the process starts: training goes on meanwhile
        assert np.array_equal(figure.result(timeout=120), overlay_png(data))
        broken = painter.draw(overlay_png, None)  # a drawing error reaches whoever reads the figure
        with pytest.raises(AttributeError):
            broken.result(timeout=120)
    finally:
        painter.close()


def test_painter_close_waits_for_its_thread_and_process():
    """A run that ends while a figure is still being drawn leaves nothing behind: a thread still running at
    interpreter exit can abort the process ("terminate called without an active exception")."""
    import time

    from gan1d.callbacks import Painter

    painter = Painter(background=True)
    thread = painter.thread
    busy = painter.draw(time.sleep, 1.0)
    painter.close()
    assert busy.done() and not thread.is_alive()


@pytest.mark.parametrize("target", TARGETS, ids=repr)
def test_quantile_inverts_the_cdf_of_every_target(target):
    u = np.linspace(0.001, 0.999, 999)
    x = target.quantile(u)
    assert np.all(np.diff(x) > 0)
    assert np.abs(target.cdf(torch.from_numpy(x)).numpy() - u).max() < 1e-5


def test_generator_map_ideal_is_the_quantile_of_the_noise_cdf():
    from gan1d.figures import map_data, map_inputs

    target = Gaussian(4, 1.25)
    normal = map_inputs("normal", 1)
    z = normal[:, 0].double().numpy()
    assert z[0] == pytest.approx(-3.09, abs=0.03) and z[-1] == pytest.approx(3.09, abs=0.03)  # 0.1% to 99.9%
    rising = map_data(target, "normal", normal, z, "")
    assert np.allclose(rising.ideal, 4 + 1.25 * z, atol=1e-4)  # F^-1(Phi(z)) of a Gaussian: loc + scale z
    falling = map_data(target, "normal", normal, -z, "")  # a decreasing G heads for the decreasing exact map
    assert np.allclose(falling.ideal, 4 - 1.25 * z, atol=1e-4) and "1 - C(z)" in falling.ideal_label
    uniform = map_inputs("uniform", 1)
    u = uniform[:, 0].double().numpy()
    assert np.allclose(map_data(target, "uniform", uniform, u, "").ideal, target.quantile(u))
    several = map_inputs("normal", 3)
    assert torch.all(several[:, 1:].abs() < 0.02)  # the other coordinates at the noise's median
    assert map_data(target, "normal", several, z, "").ideal is None


def linear_gan(loss: str, **kw):
    """A GAN1D whose discriminator is D(x) = 2x - 1 (no hidden layer; the preprocessor's scale is 1)."""
    from functools import partial

    from gan1d.module import GAN1D

    gan = GAN1D(Generator(hidden=[8]), partial(Discriminator, hidden=[]), Raw(1), loss=loss, **kw)
    with torch.no_grad():
        gan.discriminator.net[0].weight.fill_(2.0)
        gan.discriminator.net[0].bias.fill_(-1.0)
    return gan


@pytest.mark.parametrize("loss", ["non_saturating", "minimax", "lsgan", "hinge", "wgan"])
def test_push_is_minus_the_per_sample_gradient_of_the_generator_loss(loss):
    x = torch.linspace(-2, 2, 9)
    d = 2 * x.double() - 1
    expected = {"non_saturating": 2 * torch.sigmoid(-d),  # -d/dx softplus(-D(x))
                "minimax": 2 * torch.sigmoid(d),  # -d/dx (-softplus(D(x)))
                "lsgan": -2 * (d - 1),  # -d/dx (D - 1)^2 / 2
                "hinge": torch.full_like(d, 2.0), "wgan": torch.full_like(d, 2.0)}  # -d/dx (-D(x))
    gan = linear_gan(loss)
    assert torch.allclose(gan.push(x).double(), expected[loss], atol=1e-5)
    assert all(p.grad is None for p in gan.discriminator.parameters())  # the training gradients stay untouched


@pytest.mark.parametrize("loss,tags,equilibrium", [("non_saturating", "prob", 0.5), ("minimax", "prob", 0.5),
                                                   ("lsgan", "raw", 0.5), ("hinge", "raw", None),
                                                   ("wgan", "raw", None)])
def test_d_out_is_named_for_what_it_means_under_each_loss(loss, tags, equilibrium):
    gan = linear_gan(loss)
    assert {"d_out/real_" + tags, "d_out/fake_" + tags} <= set(gan.logged) and gan.d_equilibrium == equilibrium
    d = gan.discriminate(torch.tensor([0.5, 1.0]))
    assert torch.allclose(d, torch.tensor([0.5, 0.7311]) if tags == "prob" else torch.tensor([0.0, 1.0]), atol=1e-4)


class StepCounter:
    """What gan1d's direct path needs of a LightningOptimizer; learning rate 0, so the weights stay as they are."""

    def __init__(self, params):
        self.optimizer = torch.optim.SGD(params, lr=0.0)

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def _on_before_step(self):
        pass

    def _on_after_step(self):
        pass


def test_discriminator_step_logs_the_adversarial_loss_each_penalty_and_the_gradient_norm():
    from gan1d.module import gradient_norm_penalty, gradient_penalty

    torch.manual_seed(0)
    gan = linear_gan("non_saturating", r1_gamma=1.0, r2_gamma=2.0, gp_gamma=3.0)
    gan._direct, gan._d_params = True, list(gan.discriminator.parameters())
    assert gan.logged == ("loss/d", "d_out/real_prob", "d_out/fake_prob", "grad_norm/d", "penalty/r1", "penalty/r2",
                          "penalty/gp", "loss/g", "grad_norm/g")
    real, noise = torch.randn(64, 1), torch.randn(64, 1)
    torch.manual_seed(1)  # the gradient penalty's mixing weights
    stats = gan._discriminator_step(StepCounter(gan._d_params), real, noise)

    D, fake = gan.discriminator, gan.generator(noise).detach()
    z_real, z_fake = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    adversarial = gan.d_loss(D(z_real), D(z_fake))
    r1, r2 = gradient_norm_penalty(D(z_real), z_real), gradient_norm_penalty(D(z_fake), z_fake)
    torch.manual_seed(1)
    gp = gradient_penalty(D, gan.preprocessor, z_real, z_fake)
    grads = torch.autograd.grad(adversarial + r1 + 2 * r2 + 3 * gp, gan._d_params)
    norm = torch.cat([g.flatten() for g in grads]).norm()
    expected = [adversarial, torch.sigmoid(D(real)).mean(), torch.sigmoid(D(fake)).mean(), norm, r1, r2, gp]
    assert torch.allclose(torch.stack(stats), torch.stack(expected).detach(), rtol=1e-5)
