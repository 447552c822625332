import itertools
from pathlib import Path

import gan1d.conf
import numpy as np
import pytest
import torch
from conftest import run_cli
from hydra.utils import instantiate

from gan1d.errors import ConfigError, check_config

CONF = Path(gan1d.conf.__file__).parent
GROUPS = {g: sorted(p.stem for p in (CONF / g).glob("*.yaml"))
          for g in ("target", "preprocessor", "trainer", "loss", "experiment", "logger")}


def test_every_group_has_its_options():
    assert {"gaussian", "uniform", "mixture", "empirical", "penguins_flipper", "seattle_wind"} <= set(GROUPS["target"])
    assert {"raw", "diffs", "variances", "moments"} <= set(GROUPS["preprocessor"])
    assert {"cpu", "gpu"} <= set(GROUPS["trainer"])
    assert {"non_saturating", "minimax", "lsgan", "hinge", "wgan_gp"} <= set(GROUPS["loss"])


@pytest.mark.parametrize("target,preprocessor", itertools.product(GROUPS["target"], GROUPS["preprocessor"]))
def test_every_target_and_preprocessor_composes_and_builds(make_cfg, tmp_path, target, preprocessor):
    data = []
    if target == "empirical":  # the one option that needs a file of the user's
        np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=500))
        data = [f"target.path={tmp_path / 'x.npy'}"]
    cfg = make_cfg(f"target={target}", f"preprocessor={preprocessor}", *data)
    dist = instantiate(cfg.target)
    assert dist.sample(10).shape == (10,)
    model = instantiate(cfg.model)
    assert model.discriminator.net[0].in_features == model.preprocessor.width
    assert cfg.data.batch_size % cfg.preprocessor.pack == 0


@pytest.mark.parametrize("trainer", GROUPS["trainer"])
def test_trainer_options_compose(make_cfg, trainer):
    cfg = make_cfg(f"trainer={trainer}")
    assert cfg.trainer.accelerator == trainer
    assert cfg.trainer.max_epochs == 1 and cfg.trainer.max_steps == -1  # the shared base, trainer_base.yaml


def test_help_lists_only_the_groups_real_options(tmp_path):
    proc = run_cli("gan1d.train", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    groups = dict(line.split(": ", 1) for line in proc.stdout.split("== Config ==")[0].splitlines() if ": " in line)
    assert groups["trainer"] == "cpu, gpu, mps"  # not the presets' shared base
    assert groups["logger"] == "csv, mlflow, none, tensorboard"
    assert {g: sorted(o.split(", ")) for g, o in groups.items() if g in GROUPS} == GROUPS



def test_iterations_per_batch_fits_every_cadence(make_cfg):
    assert make_cfg(shrink=False).iterations_per_batch == 50  # log 50, eval 250, figure 500, checkpoint 500
    assert make_cfg("log_every=30", "eval_every=90", "checkpoint_every=300", shrink=False).iterations_per_batch == 10
    assert make_cfg("log_every=7", shrink=False).iterations_per_batch == 1
    with pytest.raises(ConfigError, match=r"^log_every=7 must be a multiple of iterations_per_batch=5"):
        check_config(make_cfg("log_every=7", "iterations_per_batch=5"))


def test_user_keys_have_the_documented_names(make_cfg):
    cfg = make_cfg("seed=3", "steps=7", "target.mean=-2", "preprocessor=variances", "optim.g_lr=1e-4",
                   "optim.d_lr=2e-4", "data.batch_size=64", "trainer.accelerator=cpu", shrink=False)
    assert (cfg.seed, cfg.steps, cfg.target.mean, cfg.data.batch_size) == (3, 7, -2, 64)
    assert cfg.model.g_lr == 1e-4 and cfg.model.d_lr == 2e-4  # the module reads the optim keys
    assert cfg.data.seed == 3


def test_seed2017_is_the_tutorial(make_cfg):
    cfg = make_cfg("experiment=seed2017", shrink=False)
    assert cfg.steps == 2400
    assert (cfg.target.mean, cfg.target.std) == (4.0, 1.25)
    assert cfg.preprocessor._target_.endswith("Variances") and cfg.preprocessor.pack == 100
    assert cfg.data.batch_size == 100 and not cfg.data.standardize
    assert cfg.optim.g_lr == cfg.optim.d_lr == 2e-4 and list(cfg.optim.betas) == [0.9, 0.999]
    assert cfg.model.r1_gamma == 0 and cfg.model.ema == 0 and cfg.model.loss == "non_saturating"
    g, d = cfg.model.generator, cfg.model.discriminator
    assert g.noise == "uniform" and list(g.hidden) == [50, 50] and list(g.activations) == ["elu", "sigmoid"]
    assert list(d.hidden) == [50, 50] and list(d.activations) == ["elu", "elu"]
    model = instantiate(cfg.model)
    assert model.discriminator.net[0].in_features == 200  # 100 samples + 100 squared deviations


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without an Apple GPU")
def test_mps_request_without_an_apple_gpu_is_one_clear_line(make_cfg):
    with pytest.raises(ConfigError, match=r"^trainer.accelerator=mps: no Apple GPU \(MPS\) is available"):
        check_config(make_cfg("trainer=mps"))


def test_a_logger_whose_package_is_missing_is_one_clear_line(make_cfg, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else find_spec(name, *a))
    with pytest.raises(ConfigError, match=r"^logger=mlflow needs mlflow, which is not installed: pip install"):
        check_config(make_cfg("logger=mlflow"))
    check_config(make_cfg("logger=csv"))
