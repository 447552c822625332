"""Targets, preprocessors, networks, the data stream and the metrics, each on its own."""

import functools
import itertools
import math
import re

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from gan1d.data import MinibatchStream, StreamDataModule, stream_seed
from gan1d.losses import LOSSES, Penalties, gradient_norm_penalty, gradient_penalty
from gan1d.metrics import Evaluator, ks, wasserstein1
from gan1d.module import GAN1D, Optim
from gan1d.networks import SAMPLE_CHUNK, Discriminator, Generator
from gan1d.preprocessors import Diffs, Moments, Raw, Variances
from gan1d.targets import BadArgument, Comb, Exponential, Gaussian, Laplace, LogNormal, Mixture, StudentT, Uniform
from gan1d.updates import Updates


def _mixture_cdf(x, w=(0.25, 0.75), mu=(-2, 2), sd=(0.5, 1.0)):
    return sum(wi * stats.norm(m, s).cdf(x) for wi, m, s in zip(w, mu, sd, strict=True))


def _mixture_pdf(x, w=(0.25, 0.75), mu=(-2, 2), sd=(0.5, 1.0)):
    return sum(wi * stats.norm(m, s).pdf(x) for wi, m, s in zip(w, mu, sd, strict=True))


# Each family against scipy.stats (the mixture against its components' own scipy pdf and cdf).
FAMILIES = [
    (Gaussian(4, 1.25), stats.norm(4, 1.25)),
    (Uniform(-1, 3), stats.uniform(-1, 4)),
    (Laplace(1, 0.5), stats.laplace(1, 0.5)),
    (Exponential(2.0), stats.expon(scale=0.5)),
    (LogNormal(0.3, 0.5), stats.lognorm(0.5, scale=math.exp(0.3))),
    (StudentT(6, 1, 2), stats.t(6, 1, 2)),
    (StudentT(4, 0, 1), stats.t(4)),
    (StudentT(3, 0, 1), stats.t(3)),
    (StudentT(2, 0, 1), stats.t(2)),
    (StudentT(1, 0.5, 2), stats.t(1, 0.5, 2)),
    (Mixture([1, 3], [-2, 2], [0.5, 1.0]), None),
]
TARGETS = [t for t, _ in FAMILIES]


@pytest.mark.parametrize("target,ref", FAMILIES, ids=[repr(t) for t, _ in FAMILIES])
def test_target_pdf_cdf_quantile_and_moments_match_scipy(target, ref):
    x = np.linspace(-6.05, 12.05, 73)  # not on the uniform's edges, where the two define the pdf differently
    pdf, cdf = (ref.pdf, ref.cdf) if ref is not None else (_mixture_pdf, _mixture_cdf)
    assert np.allclose(target.pdf(torch.from_numpy(x)).numpy(), pdf(x), rtol=1e-9, atol=1e-14)
    assert np.allclose(target.cdf(torch.from_numpy(x)).numpy(), cdf(x), rtol=1e-9, atol=1e-14)
    p = np.array([1e-9, 1e-4, 0.05, 0.3, 0.5, 0.77, 0.999, 1 - 1e-9])
    assert np.allclose(cdf(target.quantile(p)), p, rtol=1e-8, atol=1e-15)
    got = target.moments()
    if ref is None:  # the mixture's, by integrating its pdf
        mean = integrate.quad(lambda t: t * _mixture_pdf(t), -20, 20)[0]
        var, third, fourth = (integrate.quad(lambda t, k=k: (t - mean) ** k * _mixture_pdf(t), -20, 20)[0]
                              for k in (2, 3, 4))
        skew, kurt = third / var**1.5, fourth / var**2 - 3
    else:
        mean, var, skew, kurt = (float(v) for v in ref.stats(moments="mvsk"))
    want = {"mean": mean, "std": math.sqrt(var), "skew": skew, "kurtosis": kurt}
    for k, v in want.items():  # scipy gives nan or inf for a moment that does not exist; gan1d gives None
        assert got[k] == (pytest.approx(v, rel=1e-9, abs=1e-12) if math.isfinite(v) else None), k


@pytest.mark.parametrize("target,ref", FAMILIES, ids=[repr(t) for t, _ in FAMILIES])
def test_target_sampler_matches_its_cdf(target, ref):
    x = target.sample(100_000, torch.Generator().manual_seed(0)).double().numpy()
    assert stats.kstest(x, ref.cdf if ref is not None else _mixture_cdf).pvalue > 1e-3


@pytest.mark.parametrize("cls,kwargs,key", [
    (Gaussian, {"std": 0}, "std=0"), (Gaussian, {"mean": float("nan")}, "mean=nan"),
    (Gaussian, {"std": True}, "std=true"), (Gaussian, {"std": 1e-30}, "std=1e-30"),
    (Uniform, {"low": 2, "high": 1}, "low=2"),
    (Mixture, {"weights": [1, 1], "means": [0], "stds": [1, 1]}, "weights="), (Mixture, {"stds": [1, -1]}, "stds="),
    (Laplace, {"scale": -1}, "scale=-1"), (Exponential, {"rate": "fast"}, "rate='fast'"),
    (LogNormal, {"mu": 100}, "mu=100"), (StudentT, {"df": 0.01}, "df=0.01"),
    (Comb, {"modes": 0}, "modes=0"), (Comb, {"modes": 2.5}, "modes=2.5"), (Comb, {"spacing": 0}, "spacing=0"),
    (Comb, {"std": -1}, "std=-1"), (Comb, {"spacing": 1e31}, "spacing=1e+31"),
    (Comb, {"modes": 1, "std": 1e-31}, "std=1e-31"),
])
def test_targets_refuse_bad_arguments_by_name(cls, kwargs, key):
    with pytest.raises(BadArgument, match=f"^{re.escape(key)}"):
        cls(**kwargs)


def test_target_sampling_is_reproducible_per_generator():
    t = Gaussian()
    a, b = (t.sample(5, torch.Generator().manual_seed(1)) for _ in range(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, t.sample(5, torch.Generator().manual_seed(2)))


def test_comb_is_the_mixture_of_equal_modes_spacing_apart():
    weights, means, stds = (t.tolist() for t in Comb(3, 2.5, 0.5).modes())
    assert weights == pytest.approx([1 / 3] * 3) and means == [-2.5, 0, 2.5] and stds == [0.5] * 3


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


@pytest.mark.parametrize("one_sided", [False, True])
def test_gradient_penalty_interpolates_with_the_given_weights(one_sided):
    # A critic whose slope changes along the line between real and fake, so the mixing weight decides the penalty:
    # D(x) = x^2, grad 2 x_hat at x_hat = alpha real + (1 - alpha) fake.
    real, fake = torch.tensor([[1.0], [-2.0], [0.3]]), torch.tensor([[-1.0], [0.5], [0.1]])
    alpha = torch.tensor([[0.9], [0.2], [0.5]])
    x_hat = alpha * real + (1 - alpha) * fake
    excess = 2 * x_hat.abs().squeeze(1) - 1
    want = (excess.clamp(min=0) if one_sided else excess).pow(2).mean()
    square = lambda z: Raw(1).features(z).pow(2).sum(1)  # noqa: E731
    assert gradient_penalty(square, 1, real, fake, alpha, one_sided).item() == pytest.approx(want.item())


def test_gradient_penalty_shares_one_weight_per_pack():
    # Pack 2: two packs of two samples; D(pack) = sum of squares, so the gradient's norm over a pack is
    # 2 ||x_hat_pack||, with one alpha for both samples of a pack.
    real, fake = torch.tensor([[1.0], [2.0], [-1.0], [0.5]]), torch.tensor([[0.0], [-1.0], [3.0], [1.0]])
    alpha = torch.tensor([[0.25], [0.75]])
    x_hat = torch.tensor([[0.25 * 1 + 0.75 * 0, 0.25 * 2 + 0.75 * -1], [0.75 * -1 + 0.25 * 3, 0.75 * 0.5 + 0.25 * 1]])
    want = (2 * x_hat.norm(dim=1) - 1).pow(2).mean()
    square = lambda z: Raw(2).features(z).pow(2).sum(1)  # noqa: E731
    assert gradient_penalty(square, 2, real, fake, alpha, one_sided=False).item() == pytest.approx(want.item())


def test_gradient_penalty_weights_come_from_the_stream():
    s = stream(mixing_weights=4)
    real, noise, alpha = s.item(7)
    assert alpha.shape == (3, 4, 1) and ((alpha >= 0) & (alpha < 1)).all()  # one per pack, for each D step
    assert torch.equal(alpha, s.item(7)[2]) and not torch.equal(alpha, s.item(8)[2])
    without = stream().item(7)
    assert without[2].numel() == 0  # no penalty, no draws: the real samples and the noise are the same either way
    assert torch.equal(real, without[0]) and torch.equal(noise, without[1])


# Each loss at known logits: the value and the gradient against its formula, written out with sigma = sigmoid.
REAL, FAKE = torch.tensor([-2.0, 0.5, 3.0]), torch.tensor([-1.0, 0.0, 2.0])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


r, f = REAL.double().numpy(), FAKE.double().numpy()
LOSS_FORMULAS = {  # name: (D loss, its gradient in real, in fake, G loss, its gradient in fake)
    "non_saturating": (np.mean(-np.log(_sigmoid(r))) + np.mean(-np.log(1 - _sigmoid(f))),
                       -(1 - _sigmoid(r)) / 3, _sigmoid(f) / 3, np.mean(-np.log(_sigmoid(f))), -(1 - _sigmoid(f)) / 3),
    "minimax": (np.mean(-np.log(_sigmoid(r))) + np.mean(-np.log(1 - _sigmoid(f))),
                -(1 - _sigmoid(r)) / 3, _sigmoid(f) / 3, np.mean(np.log(1 - _sigmoid(f))), -_sigmoid(f) / 3),
    "lsgan": (0.5 * (np.mean((r - 1) ** 2) + np.mean(f**2)), (r - 1) / 3, f / 3, 0.5 * np.mean((f - 1) ** 2),
              (f - 1) / 3),
    "hinge": (np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f)), (r < 1) / -3.0, (f > -1) / 3.0,
              -np.mean(f), np.full(3, -1 / 3)),
    "wgan": (np.mean(f) - np.mean(r), np.full(3, -1 / 3), np.full(3, 1 / 3), -np.mean(f), np.full(3, -1 / 3)),
}


@pytest.mark.parametrize("name", LOSS_FORMULAS)
def test_losses_values_and_gradients_match_their_formulas(name):
    d_loss, g_loss = LOSSES[name]
    d_value, d_real, d_fake, g_value, g_fake = LOSS_FORMULAS[name]
    real, fake = REAL.clone().requires_grad_(True), FAKE.clone().requires_grad_(True)
    loss = d_loss(real, fake)
    assert loss.item() == pytest.approx(d_value, rel=1e-6)
    grad_real, grad_fake = torch.autograd.grad(loss, (real, fake))
    assert np.allclose(grad_real.numpy(), d_real, rtol=1e-6) and np.allclose(grad_fake.numpy(), d_fake, rtol=1e-6)
    fake = FAKE.clone().requires_grad_(True)
    loss = g_loss(fake)
    assert loss.item() == pytest.approx(g_value, rel=1e-6)
    assert np.allclose(torch.autograd.grad(loss, fake)[0].numpy(), g_fake, rtol=1e-6)


def test_stream_shapes_and_distinct_seeds():
    batches = iter(stream(per_batch=4))
    real, noise, _ = next(batches)
    assert real.shape == (4, 3, 16, 1) and noise.shape == (4, 5, 16, 2)  # iterations, steps, batch, features
    assert not torch.equal(real, next(batches)[0])
    again = next(iter(stream(per_batch=4)))[0]
    other_seed = next(iter(stream(seed=1, per_batch=4)))[0]
    other_rank = next(iter(stream(rank=1, per_batch=4)))[0]
    assert torch.equal(real, again)
    assert not torch.equal(real, other_seed) and not torch.equal(real, other_rank)
    assert len({stream_seed(0, p, r) for p in (0, 1) for r in range(4)}) == 8


def test_stream_data_does_not_depend_on_batching_and_a_batch_ends_at_steps():
    one_by_one = [torch.cat(b) for b in zip(*itertools.islice(stream(steps=10), 16), strict=True)]
    in_fours = list(itertools.islice(stream(steps=10, per_batch=4), 5))
    # A batch ends at `steps`, where the run ends; the stream goes on past it for a run resumed to train longer.
    assert [len(real) for real, *_ in in_fours] == [4, 4, 2, 2, 4]
    assert all(torch.equal(a, torch.cat(b)) for a, b in zip(one_by_one, zip(*in_fours, strict=True), strict=True))


def test_stream_resumes_where_it_stopped():
    whole = list(itertools.islice(stream(steps=12, per_batch=4), 3))
    resumed = list(itertools.islice(stream(steps=12, per_batch=4, start=4), 2))
    assert all(torch.equal(a, b) for a, b in zip(whole[1], resumed[0], strict=True))
    odd = list(itertools.islice(stream(steps=12, per_batch=4, start=6), 2))  # from mid-batch: it ends where batches do
    assert [len(real) for real, *_ in odd] == [2, 4] and torch.equal(odd[0][0], whole[1][0][2:])


# What the model would pass a data stream (gan1d.build.build_datamodule): one normal noise input, one D and one G step.
ONE_NOISE = {"noise": "normal", "noise_dim": 1, "categories": 0, "d_steps": 1, "g_steps": 1}


def test_stream_workers_share_out_the_same_items():
    def loader(workers):
        dm = StreamDataModule(Gaussian(), steps=16, batch_size=8, iterations_per_batch=2, num_workers=workers,
                              **ONE_NOISE)
        return list(itertools.islice(dm.train_dataloader(), 8))

    one, two = loader(0), loader(2)
    # No two workers repeat a batch, and the data does not depend on how many.
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(one, two, strict=True))


def test_datamodule_estimates_scale_from_samples_not_config():
    dm = StreamDataModule(Gaussian(10, 3), steps=1, seed=0, **ONE_NOISE)
    assert dm.loc == pytest.approx(10, abs=0.1) and dm.scale == pytest.approx(3, rel=0.03)
    assert dm.loc != 10 and dm.scale != 3
    assert dm.eval_noise.shape == (20_000, 1)
    off = StreamDataModule(Gaussian(10, 3), steps=1, standardize=False, **ONE_NOISE)
    assert (off.loc, off.scale) == (0.0, 1.0)


def exact_w1(x: np.ndarray, ppf, cdf, partial) -> float:
    """W1 between the samples and a target, exactly: the integral over u of |x_(i) - Q(u)| on each ((i-1)/n, i/n),
    split where Q(u) = x_(i); the integrals of Q come from the target's partial expectations
    ``partial(q)`` = E[X; X < q] (0 at -inf, the mean at +inf)."""
    x = np.sort(x)
    u = np.arange(len(x) + 1) / len(x)
    q = ppf(u)  # -inf and +inf at the ends
    lo, hi = u[:-1], u[1:]
    at_lo, at_hi, at_x = partial(q[:-1]), partial(q[1:]), partial(x)
    f = cdf(x)
    mid = np.clip(f, lo, hi)
    at_mid = np.where(f < lo, at_lo, np.where(f > hi, at_hi, at_x))
    below, above = at_mid - at_lo, at_hi - at_mid  # the integrals of Q over (lo, mid) and (mid, hi)
    return float(np.sum(x * (mid - lo) - below + above - x * (hi - mid)))


def normal_partial(mu, sd):
    def partial(q):  # mu Phi(z) - sd phi(z)
        z = (q - mu) / sd
        density = np.exp(-0.5 * np.where(np.isfinite(z), z, 0) ** 2) / math.sqrt(2 * math.pi) * np.isfinite(z)
        return np.where(np.isposinf(q), mu, mu * special.ndtr(z) - sd * density)

    return partial


def t_partial(df):  # E[T; T < q] = -(df + q^2) / (df - 1) f(q)
    return lambda q: np.where(np.isfinite(q), -(df + np.where(np.isfinite(q), q, 0) ** 2) / (df - 1)
                              * stats.t(df).pdf(q), 0.0)


def mixture_partial(q, w=(0.25, 0.75), mu=(-2, 2), sd=(0.5, 1.0)):
    return sum(wi * normal_partial(m, s)(q) for wi, m, s in zip(w, mu, sd, strict=True))


def exact_w1_to_normal(x, mu, sd):
    return exact_w1(x, stats.norm(mu, sd).ppf, stats.norm(mu, sd).cdf, normal_partial(mu, sd))


def test_w1_is_exact_with_an_outlier_far_out():
    # A collapsed generator at the mean plus one sample at 1e6: W1 = E|X - 4| (most of the mass) + (1e6 - 4)/n.
    x = np.full(20_000, 4.0)
    x[-1] = 1e6
    exact = exact_w1_to_normal(x, 4, 1.25)
    assert exact == pytest.approx(50.9966, abs=1e-4)
    assert wasserstein1(x, Gaussian(4, 1.25)) == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("shift,scale", [(0, 1), (0.3, 1), (0, 1.5), (-2, 0.2)])
def test_w1_matches_the_exact_integral(shift, scale):
    t = Gaussian(4, 1.25)
    x = (4 + scale * (t.sample(20_000, torch.Generator().manual_seed(3)).double() - 4) + shift).numpy()
    assert wasserstein1(x, t) == pytest.approx(exact_w1_to_normal(x, 4, 1.25), rel=1e-4)


def test_w1_matches_the_exact_integral_for_heavy_tails_and_modes():
    heavy, modes = StudentT(3), Mixture([1, 3], [-2, 2], [0.5, 1.0])
    x = 1.02 * heavy.sample(20_000, torch.Generator().manual_seed(5)).double().numpy()
    assert wasserstein1(x, heavy) == pytest.approx(exact_w1(x, stats.t(3).ppf, stats.t(3).cdf, t_partial(3)), rel=1e-4)
    x = 1.02 * modes.sample(20_000, torch.Generator().manual_seed(5)).double().numpy()
    ppf = lambda u: np.concatenate([[-np.inf], modes.quantile(u[1:-1]), [np.inf]])  # noqa: E731
    assert wasserstein1(x, modes) == pytest.approx(exact_w1(x, ppf, _mixture_cdf, mixture_partial), rel=1e-4)


@pytest.mark.parametrize("target", [Uniform(-1, 3), Laplace(1, 0.5), Exponential(2.0), LogNormal(0.3, 0.5)], ids=repr)
def test_w1_matches_scipy_against_the_target_quantiles(target):
    # scipy's W1 between the samples and the target's quantiles at a million evenly spaced levels: the quantile
    # integral by the midpoint rule, which these tails let converge.
    x = target.sample(20_000, torch.Generator().manual_seed(5)).double().numpy() * 1.02
    reference = target.quantile((np.arange(1_000_000) + 0.5) / 1_000_000)
    assert wasserstein1(x, target) == pytest.approx(stats.wasserstein_distance(x, reference), rel=1e-4)


def test_evaluator_scores_and_exact_moments():
    t = Gaussian(4, 1.25)
    x = t.sample(20_000, torch.Generator().manual_seed(3)).numpy()
    scores = Evaluator(t)(x)
    assert scores["w1"] == pytest.approx(exact_w1_to_normal(x.astype(np.float64), 4, 1.25), rel=1e-4)
    assert scores["w1_over_std"] == scores["w1"] / 1.25
    exact_ks = stats.kstest(x.astype(np.float64), stats.norm(4, 1.25).cdf).statistic
    assert ks(x, t) == scores["ks"] == pytest.approx(exact_ks, abs=1e-12)
    assert scores["w1_over_std"] < 0.02 and scores["ks"] < 0.015  # the sampling-noise floor, 20,000 samples
    assert (scores["target_mean"], scores["target_std"], scores["target_skew"], scores["target_kurtosis"]) == \
        (4, 1.25, 0, 0)
    assert scores["skew_error"] == pytest.approx(stats.skew(x.astype(np.float64)), rel=1e-6)
    heavy = Evaluator(StudentT(3))(StudentT(3).sample(20_000, torch.Generator().manual_seed(0)))
    assert heavy["target_std"] == pytest.approx(math.sqrt(3)) and heavy["target_skew"] is None
    assert heavy["skew_error"] is None and heavy["kurtosis_error"] is None and math.isfinite(heavy["gen_skew"])
    collapsed = Evaluator(t)(np.full(20_000, 4.0))
    assert collapsed["w1"] == pytest.approx(1.25 * math.sqrt(2 / math.pi), rel=1e-5)  # E|X - mean|
    assert math.isnan(collapsed["gen_skew"])  # metrics.json writes it as null


def test_mode_coverage_names_a_collapse():
    bimodal = Mixture([0.5, 0.5], [-2, 2], [0.5, 0.5])
    evaluate = Evaluator(bimodal)
    both = evaluate(bimodal.sample(20_000, torch.Generator().manual_seed(0)))
    assert both["modes_covered"] == 1 and both["min_mode_mass"] > 0.48 and both["high_quality"] > 0.99
    one = evaluate(Gaussian(2, 0.5).sample(20_000, torch.Generator().manual_seed(0)))
    assert one["modes_covered"] == 0.5 and one["min_mode_mass"] == 0 and one["high_quality"] > 0.99
    between = evaluate(Gaussian(0, 0.2).sample(20_000, torch.Generator().manual_seed(0)))  # mass between the modes
    assert between["high_quality"] < 0.02 and between["modes_covered"] == 0


@pytest.mark.parametrize("executable", ["python", "/nonexistent/python", "/bin/true"],
                         ids=["drawing process", "cannot start", "dies at once"])
def test_painter_never_blocks_and_never_loses_a_figure(monkeypatch, executable):
    from gan1d import drawing
    from gan1d.drawing import Painter
    from gan1d.figures import OverlayData, overlay_png

    x = np.linspace(-3, 3, 50)
    data = OverlayData(x, np.exp(-x**2 / 2), np.random.default_rng(0).normal(size=500), "test")
    if executable != "python":
        monkeypatch.setattr(drawing.sys, "executable", executable)
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

    from gan1d.drawing import Painter

    painter = Painter(background=True)
    thread = painter.thread
    busy = painter.draw(time.sleep, 1.0)
    painter.close()
    assert busy.done() and not thread.is_alive()


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
    assert map_data(target, "normal", several, z, "", dim=3).ideal is None
    coded = map_inputs("normal", 1, categories=3)  # every category's map, in turn
    assert coded.shape == (1200, 4) and torch.equal(coded[400:800, 1:], torch.tensor([[0.0, 1.0, 0.0]]).expand(400, 3))
    per_category = map_data(target, "normal", coded, np.arange(1200.0), "", categories=3)
    assert per_category.g.shape == (3, 400) and per_category.g[1, 0] == 400 and per_category.ideal is None


def linear_gan(loss: str, **penalties):
    """A GAN1D whose discriminator is D(x) = 2x - 1 (no hidden layer; the preprocessor's scale is 1)."""
    gan = GAN1D(Generator(hidden=[8]), functools.partial(Discriminator, hidden=[]), Raw(1), loss=loss,
                penalties=Penalties(**penalties))
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


def test_discriminator_update_logs_the_adversarial_loss_each_penalty_and_the_gradient_norm():
    torch.manual_seed(0)
    gan = linear_gan("non_saturating", r1_gamma=1.0, r2_gamma=2.0, gp_gamma=3.0)
    gan._updates, gan._d_params = Updates(gan), list(gan.discriminator.parameters())
    assert gan.logged == ("loss/d", "d_out/real_prob", "d_out/fake_prob", "grad_norm/d", "penalty/r1", "penalty/r2",
                          "penalty/gp", "loss/g", "grad_norm/g")
    real, noise, alpha = torch.randn(64, 1), torch.randn(64, 1), torch.rand(64, 1)  # alpha: GP's mixing weights
    stats = gan._discriminator_update(StepCounter(gan._d_params), real, noise, alpha)

    D, fake = gan.discriminator, gan.generator(noise).detach()
    z_real, z_fake = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    adversarial = gan.d_loss(D(z_real), D(z_fake))
    r1, r2 = gradient_norm_penalty(D(z_real), z_real), gradient_norm_penalty(D(z_fake), z_fake)
    gp = gradient_penalty(gan.critic, 1, z_real, z_fake, alpha)
    grads = torch.autograd.grad(adversarial + r1 + 2 * r2 + 3 * gp, gan._d_params)
    norm = torch.cat([g.flatten() for g in grads]).norm()
    expected = [adversarial, torch.sigmoid(D(real)).mean(), torch.sigmoid(D(fake)).mean(), norm, r1, r2, gp]
    assert torch.allclose(torch.stack(stats), torch.stack(expected).detach(), rtol=1e-5)


def test_discriminator_update_without_input_penalties_scores_real_and_fake_in_one_call_as_in_two():
    # No R1/R2: real and fake go through D together. Packs must not straddle the two, nor the two trade places.
    torch.manual_seed(0)
    gan = GAN1D(Generator(hidden=[8]), functools.partial(Discriminator, hidden=[16]), Variances(4),
                penalties=Penalties(r1_gamma=0.0))
    gan._updates, gan._d_params = Updates(gan), list(gan.discriminator.parameters())
    real, noise = torch.randn(64, 1) + 3.0, torch.randn(64, 1)
    calls = []
    gan.discriminator.register_forward_hook(lambda module, args, out: calls.append(len(out)))
    stats = gan._discriminator_update(StepCounter(gan._d_params), real, noise, torch.zeros(0))
    assert calls == [32]  # 16 packs of real, 16 of fake: one call

    with torch.no_grad():
        d_real, d_fake = gan.critic(real), gan.critic(gan.generator(noise))
    adversarial = gan.d_loss(d_real, d_fake)
    expected = [adversarial, torch.sigmoid(d_real).mean(), torch.sigmoid(d_fake).mean()]
    assert torch.allclose(torch.stack(stats[:3]), torch.stack(expected), rtol=1e-5)


def test_a_categorical_code_comes_after_the_noise_one_hot():
    from gan1d.networks import sample_noise

    plain = sample_noise("normal", 1000, 2, torch.Generator().manual_seed(0))
    coded = sample_noise("normal", 1000, 2, torch.Generator().manual_seed(0), categories=5)
    assert coded.shape == (1000, 7) and torch.equal(coded[:, :2], plain)  # the noise does not depend on the code
    code = coded[:, 2:]
    assert set(code.unique().tolist()) == {0.0, 1.0} and torch.equal(code.sum(1), torch.ones(1000))
    assert code.mean(0).tolist() == pytest.approx([0.2] * 5, abs=0.04)  # equally likely categories


def test_a_generator_with_categories_starts_them_apart():
    g = Generator(noise_dim=2, categories=10)
    first = g.net[0]
    assert first.in_features == 12 and g.noise_like(3).shape == (3, 12)
    bound = 1 / math.sqrt(12)  # torch's default init for 12 inputs
    assert first.weight[:, :2].abs().max() <= bound  # the noise columns keep it
    assert first.weight[:, 2:].abs().max() > 3 * bound and first.weight[:, 2:].abs().max() <= 1
    assert Generator(**g.config).config == g.config  # a checkpoint rebuilds it


def test_stream_carries_the_categorical_code():
    s = MinibatchStream(Gaussian(), batch_size=16, noise="normal", noise_dim=2, d_steps=1, g_steps=1, seed=0,
                        steps=4, iterations_per_batch=2, categories=3)
    real, noise, _ = next(iter(s))
    assert real.shape == (2, 1, 16, 1) and noise.shape == (2, 2, 16, 5)
    assert torch.equal(noise[..., 2:].sum(-1), torch.ones(2, 2, 16))


def test_each_update_of_an_iteration_gets_its_own_minibatch():
    gan = GAN1D(Generator(hidden=[8]), functools.partial(Discriminator, hidden=[4]), Raw(1),
                optim=Optim(d_steps=2, g_steps=3, ema=0), penalties=Penalties(r1_gamma=0))
    seen = []
    gan._discriminator_update = lambda opt, real, noise, alpha: seen.append(("d", real, noise)) or [torch.zeros(())] * 4
    gan._generator_update = lambda opt, noise: seen.append(("g", noise)) or [torch.zeros(())] * 2
    gan._sums = torch.zeros(len(gan.logged))
    real, noise, alpha = torch.randn(2, 4, 1), torch.randn(5, 4, 1), torch.rand(2, 0, 1)
    gan.one_iteration(None, None, real, noise, alpha, 0.0)
    assert [s[0] for s in seen] == ["d", "d", "g", "g", "g"]
    for i in range(2):  # D step i: real minibatch i and noise minibatch i
        assert torch.equal(seen[i][1], real[i]) and torch.equal(seen[i][2], noise[i])
    for j in range(3):  # G step j: noise minibatch d_steps + j, never one D has seen
        assert torch.equal(seen[2 + j][1], noise[2 + j])


def test_logged_values_are_means_over_their_own_window():
    gan = GAN1D(Generator(hidden=[8]), functools.partial(Discriminator, hidden=[4]), Raw(1), log_every=2)
    gan._sums, gan._count = torch.zeros(len(gan.logged)), 0
    reported = []
    gan.report = reported.append
    for done in range(1, 5):
        gan._sums.add_(torch.full((len(gan.logged),), float(done)))
        gan._end_iteration(done)
    assert [set(r.values()) for r in reported] == [{1.5}, {3.5}]  # iterations 1-2, then 3-4 alone


def test_the_generator_update_leaves_the_discriminator_without_gradients():
    gan = linear_gan("non_saturating")
    gan._updates, gan._g_params = Updates(gan), list(gan.generator.parameters())
    gan._d_params = list(gan.discriminator.parameters())
    gan._generator_update(StepCounter(gan._g_params), torch.randn(64, 1))
    assert all(p.grad is not None for p in gan._g_params)
    assert all(p.grad is None and p.requires_grad for p in gan._d_params)  # frozen, then given back


def test_sampling_more_than_one_chunk_gives_every_sample():
    n = SAMPLE_CHUNK + 7
    assert Generator(hidden=[4]).sample(n, torch.Generator().manual_seed(0)).shape == (n,)


@pytest.mark.parametrize("one_sided", [True, False])
def test_discriminator_update_penalises_by_the_configured_side(one_sided):
    gan = linear_gan("wgan", r1_gamma=0.0, gp_gamma=1.0, gp_one_sided=one_sided)
    with torch.no_grad():
        gan.discriminator.net[0].weight.fill_(0.5)  # slope 0.5 everywhere: only a two-sided penalty sees it
    gan._updates, gan._d_params = Updates(gan), list(gan.discriminator.parameters())
    real, noise, alpha = torch.randn(8, 1), torch.randn(8, 1), torch.rand(8, 1)
    stats = gan._discriminator_update(StepCounter(gan._d_params), real, noise, alpha)
    assert gan.logged[4] == "penalty/gp"
    assert stats[4].item() == pytest.approx(0.0 if one_sided else 0.25)  # (0.5 - 1)^2
