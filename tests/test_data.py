"""Your own data: reading a file, the held-out split, two-sample scoring, the evaluate command and the Python API."""

import json
import logging
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gan1d.conf
import numpy as np
import pytest
import torch
from helpers import run_cli
from omegaconf import OmegaConf
from scipy import stats

from gan1d.build import build_target
from gan1d.data import MinibatchStream
from gan1d.errors import ConfigError
from gan1d.figures import overlay_data
from gan1d.loading import DataError, read_column
from gan1d.metrics import DataScores, Evaluator, ks_two_sample, wasserstein1_two_sample
from gan1d.targets import Empirical

README = Path(__file__).resolve().parents[1] / "README.md"


def normal_npy(path: Path, n: int = 1000, seed: int = 0) -> Path:
    np.save(path, np.random.default_rng(seed).normal(4, 1.25, n))
    return path


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    return path


def make_dir(path: Path) -> Path:
    path.mkdir()
    return path


def column_csv(n: int, bad_line: str | None = None) -> str:
    """A one-column CSV with a header, and one bad cell at line 4 if asked."""
    rows = [f"{v:.6f}" for v in np.random.default_rng(0).normal(size=n)]
    if bad_line is not None:
        rows[2] = bad_line
    return "x\n" + "\n".join(rows) + "\n"


# (name, makes the file in tmp_path and returns (path, Empirical's keyword arguments), the problem's words)
BAD_DATA = [
    ("missing file", lambda d: (d / "nope.csv", {}), "no such file"),
    ("a directory", lambda d: (make_dir(d / "dir.csv"), {}), "is a directory"),
    ("unknown extension", lambda d: (write(d / "x.xlsx", "1\n2\n"), {}), "unknown file type '.xlsx'"),
    ("empty file", lambda d: (write(d / "x.csv", ""), {}), "the file is empty"),
    ("blank file", lambda d: (write(d / "x.txt", "\n  \n"), {}), "the file is empty"),
    ("too few values", lambda d: (write(d / "x.csv", column_csv(19)), {}),
     "19 values are too few: gan1d needs at least 20"),
    ("non-numeric cell", lambda d: (write(d / "x.csv", column_csv(300, "abc")), {}),
     "line 4, column 'x': 'abc' is not a number"),
    ("NaN refused", lambda d: (write(d / "x.csv", column_csv(300, "NA")), {"nonfinite": "refuse"}),
     "1 of 300 values are missing or not finite (the first at line 4); target.nonfinite=drop"),
    ("Inf refused", lambda d: (write(d / "x.csv", column_csv(300, "-inf")), {"nonfinite": "refuse"}),
     "the first at line 4"),
    ("NaN in an array refused", lambda d: (_npy(d, np.r_[np.arange(300.0), np.nan]), {"nonfinite": "refuse"}),
     "the first at index 300"),
    ("2-D array without a column", lambda d: (_npy(d, np.ones((300, 3))), {}),
     "a 2-D array of 3 columns: pick one with target.column=INDEX (0 to 2)"),
    ("3-D array", lambda d: (_npy(d, np.ones((30, 3, 4))), {}), "shape (30, 3, 4)"),
    ("array of strings", lambda d: (_npy(d, np.array(["a", "b"])), {}), "not numbers"),
    ("pickled array", lambda d: (_npy(d, np.array([{}, 1], dtype=object)), {}), "not a readable .npy array"),
    ("name for an array", lambda d: (_npy(d, np.ones((300, 2))), {"column": "a"}), "no column names"),
    ("column of a 1-D array", lambda d: (_npy(d, np.arange(300.0)), {"column": 0}), "the array is 1-D"),
    ("several columns, none picked", lambda d: (write(d / "x.csv", "a,b,c\n1,2,3\n"), {}),
     "3 columns (a, b, c): pick one with target.column"),
    ("column name not in the header", lambda d: (write(d / "x.csv", "a,b\n1,2\n"), {"column": "y"}),
     "no column named 'y'; the header has a, b"),
    ("column index out of range", lambda d: (write(d / "x.csv", "a,b\n1,2\n"), {"column": 5}),
     "target.column=5 is out of range: there are 2 columns, 0 to 1"),
    ("column name without a header", lambda d: (write(d / "x.csv", "1,2\n3,4\n"), {"column": "a"}),
     "no header row"),
    ("ragged row", lambda d: (write(d / "x.csv", "a,b\n1,2\n3\n4,5\n"), {"column": "a"}),
     "line 3 has 1 fields where the first row has 2"),
    ("not UTF-8", lambda d: (write(d / "x.csv", b"x\n\xff\xfe\n"), {}), "not a UTF-8 text file (byte 2)"),
    ("constant data", lambda d: (_npy(d, np.full(300, 3.5)), {}), "the values do not vary"),
    ("constant in float32", lambda d: (_npy(d, 1 + 1e-9 * np.random.default_rng(0).normal(size=500)), {}),
     "the values do not vary in float32, which gan1d trains in (the 393 training values all round to 1)"),
]

BAD_KEYS = [
    ("path not given", {"path": None}, "target.path=null is not allowed: it must be the data file to learn from"),
    ("path a number", {"path": 5}, "target.path=5 is not allowed"),
    ("column a list", {"column": [0]}, "target.column=[0] is not allowed"),
    ("holdout 0", {"holdout": 0}, "target.holdout=0 is not allowed"),
    ("holdout 1", {"holdout": 1}, "target.holdout=1 is not allowed"),
    ("holdout 1.5", {"holdout": 1.5}, "strictly between 0 and 1"),
    ("validation negative", {"validation": -0.1},
     "target.validation=-0.1 is not allowed: it must be a number in [0, 0.8)"),
    ("validation past holdout", {"holdout": 0.5, "validation": 0.5}, "target.validation=0.5 is not allowed"),
    ("nonfinite keep", {"nonfinite": "keep"}, "target.nonfinite='keep' is not allowed"),
    ("split_seed text", {"split_seed": "a"}, "target.split_seed='a' is not allowed"),
    ("split_seed negative", {"split_seed": -1}, "target.split_seed=-1 is not allowed"),
]


def _npy(directory: Path, array: np.ndarray) -> Path:
    path = directory / "x.npy"
    np.save(path, array, allow_pickle=True)
    return path


@pytest.mark.parametrize("name,make,problem", BAD_DATA, ids=[row[0] for row in BAD_DATA])
def test_bad_data_is_one_line_naming_the_file_and_the_problem(tmp_path, name, make, problem):
    path, kwargs = make(tmp_path)
    with pytest.raises(DataError) as err:
        Empirical(str(path), **kwargs)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"target.path={path}: ")
    assert problem in message, message


@pytest.mark.parametrize("name,kwargs,problem", BAD_KEYS, ids=[row[0] for row in BAD_KEYS])
def test_bad_keys_are_one_line_naming_the_key(tmp_path, name, kwargs, problem):
    node = OmegaConf.create({"_target_": "gan1d.targets.Empirical", "path": str(normal_npy(tmp_path / "x.npy"))})
    with pytest.raises(ConfigError) as err:  # as gan1d.train and gan1d.evaluate build it
        build_target(OmegaConf.merge(node, kwargs))
    assert "\n" not in str(err.value) and problem in str(err.value), str(err.value)


def test_unreadable_file_says_why(tmp_path, monkeypatch):
    path = normal_npy(tmp_path / "x.npy")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)  # chmod does not stop root, who runs the tests here
    with pytest.raises(DataError, match=re.escape(f"target.path={path}: cannot be read (Permission denied)")):
        read_column(path)


def test_too_few_names_the_minimum_and_small_samples_train_on_all(tmp_path):
    with pytest.raises(DataError, match="19 values are too few: gan1d needs at least 20"):
        Empirical(str(write(tmp_path / "x.csv", column_csv(19))))
    small = Empirical(str(write(tmp_path / "y.csv", column_csv(150))))  # a split would leave ~30 held out
    assert small.regime == "small" and len(small.train) == 150 and len(small.held_out) == 0
    assert small.reference is small.train and small.record["parts"] == {"train": 150, "validation": 0, "test": 0}
    assert "in-sample" in small.scored_against
    assert Empirical(str(write(tmp_path / "z.csv", column_csv(400)))).regime == "split"
    with pytest.raises(DataError, match="too few for target.validation=0.2: the training, validation and held-out"):
        Empirical(str(write(tmp_path / "w.csv", column_csv(200))), validation=0.2)


def test_small_samples_floor_is_the_sampling_noise_at_their_size(tmp_path):
    """The bootstrap floor against what a perfect generator scores: the exact W1/sd of each sample to its N(0, 1)."""
    from gan1d.metrics import wasserstein1
    from gan1d.targets import Gaussian

    floors, exact, inside = [], [], 0
    for seed in range(20):
        x = np.random.default_rng(seed).normal(size=150)
        np.save(tmp_path / "x.npy", x)
        scores = Evaluator(Empirical(str(tmp_path / "x.npy")))(x)  # the values themselves as the samples: 0
        floors.append(scores["w1_over_std_floor"])
        exact.append(wasserstein1(x, Gaussian(0, 1)) / x.std())
        inside += scores["w1_over_std_floor_p5"] <= exact[-1] <= scores["w1_over_std_floor_p95"]
        assert scores["w1_over_std"] == 0 and scores["ks"] == 0
    assert 0.8 < np.mean(floors) / np.mean(exact) < 1.2 and inside >= 14, (np.mean(floors), np.mean(exact), inside)


def test_appending_a_row_moves_only_that_row(tmp_path):
    """Rounded data (many equal values): each appended row may land in either part, no other value may move."""
    values = np.round(np.random.default_rng(0).normal(4, 1.25, 1000), 1)
    np.save(tmp_path / "x.npy", values)
    before = Empirical(str(tmp_path / "x.npy"), validation=0.2).parts
    for extra in (4.0, 123.456, values[7]):  # a repeated value, a new one, the same again
        values = np.r_[values, extra]
        np.save(tmp_path / "x.npy", values)
        after = Empirical(str(tmp_path / "x.npy"), validation=0.2).parts
        moved = [p for p in range(3) if not np.array_equal(before[p], after[p])]
        assert len(moved) == 1 and np.array_equal(np.sort(np.r_[before[moved[0]], extra]), after[moved[0]])
        before = after


def test_reordering_the_rows_changes_no_part(tmp_path):
    values = np.round(np.random.default_rng(1).normal(4, 1.25, 1000), 1)
    parts = []
    for order in (values, values[::-1], np.random.default_rng(2).permutation(values)):
        np.save(tmp_path / "x.npy", order)
        parts.append(Empirical(str(tmp_path / "x.npy"), validation=0.2).parts)
    assert all(np.array_equal(a, b) for other in parts[1:] for a, b in zip(parts[0], other, strict=True))


def test_equal_values_are_split_like_any_others(tmp_path):
    """A value repeated 100 times goes to each part in about its share, not all to one part."""
    np.save(tmp_path / "x.npy", np.repeat(np.arange(10.0), 100))
    t = Empirical(str(tmp_path / "x.npy"))
    held = np.bincount(t.held_out.astype(int), minlength=10)
    assert ((held > 5) & (held < 40)).all(), held  # Binomial(100, 0.2): 20 +- 4


def test_the_split_is_fixed_by_split_seed_alone(tmp_path):
    path = str(normal_npy(tmp_path / "x.npy", 1000))
    values = np.load(path)
    a, b, c = Empirical(path), Empirical(path), Empirical(path, split_seed=1)
    assert 160 < len(a.held_out) < 240 and len(a.validation) == 0  # Binomial(1000, 0.2): 200 +- 13
    assert np.array_equal(np.sort(np.r_[a.train, a.held_out]), np.sort(values))  # a partition of the data
    assert np.array_equal(a.held_out, b.held_out) and not np.array_equal(a.held_out, c.held_out)
    assert 440 < len(Empirical(path, holdout=0.5).held_out) < 560
    v = Empirical(path, validation=0.2)  # carved from the training part: the test part stays as it was
    assert np.array_equal(v.held_out, a.held_out) and 160 < len(v.validation) < 240
    assert np.array_equal(np.sort(np.r_[v.train, v.validation]), a.train)


TABLE = [("a", "b", "name"), ("1.5", "-2.0", "x"), ("2.5", "NA", "y"), ("3.5", "4e-3", "z"), ("-1", "", "w")]


@pytest.mark.parametrize("delimiter", [",", "\t", ";", " "], ids=["comma", "tab", "semicolon", "space"])
def test_text_files_find_the_delimiter_header_and_column(tmp_path, delimiter, caplog):
    rows = [[cell or ("null" if delimiter == " " else cell) for cell in row] for row in TABLE]  # no empty field
    text = "\n".join(delimiter.join(row) for row in rows) + "\n"
    path = write(tmp_path / "x.txt", text)
    assert read_column(path, "a").tolist() == [1.5, 2.5, 3.5, -1]
    with caplog.at_level(logging.WARNING):
        assert read_column(path, 1).tolist() == [-2.0, 4e-3]  # NA and the empty cell left out, and counted
    assert "left out 2 of 4 values that are missing or not finite" in caplog.text
    headerless = write(tmp_path / "y.csv", "\n".join(text.splitlines()[1:]))
    assert read_column(headerless, 0).tolist() == [1.5, 2.5, 3.5, -1]


def test_quoted_cells_may_hold_the_delimiter(tmp_path):
    path = write(tmp_path / "x.csv", 'a,name\n1,"x, y"\n2,"z"\n"3",w\n')
    assert read_column(path, "a").tolist() == [1, 2, 3]


def test_single_columns_and_arrays_need_no_column(tmp_path):
    assert read_column(write(tmp_path / "a.txt", "value\n1\n2e1\n-3\n")).tolist() == [1, 20, -3]
    assert read_column(write(tmp_path / "b.csv", "1\n2\n\n3\n")).tolist() == [1, 2, 3]  # no header, a blank line
    assert read_column(_npy(tmp_path, np.arange(4.0).reshape(4, 1))).tolist() == [0, 1, 2, 3]
    assert read_column(_npy(tmp_path, np.arange(6).reshape(3, 2)), 1).tolist() == [1, 3, 5]
    assert read_column(_npy(tmp_path, np.arange(3, dtype=np.int16))).dtype == np.float64


def test_training_draws_only_training_values_from_the_given_generator(tmp_path):
    t = Empirical(str(normal_npy(tmp_path / "x.npy", 1000)))
    x = t.sample(50_000, torch.Generator().manual_seed(3))
    assert x.dtype == torch.float32 and set(x.tolist()) <= set(t._train.tolist())
    assert not set(x.tolist()) & set(torch.from_numpy(t.held_out).float().tolist())  # never a held-out value
    assert len(set(x.tolist())) == len(t.train)  # with replacement, every training value comes up
    assert torch.equal(x, t.sample(50_000, torch.Generator().manual_seed(3)))
    # The stream: iteration i's data depends on (seed, i) alone, so a resumed run sees the same data.
    streams = [MinibatchStream(t, 64, "normal", 1, 1, 1, seed=0, steps=10) for _ in range(2)]
    assert all(torch.equal(u, v) for u, v in zip(streams[0].item(7), streams[1].item(7), strict=True))


def test_pdf_and_cdf_describe_the_held_out_part(tmp_path):
    t = Empirical(str(normal_npy(tmp_path / "x.npy", 5000)))
    h = t.held_out
    grid = torch.linspace(-3, 11, 4001, dtype=torch.float64)
    assert torch.trapezoid(t.pdf(grid), grid).item() == pytest.approx(1, abs=1e-3)
    kde = stats.norm.pdf(grid.numpy()[:, None], h, t.bandwidth).mean(1)  # a Gaussian kernel on each held-out value
    assert np.allclose(t.pdf(grid).numpy(), kde, rtol=1e-10, atol=1e-15)
    assert t.pdf(torch.tensor([4.0])).item() == pytest.approx(1 / (1.25 * np.sqrt(2 * np.pi)), rel=0.1)
    assert t.cdf(torch.tensor([h[0] - 1, h[99], h[-1]])).tolist() == [0, 100 / len(h), 1]
    assert (t.mean, t.std) == (h.mean(), h.std())
    assert overlay_data(t, t.sample(1000).numpy(), "title").pdf_label == f"held-out data (KDE of {len(h)} values)"


def test_quantile_and_moments_are_the_held_out_parts(tmp_path):
    t = Empirical(str(normal_npy(tmp_path / "x.npy", 5000)))
    h, p = t.held_out, np.array([1e-9, 0.1, 0.5, 0.7315, 1 - 1e-9])
    assert np.array_equal(t.quantile(p), h[np.ceil(p * len(h)).astype(int) - 1])  # the least value with cdf >= p
    want = {"mean": h.mean(), "std": h.std(), "skew": stats.skew(h), "kurtosis": stats.kurtosis(h)}
    assert t.moments() == pytest.approx(want, rel=1e-12)
    scores = Evaluator(t)(t.sample(1000, torch.Generator().manual_seed(0)))
    assert {k: scores[f"target_{k}"] for k in want} == t.moments()


def test_overlay_legend_names_the_held_out_data(tmp_path):
    from gan1d.figures import pdf_overlay

    t = Empirical(str(normal_npy(tmp_path / "x.npy", 1000)))
    fig = pdf_overlay(overlay_data(t, t.sample(1000).numpy(), "title"))
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert f"held-out data (KDE of {len(t.held_out)} values)" in labels and "target pdf" not in labels


@pytest.mark.parametrize("sizes", [(20_000, 4000), (300, 77), (1000, 50)])
def test_two_sample_w1_and_ks_are_scipys(sizes):
    rng = np.random.default_rng(sum(sizes))
    normal = rng.normal(size=sizes[0]), rng.normal(0.1, 1.2, sizes[1])
    counts = rng.integers(0, 5, sizes[0]).astype(float), rng.integers(0, 6, sizes[1]).astype(float)  # ties
    for x, y in [normal, normal[::-1], counts, counts[::-1]]:  # either sample first: the sup is two-sided
        assert wasserstein1_two_sample(x, y) == pytest.approx(stats.wasserstein_distance(x, y), rel=1e-12)
        assert ks_two_sample(x, y) == pytest.approx(stats.ks_2samp(x, y).statistic, rel=1e-12)


def test_data_scores_give_the_floor_and_catch_a_copying_generator(tmp_path):
    t = Empirical(str(normal_npy(tmp_path / "x.npy", 20_000)))
    scores = Evaluator(t)
    x = np.random.default_rng(9).normal(4, 1.25, 20_000)
    fresh = scores(x)
    assert fresh["w1_over_std_floor"] == wasserstein1_two_sample(t.train, t.held_out) / t.std
    assert fresh["ks_floor"] == ks_two_sample(t.train, t.held_out)
    assert fresh["w1"] == wasserstein1_two_sample(x, t.held_out) and fresh["ks"] == ks_two_sample(x, t.held_out)
    assert fresh["target_mean"] == t.held_out.mean() and fresh["target_std"] == t.held_out.std()
    assert 0.8 < fresh["dcr_ratio"] < 1.25  # fresh draws sit as close to the training data as held-out ones
    copied = scores(t.sample(20_000, torch.Generator().manual_seed(0)).numpy())
    assert copied["dcr_ratio"] < 0.05  # a generator that returns its training data
    assert copied["w1_over_std"] == pytest.approx(copied["w1_over_std_floor"], rel=0.3)
    rounded = DataScores(np.round(t.train), np.round(t.held_out), 1.0)
    assert "dcr_ratio" not in rounded(t.sample(100).numpy())  # held-out values repeat training ones: undefined


def test_import_gan1d_stays_light():
    code = "import gan1d, sys; assert not {'torch', 'hydra', 'lightning'} & set(sys.modules), sorted(sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0


def test_gan1d_compose_and_train_are_the_library_functions():
    import gan1d
    import gan1d.run
    from gan1d import compose, train

    assert (compose, train) == (gan1d.run.compose, gan1d.run.train)


def test_compose_gives_fresh_run_dirs_and_leaves_hydra_as_it_was(tmp_path, monkeypatch):
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from gan1d import compose

    monkeypatch.chdir(tmp_path)
    first, second = compose(), compose(["target.mean=-2"])
    assert Path(first.run_dir).parent.parent == tmp_path / "outputs" and first.run_dir != second.run_dir
    assert second.target.mean == -2 and compose(run_dir="here").run_dir == str(tmp_path / "here")
    with initialize_config_module("gan1d.conf", version_base="1.3"):  # inside someone else's Hydra
        outer = GlobalHydra.instance().hydra
        compose()
        assert GlobalHydra.instance().hydra is outer
    assert not GlobalHydra.instance().is_initialized()


def test_user_presets_from_a_config_dir(tmp_path):
    from gan1d import compose

    preset = f"defaults:\n  - empirical\n  - _self_\npath: {normal_npy(tmp_path / 'x.npy')}\nholdout: 0.25\n"
    write(tmp_path / "my_conf" / "target" / "my_data.yaml", preset)
    cfg = compose(["target=my_data"], config_dir=tmp_path / "my_conf")
    assert cfg.target.holdout == 0.25 and cfg.target._target_ == "gan1d.targets.Empirical"


@pytest.mark.parametrize("preset,column,n", [("penguins_flipper", "flipper_length_mm", 342),
                                             ("seattle_wind", "wind", 1461),
                                             ("seattle_precipitation", "precipitation", 1461)])
def test_shipped_data_sets_load_from_any_directory(tmp_path, monkeypatch, preset, column, n):
    from gan1d import compose

    monkeypatch.chdir(tmp_path)
    t = build_target(compose([f"target={preset}"]).target)
    assert t.column == column and len(t.train) + len(t.held_out) == n
    assert (Path(t.path).parent / "README.md").is_file()  # source and licence stay beside the data


def test_a_run_on_data_is_scored_against_its_held_out_part(make_cfg, tmp_path):
    from gan1d.evaluate import evaluate
    from gan1d.run import train
    from gan1d.sample import sample

    path = normal_npy(tmp_path / "x.npy", 2000)
    record = train(make_cfg("target=empirical", f"target.path={path}"))
    t = Empirical(str(path))
    assert record["status"] == "ok" and record["target"] == repr(t) and "test" not in record
    # The held-out part's own numbers, computed here: scored against the training part, none would match.
    assert (record["target_mean"], record["target_std"]) == (t.held_out.mean(), t.held_out.std())
    assert record["w1_over_std_floor"] == wasserstein1_two_sample(t.train, t.held_out) / t.held_out.std()
    assert record["ks_floor"] == ks_two_sample(t.train, t.held_out)
    assert record["data"]["parts"] == {"train": len(t.train), "validation": 0, "test": len(t.held_out)}
    assert json.loads((tmp_path / "data.json").read_text()) == record["data"] == t.record
    trained = evaluate(tmp_path, n=5000)  # the run's own target, read from the config it saved
    x = sample(tmp_path, 5000, 0)
    assert trained["w1"] == wasserstein1_two_sample(x, t.held_out) and trained["ks"] == ks_two_sample(x, t.held_out)
    assert trained["target"] == record["target"] and trained["w1_over_std_floor"] == record["w1_over_std_floor"]
    exact = evaluate(tmp_path / "checkpoints" / "last.ckpt", ["target=gaussian", "target.std=1.25"], n=5000)
    assert exact["target"] == "Gaussian(mean=4, std=1.25)" and "ks_floor" not in exact
    write(tmp_path / "my_conf" / "target" / "wide.yaml", "defaults:\n  - gaussian\n  - _self_\nstd: 5.0\n")
    mine = evaluate(tmp_path, ["target=wide"], n=5000, config_dir=tmp_path / "my_conf")
    assert mine["target"] == "Gaussian(mean=4, std=5)"


def test_with_a_validation_part_the_test_part_is_scored_once_and_apart(make_cfg, tmp_path):
    """validation=0.2 (what a search sets): the running scores, and what main returns for a sweeper to minimise,
    are the validation part's; the test part's come once, at the end, under test."""
    from gan1d.evaluate import evaluate
    from gan1d.sample import sample
    from gan1d.train import main

    path = normal_npy(tmp_path / "x.npy", 2000)
    returned = main.__wrapped__(make_cfg("target=empirical", f"target.path={path}", "validation=0.2"))
    record = json.loads((tmp_path / "metrics.json").read_text())
    t = Empirical(str(path), validation=0.2)
    assert returned == record["w1_over_std"] and record["data"]["scored_against"].startswith("the validation part")
    assert record["target_mean"] == t.validation.mean() and record["test"]["target_mean"] == t.held_out.mean()
    assert record["w1_over_std_floor"] == wasserstein1_two_sample(t.train, t.validation) / t.validation.std()
    assert record["test"]["ks_floor"] == ks_two_sample(t.train, t.held_out)
    scores, x = evaluate(tmp_path, n=5000), sample(tmp_path, 5000, 0)
    assert scores["w1"] == wasserstein1_two_sample(x, t.validation)
    assert scores["test"]["w1"] == wasserstein1_two_sample(x, t.held_out)


def test_a_search_on_data_without_a_validation_part_is_refused(tmp_path, monkeypatch):
    import gan1d.run as gan1d_run

    class Searching:  # what HydraConfig.get() holds in an Optuna job
        mode = gan1d_run.RunMode.MULTIRUN
        sweeper = OmegaConf.create({"_target_": "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"})

    monkeypatch.setattr(gan1d_run.HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(gan1d_run.HydraConfig, "get", staticmethod(lambda: Searching))
    path = str(normal_npy(tmp_path / "x.npy", 2000))
    with pytest.raises(ConfigError, match="validation=0 with the sweeper OptunaSweeper: a search on data must tune"):
        gan1d_run.check_search(Empirical(path))
    gan1d_run.check_search(Empirical(path, validation=0.2))
    Searching.sweeper = OmegaConf.create({"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"})
    gan1d_run.check_search(Empirical(path))  # a grid of seeds tunes nothing


def test_a_small_sample_trains_on_all_and_says_so(make_cfg, tmp_path):
    from gan1d.run import train

    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(4, 1.25, 30))
    record = train(make_cfg("target=empirical", f"target.path={tmp_path / 'x.npy'}"))
    t = Empirical(str(tmp_path / "x.npy"))
    assert record["data"]["regime"] == "small" and "in-sample" in record["data"]["scored_against"]
    assert record["target_mean"] == t.train.mean() and len(t.train) == 30
    floor = DataScores(t.train, t.train, t.train.std(), in_sample=True).floor
    assert {k: record[k] for k in floor} == floor and floor["w1_over_std_floor_p5"] < floor["w1_over_std_floor_p95"]


def test_evaluate_refuses_a_data_file_changed_since_training(make_cfg, tmp_path, capsys):
    from gan1d.evaluate import evaluate, main
    from gan1d.run import train

    path = normal_npy(tmp_path / "x.npy", 2000)
    train(make_cfg("target=empirical", f"target.path={path}"))
    original = np.load(path)
    np.save(path, np.r_[original, 4.0])  # one row appended
    with pytest.raises(SystemExit) as exit_info:
        main([f"ckpt={tmp_path}", "n=100"])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.count("\n") == 0, err
    assert f"target.path={path}: its sha256 is " in err and "allow_changed=true scores anyway" in err
    assert not (tmp_path / "evaluation.json").exists()
    assert evaluate(tmp_path, n=100, allow_changed=True)["target"].startswith("Empirical(")
    np.save(path, original)
    assert evaluate(tmp_path, n=100)["target"].startswith("Empirical(")  # the file as it was: scored
    with pytest.raises(ConfigError, match="its split_seed is 1 now and was 0"):  # the same file, another split
        evaluate(tmp_path, ["target=empirical", f"target.path={path}", "target.split_seed=1"], n=100)


def test_a_relative_data_path_is_the_file_training_read_from_python(make_cfg, tmp_path, monkeypatch):
    """Trained from Python in one folder, scored from another that holds a different x.npy: the run's own file."""
    from gan1d.evaluate import evaluate
    from gan1d.run import train

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    normal_npy(tmp_path / "a" / "x.npy", 2000), normal_npy(tmp_path / "b" / "x.npy", 2000, seed=1)
    monkeypatch.chdir(tmp_path / "a")
    record = train(make_cfg("target=empirical", "target.path=x.npy"))
    assert not (tmp_path / ".hydra" / "hydra.yaml").exists()  # nothing of Hydra's to say where it ran
    monkeypatch.chdir(tmp_path / "b")
    scores = evaluate(tmp_path, n=100)
    assert scores["target"] == record["target"] and f"path='{tmp_path / 'a' / 'x.npy'}'" in scores["target"]
    assert record["data"]["path_given"] == "x.npy" and record["data"]["path"] == str(tmp_path / "a" / "x.npy")


@pytest.mark.parametrize("args,words", [
    (["ckpt=/nope"], "ckpt=/nope: no such checkpoint file"),
    (["ckpt_path=/nope", "target=gaussian"], "ckpt=/nope: no such checkpoint file"),
    (["ckpt=/a", "ckpt_path=/b"], "give ckpt or ckpt_path, not both"),
    ([], "ckpt is required"),
    (["ckpt=/nope", "n=0"], "n=0 is not allowed"),
    (["ckpt=/nope", "n=1000000000"], "n=1000000000 is not allowed"),  # the checks gan1d.sample makes
    (["ckpt=5"], "ckpt=5 is not allowed"),
    (["ckpt=/nope", "seed=-1"], "seed=-1 is not allowed"),
    (["ckpt=/nope", "out=5"], "out=5 is not allowed"),
    (["ckpt=/nope", "config_dir=5"], "config_dir=5 is not allowed"),
    (["ckpt=/nope", "out=x.txt"], "out=x.txt: the file name must end in .json"),
    (["ckpt=/nope", "steps=3"], "unknown key 'steps'"),
    (["RUN"], "arguments are key=value"),
])
def test_evaluate_bad_arguments_are_one_line(capsys, args, words):
    from gan1d.evaluate import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("gan1d.evaluate: ") and words in err, err


def test_evaluate_bad_targets_are_one_line(make_cfg, tmp_path, capsys):
    from gan1d.evaluate import main
    from gan1d.run import train

    train(make_cfg("steps=10", "log_every=10", "eval_every=10", "figure_every=10"))
    options = ", ".join(sorted(p.stem for p in (Path(gan1d.conf.__file__).parent / "target").glob("*.yaml")))
    for args, words in [(["target=gausian"], f"Could not find 'target/gausian'; Available options in 'target': "
                                             f"{options}"),
                        (["target.std=-1"], "target.std=-1 is not allowed"),
                        (["target=empirical", "target.path=nope.csv"], "target.path=nope.csv: no such file"),
                        (["target.foo=1"], "Could not override 'target.foo'")]:
        with pytest.raises(SystemExit) as exit_info:
            main([f"ckpt={tmp_path}", *args])
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2 and err.count("\n") == 0 and words in err, err
    (tmp_path / ".hydra" / "config.yaml").unlink()
    with pytest.raises(SystemExit):
        main([f"ckpt={tmp_path}"])
    assert "to read the trained target from; name one" in capsys.readouterr().err


def test_sample_takes_ckpt_path_too(make_cfg, tmp_path):
    from gan1d.run import train
    from gan1d.sample import main

    train(make_cfg("steps=10", "log_every=10", "eval_every=10", "figure_every=10"))
    main([f"ckpt_path={tmp_path}", "n=5", f"out={tmp_path / 's.npy'}"])
    assert np.load(tmp_path / "s.npy").shape == (5,)


# Through the real CLI, two at a time: (arguments, the words of the one line)
BAD_DATA_CLI = [
    (["target.path=nope.csv"], "target.path=nope.csv: no such file"),
    (["target.path=bad.csv"], "target.path=bad.csv: line 4, column 'x': 'abc' is not a number"),
    (["target.path=few.csv"], "target.path=few.csv: 19 values are too few: gan1d needs at least 20"),
    (["target.path=wide.npy"], "target.path=wide.npy: a 2-D array of 3 columns"),
    (["target.path=tiny.npy"], "target.path=tiny.npy: the values do not vary in float32"),
]


def test_bad_data_through_the_cli_stops_before_anything_is_written(tmp_path):
    write(tmp_path / "bad.csv", column_csv(300, "abc"))
    write(tmp_path / "few.csv", column_csv(19))
    np.save(tmp_path / "wide.npy", np.ones((300, 3)))
    np.save(tmp_path / "tiny.npy", 1 + 1e-9 * np.random.default_rng(0).normal(size=500))

    def attempt(i):
        args = BAD_DATA_CLI[i][0]
        return run_cli("gan1d.train", "target=empirical", *args, f"hydra.run.dir=run{i}", cwd=tmp_path)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(attempt, range(len(BAD_DATA_CLI))))
    for i, ((_, words), proc) in enumerate(zip(BAD_DATA_CLI, results, strict=True)):
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"gan1d: {words}"), proc.stderr
        left = sorted(str(p.relative_to(tmp_path / f"run{i}")) for p in (tmp_path / f"run{i}").rglob("*"))
        assert left == [".hydra", ".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml", "train.log"]


def test_cli_config_dir_preset_then_evaluate(tmp_path):
    """A user's own preset through --config-dir, trained from the CLI, then scored by gan1d.evaluate from another
    directory against the target the run was trained on (its relative path read from where training ran)."""
    write(tmp_path / "my_conf" / "target" / "my_data.yaml", "defaults:\n  - empirical\n  - _self_\npath: x.npy\n")
    normal_npy(tmp_path / "x.npy", 2000)
    proc = run_cli("gan1d.train", "--config-dir", "my_conf", "target=my_data", "steps=50", "log_every=10",
                   "eval_every=50", "figure_every=50", "checkpoint_every=50", "hydra.run.dir=run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    normal_npy(make_dir(elsewhere) / "x.npy", 2000, seed=1)  # another x.npy where it is scored: not the one
    proc = run_cli("gan1d.evaluate", f"ckpt_path={tmp_path / 'run'}", "n=3000", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = proc.stdout.strip()
    assert "\n" not in line and re.match(r"W1/sd [\d.]+ \(floor [\d.]+\), KS [\d.]+ \(floor [\d.]+\), dcr_ratio", line)
    assert f"the held-out part ({len(Empirical(str(tmp_path / 'x.npy')).held_out)} values) of Empirical(path='" \
           f"{tmp_path / 'x.npy'}'" in line
    result = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert result["n"] == 3000 and result["ckpt"].endswith("last.ckpt") and "dcr_ratio" in result


def test_readme_notebook_example_runs_verbatim(tmp_path, monkeypatch):
    """The README's Python example, extracted from the README itself, so that it cannot drift."""
    import gan1d

    code = re.search(r"<!-- notebook example -->\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    # As in a fresh notebook: an earlier test's import of the CLI module (gan1d.train) binds the package's name to it.
    monkeypatch.delitem(vars(gan1d), "train", raising=False)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["record"]["status"] == "ok" and namespace["samples"].shape == (10_000,)
    assert {"w1_over_std", "ks", "dcr_ratio"} <= set(namespace["record"])
    assert namespace["scores"]["target"] == "Gaussian(mean=170, std=8)"
    assert Path(namespace["cfg"].run_dir).parent.parent == tmp_path / "outputs"
