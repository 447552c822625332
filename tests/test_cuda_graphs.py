"""The iteration a CUDA graph captures, run eagerly on its static buffers on the CPU: it must train exactly as the
eager path does. (On CUDA, tests/test_gpu.py captures it.)"""

import json
import logging

import lightning as L
import pytest
import torch

import gan1d.module
from gan1d.build import build_model
from gan1d.cuda_graphs import StaticIteration
from gan1d.errors import Diverged
from gan1d.run import train

# The recipes whose steps differ: each loss and penalty, no weight average, a categorical code with decaying
# learning rates (tensors in the optimizers on the static path).
RECIPES = {"default": [], "wgan_gp": ["loss=wgan_gp"], "hinge+R2": ["loss=hinge", "penalties.r2_gamma=1"],
           "no_ema": ["optim.ema=0"], "categories+decay": ["model.generator.categories=3", "optim.lr_decay_start=0.5"]}
QUICK = ["logger=none", "~callbacks.figures", "~callbacks.loss_curves",
         "+callbacks.probe._target_=test_cuda_graphs.Probe"]


class Probe(L.Callback):
    """Records what the run's iterations ran on, whether its weights are still plain leaves, and what it logged."""

    last = None

    def __init__(self):
        Probe.last = self
        self.static = self.leaves = self.latest = None

    def on_train_end(self, trainer, pl_module):
        self.static = pl_module.graph and pl_module.graph.static
        self.leaves = all(p.is_leaf for p in pl_module.parameters())
        self.latest = dict(pl_module.latest)


@pytest.fixture
def static_on_cpu(monkeypatch):
    """Lets the static iteration run on the CPU, where it never captures: the step a GPU captures, run eagerly."""
    monkeypatch.setattr(gan1d.module, "graph_blocker", lambda trainer, module: None)


def assert_same(a, b, where="checkpoint"):
    """Equal to the last bit, recursively through the checkpoint's dicts and lists."""
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}/{i}")
    else:
        assert a == b, (where, a, b)


def run(make_cfg, run_dir, *overrides) -> tuple[dict, Probe]:
    record = train(make_cfg(*overrides, *QUICK, f"run_dir={run_dir}"))
    assert record["status"] == "ok", record
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True), Probe.last


@pytest.mark.parametrize("recipe", RECIPES)
def test_the_static_iteration_trains_bit_for_bit_as_the_eager_path(make_cfg, tmp_path, monkeypatch, recipe):
    eager, eager_probe = run(make_cfg, tmp_path / "eager", *RECIPES[recipe])
    monkeypatch.setattr(gan1d.module, "graph_blocker", lambda trainer, module: None)
    static, static_probe = run(make_cfg, tmp_path / "static", *RECIPES[recipe])
    assert eager_probe.static is None and isinstance(static_probe.static, StaticIteration)
    assert not static_probe.static.captured  # nothing to capture on a CPU: the same step, run eagerly
    # Weights, optimizer states (learning rates saved as plain numbers), the iteration count and loop state.
    assert_same(static, eager)
    assert static["gan1d_iteration"] == 40
    assert static_probe.latest == eager_probe.latest  # every logged value and score
    assert static_probe.leaves and eager_probe.leaves  # the weight average is updated outside autograd


def test_a_static_run_stopped_mid_batch_resumes_bit_for_bit(make_cfg, tmp_path, static_on_cpu):
    recipe = RECIPES["categories+decay"]  # its learning rates are tensors in the optimizers, saved as numbers
    whole, _ = run(make_cfg, tmp_path / "whole", *recipe)
    cut = tmp_path / "cut"
    with pytest.raises(SystemExit):  # Ctrl-C at the end of batch 1 (iteration 10): it stops after iteration 11
        run(make_cfg, cut, *recipe, "+callbacks.kill._target_=helpers.SignalAt", "+callbacks.kill.iteration=10")
    assert json.loads((cut / "metrics.json").read_text())["steps"] == 11
    stopped = torch.load(cut / "checkpoints" / "last.ckpt", weights_only=True)
    assert stopped["gan1d_iteration"] == 11
    assert [type(s["param_groups"][0]["lr"]) for s in stopped["optimizer_states"]] == [float, float]
    resumed, _ = run(make_cfg, tmp_path / "resumed", *recipe, f"ckpt_path={cut}")
    assert_same(resumed["state_dict"], whole["state_dict"])
    assert_same(resumed["optimizer_states"], whole["optimizer_states"])


def test_a_cpu_run_says_once_why_its_iterations_run_eagerly(make_cfg, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="gan1d.module"):
        train(make_cfg("steps=20", *QUICK, f"run_dir={tmp_path}"))
    lines = [r.getMessage() for r in caplog.records if r.name == "gan1d.module"]
    assert lines == ["training iterations run eagerly, not as CUDA graphs: the device is cpu (CUDA graphs need a "
                     "CUDA GPU)"]


def test_a_nan_stops_a_static_run_at_its_log_point(make_cfg, tmp_path, static_on_cpu):
    with pytest.raises(Diverged, match="between iterations 21 and 30"):
        train(make_cfg("steps=60", "checkpoint_every=10", "iterations_per_batch=5", *QUICK, f"run_dir={tmp_path}",
                       "+callbacks.poison._target_=helpers.PoisonAt", "+callbacks.poison.iteration=25"))
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "diverged"
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["gan1d_iteration"] == 20


class BackwardHook(L.Callback):
    """A user's callback on Lightning's backward hook: it must run at every step, so nothing can be captured."""

    def on_after_backward(self, trainer, pl_module):
        pass


# What keeps a CUDA run eager: (trainer's arguments, the config's overrides, anomaly detection) -> the log's reason.
FALLBACKS = {
    "cuda_graph=false": ({}, ["cuda_graph=false"], False),
    "precision=16-true scales or casts around each backward and optimizer step": ({"precision": "16-true"}, [], False),
    "BackwardHook overrides on_after_backward, which must run at every step":
        ({"callbacks": [BackwardHook()]}, [], False),
    "autograd's anomaly detection (trainer.detect_anomaly) checks every backward on the host": ({}, [], True),
}


@pytest.mark.parametrize("reason", [None, *FALLBACKS])
def test_what_keeps_a_cuda_run_eager(make_cfg, reason):
    trainer_args, overrides, anomaly = FALLBACKS.get(reason, ({}, [], False))
    module = build_model(make_cfg(*overrides))
    module._device = torch.device("cuda", 0)  # what module.device reads; nothing runs, so no GPU is needed
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, **trainer_args)
    module.trainer = trainer
    with torch.autograd.set_detect_anomaly(anomaly):
        assert gan1d.module.graph_blocker(trainer, module) == reason


def test_a_population_stays_eager_on_a_cuda_device(make_cfg):
    """On a (faked) CUDA device the solo module of the same recipe would be captured; its population is not, and
    says so."""
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    blockers = {}
    for target in ("gan1d.module.GAN1D", "gan1d.population.Population"):
        module = build_model(make_cfg(), _target_=target)
        module._device = torch.device("cuda", 0)  # what graph_blocker reads; nothing here touches a GPU
        module.trainer = trainer
        blockers[target] = gan1d.module.graph_blocker(trainer, module)
    assert blockers == {"gan1d.module.GAN1D": None, "gan1d.population.Population":
                        "a population's iterations run eagerly (their capture as a CUDA graph is not built)"}
