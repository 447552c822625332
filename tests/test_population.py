"""Populations (gan1d.population, hydra/launcher=population): jobs trained in lockstep, each exactly its solo run."""

import copy
import io
import json
import logging
import shutil

import lightning as L
import pytest
import torch
from helpers import SHRINK, SignalAt, run_cli
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf, open_dict
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
from torch import nn

from gan1d.errors import ConfigError, Diverged
from gan1d.networks import Generator
from gan1d.population import (
    OwnLines,
    StackedAdam,
    group,
    population_key,
    replicated,
    solo_state,
    stacked_state,
    train_population,
)
from gan1d.preprocessors import Diffs
from gan1d.run import train
from gan1d.sample import sample

# A population whose jobs differ in every key a replica may vary; the last one is poisoned (see Poison).
JOBS = [["seed=0"],
        ["seed=1", "optim.g_lr=2e-3", "optim.d_lr=1e-3", "penalties.r1_gamma=0.5", "optim.ema=0.5"],
        ["seed=2", "optim.g_lr=1e-3"]]
POISONED, POISON_AT = 2, 20


class Poison(L.Callback):
    """Turns one of replica ``k``'s generator weights into NaN at a given iteration, as a diverging run's would."""

    def __init__(self, k: int, iteration: int):
        self.k, self.iteration = k, iteration

    def on_train_batch_end(self, trainer, pl_module, *args):
        if pl_module.iteration == self.iteration:
            with torch.no_grad():
                next(pl_module.generator.parameters())[self.k].view(-1)[0] = float("nan")


class HookCounter(L.Callback):
    """Counts the on_before_optimizer_step hooks, which Lightning runs only inside an optimizer's step."""

    count = 0

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.count += 1


class Start(L.Callback):
    """Keeps the iteration a fit starts from."""

    def on_train_start(self, trainer, pl_module):
        self.iteration = pl_module.iteration


def job_cfg(make_cfg, root, k):
    # The rates decay too; no categorical code: its one-hot inputs amplify the replicas' float rounding to 1e-4
    # within 20 iterations, where without it replicas and solo runs stay within the 1e-5 checked below.
    cfg = make_cfg(*JOBS[k], "iterations_per_batch=10", "optim.lr_decay_start=0.5", "model.generator.categories=0")
    cfg.run_dir = str(root / f"job{k}")
    return cfg


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    """The JOBS trained as one population in this process; returns their run dirs' root."""
    root = tmp_path_factory.mktemp("population")

    def make(*overrides):
        with initialize_config_module("gan1d.conf", version_base="1.3"):
            return compose("train", overrides=[*SHRINK, *overrides])

    logs = {k: io.StringIO() for k in (0, POISONED)}  # each job's log file, as the launcher filters it
    handlers = [logging.StreamHandler(stream) for stream in logs.values()]
    for k, handler in zip(logs, handlers, strict=True):
        handler.addFilter(OwnLines(root / f"job{k}"))
        logging.getLogger().addHandler(handler)
    try:
        records = train_population([job_cfg(make, root, k) for k in range(len(JOBS))],
                                   callbacks=[Poison(POISONED, POISON_AT)])
    finally:
        for handler in handlers:
            logging.getLogger().removeHandler(handler)
    return root, records, make, {k: stream.getvalue() for k, stream in logs.items()}


def weights(run_dir) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


def test_stacked_adam_is_torch_adam_for_each_replica():
    torch.manual_seed(0)
    lrs = torch.tensor([1e-3, 2e-3, 5e-4], dtype=torch.float64)
    shapes = [(8, 4), (4,)]
    stacked = [nn.Parameter(torch.randn(len(lrs), *shape)) for shape in shapes]
    solo = [[nn.Parameter(p[k].detach().clone()) for p in stacked] for k in range(len(lrs))]
    active = torch.ones(len(lrs), dtype=torch.bool)
    adam = StackedAdam(stacked, lr=lrs, active=active, betas=(0.5, 0.999))
    # As GAN1D.configure_optimizers makes a solo run's.
    adams = [torch.optim.Adam(params, lr=float(lr), betas=(0.5, 0.999), fused=True)
             for params, lr in zip(solo, lrs, strict=True)]
    for step in range(30):
        if step == 20:
            active[1] = False  # a replica that stopped keeps its weights from then on
            stopped = [p[1].detach().clone() for p in stacked]
        for i, p in enumerate(stacked):
            p.grad = torch.randn_like(p) * (1 + step)
            for k in range(len(lrs)):
                solo[k][i].grad = p.grad[k].clone()
        adam.step()
        for k, opt in enumerate(adams):
            if active[k]:
                opt.step()
    for k in (0, 2):
        for p, q in zip(stacked, solo[k], strict=True):
            torch.testing.assert_close(p[k], q, rtol=0, atol=1e-6)
    for p, q in zip(stacked, stopped, strict=True):
        assert torch.equal(p[1], q)


def test_a_replicated_network_runs_each_replicas_own_weights():
    """Calling it, and the network's methods through it, is each replica's own network on its own inputs; its
    plain attributes are the network's."""
    torch.manual_seed(0)
    generators, preprocessors = [Generator(hidden=[8, 8]) for _ in range(3)], [Diffs(pack=2) for _ in range(3)]
    for k, network in enumerate(generators + preprocessors):
        network.loc.fill_(k)
        network.scale.fill_(1 + k)
    noise, x = torch.randn(3, 10, 1), torch.randn(3, 5, 2)
    generator = replicated(copy.deepcopy(generators[0]), generators)
    preprocessor = replicated(copy.deepcopy(preprocessors[0]), preprocessors)
    generated = generator(noise)
    frozen = replicated(copy.deepcopy(generators[0]).requires_grad_(False), generators)  # as the weight average's
    assert all(p.requires_grad for p in generator.parameters())
    assert not any(p.requires_grad for p in frozen.parameters())
    z = preprocessor.standardize(x)
    features = preprocessor.features(z)
    assert preprocessor.pack == 2
    for k in range(3):
        torch.testing.assert_close(generated[k], generators[k](noise[k]), rtol=0, atol=1e-6)
        torch.testing.assert_close(z[k], preprocessors[k].standardize(x[k]), rtol=0, atol=1e-6)
        torch.testing.assert_close(features[k], preprocessors[k].features(z[k]), rtol=0, atol=1e-6)


def test_a_resumed_stacked_adam_keeps_each_replicas_rate():
    lrs = torch.tensor([1e-3, 2e-3], dtype=torch.float64)
    stacked = [nn.Parameter(torch.randn(2, 3))]
    adam = StackedAdam(stacked, lr=lrs.clone(), active=torch.ones(2, dtype=torch.bool))
    stacked[0].grad = torch.randn(2, 3)
    adam.step()
    solos = [torch.optim.Adam([nn.Parameter(torch.zeros(3))], lr=5e-4) for _ in lrs]
    adam.load_state_dict(stacked_state([solo_state(adam, solo, k) for k, solo in enumerate(solos)]))
    assert torch.equal(adam.param_groups[0]["lr"], lrs)  # the checkpoint's groups hold job 0's rate only


def test_only_the_keys_a_replica_varies_group_jobs(make_cfg):
    base = population_key(make_cfg())
    same = ["seed=3", "optim.g_lr=1e-3", "optim.d_lr=7e-4", "penalties.r1_gamma=0.3", "optim.ema=0.9",
            "run_dir=/elsewhere"]
    assert all(population_key(make_cfg(override)) == base for override in same)
    # Another recipe, or one of the varied keys switching a part on or off, is another population.
    for override in ["steps=50", "optim.d_steps=1", "loss=wgan_gp", "penalties.r1_gamma=0", "optim.ema=0"]:
        assert population_key(make_cfg(override)) not in (None, base), override
    # Jobs a population cannot train run alone.
    assert population_key(make_cfg("+trainer.precision=bf16-mixed")) is None
    assert population_key(make_cfg("+callbacks.hook._target_=helpers.SignalInIteration")) is None
    assert population_key(make_cfg("optim.g_lr=-1")) is None
    assert population_key(make_cfg("+callbacks.lr._target_=lightning.pytorch.callbacks.LearningRateMonitor")) is None
    assert population_key(make_cfg("ckpt_path=/nonexistent")) is None  # its own run says why
    assert population_key(make_cfg("experiment=dirac_simultaneous")) is None  # plain gradient steps, simultaneous
    assert population_key(make_cfg("optim.name=sgd")) is None
    with pytest.raises(ConfigError, match="may differ only in"):
        train_population([make_cfg(), make_cfg("penalties.r1_gamma=0")])
    # One key's jobs together in chunks of at most `most`, in the order of their first job.
    assert group(["a", None, "a", "b", "a"], most=2) == [[0, 2], [1], [3], [4]]


def test_a_nan_stops_its_replica_only(population):
    root, records, _, logs = population
    statuses = [record["status"] for record in records]
    assert statuses == ["ok", "ok", "diverged"]
    for k, record in enumerate(records):
        assert json.loads((root / f"job{k}" / "metrics.json").read_text())["status"] == record["status"]
    assert "NaN" in records[POISONED]["reason"] and f"iterations {POISON_AT + 1} and" in records[POISONED]["reason"]
    assert all(record["steps"] == 40 for record in records[:POISONED])
    assert "diverged" in logs[POISONED] and "diverged" not in logs[0]


def test_a_population_runs_the_hooks_inside_its_optimizer_steps(make_cfg, tmp_path):
    hooks = HookCounter()
    cfgs = [make_cfg("seed=0", "steps=10"), make_cfg("seed=1", "steps=10", f"run_dir={tmp_path / 'other'}")]
    assert [record["status"] for record in train_population(cfgs, callbacks=[hooks])] == ["ok", "ok"]
    assert hooks.count == 10 * 3  # two D steps and one G step per iteration


@pytest.mark.parametrize("k", range(len(JOBS)))
def test_every_replica_is_its_solo_run(population, tmp_path, k):
    """Each job differs from job 0 in some varied key; its solo run lands where its replica did, to float rounding
    (the replicas' sums are reduced in another order, and an unsettled phase amplifies that). The poisoned one's
    solo run, poisoned at the same iteration, stops there with the same reason."""
    root, records, make, _ = population
    solo = job_cfg(make, tmp_path, k)
    if k == POISONED:
        with open_dict(solo):
            solo.callbacks.poison = {"_target_": "helpers.PoisonAt", "iteration": POISON_AT}
        with pytest.raises(Diverged) as stopped:
            train(solo)
        assert str(stopped.value) in records[k]["reason"]
        assert json.loads((tmp_path / f"job{k}" / "metrics.json").read_text())["steps"] == records[k]["steps"]
        return
    record = train(solo)
    assert (record["status"], record["steps"]) == (records[k]["status"], records[k]["steps"])
    assert record["w1_over_std"] == pytest.approx(records[k]["w1_over_std"], rel=1e-5)
    replica, alone = weights(root / f"job{k}"), weights(tmp_path / f"job{k}")
    assert replica.keys() == alone.keys()
    for key in alone:
        torch.testing.assert_close(replica[key], alone[key], rtol=0, atol=1e-5)


SWEEP = ["-m", "hydra/launcher=population", "hydra.launcher.max_replicas=3", "seed=0,1", "optim.g_lr=1e-3,2e-3",
         "log_every=5", "eval_every=10", "figure_every=10"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """One real 4-job multirun with the population launcher: at most 3 replicas, so jobs 0-2 train as one
    population and job 3 alone, as Hydra's basic launcher runs it."""
    tmp = tmp_path_factory.mktemp("population_sweep")
    proc = run_cli("gan1d.train", *SWEEP, "steps=20", f"hydra.sweep.dir={tmp / 'sweep'}", cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "population of 3: #0 #1 #2" in proc.stdout + proc.stderr
    (tmp / "console.txt").write_text(proc.stdout + proc.stderr)
    return tmp / "sweep"


def test_every_job_of_a_population_sweep_writes_its_solo_run_dir(sweep):
    for job in ("0", "1", "2", "3"):
        run = sweep / job
        config = OmegaConf.load(run / ".hydra" / "config.yaml")
        assert json.loads((run / "metrics.json").read_text())["status"] == "ok"
        with Image.open(run / "pdf_overlay.png") as overlay, Image.open(sweep / "3" / "pdf_overlay.png") as alone:
            assert overlay.format == "PNG" and overlay.size == alone.size  # a replica's figure is a solo run's
        assert sample(run / "checkpoints" / "last.ckpt", n=7).shape == (7,)
        events = EventAccumulator(str(run))
        events.Reload()
        assert {"loss/d", "eval/w1_over_std"} <= set(events.Tags()["scalars"])
        started = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = HParamsPluginData.FromString(started).session_start_info.hparams  # its row in the HParams tab
        assert hparams["g_lr"].number_value == config.optim.g_lr and hparams["seed"].number_value == config.seed
    assert (sweep / "summary.csv").read_text().count(",ok,") == 4
    assert "| optim.g_lr | seeds |" in (sweep / "summary.md").read_text()


def test_an_interrupted_population_resumes(population, tmp_path):
    """Jobs 0 and 1 stopped by Ctrl-C, then resumed from their run dirs, land where they did uninterrupted. Job 2,
    its weights NaN since iteration 20 and not yet found out, refuses its checkpoint without stopping theirs."""
    root, _, make, _ = population
    cfgs = [job_cfg(make, tmp_path, k) for k in (2, 0, 1)]
    with pytest.raises(SystemExit):  # Ctrl-C at the end of batch 2 (iteration 20): they stop after iteration 21
        train_population(cfgs, callbacks=[Poison(0, 20), SignalAt(20)])
    assert not (tmp_path / "job2" / "checkpoints" / "last.ckpt").exists()
    cfgs = cfgs[1:]
    for k in (0, 1):
        record = json.loads((tmp_path / f"job{k}" / "metrics.json").read_text())
        assert (record["status"], record["steps"]) == ("interrupted", 21)
        cfgs[k].ckpt_path = str(tmp_path / f"job{k}")
    start = Start()
    assert [record["status"] for record in train_population(cfgs, callbacks=[start])] == ["ok", "ok"]
    assert start.iteration == 21
    for k in (0, 1):
        resumed, whole = weights(tmp_path / f"job{k}"), weights(root / f"job{k}")
        for key in whole:
            torch.testing.assert_close(resumed[key], whole[key], rtol=0, atol=1e-5)


def test_a_rerun_sweep_keeps_ended_jobs_and_resumes_the_others(sweep, tmp_path):
    """resume=true with a larger steps: job 0, marked diverged, is kept; the others go on from their checkpoints."""
    rerun = tmp_path / "sweep"
    shutil.copytree(sweep, rerun)
    (rerun / "0" / "metrics.json").write_text(json.dumps({"status": "diverged", "reason": "a test"}))
    proc = run_cli("gan1d.train", *SWEEP, "steps=30", "hydra.launcher.resume=true", f"hydra.sweep.dir={rerun}",
                   cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert "population of 3: #1 #2 #3" in out and "resumes from its jobs' checkpoints, after iteration 20" in out
    assert json.loads((rerun / "0" / "metrics.json").read_text())["status"] == "diverged"
    assert torch.load(rerun / "0" / "checkpoints" / "last.ckpt", weights_only=True)["gan1d_iteration"] == 20
    for job in ("1", "2", "3"):
        record = json.loads((rerun / job / "metrics.json").read_text())
        assert (record["status"], record["steps"]) == ("ok", 30)
        checkpoint = torch.load(rerun / job / "checkpoints" / "last.ckpt", weights_only=True)
        assert checkpoint["gan1d_iteration"] == 30


@pytest.mark.slow
def test_optuna_trials_train_as_populations(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("gan1d.train", "hparams_search=optuna_lr", "hydra/launcher=population", "hydra.sweeper.n_trials=4",
                   "hydra.sweeper.n_jobs=2", "steps=20", "log_every=5", "eval_every=10", "figure_every=10",
                   f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "population of 2: #0 #1" in out and "population of 2: #2 #3" in out  # each batch of trials
    assert "best_value" in (sweep / "optimization_results.yaml").read_text()
    assert (sweep / "summary.csv").read_text().count(",ok,") == 4


def test_each_job_reports_its_speed_as_a_replicas(population, sweep):
    """A job of a population shares one loop with the others: its speed is named per replica, beside the
    population's size, never as a solo run's steps_per_s; a job that trained alone keeps steps_per_s."""
    _, records, _, _ = population
    for record in records:
        assert "steps_per_s" not in record and record["replicas"] == len(JOBS)
        assert record["replica_steps_per_s"] >= record["steps"] / record["wall_s"]  # the loop is inside the fit
    saved = [json.loads((sweep / job / "metrics.json").read_text()) for job in ("0", "1", "2", "3")]
    assert [record.get("replicas") for record in saved] == [3, 3, 3, None]
    assert ["steps_per_s" in record for record in saved] == [False, False, False, True]
    shown = (sweep.parent / "console.txt").read_text()  # each job's result line says the same
    for job, record in enumerate(saved[:3]):
        assert f"({record['replica_steps_per_s']} it/s for each of 3 replicas)" in shown
        assert f"; run dir sweep/{job}\n" in shown  # relative to where the sweep was started
    assert f"({saved[3]['steps_per_s']} it/s): W1/sd" in shown
