"""The discriminator's correction (gan1d.correction): a classifier's odds after training, and the samples it keeps."""

import shutil
from dataclasses import asdict

import numpy as np
import pytest
import torch
from helpers import run_cli

from gan1d import correction
from gan1d.correction import FILE, Fit
from gan1d.estimators import spacing
from gan1d.metrics import Evaluator, ks, mode_masses, wasserstein1
from gan1d.run import train
from gan1d.targets import Empirical, Gaussian, Mixture


class Drawn:
    """A stand-in generator without atoms: ``sample(n, rng)`` draws from a fixed target."""

    atom_values = torch.empty(0)

    def __init__(self, target):
        self.target = target

    def sample(self, n, rng, atoms=True):
        return self.target.sample(n, rng).float()


def test_the_odds_are_the_density_ratio_and_the_kept_samples_the_target():
    target, made = Gaussian(0, 1), Gaussian(0, 1.5)
    fitted = correction.fit(Drawn(made), target)
    x = torch.linspace(-2, 2, 41)
    true = target.pdf(x).log() - made.pdf(x).log()
    assert (fitted.odds(x) - true).abs().max() < 0.15
    rng = torch.Generator().manual_seed(1)
    raw, (kept, acceptance) = made.sample(20_000, rng), fitted.sample(Drawn(made), 20_000, rng)
    score = Evaluator(target)
    assert score(raw)["ks"] > 0.08 and score(kept)["ks"] < 0.015
    assert 0.5 < acceptance < 0.8  # p/q peaks at 1.5 in the middle: about 1/1.5 kept


def test_the_fourier_features_resolve_modes_narrow_against_the_range():
    """Three modes 0.15 wide, 0.8 apart, and a fourth 18 away: the generator's light and heavy neighbours swapped.
    The corrected samples give each mode its weight; without the Fourier features (every frequency 0) the
    classifier on the raw value cannot tell the neighbours apart."""
    means, stds = (-10, -9.2, -8.4, 10), (0.15,) * 4
    target, made = (Mixture(w, means, stds) for w in ((0.3, 0.1, 0.3, 0.3), (0.1, 0.3, 0.3, 0.3)))
    modes = [m.numpy() for m in target.modes()]

    def ratios(**how):
        kept, _ = correction.fit(Drawn(made), target, Fit(**how)).sample(Drawn(made), 20_000,
                                                                       torch.Generator().manual_seed(1))
        return mode_masses(kept.numpy(), *modes)

    assert ratios() == pytest.approx([1, 1, 1, 1], abs=0.06)
    assert max(ratios(bandwidth=0.0)) > 1.3


class Tilt(torch.nn.Module):
    """A classifier's log odds set by hand: ``slope * x``."""

    def __init__(self, slope: float):
        super().__init__()
        self.slope = slope

    def forward(self, x):
        return self.slope * x


@pytest.mark.parametrize("slope,kept", [(0.5, True), (-3.0, False)])
def test_the_check_keeps_a_correction_only_where_it_brings_the_draws_closer(slope, kept):
    """Made N(0, 1), target N(0.5, 1): p/q = exp(x / 2 - 1/8), so a tilt of 1/2 is the exact correction and one of -3
    drags the draws the wrong way."""
    made, target = Gaussian(0, 1), Gaussian(0.5, 1)
    tilt = correction.Correction(Tilt(slope), log_bound=3 * abs(slope), record={})
    check = correction.checked(tilt, Drawn(made), lambda x: (wasserstein1(x, target), ks(x, target)),
                               Fit(check_draws=5000))
    assert check["kept"] is kept and (check["w1_ratio"] < 1) is kept and (check["ks_ratio"] < 1) is kept


@pytest.mark.parametrize("validation", [0.0, 0.2])
def test_a_data_correction_is_checked_on_the_validation_part_only(monkeypatch, tmp_path, validation):
    """Never on training values, which the generator trained on: on the validation part where there is one, else
    not at all (kept)."""
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=600))
    target, made = Empirical(str(tmp_path / "x.npy"), validation=validation), Drawn(Gaussian(0.3, 1.2))
    checked_on = []
    ks_two_sample = correction.ks_two_sample
    monkeypatch.setattr(correction, "ks_two_sample", lambda x, y: checked_on.append(y) or ks_two_sample(x, y))
    check = correction.fit(made, target, Fit(samples=4000, steps=200, check_draws=2000)).record["check"]
    if validation:
        assert len(checked_on) == 2 and all(np.array_equal(y, target.validation) for y in checked_on)
        assert check["on"].startswith(f"the validation part's {len(target.validation)} values")
        assert check["kept"] and check["w1_ratio"] < 1  # made is off by 0.3 sd: the correction helps
    else:
        assert checked_on == [] and check["kept"] and check["on"].startswith("nothing: the generator trained on")


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_a_classifier_no_better_than_chance_on_fresh_draws_stops_at_its_probe_and_is_off(monkeypatch, shift):
    """A generator that draws the target itself leaves nothing to learn: the fit stops at probe_step and the
    correction is off, unchecked. Half an sd apart, the classifier beats chance and the fit goes on to the check."""
    checks = []
    monkeypatch.setattr(correction, "checked", lambda *args: checks.append(args) or {"on": "a test", "kept": True})
    how = Fit(samples=4000, steps=400, probe_step=100, probe_draws=20_000)
    record = correction.fit(Drawn(Gaussian(0, 1)), Gaussian(shift, 1), how).record
    assert record["above_chance"] is bool(shift) and record["steps_taken"] == (400 if shift else 100)
    assert len(checks) == bool(shift) and record["check"]["kept"] is bool(shift)


def test_each_values_spacing_is_its_distance_to_its_kth_nearest():
    # Copies count as neighbours; past the ends there are none.
    assert spacing(np.array([6.0, 0, 10, 3, 1]), 2).tolist() == [4, 3, 7, 3, 2]
    assert spacing(np.array([2.0, 5, 2, 2]), 1).tolist() == [0, 3, 0, 0]


@pytest.fixture
def two_spacings(tmp_path):
    """Data in two clusters: 151 values 1/150 apart in [0, 1], 150 whole numbers from 100."""
    np.save(tmp_path / "x.npy", np.concatenate([np.linspace(0, 1, 151).round(3), np.arange(100.0, 250.0)]))
    target = Empirical(str(tmp_path / "x.npy"))
    assert target.decimals == 3 and not len(target.atoms.values)
    return target


def test_the_classifier_draws_a_data_targets_values_each_spread_by_its_own_spacing(two_spacings):
    """Each training value spread by N(0, its spacing^2), at the data's decimals: the close values hardly move, the
    whole numbers 1 apart are spread over the gaps between them. A formula's draws, or neighbours=0, are its own."""
    gaussian = Gaussian(0, 1)
    assert correction.real_draws(gaussian, Fit()) == gaussian.sample
    assert correction.real_draws(two_spacings, Fit(neighbours=0)) == two_spacings.sample
    x = correction.real_draws(two_spacings, Fit(neighbours=1))(200_000, torch.Generator().manual_seed(0)).numpy()
    x = x.astype(np.float64)
    np.testing.assert_allclose(x * 1000, np.round(x * 1000), atol=1e-2)  # at the data's decimals
    close, wide = x[x < 50], x[x > 50]
    assert -0.2 < close.min() and close.max() < 1.2  # spread by about 1/150
    assert (wide - np.round(wide)).std() > 0.2  # spread by about 1: off the whole numbers


def test_a_data_correction_is_fitted_on_the_spread_values(monkeypatch, two_spacings):
    fitted_on = []

    def fit_odds(generator, draw, how):
        fitted_on.append(draw)
        raise InterruptedError  # enough: what it was given

    monkeypatch.setattr(correction, "fit_odds", fit_odds)
    with pytest.raises(InterruptedError):
        correction.fit(Drawn(Gaussian(0, 1)), two_spacings, Fit())
    x = fitted_on[0](10_000, torch.Generator().manual_seed(0)).numpy()
    assert not np.isin(x, two_spacings.train.astype(np.float32)).all()


@pytest.mark.parametrize("knobs", [{"steps": 0}, {"probe_step": 0}])
def test_a_fit_that_would_never_reach_its_probe_is_refused(knobs):
    with pytest.raises(ValueError, match=r"steps \(\d+\) and probe_step \(\d+\) must be at least 1"):
        Fit(**knobs)


def test_the_gain_over_chance_is_the_log_likelihood_a_classifier_adds_to_a_coin_flip():
    """Made N(0, 1), target N(0.5, 1): the exact log odds x / 2 - 1/8 gain the Jensen-Shannon divergence, 0.0303
    nats; log odds of 0 gain nothing."""
    rng = torch.Generator().manual_seed(0)
    probe = torch.cat([torch.randn(200_000, generator=rng) + 0.5, torch.randn(200_000, generator=rng)])
    exact = correction.gain_over_chance(lambda x: x / 2 - 1 / 8, probe)
    assert exact["above_chance"] and exact["gain_nats"] == pytest.approx(0.0303, abs=3 * exact["gain_se"])
    coin = correction.gain_over_chance(lambda x: 0 * x, probe)
    assert coin["gain_nats"] == 0 and not coin["above_chance"]


def test_the_evaluation_line_says_why_a_correction_is_off():
    from gan1d.evaluate import verdict

    chance = {"above_chance": False, "gain_nats": -3e-5, "gain_se": 2e-5,
              "check": {"on": "100,000 fresh draws of each side", "kept": False}}
    assert verdict(chance).startswith("off: it told the two apart no better than chance")
    assert "gain -3.0e-05 nats, standard error 2.0e-05, on 100,000 fresh draws of each side" in verdict(chance)
    refused = {"above_chance": True, "check": {"on": "the target's exact distribution", "kept": False,
                                                "w1_ratio": 1.2, "ks_ratio": 1.1}}
    assert verdict(refused) == ("off: it did not bring the draws closer to the check's values, so these are the "
                                "generator's own (checked on the target's exact distribution: W1 x1.20, KS x1.10)")
    kept = {**refused, "acceptance": 0.42, "check": {**refused["check"], "kept": True}}
    assert verdict(kept).startswith("42.0% of draws accepted (checked on")


def test_a_correction_its_check_turns_off_gives_the_generators_own_samples(monkeypatch):
    made = Drawn(Gaussian(0, 1))
    monkeypatch.setattr(correction, "checked", lambda *args: {"on": "a test", "kept": False})
    fitted = correction.fit(made, Gaussian(0.5, 1), Fit(samples=4000, steps=50))
    x, acceptance = fitted.sample(made, 1000, torch.Generator().manual_seed(3))
    assert acceptance == 1.0 and torch.equal(x, made.sample(1000, torch.Generator().manual_seed(3)))


def test_a_saved_correction_is_read_back_only_when_fitted_with_this_versions_knobs(tmp_path):
    """A correction.pt fitted with other knobs (an older, smaller check) is fitted anew, not trusted."""
    how = Fit()
    odds = correction.OddsNet(how.features, how.bandwidth, how.hidden, how.seed)
    path, check = tmp_path / FILE, {"on": "a test", "kept": False}
    correction.save(correction.Correction(odds, 0.5, {"fit": asdict(how), "check": check}), path, "abc")
    back = correction.load(path, "abc")
    assert back.log_bound == 0.5 and not back.on and torch.equal(back.odds.frequencies, odds.frequencies)
    assert correction.load(path, "another checkpoint") is None
    smaller = {"fit": asdict(Fit(check_draws=20_000)), "check": check}
    correction.save(correction.Correction(odds, 0.5, smaller), path, "abc")
    assert correction.load(path, "abc") is None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from hydra import compose, initialize_config_module

    run_dir = tmp_path_factory.mktemp("correction") / "run"
    with initialize_config_module("gan1d.conf", version_base="1.3"):
        cfg = compose("train", overrides=["target=bimodal", "steps=100", "log_every=50", "eval_every=50",
                                          "figure_every=50", "logger=none", f"run_dir={run_dir}"])
    assert train(cfg)["status"] == "ok"
    return run_dir


def test_evaluate_reports_both_scores_and_the_fit_is_kept_for_its_checkpoint(run, tmp_path):
    from gan1d.evaluate import evaluate
    from gan1d.sample import sample

    first = evaluate(run, n=5000, correct=True)
    assert first["correction"]["fitted_now"] and (run / FILE).is_file()
    figure = run / "correction.png"  # the overlay with the corrected samples, over the learned and measured log p/q
    assert first["correction"]["figure"] == str(figure) and figure.stat().st_size > 10_000
    assert first["uncorrected"]["w1_over_std"] == evaluate(run, n=5000)["w1_over_std"]
    assert first["ks"] < first["uncorrected"]["ks"] and 0 < first["correction"]["acceptance"] < 1
    again = evaluate(run, n=5000, correct=True)
    assert not again["correction"]["fitted_now"] and again["ks"] == first["ks"]
    assert np.array_equal(sample(run, 100, seed=3, correct=True), sample(run, 100, seed=3, correct=True))
    # Another checkpoint (a run trained on) is fitted anew.
    other = shutil.copytree(run, tmp_path / "other")
    ckpt = other / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(ckpt.read_bytes() + b"\0")
    assert evaluate(other, n=5000, correct=True)["correction"]["fitted_now"]


def test_the_cli_samples_corrected_and_refuses_bad_input_in_one_line(run, tmp_path):
    proc = run_cli("gan1d.sample", f"ckpt={run}", "correct=true", "n=300", f"out={tmp_path / 's.npy'}", cwd=tmp_path)
    assert proc.returncode == 0 and "wrote 300 corrected samples" in proc.stdout, proc.stderr[-2000:]
    assert np.load(tmp_path / "s.npy").shape == (300,)
    proc = run_cli("gan1d.evaluate", f"ckpt={run}", "correct=maybe", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == ("gan1d.evaluate: correct='maybe' is not allowed: it must "
                                                            "be true or false")
    bare = tmp_path / "bare"  # a run dir with its checkpoint and nothing saying what it trained on
    (bare / "checkpoints").mkdir(parents=True)
    (bare / "checkpoints" / "last.ckpt").write_bytes((run / "checkpoints" / "last.ckpt").read_bytes())
    proc = run_cli("gan1d.sample", f"ckpt={bare}", "correct=true", f"out={tmp_path / 't.npy'}", cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-2000:]
    assert proc.stderr.startswith(f"gan1d.sample: correct=true: {bare} has no .hydra/config.yaml")
    assert sorted(p.name for p in bare.rglob("*")) == ["checkpoints", "last.ckpt"]
    assert not (tmp_path / "t.npy").exists()


def test_a_changed_data_file_is_refused_unless_allowed(make_cfg, tmp_path):
    """The correction fits to the run's training part, which a changed file may no longer hold."""
    from gan1d.checkpoints import SampleError
    from gan1d.sample import sample

    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).normal(size=400))
    train(make_cfg("target=empirical", f"target.path={path}", "steps=20", "log_every=10", "eval_every=10",
                   "figure_every=10", "logger=none"))
    np.save(path, np.random.default_rng(1).normal(size=400))
    with pytest.raises(SampleError, match="its sha256 is .* allow_changed=true scores anyway"):
        sample(tmp_path, 10, correct=True)
    assert not (tmp_path / FILE).exists()
    assert sample(tmp_path, 10, correct=True, allow_changed=True).shape == (10,)

