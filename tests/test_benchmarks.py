"""Smoke versions of the benchmarks (the slow ones run with `pytest -m slow`). They check that the scripts run
and print their tables; the figures themselves come from the full runs, never from tests. Fast checks: the
throughput script on 60 iterations, a slow batch found, and what exit_stress calls a clean exit, on faked
processes."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.slow
def test_quality_benchmark_smoke(tmp_path, capsys):
    import numpy as np
    import quality

    from gan1d.metrics import Evaluator
    from gan1d.sample import sample
    from gan1d.targets import Gaussian

    table = quality.main(["--seeds", "1", "--steps", "60", "--jobs", "1", "--targets", "N(4, 1.25)",
                          "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")])
    assert [(t["preset"], t["seeds"]) for t in table] == [("default", 1), ("seed2017", 1)]
    assert "| default | N(4, 1.25) | 60 |" in capsys.readouterr().out
    saved = json.loads((tmp_path / "out" / "quality.json").read_text())
    assert len(saved["runs"]) == 2
    for run, row in zip(saved["runs"], table, strict=True):
        # The scores are those of 20,000 fresh samples from the run's checkpoint, against the exact target.
        samples = np.load(Path(run["run_dir"]) / "samples.npy")
        assert np.array_equal(samples, sample(run["run_dir"], 20_000, seed=quality.SAMPLE_SEED + run["seed"]))
        scores = Evaluator(Gaussian(4, 1.25))(samples)
        assert (run["w1_over_std"], run["ks"]) == (scores["w1_over_std"], scores["ks"])
        assert (row["median_w1_over_std"], row["median_ks"]) == (run["w1_over_std"], run["ks"])
        assert row["passed"] == f"{int(run['w1_over_std'] <= 0.04 and run['ks'] <= 0.02)}/1"
    assert (tmp_path / "out" / "quality_overlays.png").stat().st_size > 10_000


def test_throughput_benchmark_smoke(tmp_path):
    """In a process of its own with a time limit: a plain loop that misses the run's end (the data stream is
    endless) would otherwise never return."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py"
    out = subprocess.run([sys.executable, str(script), "--repeats", "1", "--steps", "60", "--presets", "seed2017",
                          "--startup-repeats", "0", "--json", str(tmp_path / "t.json")],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert "| seed2017 | 60 |" in out and "gan1d / plain" in out
    (row,) = json.loads((tmp_path / "t.json").read_text())["rows"]
    # Both loops really trained 60 iterations (a loop that skipped its work would run thousands per second) at
    # speeds of one order (over 60 iterations the first batch's set-up weighs on gan1d's side: 0.26 seen in a suite).
    assert 1 < row["plain_it_s"] < 5000 and 1 < row["gan1d_it_s"] < 5000
    assert row["ratio"] == pytest.approx(row["gan1d_runs"][0] / row["plain_runs"][0], abs=0.01)
    assert 0.1 < row["ratio"] < 10


def test_batch_times_finds_a_slow_batch_and_restores_the_step(monkeypatch, tmp_path):
    import time

    import batch_times

    import gan1d.module

    step = gan1d.module.GAN1D.training_step

    def slow_second_batch(module, *args, **kwargs):
        if module.iteration == 50:  # the batch of iterations 51-100: a second, far beyond any batch's own time
            time.sleep(1.0)
        step(module, *args, **kwargs)

    monkeypatch.setattr(gan1d.module.GAN1D, "training_step", slow_second_batch)
    batch_times.main(["--runs", "1", "--json", str(tmp_path / "b.json"), "steps=200", "logger=none",
                      "callbacks.progress_bar.refresh_rate=0"])
    (run,) = json.loads((tmp_path / "b.json").read_text())["runs"]
    assert list(run["slow_batches_ms"]) == ["100"] and run["slow_batches_ms"]["100"] >= 1000
    assert 0.3 < run["excess_share"] < 1  # 1 s of the steps' time was the sleep, beside about 0.3 s of steps
    assert gan1d.module.GAN1D.training_step is slow_second_batch  # the timing wrapper is taken off again


@pytest.mark.slow
def test_scaling_benchmark_smoke(tmp_path, capsys):
    import scaling

    rows = scaling.main(["--steps", "50", "--batches", "64", "128", "--widths", "32", "--out", str(tmp_path)])
    assert [(r["batch"], r["width"]) for r in rows] == [(64, 64), (128, 64), (256, 32)]
    # Real runs: iterations at a believable speed, samples/s from them, and the memory of a process holding torch.
    assert all(1 < r["it_s"] < 5000 and r["samples_s"] == round(r["it_s"] * r["batch"]) for r in rows)
    assert all(100 < r["peak_mib"] < 4000 for r in rows)
    assert "| 128 | 64 |" in capsys.readouterr().out
    assert (tmp_path / "scaling.png").stat().st_size > 10_000


def test_data_benchmark_scores_every_method_on_the_part_gan1d_scores_on(tmp_path):
    """gan1d (a short run, as it is and corrected) and the KDE peer on one unseen mixture: each row's scores are its
    saved samples against the column's held-out part, recomputed here, and the table carries the column's floors
    below the notes an earlier data.md had above its table."""
    import data
    import numpy as np

    from gan1d.metrics import ks_two_sample, wasserstein1_two_sample

    column = "random_mixture(0)"
    (tmp_path / "out").mkdir()
    notes = "# A title\n\nMeasured on this machine, at this commit, by hand.\n\n"
    (tmp_path / "out" / "data.md").write_text(notes + "Seeds 0-4; an older table\n\n| old | row |\n")
    rows = data.main(["--seeds", "1", "--steps", "60", "--jobs", "1", "--columns", column, "--peers", "kde", "copy",
                      "--samples", "5000", "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")])
    assert sorted(r["method"] for r in rows) == ["copy", "gan1d", "gan1d corrected", "kde"]
    train, held_out = data.split(tmp_path / "runs" / "columns" / "random_mixture_0.npy")
    assert len(train) + len(held_out) == data.MIXTURE_DRAWS and len(held_out) < len(train)
    for r in rows:
        samples = np.load(r["samples"]).astype(np.float64)
        assert len(samples) == 5000
        if r["method"] == "copy":  # the training part's own values, never the held-out part's
            assert np.isin(samples, train).all() and len(np.unique(samples)) > 100
        assert r["w1_over_std"] == pytest.approx(wasserstein1_two_sample(samples, held_out) / held_out.std())
        assert r["ks"] == pytest.approx(ks_two_sample(samples, held_out))
    floor = wasserstein1_two_sample(train, held_out) / held_out.std()
    row = f"| {column} | {len(train)} / {len(held_out)} | {floor:.4f} | {ks_two_sample(train, held_out):.4f} |"
    table = (tmp_path / "out" / "data.md").read_text()
    assert row in table and "scored on 5,000 samples" in table
    assert table.startswith(notes + "Seeds 0-0;") and "old" not in table  # the notes kept, the older table replaced


def test_data_benchmark_draws_a_run_again_only_for_another_checkpoint(tmp_path):
    """With reuse, a run's draws are read back where the checkpoint that drew them is the run's; drawn by another
    (the run trained again), they are drawn again."""
    import data

    column = "random_mixture(0)"
    args = ["--seeds", "1", "--steps", "60", "--jobs", "1", "--columns", column, "--peers", "--samples", "2000",
            "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]
    data.main(args)
    run_dir = tmp_path / "runs" / "gan1d" / "default" / "random_mixture_0" / "seed0"
    record = run_dir / "samples_corrected_n2000.json"
    saved = json.loads(record.read_text())
    assert data.drawn(run_dir, 0, 2000, reuse=True) == saved  # the same checkpoint: read back
    record.write_text(json.dumps({**saved, "checkpoint_sha256": "another"}))
    assert data.drawn(run_dir, 0, 2000, reuse=True)["checkpoint_sha256"] == saved["checkpoint_sha256"]
    assert json.loads(record.read_text())["checkpoint_sha256"] == saved["checkpoint_sha256"]  # drawn again


def test_the_copy_of_the_training_part_is_counted_but_never_ranked():
    """The copy is a reference: its column-seeds are counted against the floors, but it is never a column's best
    nor a peer gan1d is compared with, even where it scores lowest."""
    import data

    floors = {"x": {"train": 80, "held_out": 20, "w1_over_std": 0.1, "ks": 0.1}}
    scored = {"gan1d": 0.105, "gan1d corrected": 0.1, "kde": 0.2, "copy": 0.09}
    rows = [{"method": m, "column": "x", "seed": 0, "w1_over_std": v, "ks": v, "outside": 0.0, "wall_s": 1.0}
            for m, v in scored.items()]
    methods = list(scored)
    row = data.markdown(rows, floors, methods, seeds=1).splitlines()[-1]
    assert row.count("| gan1d corrected |") == 2 and "| copy |" not in row  # best on W1/sd and on KS
    said = data.verdict(rows, floors, methods)
    assert "- copy within 1.1x the W1/sd floor and 1.2x the KS floor: 1/1 column-seeds." in said
    assert "below kde's" in said and "copy's" not in said


@pytest.mark.parametrize("peer", ["isj_kde", "flow"])
def test_the_stronger_peers_learn_a_two_mode_column(peer):
    """KDEpy's ISJ KDE and zuko's spline flow, fit on 2,000 values of a narrow and a wide mode, land near the
    column's distribution (200,000 fresh draws); a fit that learned nothing (the flow's initial N(0, 1), a draw of
    the wrong bandwidth) misses by far more."""
    import data
    import numpy as np
    import torch

    from gan1d.metrics import ks_two_sample, wasserstein1_two_sample

    rng = np.random.default_rng(0)

    def draws(n):
        return np.concatenate([rng.normal(-3, 0.3, n * 7 // 20), rng.normal(2, 1, n * 13 // 20)])

    column, truth = draws(2000), np.sort(draws(200_000))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as fit_peer runs it
    try:
        samples = np.sort(data.PEER_FITS[peer](column, seed=0, n=20_000))
    finally:
        torch.set_num_threads(threads)
    assert samples.shape == (20_000,)
    assert wasserstein1_two_sample(samples, truth) / truth.std() < 0.05 and ks_two_sample(samples, truth) < 0.04


@pytest.mark.slow
def test_gpu_benchmark_smoke(tmp_path, capsys):
    import gpu
    import torch

    rows = gpu.main(["--steps", "60", "--repeats", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    cpu = rows[0]
    assert cpu["run"] == "cpu, 1 core" and 1 < cpu["it_s"] < 5000 and cpu["x_cpu"] == 1
    assert cpu["it_s"] == pytest.approx(cpu["runs"][0], abs=0.05)  # one run: the median is its speed
    if torch.cuda.is_available():
        assert [r["run"] for r in rows] == ["cpu, 1 core", "gpu, eager", "gpu, CUDA graph"]
        assert all(r["x_cpu"] == pytest.approx(r["it_s"] / cpu["it_s"], abs=0.01) for r in rows)
    else:  # the GPU rows are named, never guessed
        assert len(rows) == 1 and "no CUDA GPU on this machine" in out
        assert "| gpu, eager | needs a CUDA GPU |" in out and "| gpu, CUDA graph | needs a CUDA GPU |" in out
    saved = json.loads((tmp_path / "gpu_solo.json").read_text())
    assert saved["rows"] == rows and saved["steps"] == 60
    assert (tmp_path / "gpu_solo.png").stat().st_size > 5_000


@pytest.mark.slow
def test_population_benchmark_smoke(tmp_path, capsys):
    import population

    result = population.main(["--seeds", "2", "--lrs", "1e-3", "--steps", "20", "--repeats", "1",
                              "--out", str(tmp_path)])
    assert "| population |" in capsys.readouterr().out
    assert [len(result["walls"][name]) for name in population.LAUNCHERS] == [1, 1]
    assert result["ratios"][0] == pytest.approx(result["walls"]["basic"][0] / result["walls"]["population"][0])
    # Both sweeps trained the same two jobs, to the same place.
    assert [(row["seed"], row["g_lr"]) for row in result["jobs"]] == [(0, 1e-3), (1, 1e-3)]
    assert all(row["solo_w1_over_std"] == pytest.approx(row["replica_w1_over_std"], rel=1e-5) for row in result["jobs"])
    assert (tmp_path / "population.md").read_text().startswith("device: CPU")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sweep", "run"])
def test_exit_stress_smoke(tmp_path, capsys, kind):
    import exit_stress

    rows = exit_stress.main(["--kind", kind, "--repeats", "1", "--seeds", "2", "--steps", "20", "--out", str(tmp_path)])
    assert [(row["rc"], row["clean"]) for row in rows] == [(0, True)], capsys.readouterr().out
    runs = list((tmp_path / "attempt0").glob("*/metrics.json" if kind == "sweep" else "metrics.json"))
    assert len(runs) == (2 if kind == "sweep" else 1)  # every job of the sweep ran


def test_exit_stress_counts_a_wrong_exit_code_or_a_runtime_abort_as_unclean(tmp_path, monkeypatch):
    import exit_stress

    def fake(rc, output):
        class Popen:
            def __init__(self, *args, **kwargs):
                self.returncode = rc

            def poll(self):
                return rc

            def send_signal(self, signum):
                pass

            def communicate(self):
                return output.encode(), None

        return SimpleNamespace(Popen=Popen, PIPE=-1, STDOUT=-2)

    cases = [(0, "done\n", True), (1, "done\n", False),
             (0, "terminate called after throwing an instance of 'c10::Error'\n", False),
             (0, "Fatal Python error: Segmentation fault\n", False)]
    for rc, output, clean in cases:
        monkeypatch.setattr(exit_stress, "subprocess", fake(rc, output))
        row = exit_stress.attempt("run", "bimodal", 1, 10, tmp_path / "attempt")
        assert row["clean"] is clean, (rc, output)


def test_data_size_benchmark_scores_the_part_gan1d_scores_on(tmp_path, capsys):
    """The floor and the perfect generator's score, recomputed here from the file the script drew and gan1d's split."""
    import data_size
    import numpy as np
    import torch

    from gan1d.metrics import bootstrap_floor, wasserstein1_two_sample
    from gan1d.split import split
    from gan1d.targets import Mixture

    small, split_row = data_size.main(["--sizes", "30", "1000", "--draws", "1", "--out", str(tmp_path)])
    assert (small["regime"], small["train"], split_row["regime"]) == ("small", 30, "split")
    truth = Mixture(**data_size.TRUTH)
    x = truth.sample(1000, torch.Generator().manual_seed(0)).double().numpy()
    train, _, test = split(x, 0.2, 0.0, 0)
    assert (split_row["train"], split_row["scored_on"]) == (len(train), len(test))
    assert split_row["w1_over_std_floor"] == pytest.approx(wasserstein1_two_sample(train, test) / test.std())
    perfect = truth.sample(data_size.PERFECT, torch.Generator().manual_seed(10_000)).double().numpy()
    assert split_row["perfect_w1_over_std"] == pytest.approx(wasserstein1_two_sample(perfect, test) / test.std())
    x30 = np.sort(truth.sample(30, torch.Generator().manual_seed(0)).double().numpy())
    assert small["w1_over_std_floor_p95"] == pytest.approx(bootstrap_floor(x30, x30.std())["w1_over_std_floor_p95"])
    assert "| 1000 | split |" in capsys.readouterr().out and (tmp_path / "data_size.json").is_file()


def test_data_benchmark_scores_a_small_column_as_gan1d_does(tmp_path):
    """A column too small to hold out: every method is scored in-sample, and the floor is gan1d's bootstrap one."""
    import data
    import numpy as np

    from gan1d.metrics import bootstrap_floor

    x = np.random.default_rng(0).normal(size=150)
    np.save(tmp_path / "x.npy", x)
    train, scored_on = data.split(tmp_path / "x.npy")
    assert np.array_equal(train, np.sort(x)) and np.array_equal(scored_on, np.sort(x))
    floor = data.floor_row("x", tmp_path / "x.npy")
    assert floor["w1_over_std"] == pytest.approx(bootstrap_floor(np.sort(x), x.std())["w1_over_std_floor"])


@pytest.mark.slow
def test_report_scale_benchmark_smoke(tmp_path, capsys):
    import report_scale

    rows = report_scale.main(["--runs", "150", "--repeats", "1", "--shapes", "grid", "one_key", "--out", str(tmp_path)])
    assert [r["shape"] for r in rows] == ["grid", "one_key"] and all(r["median_s"] > 0 for r in rows)
    assert "| one_key | seed, 150 values |" in capsys.readouterr().out
    saved = json.loads((tmp_path / "report_scale.json").read_text())
    assert saved["runs"] == 150 and "commit" in saved["machine"]


def test_data_benchmark_reads_a_peer_at_the_column_s_decimals(tmp_path):
    """A rounded column: the peer's saved samples are continuous, its scores are theirs rounded as the data are."""
    import data
    import numpy as np

    from gan1d.metrics import ks_two_sample

    np.save(tmp_path / "x.npy", np.round(np.random.default_rng(0).normal(170, 10, 400)))
    job = {"method": "kde", "column": "x", "seed": 0, "path": str(tmp_path / "x.npy"), "reuse": False, "fit": True,
           "n": 20_000, "samples": str(tmp_path / "kde.npy")}
    row = data.fit_peer(job)
    raw = np.load(tmp_path / "kde.npy")
    _, held_out = data.split(tmp_path / "x.npy")
    assert row["ks"] == pytest.approx(ks_two_sample(np.round(raw), held_out))
    assert row["ks"] < ks_two_sample(raw, held_out)


def test_the_prior_probe_draws_each_code_by_its_prior_and_keeps_the_noise_normal():
    import torch
    from prior_probe import PriorGenerator

    prior = [0.1, 0.2, 0.3, 0.4]
    g = PriorGenerator(noise="normal", noise_dim=2, categories=4, prior=prior)
    z = g.noise_like(400_000, torch.Generator().manual_seed(0))
    coded = g.coded(z)
    code = coded[:, 2:].argmax(1)
    assert torch.allclose(torch.bincount(code, minlength=4) / len(z), torch.tensor(prior), atol=0.003)
    for k in range(4):  # the first noise value, stretched back over its code's slice, is N(0, 1) within each code
        first = coded[code == k, 0]
        assert abs(first.mean()) < 0.02 and abs(first.std() - 1) < 0.02
    assert torch.equal(coded[:, 1], z[:, 1])


def test_the_prior_probe_moves_the_prior_to_the_codes_weights_on_both_generators():
    import torch
    from prior_probe import PriorGAN, PriorGenerator

    weights = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    generators = [PriorGenerator(noise="normal", noise_dim=2, categories=4) for _ in range(2)]
    for g in generators:  # each draw's value is its code, so that the critic below can read the code
        g.by_code = lambda z: z[:, 2:].argmax(1, keepdim=True).float()
    # A D at its optimum: its logit at code k's draws is log(p/q) = log(weight_k / pi_k).
    critic = lambda x: (weights / generators[0].prior).log()[x.squeeze(1).long()].float()  # noqa: E731
    module = SimpleNamespace(generator=generators[0], generator_ema=generators[1], device="cpu", critic=critic,
                             standardize=lambda x: x, learning_rates=lambda done: (1e-3, 1e-3), g_lr=1e-3,
                             optim=SimpleNamespace(lr_decay_start=0.5), rate=1.0, floor=0.2, report=lambda m: None)
    PriorGAN.update_prior(module, 50)
    for g in generators:
        assert torch.allclose(g.prior, weights, atol=1e-6)
        assert g.config["prior"] == g.prior.tolist()
