"""On a machine with a CUDA GPU only (skipped elsewhere): training runs there, and no iteration waits on the GPU."""

import lightning as L
import pytest
import torch

from gan1d.train import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


class NoSyncInFirstBatch(L.Callback):
    """Turns any host-device synchronisation (``.item()``, a copy to the host, ...) into an error while the first
    batch of iterations runs; the cadences all fall later, so nothing there has a reason to wait on the GPU."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0:
            torch.cuda.set_sync_debug_mode("error")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        torch.cuda.set_sync_debug_mode("default")


def test_iterations_never_wait_on_the_gpu(make_cfg, tmp_path):
    cadences = [f"{key}=100" for key in ("log_every", "eval_every", "figure_every", "checkpoint_every")]
    cfg = make_cfg("steps=100", *cadences, "trainer.accelerator=gpu",
                   "+callbacks.no_sync._target_=test_gpu.NoSyncInFirstBatch")
    assert cfg.iterations_per_batch == 50  # the first batch: iterations 1 to 50, no cadence due
    try:
        record = train(cfg)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert record["status"] == "ok" and record["steps"] == 100


@pytest.mark.parametrize("overrides", [[], ["experiment=seed2017"], ["loss=wgan_gp"], ["target=bimodal"]])
def test_recipes_train_on_the_gpu_as_on_the_cpu(make_cfg, tmp_path, overrides):
    # The same data and initial weights: the two devices differ only in rounding, which moves W1/sd after these 40
    # iterations by far less than 1% (weights perturbed by 1e-6 on the CPU moved it by at most 3e-4), while any
    # real difference in what is computed moves it by far more.
    cpu = train(make_cfg(*overrides, f"run_dir={tmp_path / 'cpu'}"))
    gpu = train(make_cfg(*overrides, "trainer.accelerator=gpu", f"run_dir={tmp_path / 'gpu'}"))
    assert gpu["status"] == "ok" and gpu["steps"] == cpu["steps"] == 40
    assert gpu["w1_over_std"] == pytest.approx(cpu["w1_over_std"], rel=0.01)
