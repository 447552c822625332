"""A column's resolution (gan1d.rounding): the generator's samples rounded to the decimals the data are written to,
and scored as the data's own values."""

import numpy as np
import pytest
import torch

from gan1d.figures import bin_edges
from gan1d.metrics import Evaluator, ks_two_sample
from gan1d.networks import Generator
from gan1d.rounding import decimals_of
from gan1d.targets import BadArgument, Empirical


@pytest.mark.parametrize("values, places", [([170.0, 181.0, 199.0], 0), ([0.3, 1.5, 12.25], 2),
                                            ([1200.0, 1530.0, 80.0], -1), ([0.5, 2.0], 1)])
def test_the_fewest_decimals_the_values_are_written_to(values, places):
    assert decimals_of(np.array(values)) == places


def test_values_at_full_precision_have_none():
    assert decimals_of(np.random.default_rng(0).normal(size=100)) is None
    assert decimals_of(np.float32([0.1, 0.2]).astype(np.float64)) is None  # float32's 0.1 is not a decimal


def test_a_float64_rounding_error_off_a_decimal_is_that_decimal(tmp_path):
    """A fast float parser (pandas' read_json) reads iris's 1.7 as 1.7000000000000002: the column is still in tenths,
    and its 1.7s one value."""
    assert decimals_of(np.array([1.5, 1.7000000000000002, 0.1 + 0.2])) == 1
    assert decimals_of(np.array([1e16 + 2, 1e16 + 4])) == 0  # past 2**53 a unit in the last place is a real digit
    rng = np.random.default_rng(0)
    values = rng.integers(10, 70, 600) / 10
    np.save(tmp_path / "x.npy", np.where(rng.random(600) < 0.5, np.nextafter(values, np.inf), values))
    target = Empirical(path=str(tmp_path / "x.npy"))
    assert target.decimals == 1
    for part in (target.train, target.held_out):  # both hold values written one ulp off (227 and 67 of them)
        assert np.array_equal(part, np.round(part, 1))


def test_an_atom_written_two_ways_is_one_atom(tmp_path):
    """0.3 and 0.1 + 0.2 (0.30000000000000004), 40 of each: one value repeated 80 times, not two neighbours alike."""
    rng = np.random.default_rng(0)
    spread = np.round(rng.gamma(3, 1, 800), 2)
    np.save(tmp_path / "x.npy", np.concatenate([spread[np.abs(spread - 0.3) > 0.05], [0.3] * 40, [0.1 + 0.2] * 40]))
    (atom,) = Empirical(path=str(tmp_path / "x.npy")).atoms.record()
    assert atom["value"] == 0.3 and atom["count"] == 68  # the training part's share of the 80


def test_the_generator_rounds_its_samples_and_nothing_else():
    torch.manual_seed(0)
    g = Generator()
    raw = g.sample(10_000, torch.Generator().manual_seed(1)).numpy()
    g.set_support([], [], 1)
    x = g.sample(10_000, torch.Generator().manual_seed(1)).numpy()
    assert np.array_equal(x, np.float32(np.round(x.astype(np.float64), 1)))  # tenths, as float32 writes them
    assert np.abs(x - raw).max() <= 0.05 + 1e-6 and len(np.unique(x)) < len(np.unique(raw)) / 10
    g.set_support([], [], -1)
    assert (g.sample(100) % 10 == 0).all()


def test_the_data_target_finds_and_records_its_decimals(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.round(np.random.default_rng(0).normal(170, 10, 400)))
    assert Empirical(path=str(path)).decimals == 0
    assert Empirical(path=str(path)).record["decimals"] == 0
    assert Empirical(path=str(path), decimals=None).decimals is None
    assert Empirical(path=str(path), decimals=2).decimals == 2
    with pytest.raises(BadArgument, match="decimals='two' is not allowed"):
        Empirical(path=str(path), decimals="two")


def test_float32_samples_score_as_the_data_s_decimals(tmp_path):
    """float32's 0.3 is 0.30000001192 in float64: unread, every step of the data's staircase would count as missed."""
    np.save(tmp_path / "x.npy", np.round(np.random.default_rng(0).gamma(2, 1, 2000), 1))
    target = Empirical(path=str(tmp_path / "x.npy"))
    x = np.float32(target.held_out)
    assert ks_two_sample(x.astype(np.float64), target.held_out) > 0.04
    assert Evaluator(target)(torch.from_numpy(x))["ks"] == 0


@pytest.mark.parametrize("decimals, lo, hi", [(0, 170.3, 230.9), (1, -0.41, 3.07), (0, 0.2, 1500.0)])
def test_the_overlay_s_bins_hold_whole_steps(decimals, lo, hi):
    """Each bin holds the same number of the data's values, none on an edge: rounded samples show no false comb."""
    edges = bin_edges(lo, hi, decimals)
    step = 10.0**-decimals
    values = np.round(np.arange(np.ceil(edges[0] / step), np.floor(edges[-1] / step) + 1) * step, decimals)
    counts = np.histogram(values, bins=edges)[0]
    assert counts.min() == counts.max() and edges[0] <= lo and edges[-1] >= hi
    assert not np.isin(np.round(edges, 9), values).any() and len(edges) - 1 <= 130  # one bin a value at most
