"""hparams_search=optuna_lr on gan1d's sweeper: a study on disk that a rerun continues and several workers share."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
from helpers import SHRINK, run_cli

pytest.importorskip("optuna")
TESTS = str(Path(__file__).parent)


class StopInRun(L.Callback):
    """Ctrl-C at an iteration of the run whose run dir is named ``run`` only (one trial of a search)."""

    def __init__(self, run: str, iteration: int):
        self.run, self.iteration = run, iteration

    def on_train_batch_end(self, trainer, pl_module, *args):
        if Path(trainer.default_root_dir).name == self.run and pl_module.iteration == self.iteration:
            os.kill(os.getpid(), signal.SIGINT)


def search(sweep: Path, *args: str) -> list[str]:
    return ["hparams_search=optuna_lr", *SHRINK, f"hydra.sweep.dir={sweep}", *args]


def trials(sweep: Path) -> dict[str, dict]:
    with open(sweep / "trials.csv") as f:
        return {row["trial"]: row for row in csv.DictReader(f)}


def test_a_stopped_search_goes_on_where_it_stopped(tmp_path, monkeypatch):
    sweep = tmp_path / "search"
    monkeypatch.setenv("PYTHONPATH", TESTS)  # the CLI finds StopInRun here
    stop = ["+callbacks.stop._target_=test_search.StopInRun", "+callbacks.stop.run='1'", "+callbacks.stop.iteration=20"]
    first = run_cli("gan1d.train", *search(sweep, "hydra.sweeper.n_trials=3", *stop), cwd=tmp_path)
    assert first.returncode != 0
    before = trials(sweep)
    assert {k: r["state"] for k, r in before.items()} == {"0": "complete", "1": "running"}
    assert before["1"]["reason"] == "interrupted"
    done_0 = (sweep / "0" / "metrics.json").read_text()

    again = run_cli("gan1d.train", *search(sweep, "hydra.sweeper.n_trials=3"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    after = trials(sweep)
    assert {k: r["state"] for k, r in after.items()} == {"0": "complete", "1": "complete", "2": "complete"}
    assert (sweep / "0" / "metrics.json").read_text() == done_0  # trial 0 was not run again
    assert "#0 :" not in again.stdout + again.stderr
    resumed = json.loads((sweep / "1" / "metrics.json").read_text())
    assert resumed["status"] == "ok" and resumed["steps"] == 40  # trial 1 went on from its checkpoint
    assert "ckpt_path=" in (sweep / "1" / ".hydra" / "overrides.yaml").read_text()
    assert float(after["1"]["w1_over_std"]) == resumed["w1_over_std"]
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1", "2"]
    assert len({(r["optim.g_lr"], r["optim.d_lr"]) for r in after.values()}) == 3


def test_workers_on_one_storage_run_one_study(tmp_path):
    sweep = tmp_path / "search"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    args = [sys.executable, "-m", "gan1d.train", *search(sweep, "hydra.sweeper.n_trials=4", "steps=200")]
    workers = [subprocess.Popen(args, cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT) for _ in range(2)]
    outs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outs[0][-2000:] + outs[1][-2000:]
    launched = [{n for n in range(4) if f"#{n} :" in out} for out in outs]
    assert launched[0].isdisjoint(launched[1]) and launched[0] | launched[1] == {0, 1, 2, 3}
    assert all(launched), "both workers ran trials"
    rows = trials(sweep)
    assert sorted(rows) == ["0", "1", "2", "3"] and {r["state"] for r in rows.values()} == {"complete"}
    for n, row in rows.items():
        record = json.loads((sweep / n / "metrics.json").read_text())
        assert row["run_dir"] == str(sweep / n) and float(row["w1_over_std"]) == record["w1_over_std"]
    assert (sweep / "summary.csv").read_text().count(",ok,") == 4
    assert f"storage: {sweep / 'study.journal'}" in (sweep / "optimization_results.yaml").read_text()
