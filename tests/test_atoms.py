"""Atoms (gan1d.atoms): values a column repeats far more often than a density allows, placed exactly by the
generator beside the continuous part it learns, and scored as they are."""

import json
import re

import numpy as np
import pytest
import torch

from gan1d import correction
from gan1d.atoms import MIN_COUNT, NO_ATOMS, RATIO, exact, find_atoms
from gan1d.checkpoints import load_generator
from gan1d.correction import Fit
from gan1d.figures import bin_edges, overlay_data, pdf_overlay, smooth_density
from gan1d.loading import DataError
from gan1d.metrics import Evaluator, ks_two_sample
from gan1d.networks import Generator
from gan1d.run import train
from gan1d.sample import sample
from gan1d.targets import BadArgument, Empirical


def rainfall(n: int = 2000, dry: float = 0.6, seed: int = 0) -> np.ndarray:
    """Dry days (exactly 0) and wet ones (lognormal amounts, rounded to 0.1 as gauges read them)."""
    rng = np.random.default_rng(seed)
    wet = np.round(rng.lognormal(1, 0.8, n) + 0.1, 1)
    return np.where(rng.random(n) < dry, 0.0, wet)


def test_the_rule_finds_the_dry_days_and_not_rounding():
    atoms = find_atoms(rainfall())
    assert atoms.values.tolist() == [0.0] and atoms.weights[0] == pytest.approx(0.6, abs=0.03)
    rng = np.random.default_rng(0)
    assert len(find_atoms(np.round(rng.normal(size=5000), 1)).values) == 0  # rounded readings: every value repeats
    assert len(find_atoms(np.round(rng.normal(170, 10, 300))).values) == 0  # whole millimetres, few values
    assert len(find_atoms(rng.normal(size=5000)).values) == 0


@pytest.mark.parametrize("preset, atoms", [("seattle_precipitation", [0.0]), ("seattle_wind", []),
                                           ("penguins_flipper", [])])
def test_the_shipped_columns(preset, atoms):
    """The dry days are an atom; wind rounded to 0.1 m/s and flippers to whole millimetres have none."""
    from gan1d import compose
    from gan1d.build import build_target

    assert build_target(compose([f"target={preset}"]).target).atoms.values.tolist() == atoms


@pytest.mark.parametrize("count, neighbour, atom", [(MIN_COUNT, 1, True), (MIN_COUNT - 1, 0, False),
                                                   (RATIO * 3, 3, True), (RATIO * 3 - 1, 3, False)])
def test_the_rule_at_its_bounds(count, neighbour, atom):
    """A value repeated ``count`` times among distinct values, its busiest neighbour ``neighbour`` times."""
    spread = np.linspace(1, 2, 50)
    x = np.concatenate([spread, [0.5] * count, [0.4] * neighbour])
    assert (0.5 in find_atoms(x).values) == atom


def test_the_generator_places_atoms_at_their_weights_and_keeps_the_network_s_distribution():
    for noise in ("normal", "uniform"):
        torch.manual_seed(0)
        g = Generator(noise=noise, noise_dim=2, categories=3)
        plain = g.sample(200_000, torch.Generator().manual_seed(1)).numpy()
        g.set_support([0.0, 0.1], [0.3, 0.2], None)
        x = g.sample(200_000, torch.Generator().manual_seed(2)).numpy()
        assert np.mean(x == 0) == pytest.approx(0.3, abs=0.005)
        assert np.mean(x == np.float32(0.1)) == pytest.approx(0.2, abs=0.005)
        rest = x[(x != 0) & (x != np.float32(0.1))]
        assert len(rest) == pytest.approx(100_000, rel=0.02) and ks_two_sample(rest, plain) < 0.01
        assert torch.equal(g.sample(10, torch.Generator().manual_seed(3), atoms=False),
                           g(g.noise_like(10, torch.Generator().manual_seed(3))).squeeze(1))
    # Without atoms the model is the network, draw for draw.
    z = g.noise_like(1000)
    g.set_support([], [], None)
    assert torch.equal(g.draw(z), g(z))


def test_the_data_target_sets_its_atoms_apart(tmp_path):
    path = tmp_path / "rain.npy"
    np.save(path, rainfall())
    target = Empirical(path=str(path))
    assert target.record["atoms"] == [{"value": 0.0, "count": int(np.sum(target.train == 0)),
                                       "weight": float(np.mean(target.train == 0))}]
    drawn = target.sample(10_000, torch.Generator().manual_seed(0))
    assert (drawn > 0).all()  # training draws the continuous part only
    off = Empirical(path=str(path), atoms=False)
    assert off.record["atoms"] == [] and (off.sample(10_000, torch.Generator().manual_seed(0)) == 0).any()
    with pytest.raises(BadArgument, match="atoms='yes' is not allowed"):
        Empirical(path=str(path), atoms="yes")
    np.save(path, np.r_[np.zeros(500), np.linspace(1, 2, 15)])
    with pytest.raises(DataError, match=r"beside its atoms 0 \(\d+ times\), \d+ training values are left, too few"):
        Empirical(path=str(path))


def test_samples_meet_the_data_s_atoms_where_they_are(tmp_path):
    """A float32 sample of an atom at 0.1 is scored as 0.1, not as its float32 neighbour: KS would count the atom's
    whole weight as missed."""
    values = np.r_[np.full(600, 0.1), np.linspace(1, 3, 400)]
    x = np.float32(values).astype(np.float64)
    assert ks_two_sample(x, values) == pytest.approx(0.6)
    assert ks_two_sample(exact(x, [0.1]), values) < 0.002  # the other values stay float32 roundings
    np.save(tmp_path / "x.npy", values)
    target = Empirical(path=str(tmp_path / "x.npy"))
    scores = Evaluator(target)(torch.from_numpy(np.float32(target.held_out)))
    assert scores["ks"] < 0.01 and scores["atom_share"] == scores["target_atom_share"]


@pytest.fixture(scope="module")
def rain_run(tmp_path_factory):
    from hydra import compose, initialize_config_module

    folder = tmp_path_factory.mktemp("atoms")
    np.save(folder / "rain.npy", rainfall())
    with initialize_config_module("gan1d.conf", version_base="1.3"):
        cfg = compose("train", overrides=["target=empirical", f"target.path={folder / 'rain.npy'}", "steps=300",
                                          "log_every=50", "eval_every=100", "figure_every=300", "logger=none",
                                          f"run_dir={folder / 'run'}"])
    return train(cfg), folder / "run"


def test_a_run_places_the_atoms_and_scores_them(rain_run):
    record, run_dir = rain_run
    assert record["status"] == "ok"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    weight = json.loads((run_dir / "data.json").read_text())["atoms"][0]["weight"]
    assert metrics["atom_share"] == pytest.approx(weight, abs=0.01)
    assert metrics["target_atom_share"] == pytest.approx(0.6, abs=0.05)
    assert metrics["ks"] < 0.15  # blurred into a bump, the dry days alone would cost KS ~0.3
    x = sample(run_dir, 50_000)
    assert np.mean(x == 0) == pytest.approx(weight, abs=0.01)
    assert load_generator(run_dir).config["atoms"] == [[0.0, weight]]
    # The amounts are written to tenths (gan1d.rounding): so are the samples.
    assert load_generator(run_dir).config["decimals"] == 1
    assert np.array_equal(x, np.float32(np.round(x.astype(np.float64), 1)))


def test_a_csv_of_samples_is_written_at_the_data_s_decimals(rain_run, tmp_path):
    from gan1d.sample import main

    _, run_dir = rain_run
    main([f"ckpt={run_dir}", "n=2000", f"out={tmp_path / 'x.csv'}"])
    lines = (tmp_path / "x.csv").read_text().split()
    assert all(re.fullmatch(r"-?\d+\.\d", line) for line in lines)  # 0.3, never float32's 0.300000012
    assert np.array_equal(np.float32(np.array(lines, dtype=float)), sample(run_dir, 2000))


def test_the_correction_keeps_the_atoms_weights(rain_run):
    _, run_dir = rain_run
    generator = load_generator(run_dir)
    target = correction.trained_on(run_dir / "checkpoints" / "last.ckpt")
    fitted = correction.fit(generator, target, Fit(samples=5000, steps=50))
    x, _ = fitted.sample(generator, 50_000, torch.Generator().manual_seed(0))
    assert torch.mean((x == 0).float()) == pytest.approx(generator.config["atoms"][0][1], abs=0.01)
    assert Evaluator(target)(x)["ks"] < 0.15


def test_the_overlay_draws_atoms_apart(rain_run, tmp_path):
    _, run_dir = rain_run
    target = correction.trained_on(run_dir / "checkpoints" / "last.ckpt")
    x = sample(run_dir, 20_000)
    data = overlay_data(target, x, "rain")
    assert data.atoms.tolist() == [0.0] and data.atom_shares[0] == pytest.approx(0.6, abs=0.05)
    edges = np.linspace(data.x[0], data.x[-1], 121)
    area = smooth_density(x, edges, data.atoms).sum() * (edges[1] - edges[0])
    assert area == pytest.approx(np.mean((x != 0) & (x >= edges[0]) & (x <= edges[-1])), abs=1e-6)
    # Drawn: the generated histogram on bins that hold whole tenths, the atom a labelled line.
    from matplotlib.patches import StepPatch

    ax = pdf_overlay(data).axes[0]
    generated = next(p for p in ax.patches if isinstance(p, StepPatch))
    assert np.allclose(generated.get_data().edges, bin_edges(data.x[0], data.x[-1], 1))
    assert any(line.get_label().startswith("atom 0: ") for line in ax.get_lines())


def test_d_star_is_left_out_for_a_column_with_atoms(rain_run):
    """D sees the continuous part only; the target's pdf is the whole column's, so there is no D* to draw or gap."""
    _, run_dir = rain_run
    assert "d_star_gap" not in json.loads((run_dir / "metrics.json").read_text())


def test_a_run_from_before_atoms_is_read_as_it_was_trained(rain_run, tmp_path):
    """A checkpoint whose generator carries no atoms was trained on the whole column: the correction and the scores
    must not set its atom apart, nor round its samples."""
    import shutil

    from gan1d.checkpoints import trained_target

    _, run_dir = rain_run
    old = shutil.copytree(run_dir, tmp_path / "old")
    ckpt = old / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)
    for key in ("atoms", "decimals"):
        del state["gan1d_generator"]["config"][key]
    torch.save(state, ckpt)
    node = trained_target(ckpt)
    assert node.atoms is False and node.decimals is None
    assert trained_target(run_dir / "checkpoints" / "last.ckpt").get("atoms", True) is True


def test_the_correction_takes_atoms_by_the_noise_not_by_value():
    """A network value that rounds onto the atom is the network's, not the atom's: the corrected column keeps the
    atom's weight plus the network's own share there, not that share twice."""
    torch.manual_seed(0)
    g = Generator()
    raw = g.sample(10_000)
    g.scale.fill_(0.1 / raw.std().item())  # the network's values spread 0.1 about 0: about 40% round to 0.0
    g.loc.fill_(-raw.mean().item() * g.scale.item())
    g.set_support([0.0], [0.4], 1)
    own = torch.mean((g.sample(100_000, torch.Generator().manual_seed(1), atoms=False) == 0).float()).item()
    assert 0.2 < own < 0.6
    keep_all = correction.Correction(correction.OddsNet(4, 1.0, 4, 0), log_bound=0.0, record={})
    torch.nn.init.zeros_(keep_all.odds.net[-1].weight)
    torch.nn.init.zeros_(keep_all.odds.net[-1].bias)  # log p/q = 0 = log M: every draw kept
    x, acceptance = keep_all.sample(g, 100_000, torch.Generator().manual_seed(2))
    assert acceptance == 1 and torch.mean((x == 0).float()).item() == pytest.approx(0.4 + 0.6 * own, abs=0.01)


def test_the_data_density_leaves_the_atoms_out(tmp_path):
    """The overlay's density is the continuous part's, weighted by its share: the atoms are drawn apart."""
    np.save(tmp_path / "rain.npy", rainfall())
    target = Empirical(path=str(tmp_path / "rain.npy"))
    x = np.linspace(-20, 80, 20_001)
    area = target.pdf(torch.from_numpy(x)).numpy().sum() * (x[1] - x[0])
    assert area == pytest.approx(1 - target.atom_shares().sum(), abs=0.005)


def test_d_star_is_computed_on_the_network_d_faces():
    """Not on the model's samples, which are rounded (and would be even with no weight average to pick from)."""
    from types import SimpleNamespace

    from gan1d.callbacks import d_star_parts

    torch.manual_seed(0)
    g = Generator()
    g.set_support([], [], 0)  # whole numbers
    noise = g.noise_like(1000, torch.Generator().manual_seed(1))
    module = SimpleNamespace(preprocessor=SimpleNamespace(pack=1), loss_name="non_saturating", generator=g,
                             generator_ema=None, device=torch.device("cpu"),
                             evaluation_samples=lambda: g.draw(noise).squeeze(1),
                             trainer=SimpleNamespace(datamodule=SimpleNamespace(target=Empirical.__new__(Empirical),
                                                                                eval_noise=noise)))
    module.trainer.datamodule.target.atoms = NO_ATOMS
    _, samples = d_star_parts(module)
    assert np.array_equal(samples, g(noise).squeeze(1).detach().numpy())
