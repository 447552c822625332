"""Bad input, divergence and interruption: one clear line, a status in metrics.json, nothing lost."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import numpy as np
import pytest
import torch
from helpers import run_cli
from hydra import compose, initialize_config_module

from gan1d.callbacks import Checkpoint, Figures, LossCurves
from gan1d.dashboard import Dashboard, Files
from gan1d.errors import ConfigError, Diverged
from gan1d.files import atomic_file, write_json
from gan1d.report import summarise
from gan1d.run import train
from gan1d.sample import save

# (override, the key the one-line error must name)
BAD_INPUTS = [
    ("target.std=-1", "target.std"),
    ("target.std=inf", "target.std"),
    ("target.mean=abc", "target.mean"),
    ("data.batch_size=0", "data.batch_size"),
    ("preprocessor=moments data.batch_size=100", "preprocessor.pack"),  # pack 32 does not divide 100
    ("preprocessor.pack=3", "preprocessor.pack"),
    ("preprocessor.pack=0", "preprocessor.pack"),
    ("steps=0", "steps"),
    ("steps=ten", "steps"),
    ("optim.g_lr=0", "optim.g_lr"),
    ("optim.d_lr=-1e-3", "optim.d_lr"),
    ("optim.betas=[0.5,1.5]", "optim.betas"),
    ("optim.d_steps=0", "optim.d_steps"),
    ("model.loss=wasserstein", "model.loss"),
    ("optim.ema=1", "optim.ema"),
    ("penalties.r1_gamma=-1", "penalties.r1_gamma"),
    ("model.generator.noise=cauchy", "model.generator.noise"),
    ("model.generator.hidden=[64,-1]", "model.generator.hidden"),
    ("model.discriminator.activations=swishy", "model.discriminator.activations"),
    ("threads=0", "threads"),
    ("trainer.accelerator=tpuu", "trainer.accelerator"),
    ("target=uniform target.low=2 target.high=1", "target.low"),
    ("target=mixture target.weights=[1,-1]", "target.weights"),
    ("target=mixture target.stds=[0.5]", "target.weights"),
    ("ckpt_path=/no/such/file.ckpt", "ckpt_path"),
    ("seed=-1", "seed=-1"),
    ("seed=true", "seed=true"),
    ("data.standardize=maybe", "data.standardize"),
    ("trainer.devices=2", "trainer.devices"),
    ("target=student_t target.df=0.01", "target.df=0.01"),
    ("+trainer.foo=1", "trainer: Lightning refused"),
    ("trainer.max_steps=1000", "set steps= instead"),  # Lightning's length keys point at gan1d's
    ("trainer.max_epochs=5", "trainer.max_epochs=5 is not allowed: it must be 1: a run is one epoch of steps= "
                             "iterations"),
]


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_bad_inputs_through_the_cli_end_in_one_line(tmp_path):
    """Every row runs the real CLI; two at a time, since each pays Python's and torch's start-up."""

    def attempt(row):
        return row, run_cli("gan1d.train", *row[0].split(), f"hydra.run.dir={tmp_path / 'never'}", cwd=tmp_path)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(attempt, BAD_INPUTS))
    assert len(BAD_INPUTS) >= 25
    for (override, key), proc in results:
        assert proc.returncode == 2, (override, proc.stderr[-2000:])
        line = one_line_error(proc)
        assert line.startswith("gan1d: ") and key in line, (override, line)


def test_unknown_group_option_lists_the_choices(tmp_path):
    proc = run_cli("gan1d.train", "target=gausian", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Could not find 'target/gausian'" in proc.stderr and "gaussian" in proc.stderr  # Hydra's list
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args,key", [
    (["ckpt=/nope", "n=0"], "n=0"),
    (["ckpt=/nope", "n=many"], "n='many'"),
    (["ckpt=/nope", "n=1000000000"], "n=1000000000"),
    (["ckpt=/nope", "out=5"], "out=5"),
    (["ckpt=5"], "ckpt=5"),
    (["ckpt=/nope", "seed=true"], "seed=true"),
    (["ckpt=/nope", "seed=-1"], "seed=-1"),
    ([], "ckpt is required"),
    (["ckpt=/nope"], "ckpt=/nope"),
    (["ckpt=/nope", "out=x.txt"], "out=x.txt"),
    (["ckpt=/nope", "bogus=1"], "bogus"),
    (["ckpt"], "key=value"),
])
def test_sample_bad_arguments_are_one_line(capsys, args, key):
    from gan1d.sample import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("gan1d.sample: ") and key in err


class Evil:
    """Unpickled, it would create the file ``marker``: what a checkpoint that runs code does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_sample_rejects_junk_checkpoints_without_running_them(tmp_path, capsys):
    from gan1d.sample import main

    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    evil, marker = tmp_path / "evil.ckpt", tmp_path / "code-ran"
    torch.save({"gan1d_generator": Evil(marker)}, evil)
    for path in (junk, evil):
        with pytest.raises(SystemExit):
            main([f"ckpt={path}"])
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "not a gan1d checkpoint" in err
    assert not marker.exists()  # weights_only=True refused the pickle before it could run anything


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(make_cfg, tmp_path):
    cfg = make_cfg("steps=60", "checkpoint_every=10", "iterations_per_batch=5", *CONSTANT_LR,
                   "+callbacks.poison._target_=helpers.PoisonAt", "+callbacks.poison.iteration=25")
    with pytest.raises(Diverged, match="between iterations 21 and 30"):
        train(cfg)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "diverged" and "iterations 21 and 30" in record["reason"]
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["gan1d_iteration"] == 20  # the last one before the NaN
    assert_weights_of_a_clean_run(ckpt, make_cfg("steps=20", "iterations_per_batch=5", *CONSTANT_LR,
                                                 f"run_dir={tmp_path / 'clean'}"))


def assert_weights_of_a_clean_run(ckpt: dict, clean_cfg) -> None:
    """``ckpt`` holds exactly the weights a run never poisoned has at the end (``clean_cfg``: the same recipe,
    stopped at the checkpoint's iteration)."""
    train(clean_cfg)
    assert_same_weights(ckpt["state_dict"], final_weights(Path(clean_cfg.run_dir)))


def test_divergence_through_the_cli_is_one_line(tmp_path):
    proc = run_cli("gan1d.train", "optim.g_lr=1e38", "optim.d_lr=1e38", "steps=100", "log_every=10",
                   f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 3
    line = one_line_error(proc)
    assert "training diverged" in line and "iteration" in line
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "diverged"


# Every loss and penalty: each draws its own random numbers and keeps its own state.
RECIPES = {"non_saturating+R1": [], "minimax": ["loss=minimax"], "lsgan": ["loss=lsgan"],
           "hinge+R2": ["loss=hinge", "penalties.r2_gamma=1"], "wgan_gp": ["loss=wgan_gp"], "no_ema": ["optim.ema=0"],
           "basic": ["experiment=basic"]}
# A decaying learning rate follows `steps`: a run trained longer decays over its new length, so it cannot end where
# a run that asked for that length from the start ends; these runs keep their rates constant.
CONSTANT_LR = ["optim.lr_decay_start=1"]
# 30 iterations in batches of 10, no figures: short runs, with a cut that falls inside a batch.
SHORT = ["steps=30", "log_every=10", "eval_every=10", "checkpoint_every=10", "data.eval_size=2000",
         "~callbacks.figures", "~callbacks.loss_curves"]


def final_weights(run_dir) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The final weights of each recipe's uninterrupted 30-iteration run, trained once for the tests below."""
    cache = {}

    def weights(recipe: str, *overrides: str) -> dict:
        key = (recipe, *overrides)
        if key not in cache:
            run_dir = tmp_path_factory.mktemp("whole")
            with initialize_config_module("gan1d.conf", version_base="1.3"):
                train(compose("train", overrides=[*RECIPES[recipe], *overrides, *SHORT, f"run_dir={run_dir}"]))
            cache[key] = final_weights(run_dir)
        return cache[key]

    return weights


@pytest.mark.parametrize("recipe", RECIPES)
def test_interrupted_run_resumes_bit_identical(make_cfg, tmp_path, uninterrupted, recipe):
    cut, resumed = tmp_path / "cut", tmp_path / "resumed"
    with pytest.raises(SystemExit):  # Lightning's graceful shutdown after a KeyboardInterrupt exits with 1
        # Ctrl-C inside iteration 13, in the middle of a batch of 10: the run stops at that iteration's end.
        train(make_cfg(*RECIPES[recipe], *SHORT, f"run_dir={cut}",
                       "+callbacks.kill._target_=helpers.SignalInIteration", "+callbacks.kill.iteration=13"))
    record = json.loads((cut / "metrics.json").read_text())
    assert record["status"] == "interrupted" and record["steps"] == 13
    assert torch.load(cut / "checkpoints" / "last.ckpt", weights_only=True)["gan1d_iteration"] == 13
    finished = train(make_cfg(*RECIPES[recipe], *SHORT, f"run_dir={resumed}", f"ckpt_path={cut}"))
    assert finished["status"] == "ok" and finished["steps"] == 30
    assert_same_weights(final_weights(resumed), uninterrupted(recipe))


@pytest.mark.parametrize("recipe", RECIPES)
def test_a_finished_run_trains_longer(make_cfg, tmp_path, uninterrupted, recipe):
    short, longer = tmp_path / "short", tmp_path / "longer"
    assert train(make_cfg(*RECIPES[recipe], *CONSTANT_LR, *SHORT, "steps=20", f"run_dir={short}"))["status"] == "ok"
    record = train(make_cfg(*RECIPES[recipe], *CONSTANT_LR, *SHORT, f"run_dir={longer}", f"ckpt_path={short}"))
    assert record["status"] == "ok" and record["steps"] == 30
    assert_same_weights(final_weights(longer), uninterrupted(recipe, *CONSTANT_LR))


def test_a_checkpoint_without_gan1d_s_iteration_count_resumes_where_it_stopped(make_cfg, tmp_path, uninterrupted):
    """A checkpoint written before gan1d counted its iterations itself: Lightning's count of the optimizer steps
    (d_steps + g_steps an iteration) says where it stopped."""
    cut = tmp_path / "cut"
    with pytest.raises(SystemExit):  # through Lightning's wrappers (the callback's hook), so global_step counts
        train(make_cfg(*SHORT, f"run_dir={cut}", "+callbacks.kill._target_=helpers.SignalInIteration",
                       "+callbacks.kill.iteration=13"))
    path = cut / "checkpoints" / "last.ckpt"
    old = torch.load(path, weights_only=True)
    assert old.pop("gan1d_iteration") == 13 and old["global_step"] == 13 * 3
    torch.save(old, path)
    record = train(make_cfg(*SHORT, f"run_dir={tmp_path / 'resumed'}", f"ckpt_path={cut}"))
    assert record["status"] == "ok" and record["steps"] == 30
    assert_same_weights(final_weights(tmp_path / "resumed"), uninterrupted("non_saturating+R1"))


class StopAt(L.Callback):
    """A user's callback that ends training early through Lightning's public flag."""

    def __init__(self, iteration: int):
        self.iteration = iteration

    def on_train_batch_end(self, trainer, pl_module, *args):
        if pl_module.iteration >= self.iteration:
            trainer.should_stop = True


def test_a_run_resumed_at_its_end_trains_nothing_and_one_ended_early_says_so(make_cfg, tmp_path, caplog):
    done = tmp_path / "done"
    train(make_cfg(*SHORT, f"run_dir={done}"))
    with caplog.at_level("WARNING", logger="gan1d"):
        again = train(make_cfg(*SHORT, f"run_dir={tmp_path / 'again'}", f"ckpt_path={done}"))
    assert again["status"] == "ok" and again["steps"] == 30 and "training ended" not in caplog.text
    assert not (tmp_path / "again" / "checkpoints").exists()  # no iteration, nothing to save
    with caplog.at_level("WARNING", logger="gan1d"):
        train(make_cfg(*SHORT, f"run_dir={tmp_path / 'early'}", "+callbacks.stop._target_=test_reliability.StopAt",
                       "+callbacks.stop.iteration=10"))
    assert "training ended at iteration 10 of steps=30" in caplog.text


def test_training_longer_follows_the_longer_runs_rate_schedule(make_cfg, tmp_path):
    """What docs/usage.md#resume-or-train-longer says: resumed with a larger steps, the rates are the longer run's
    from the resume point on, so a decayed run's rates jump back up."""
    from test_train import LearningRatesUsed

    decay = ["optim.lr_decay_start=0.5", "optim.g_lr=1e-3", "+callbacks.lrs._target_=test_train.LearningRatesUsed"]
    seen = {}
    for steps, run_dir, resume in ((20, "short", []), (30, "longer", [f"ckpt_path={tmp_path / 'short'}"])):
        train(make_cfg(*decay, *SHORT, f"steps={steps}", f"run_dir={tmp_path / run_dir}", *resume))
        seen[steps] = LearningRatesUsed.last.seen[2::3]  # G's rate, each iteration
    assert seen[20][-1] == pytest.approx(1e-3 * 0.1)  # iteration 20 of 20
    assert seen[30] == pytest.approx([1e-3 * min(1, (1 - (t - 1) / 30) / 0.5) for t in range(21, 31)])
    assert seen[30][0] == pytest.approx(1e-3 * 2 / 3)


def test_a_second_ctrl_c_stops_at_once_and_keeps_the_last_good_checkpoint(make_cfg, tmp_path):
    with pytest.raises(SystemExit):
        train(make_cfg(*SHORT, "+callbacks.kill._target_=helpers.SignalInIteration", "+callbacks.kill.iteration=13",
                       "+callbacks.kill.count=2"))
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "interrupted" and "last one written before" in record["reason"]
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["gan1d_iteration"] == 10


def test_sigterm_through_the_cli_writes_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "gan1d.train", "steps=100000", "checkpoint_every=50",
                             f"hydra.run.dir={run}"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 120
    while not (run / "checkpoints" / "last.ckpt").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr[-2000:]
    assert "terminate called" not in stderr  # nothing from the C++ runtime as the process ends
    record = json.loads((run / "metrics.json").read_text())
    assert record["status"] == "interrupted" and 50 <= record["steps"] < 100000
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["gan1d_iteration"] == record["steps"]


def test_a_writer_killed_half_way_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"status": "ok"})
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(path) as f:
            f.write('{"status": "interr')
            raise KeyboardInterrupt  # the process stops here, half-way through the file
    assert json.loads(path.read_text()) == {"status": "ok"}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# Each of gan1d's writers, writing version v of its files (different bytes for each v); returns their paths.
def write_metrics(run, v):
    write_json(run / "metrics.json", {"steps": v})
    return [run / "metrics.json"]


def write_samples(run, v):
    save(np.arange(v + 1.0), run / "samples.npy")
    return [run / "samples.npy"]


def fake_module(iteration=1):
    return SimpleNamespace(iteration=iteration, dashboard=Dashboard(None, "."), d_prob=True, d_equilibrium=0.5,
                           parameters=lambda: [torch.zeros(2)])


def overlay_png(v):
    from gan1d.figures import OverlayData, overlay_png

    x = np.linspace(-3, 3, 50)
    return overlay_png(OverlayData(x, np.exp(-x**2 / 2), np.full(100, float(v)), f"version {v}"))


def write_loss_curves(run, v):
    curves = LossCurves()
    curves.history["loss/d"] = [(1, 0.5), (2, float(v))]
    curves.on_train_end(SimpleNamespace(default_root_dir=str(run)), fake_module())
    return [run / "loss_curves.png"]


def write_figures(run, v):
    figures = Figures()
    png = overlay_png(v)
    figures.frames, figures.last = [png], {"pdf_overlay": png, "generator_map": png}
    figures.on_train_end(SimpleNamespace(default_root_dir=str(run)), fake_module())
    return [run / "pdf_overlay.png", run / "generator_map.png", run / "training.gif"]


def write_logger_png(run, v):  # logger=csv's (and MLflow's) figures in the run dir
    return [Files(None, run).image("pdf_overlay", overlay_png(v), 40)]


def write_checkpoint(run, v):
    trainer = SimpleNamespace(default_root_dir=str(run),
                              save_checkpoint=lambda path, weights_only: torch.save({"version": v}, path))
    Checkpoint().save(trainer, fake_module())
    return [run / "checkpoints" / "last.ckpt"]


def write_summary(run, v):
    job = run / "0"
    (job / ".hydra").mkdir(parents=True, exist_ok=True)
    (job / ".hydra" / "overrides.yaml").write_text("- optim.g_lr=0.001\n")
    (job / "metrics.json").write_text(json.dumps({"status": "ok", "w1_over_std": 0.01 * (v + 1), "ks": 0.01}))
    summarise(run)
    return [run / "summary.csv", run / "summary.md", run / "summary.png"]


@pytest.mark.parametrize("writer,name", [
    (write_metrics, "metrics.json"), (write_samples, "samples.npy"), (write_loss_curves, "loss_curves.png"),
    (write_figures, "pdf_overlay.png"), (write_figures, "generator_map.png"), (write_figures, "training.gif"),
    (write_logger_png, "pdf_overlay_000040.png"), (write_checkpoint, "last.ckpt"),
    (write_summary, "summary.csv"), (write_summary, "summary.md"), (write_summary, "summary.png"),
])
def test_every_writer_keeps_the_old_file_whole_when_it_fails(tmp_path, monkeypatch, writer, name):
    (path,) = [f for f in writer(tmp_path, 1) if f.name == name]
    old = path.read_bytes()
    replace = os.replace

    def crash(src, dst):  # the moment between writing the new file and putting it in place
        if Path(dst).name == name:
            raise OSError(28, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises((OSError, ConfigError)):
        writer(tmp_path, 2)
    assert path.read_bytes() == old
    assert not list(tmp_path.rglob("*.tmp"))


QUICK = ["logger=none", "~callbacks.figures", "~callbacks.loss_curves"]


def test_a_checkpoint_is_never_written_from_nan_weights(make_cfg, tmp_path):
    # NaN weights from iteration 25; the next checkpoint point (30) comes before the next log point (40).
    with pytest.raises(Diverged, match="weights became NaN or Inf by iteration 30"):
        train(make_cfg("steps=60", "iterations_per_batch=5", "log_every=20", "checkpoint_every=10", *QUICK,
                       *CONSTANT_LR, "+callbacks.poison._target_=helpers.PoisonAt", "+callbacks.poison.iteration=25"))
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["gan1d_iteration"] == 20  # before the NaN
    assert_weights_of_a_clean_run(ckpt, make_cfg("steps=20", "iterations_per_batch=5", "log_every=20", *QUICK,
                                                 *CONSTANT_LR, f"run_dir={tmp_path / 'clean'}"))


def test_ctrl_c_in_the_last_iteration_ends_the_run_as_usual(make_cfg):
    record = train(make_cfg(*QUICK, "+callbacks.kill._target_=helpers.SignalInIteration",
                            "+callbacks.kill.iteration=40"))
    assert record["status"] == "ok" and record["steps"] == 40


def test_a_resumed_run_times_only_its_own_iterations(make_cfg, tmp_path, monkeypatch):
    import gan1d.callbacks

    short = tmp_path / "short"
    train(make_cfg("steps=20", *QUICK, f"run_dir={short}"))
    ticks = iter(range(10**6))  # a clock that advances 1 s per reading: one batch of 10 iterations takes 1 s
    monkeypatch.setattr(gan1d.callbacks, "time", SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    record = train(make_cfg("steps=30", *QUICK, f"run_dir={tmp_path / 'longer'}", f"ckpt_path={short}"))
    assert record["steps"] == 30 and record["steps_per_s"] == 10.0  # iterations 21-30, not 30


def test_a_finished_run_resumed_at_its_own_length_trains_nothing(make_cfg, tmp_path):
    done = tmp_path / "done"
    train(make_cfg("steps=10", "log_every=10", "eval_every=10", *QUICK, f"run_dir={done}"))
    record = train(make_cfg("steps=10", "log_every=10", "eval_every=10", *QUICK, f"run_dir={tmp_path / 'again'}",
                            f"ckpt_path={done}"))
    assert record["status"] == "ok" and record["steps"] == 10
