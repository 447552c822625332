"""Sweep summaries from job folders as Hydra and gan1d leave them (made up here: no training needed)."""

import csv
import json

import pytest
import yaml

from gan1d.report import figure, read_jobs, searched, seed_groups, summarise, swept_keys


def make_sweep(root, jobs, sweeper="basic"):
    """``jobs``: (overrides, metrics.json's record or None for a job that died before writing it)."""
    for num, (overrides, record) in enumerate(jobs):
        job = root / str(num)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        if record is not None:
            (job / "metrics.json").write_text(json.dumps(record))
    (root / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": {"hydra/sweeper": sweeper}}}}))
    return root


def ok(w1, ks):
    return {"status": "ok", "w1_over_std": w1, "ks": ks, "wall_s": 1.0, "steps": 10}


# Two learning rates x three seeds: at 1e-4 every seed passes (W1/sd <= 0.04, KS <= 0.02); at 1e-3 one seed
# misses on KS, one on W1/sd, and one failed.
SEED_SWEEP = [
    (["optim.g_lr=1e-4", "seed=0"], ok(0.010, 0.006)),
    (["optim.g_lr=1e-4", "seed=1"], ok(0.030, 0.010)),
    (["optim.g_lr=1e-4", "seed=2"], ok(0.012, 0.008)),
    (["optim.g_lr=1e-3", "seed=0"], ok(0.015, 0.025)),
    (["optim.g_lr=1e-3", "seed=1"], ok(0.300, 0.150)),
    (["optim.g_lr=1e-3", "seed=2"], {"status": "failed", "reason": "optim.g_lr went wrong"}),
]


def test_a_seed_sweep_gives_one_row_per_setting_with_median_and_worst(tmp_path):
    sweep = make_sweep(tmp_path, SEED_SWEEP)
    rows = summarise(sweep)
    assert len(rows) == 6
    table = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["row"] for r in table] == ["job"] * 6 + ["seeds"] * 2  # the jobs' own rows stay
    best, other = table[6:]
    assert (best["overrides"], best["job"], best["seeds"], best["passed"], best["failed"]) == \
           ("optim.g_lr=1e-4", "0 1 2", "3", "3", "0")
    assert float(best["median_w1_over_std"]) == 0.012 and float(best["worst_w1_over_std"]) == 0.03
    assert float(best["median_ks"]) == 0.008 and float(best["worst_ks"]) == 0.01
    assert (other["overrides"], other["passed"], other["failed"]) == ("optim.g_lr=1e-3", "0", "1")
    assert float(other["median_w1_over_std"]) == pytest.approx(0.1575) and float(other["worst_ks"]) == 0.15
    md = (sweep / "summary.md").read_text()
    assert "| optim.g_lr | seeds | passed (W1/sd <= 0.04 and KS <= 0.02) | failed | median W1/sd | worst W1/sd |" in md
    assert "| 1e-4 | 3 | 3/3 | 0 | 0.0120 | 0.0300 | 0.0080 | 0.0100 |" in md
    assert "| 1e-3 | 3 | 0/3 | 1 | 0.1575 | 0.3000 | 0.0875 | 0.1500 |" in md
    assert "| optim.g_lr | seed | status | W1/sd |" in md  # then every job
    assert (sweep / "summary.png").stat().st_size > 5_000


def test_the_heatmap_of_a_seed_sweep_shows_the_median_over_seeds(tmp_path):
    jobs = [([f"optim.g_lr={g}", f"optim.d_lr={d}", f"seed={s}"], ok(w1 * (1, 2, 6)[s], 0.01))
            for g, d, w1 in [(1, 1, 0.01), (1, 2, 0.02), (2, 1, 0.03), (2, 2, 0.04)] for s in range(3)]
    rows = read_jobs(make_sweep(tmp_path, jobs))
    keys = swept_keys(rows)
    fig = figure(rows, keys, seed_groups(rows, keys))
    cells = sorted(t.get_text() for t in fig.axes[0].texts)
    assert cells == ["0.020", "0.040", "0.060", "0.080"]  # the middle seed's: twice the first (the mean: 3 times)
    assert "median W1/sd over seeds (3 each) of 4 settings" == fig.axes[0].get_title()


def test_a_search_draws_each_searched_key_against_w1(tmp_path):
    jobs = [([f"optim.g_lr={g}", f"optim.d_lr={d}"], ok(w1, 0.01))
            for g, d, w1 in [(1e-5, 3e-3, 0.2), (2e-4, 1e-4, 0.05), (7e-3, 6e-4, 0.1), (4e-4, 5e-4, 0.02)]]
    jobs.append((["optim.g_lr=9e-3", "optim.d_lr=2e-5"], {"status": "failed", "reason": "diverged"}))
    sweep = make_sweep(tmp_path / "search", jobs, sweeper="optuna")
    assert searched(sweep) and not searched(make_sweep(tmp_path / "grid", jobs))  # Hydra's own sweeper: a grid
    summarise(sweep)
    rows = read_jobs(sweep)
    fig = figure(rows, swept_keys(rows), search=True)
    panels = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [ax.get_xlabel() for ax in panels] == ["optim.g_lr", "optim.d_lr"]
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in panels)
    assert "best: 0.0004" in [t.get_text() for t in panels[0].get_legend().get_texts()]


def test_a_large_sweep_draws_a_ranked_curve_and_an_unnumbered_heatmap():
    def row(n, overrides):  # every 10th job failed
        record = ok(0.01 * (1 + n % 7), 0.01) if n % 10 else {"status": "failed"}
        return {"job": str(n), "overrides": overrides, "run_dir": str(n), **record}

    many = [row(n, [f"steps={n}"]) for n in range(61)]  # one bar each would be 61 labels: one curve instead
    ax = figure(many, ["steps"]).axes[0]
    assert not ax.patches and len(ax.lines) == 1 and ax.get_xlabel() == "job's rank (best first)"
    assert list(ax.lines[0].get_ydata()) == sorted(r["w1_over_std"] for r in many if r["status"] == "ok")
    assert ax.get_title().endswith("; 7 failed")
    assert len(figure(many[:60], ["steps"]).axes[0].patches) == 60
    def grid(side):
        return [row(n, [f"optim.g_lr={n // side}", f"optim.d_lr={n % side}"]) for n in range(side * side)]

    ax = figure(grid(21), ["optim.g_lr", "optim.d_lr"]).axes[0]
    assert not ax.texts and len(ax.get_xticks()) == 11  # no numbers in 441 cells; a tick every other value
    ax = figure(grid(20), ["optim.g_lr", "optim.d_lr"]).axes[0]
    assert len(ax.texts) == 400 and len(ax.get_xticks()) == 20


def test_groups_are_ranked_by_median_not_worst(tmp_path):
    jobs = [([f"optim.g_lr={lr}", f"seed={s}"], ok(w1, 0.01)) for lr, scores in
            [("1e-4", (0.02, 0.02, 0.02)), ("1e-3", (0.01, 0.01, 0.5))] for s, w1 in enumerate(scores)]
    summarise(make_sweep(tmp_path, jobs))
    groups = [r for r in csv.DictReader((tmp_path / "summary.csv").open()) if r["row"] == "seeds"]
    assert [g["overrides"] for g in groups] == ["optim.g_lr=1e-3", "optim.g_lr=1e-4"]  # best median first


def test_a_job_that_died_before_writing_metrics_is_listed_as_failed(tmp_path):
    rows = summarise(make_sweep(tmp_path, [(["seed=0"], ok(0.01, 0.01)), (["seed=1"], None)]))
    assert [(r["job"], r["status"]) for r in rows] == [("0", "ok"), ("1", "failed")]
    assert "no metrics.json" in rows[1]["reason"]


def test_jobs_are_listed_in_numeric_order(tmp_path):
    rows = read_jobs(make_sweep(tmp_path, [([f"seed={s}"], ok(0.01, 0.01)) for s in range(11)]))
    assert [r["job"] for r in rows] == [str(i) for i in range(11)]


def test_a_diverged_seed_counts_as_failed_even_with_scores(tmp_path):
    # A diverged run's metrics.json keeps its last evaluation: it must not count as a finished seed.
    diverged = {**ok(0.01, 0.005), "status": "diverged", "reason": "NaN"}
    summarise(make_sweep(tmp_path, [(["seed=0"], ok(0.03, 0.01)), (["seed=1"], diverged)]))
    group = [r for r in csv.DictReader((tmp_path / "summary.csv").open()) if r["row"] == "seeds"][0]
    assert (group["passed"], group["failed"], float(group["median_w1_over_std"])) == ("1", "1", 0.03)
