"""Bad input, divergence and interruption: one clear line, a status in metrics.json, nothing lost."""

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from conftest import run_cli

from gan1d.errors import Diverged
from gan1d.files import write_json
from gan1d.sample import SampleError, save
from gan1d.train import train

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
    ("model.d_steps=0", "model.d_steps"),
    ("model.loss=wasserstein", "model.loss"),
    ("model.ema=1", "model.ema"),
    ("model.r1_gamma=-1", "model.r1_gamma"),
    ("model.generator.noise=cauchy", "model.generator.noise"),
    ("model.generator.hidden=[64,-1]", "model.generator.hidden"),
    ("model.discriminator.activations=swishy", "model.discriminator.activations"),
    ("threads=0", "threads"),
    ("trainer.accelerator=tpuu", "trainer.accelerator"),
    ("target=uniform target.low=2 target.high=1", "target.low"),
    ("target=mixture target.weights=[1,-1]", "target.weights"),
    ("target=mixture target.stds=[0.5]", "target.weights"),
    ("ckpt_path=/no/such/file.ckpt", "ckpt_path"),
    ("trainer.max_steps=1000", "use steps=1000"),  # Lightning's length keys point at gan1d's
    ("trainer.max_epochs=5", "trainer.max_epochs=5 is not used: a run is one pass over a stream of steps="),
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
    (["ckpt=/nope", "n=many"], "n=many"),
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


def test_sample_rejects_junk_checkpoints(tmp_path, capsys):
    from gan1d.sample import main

    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    evil = tmp_path / "evil.ckpt"
    torch.save({"x": subprocess.Popen}, evil)  # a pickle that would import code if loaded unsafely
    for path in (junk, evil):
        with pytest.raises(SystemExit):
            main([f"ckpt={path}"])
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "not a gan1d checkpoint" in err


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(make_cfg, tmp_path):
    cfg = make_cfg("steps=60", "checkpoint_every=10", "iterations_per_batch=5",
                   "+callbacks.poison._target_=conftest.PoisonAt", "+callbacks.poison.iteration=25")
    with pytest.raises(Diverged, match="between iterations 21 and 30"):
        train(cfg)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "diverged" and "iterations 21 and 30" in record["reason"]
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 40  # iteration 20: the last one before the NaN
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())


def test_divergence_through_the_cli_is_one_line(tmp_path):
    proc = run_cli("gan1d.train", "optim.g_lr=1e38", "optim.d_lr=1e38", "steps=100", "log_every=10",
                   f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 3
    line = one_line_error(proc)
    assert "training diverged" in line and "iteration" in line
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "diverged"


def test_interrupted_run_resumes_bit_identical(make_cfg, tmp_path):
    steps = ["steps=60", "checkpoint_every=1000"]
    train(make_cfg(*steps, f"run_dir={tmp_path / 'whole'}"))  # 10 iterations per batch
    with pytest.raises(SystemExit):  # Lightning's graceful shutdown after a KeyboardInterrupt exits with 1
        # One iteration per batch, to stop off the other runs' batch ends: the data must not depend on batching.
        train(make_cfg(*steps, f"run_dir={tmp_path / 'cut'}", "iterations_per_batch=1",
                       "+callbacks.kill._target_=conftest.SignalAt", "+callbacks.kill.iteration=23"))
    record = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    assert record["status"] == "interrupted" and record["steps"] == 23
    resumed = train(make_cfg(*steps, f"run_dir={tmp_path / 'resumed'}", f"ckpt_path={tmp_path / 'cut'}"))
    assert resumed["status"] == "ok" and resumed["steps"] == 60
    whole = torch.load(tmp_path / "whole" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    again = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert whole.keys() == again.keys()
    for name in whole:
        assert torch.equal(whole[name], again[name]), name


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
    record = json.loads((run / "metrics.json").read_text())
    assert record["status"] == "interrupted" and 50 <= record["steps"] < 100000
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 2 * record["steps"]


def test_writes_are_atomic(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"status": "ok"})
    with pytest.raises(TypeError):
        write_json(path, {"status": object()})  # fails half-way: the old file stays whole
    assert json.loads(path.read_text()) == {"status": "ok"}
    out = tmp_path / "samples.npy"
    save(torch.arange(3.0).numpy(), out)
    with pytest.raises(SampleError):
        save(torch.arange(3.0).numpy(), tmp_path / "no" / "such" / "dir.npy")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
