"""On a machine with a CUDA GPU only (skipped elsewhere): training runs there, each iteration as one replayed CUDA
graph unless something needs it eager, and no iteration waits on the GPU."""

import json
import logging

import lightning as L
import pytest
import torch
from test_cuda_graphs import RECIPES

from gan1d.errors import Diverged
from gan1d.run import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

GPU = "trainer.accelerator=gpu"
# Captured and eager iterations run the same kernels but for the weight average's (a tensor weight instead of a
# number) and, while learning rates decay, fused Adam's (a float32 rate on the device instead of a double): rounding.
# On the CPU, 40 iterations from weights scaled by (1 + 1e-6) moved W1/sd by at most 1.5e-5 (relative) and any
# weight by at most 4.6e-4 (wgan_gp), float32 learning rates moved W1/sd by 2e-8; W1/sd over seeds 0-4 varied by
# 40-60% (sd / mean). The tolerances sit well above rounding's effect and far below seed noise.
W1_REL, WEIGHT_ABS = 1e-3, 5e-3


class Graphs(L.Callback):
    """Records how the run's iterations ran: whether they were to run as CUDA graphs, and whether one was captured."""

    last = None

    def __init__(self):
        Graphs.last = self
        self.graphed = self.captured = None

    def on_train_end(self, trainer, pl_module):
        self.graphed = pl_module.graph is not None
        self.captured = self.graphed and pl_module.graph.static is not None and pl_module.graph.static.captured


class NoSyncIn(L.Callback):
    """Turns any host-device synchronisation (``.item()``, a copy to the host, ...) into an error while the given
    batches of iterations run; the cadences all fall later, so nothing there has a reason to wait on the GPU."""

    def __init__(self, batches: list[int]):
        self.batches = set(batches)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx in self.batches:
            torch.cuda.set_sync_debug_mode("error")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        torch.cuda.set_sync_debug_mode("default")


def final_weights(run_dir) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def assert_close_runs(a: dict, b: dict, a_dir, b_dir) -> None:
    assert a["status"] == b["status"] == "ok" and a["steps"] == b["steps"]
    assert a["w1_over_std"] == pytest.approx(b["w1_over_std"], rel=W1_REL)
    wa, wb = final_weights(a_dir), final_weights(b_dir)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.allclose(wa[name], wb[name], rtol=0, atol=WEIGHT_ABS), name


# Captured: the first batch holds the capture (a device synchronisation, once per run), so the second is checked.
@pytest.mark.parametrize("cuda_graph,batches", [(True, [1]), (False, [0, 1])])
def test_iterations_never_wait_on_the_gpu(make_cfg, tmp_path, cuda_graph, batches):
    cadences = [f"{key}=150" for key in ("log_every", "eval_every", "figure_every", "checkpoint_every")]
    cfg = make_cfg("steps=150", *cadences, GPU, f"cuda_graph={str(cuda_graph).lower()}",
                   "+callbacks.graphs._target_=test_gpu.Graphs", "+callbacks.no_sync._target_=test_gpu.NoSyncIn",
                   f"+callbacks.no_sync.batches=[{','.join(map(str, batches))}]")
    assert cfg.iterations_per_batch == 50  # batches of iterations 1-50, 51-100, 101-150: no cadence due before 150
    try:
        record = train(cfg)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert record["status"] == "ok" and record["steps"] == 150
    assert Graphs.last.captured is cuda_graph


def test_a_gpu_run_captures_its_iterations_and_says_so_once(make_cfg, caplog):
    with caplog.at_level(logging.INFO, logger="gan1d.module"):
        record = train(make_cfg(GPU, "+callbacks.graphs._target_=test_gpu.Graphs"))
    assert record["status"] == "ok" and record["steps"] == 40
    assert Graphs.last.graphed and Graphs.last.captured
    assert [r.getMessage() for r in caplog.records if r.name == "gan1d.module"] == [
        "each training iteration runs as one CUDA graph, captured after 3 eager iterations (cuda_graph=false runs "
        "them all eagerly)"]


FALLBACKS = {
    "cuda_graph=false": ["cuda_graph=false"],
    "precision=16-mixed scales or casts around each backward and optimizer step": ["+trainer.precision=16-mixed"],
    "BackwardHook overrides on_after_backward, which must run at every step":
        ["+callbacks.hook._target_=test_cuda_graphs.BackwardHook"],
    "autograd's anomaly detection (trainer.detect_anomaly) checks every backward on the host":
        ["+trainer.detect_anomaly=true"],
}


@pytest.mark.parametrize("reason", FALLBACKS)
def test_a_gpu_run_that_cannot_be_captured_says_why_once(make_cfg, caplog, reason):
    with caplog.at_level(logging.INFO, logger="gan1d.module"):
        record = train(make_cfg(GPU, *FALLBACKS[reason], "steps=10", "log_every=10", "eval_every=10",
                                "figure_every=10", "+callbacks.graphs._target_=test_gpu.Graphs"))
    assert record["status"] == "ok" and record["steps"] == 10
    assert Graphs.last.graphed is False and Graphs.last.captured is False
    assert [r.getMessage() for r in caplog.records if r.name == "gan1d.module"] == [
        f"training iterations run eagerly, not as CUDA graphs: {reason}"]


@pytest.mark.parametrize("recipe", RECIPES)
def test_captured_iterations_train_as_the_eager_ones(make_cfg, tmp_path, recipe):
    eager = train(make_cfg(*RECIPES[recipe], GPU, "cuda_graph=false", f"run_dir={tmp_path / 'eager'}"))
    graphed = train(make_cfg(*RECIPES[recipe], GPU, "+callbacks.graphs._target_=test_gpu.Graphs",
                             f"run_dir={tmp_path / 'graph'}"))
    assert Graphs.last.captured
    assert_close_runs(graphed, eager, tmp_path / "graph", tmp_path / "eager")


def test_a_captured_run_stopped_mid_batch_resumes(make_cfg, tmp_path):
    recipe = [*RECIPES["categories+decay"], GPU]  # learning rates on the device in the graph, saved as numbers
    whole = train(make_cfg(*recipe, f"run_dir={tmp_path / 'whole'}"))
    cut = tmp_path / "cut"
    with pytest.raises(SystemExit):  # Ctrl-C at the end of batch 1 (iteration 10): it stops after iteration 11
        train(make_cfg(*recipe, f"run_dir={cut}", "+callbacks.kill._target_=helpers.SignalAt",
                       "+callbacks.kill.iteration=10"))
    stopped = torch.load(cut / "checkpoints" / "last.ckpt", weights_only=True)
    assert stopped["gan1d_iteration"] == 11
    assert all(type(s["param_groups"][0]["lr"]) is float and s["param_groups"][0]["capturable"] is False
               for s in stopped["optimizer_states"])
    resumed = train(make_cfg(*recipe, f"run_dir={tmp_path / 'resumed'}", f"ckpt_path={cut}",
                             "+callbacks.graphs._target_=test_gpu.Graphs"))
    assert Graphs.last.captured  # iterations 12-14 eagerly, then a new capture
    assert_close_runs(resumed, whole, tmp_path / "resumed", tmp_path / "whole")


def test_a_nan_stops_a_captured_run_at_its_log_point(make_cfg, tmp_path):
    with pytest.raises(Diverged, match="between iterations 21 and 30"):
        train(make_cfg(GPU, "steps=60", "checkpoint_every=10", "iterations_per_batch=5",
                       "+callbacks.poison._target_=helpers.PoisonAt", "+callbacks.poison.iteration=25"))
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "diverged"
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["gan1d_iteration"] == 20


@pytest.mark.parametrize("overrides", [[], ["experiment=seed2017"], ["loss=wgan_gp"], ["target=bimodal"]])
def test_recipes_train_on_the_gpu_as_on_the_cpu(make_cfg, tmp_path, overrides):
    # The same data and initial weights: the two devices differ only in rounding, which moves W1/sd after these 40
    # iterations by far less than 1% (weights perturbed by 1e-6 on the CPU moved it by at most 3e-4), while any
    # real difference in what is computed moves it by far more.
    cpu = train(make_cfg(*overrides, f"run_dir={tmp_path / 'cpu'}"))
    gpu = train(make_cfg(*overrides, GPU, f"run_dir={tmp_path / 'gpu'}"))
    assert gpu["status"] == "ok" and gpu["steps"] == cpu["steps"] == 40
    assert gpu["w1_over_std"] == pytest.approx(cpu["w1_over_std"], rel=0.01)
