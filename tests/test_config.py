import itertools
from pathlib import Path

import gan1d.conf
import numpy as np
import pytest
import torch
from helpers import run_cli
from hydra.utils import instantiate

from gan1d.build import build_datamodule, build_model, checked_target
from gan1d.checks import RULES, check_config
from gan1d.errors import ConfigError
from gan1d.run import train

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
    if target == "point_mass":  # no spread to standardise by (test_classics: the error that says so)
        data = ["data.standardize=false"]
    cfg = make_cfg(f"target={target}", f"preprocessor={preprocessor}", *data)
    dist = checked_target(cfg)  # every key checked, the target built
    assert dist.sample(10).shape == (10,)
    model = build_model(cfg)
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


def test_user_keys_reach_the_parts_they_name(make_cfg):
    cfg = make_cfg("seed=3", "optim.g_lr=1e-4", "optim.d_lr=2e-4", "optim.betas=[0.6,0.9]", "data.batch_size=64",
                   "model.generator.noise_dim=3")
    opt_g, opt_d = build_model(cfg).configure_optimizers()
    assert [(o.param_groups[0]["lr"], o.param_groups[0]["betas"]) for o in (opt_g, opt_d)] == \
        [(1e-4, (0.6, 0.9)), (2e-4, (0.6, 0.9))]
    datamodule = build_datamodule(cfg, instantiate(cfg.target))
    real, noise, _ = next(iter(datamodule.train_dataloader()))
    assert real.shape[2] == noise.shape[2] == 64 and noise.shape[3] == 3 + 10  # noise_dim, then the 10 categories
    def eval_noise(seed):
        return build_datamodule(make_cfg(f"seed={seed}"), datamodule.target).eval_noise

    assert torch.equal(eval_noise(3), eval_noise(3)) and not torch.equal(eval_noise(3), eval_noise(4))


def test_the_run_record_logs_each_hyperparameter_under_its_last_key_part(make_cfg):
    cfg = make_cfg("loss=wgan_gp", "preprocessor=moments", "seed=7", "optim.g_lr=1e-4", "model.generator.noise=uniform")
    assert dict(instantiate(cfg.callbacks.run_record).hparams) == {
        "seed": 7, "steps": 40, "target": "gan1d.targets.Gaussian", "preprocessor": "gan1d.preprocessors.Moments",
        "pack": 32, "batch_size": 256, "g_lr": 1e-4, "d_lr": 5e-4, "loss": "wgan", "d_steps": 5, "g_steps": 1,
        "r1_gamma": 0.0, "r2_gamma": 0.0, "ema": 0.999, "noise": "uniform"}


def test_seed2017_builds_the_tutorials_networks(make_cfg):
    cfg = make_cfg("experiment=seed2017", shrink=False)
    model = build_model(cfg)
    g = [type(m).__name__ for m in model.generator.net]
    assert g == ["Linear", "ELU", "Linear", "Sigmoid", "Linear"] and model.generator.net[0].out_features == 50
    assert model.generator.noise_like(1000).min() >= 0 and model.generator.noise_like(1000).max() < 1  # uniform
    assert [type(m).__name__ for m in model.discriminator.net] == ["Linear", "ELU", "Linear", "ELU", "Linear"]
    assert model.discriminator.net[0].in_features == 200  # 100 samples + 100 squared deviations
    opt_g, _ = model.configure_optimizers()
    assert opt_g.param_groups[0]["lr"] == 2e-4 and opt_g.param_groups[0]["betas"] == (0.9, 0.999)
    assert model.generator_ema is None and model.r1_gamma == 0
    datamodule = build_datamodule(cfg, instantiate(cfg.target))
    assert (datamodule.loc, datamodule.scale, datamodule.batch_size, datamodule.steps) == (0.0, 1.0, 100, 2400)
    assert datamodule.target.moments() == {"mean": 4.0, "std": 1.25, "skew": 0.0, "kurtosis": 0.0}


# (overrides, the start of the one-line error): each checked by check_config, as gan1d.train does first.
BAD = [
    (["seed=-1"], "seed=-1 "), (["seed=4294967296"], "seed=4294967296 "), (["seed=true"], "seed=true "),
    (["steps=1e3"], "steps=1000.0 "), (["steps=true"], "steps=true "), (["threads=100000"], "threads=100000 "),
    (["ckpt_path=5"], "ckpt_path=5 "), (["log_every=true"], "log_every=true "),
    (["cuda_graph=maybe"], "cuda_graph='maybe' "),
    (["callbacks.evaluation.every=7"], "callbacks.evaluation.every=7 must be a multiple"),
    (["callbacks.evaluation.every=0"], "callbacks.evaluation.every=0 "),
    (["callbacks.progress_bar.refresh_rate=-1"], "callbacks.progress_bar.refresh_rate=-1 "),
    (["callbacks.figures.background=maybe"], "callbacks.figures.background='maybe' "),
    (["iterations_per_batch=0"], "iterations_per_batch=0 "), (["optim.betas=[0.5]"], "optim.betas=[0.5] "),
    (["optim.g_lr=abc"], "optim.g_lr='abc' "),
    (["data.batch_size=true"], "data.batch_size=true "), (["data.eval_size=0"], "data.eval_size=0 "),
    (["data.eval_size=10000000"], "data.eval_size=10000000 "), (["data.standardize=maybe"], "data.standardize='maybe'"),
    (["data.standardize=1"], "data.standardize=1 "), (["data.num_workers=-1"], "data.num_workers=-1 "),
    (["data.num_workers=1000"], "data.num_workers=1000 "), (["data.seed=-3"], "data.seed=-3 "),
    (["data.batch_size=1000000000"], "data.batch_size=1000000000, iterations_per_batch=10"),
    (["optim.d_steps=1000000"], "data.batch_size=256, iterations_per_batch=10, optim.d_steps=1000000"),
    (["model.loss=[a]"], "model.loss=['a'] "), (["~loss"], "model.loss=null "), (["optim.ema=true"], "optim.ema=true "),
    (["penalties.gp_one_sided=yes"], "penalties.gp_one_sided='yes' "),
    (["penalties.r2_gamma=nan"], "penalties.r2_gamma=nan "),
    (["model.generator.hidden=[0]"], "model.generator.hidden=[0] "),
    (["model.generator.hidden=[100000]"], "model.generator.hidden=[100000] "),
    (["model.generator.activations=[elu,elu,elu]"], "model.generator.activations=['elu', 'elu', 'elu'] must name"),
    (["model.generator.activations=[bogus]"], "model.generator.activations=['bogus'] "),
    (["model.discriminator.activations=[true]"], "model.discriminator.activations=[True] "),
    (["model.generator.noise_dim=100000"], "model.generator.noise_dim=100000 "),
    (["preprocessor.pack=true"], "preprocessor.pack=true "), (["logger.save_dir=5"], "logger.save_dir=5 "),
    (["logger.version=5"], "logger.version=5 "), (["logger.default_hp_metric=maybe"], "logger.default_hp_metric="),
    (["logger=csv", "logger.name=[a]"], "logger.name=['a'] "),
    (["logger=mlflow", "logger.experiment_name=''"], "logger.experiment_name='' "),
    (["logger=mlflow", "logger.tracking_uri=5"], "logger.tracking_uri=5 "),
    (["logger=mlflow", "logger.artifact_location=null"], "logger.artifact_location=null "),
    (["logger=mlflow", "logger.tags=5"], "logger.tags=5 "), (["logger=mlflow", "logger.log_model=true"],
                                                             "logger.log_model=true "),
    (["trainer.accelerator=true"], "trainer.accelerator=true "), (["trainer.devices=2"], "trainer.devices=2 "),
    (["trainer.max_epochs=2"], "trainer.max_epochs=2 "), (["trainer.max_steps=100"], "trainer.max_steps=100 "),
    (["+trainer.precision=64"], "trainer.precision=64 "),
    (["+trainer.gradient_clip_val=1"], "trainer.gradient_clip_val=1 "),
    (["+trainer.num_nodes=2"], "trainer.num_nodes=2 "),
    (["target.mean=1e35"], "target.mean=1e+35 "), (["target.std=1e-30"], "target.std=1e-30 "),
    (["target.std=true"], "target.std=true "), (["target=student_t", "target.df=0.01"], "target.df=0.01 "),
    (["target=lognormal", "target.mu=100"], "target.mu=100 "),
    (["target=exponential", "target.rate=0"], "target.rate=0 "),
    (["target=laplace", "target.scale=abc"], "target.scale='abc' "),
    (["target=mixture", "target.means=[]"], "target.means=[] "),
    (["target=uniform", "target.high=inf"], "target.high=inf "),
    (["+target.stdd=1"], "target=gan1d.targets.Gaussian: Gaussian.__init__() got an unexpected keyword argument"),
    (["target=comb", "target.modes=0"], "target.modes=0 "),
    (["target=comb", "target.spacing=-2"], "target.spacing=-2 "),
    (["target=empirical"], "target.path=null "), (["target=empirical", "target.path=5"], "target.path=5 "),
    (["target=empirical", "target.path=x.npy", "target.holdout=1"], "target.holdout=1 "),
    (["target=empirical", "target.path=nope.npy"], "target.path=nope.npy: no such file"),
    (["optim.g_steps=-1"], "optim.g_steps=-1 "), (["penalties.gp_gamma=-1"], "penalties.gp_gamma=-1 "),
    (["optim.lr_decay_start=1.5"], "optim.lr_decay_start=1.5 "),
    (["+trainer.accumulate_grad_batches=2"], "trainer.accumulate_grad_batches=2 "),
    (["preprocessor.pack=3"], "preprocessor.pack=3 must divide data.batch_size=256"),
    (["run_dir=''"], "run_dir='' "), (["eval_every=0"], "eval_every=0 "), (["figure_every=-5"], "figure_every=-5 "),
    (["checkpoint_every=abc"], "checkpoint_every='abc' "),
    (["callbacks.figures.every=0"], "callbacks.figures.every=0 "),
    (["callbacks.checkpoint.every=true"], "callbacks.checkpoint.every=true "),
    (["optim.name=rmsprop"], "optim.name='rmsprop' "), (["optim.d_lr=0"], "optim.d_lr=0 "),
    (["data.steps=0"], "data.steps=0 "), (["data.iterations_per_batch=0"], "data.iterations_per_batch=0 "),
    (["optim.d_steps=0"], "optim.d_steps=0 "), (["optim.d_lr=inf"], "optim.d_lr=inf "),
    (["optim.betas=[1,0.5]"], "optim.betas=[1, 0.5] "), (["optim.lr_decay_start=-0.1"], "optim.lr_decay_start=-0.1 "),
    (["optim.simultaneous=maybe"], "optim.simultaneous='maybe' "),
    (["penalties.r1_gamma=-1"], "penalties.r1_gamma=-1 "),
    (["model.preprocessor={_target_:gan1d.preprocessors.Raw,pack:0}"], "model.preprocessor.pack=0 "),
    (["model.generator.noise=cauchy"], "model.generator.noise='cauchy' "),
    (["model.generator.categories=-1"], "model.generator.categories=-1 "),
    (["model.generator.init_offset=nan"], "model.generator.init_offset=nan "),
    (["model.discriminator.hidden=5"], "model.discriminator.hidden=5 "),
    (["logger=mlflow", "logger.run_name=''"], "logger.run_name='' "),
    (["trainer.default_root_dir=''"], "trainer.default_root_dir='' "),
]


@pytest.mark.parametrize("overrides,message", BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_values_are_one_line_naming_the_key(make_cfg, overrides, message):
    with pytest.raises(ConfigError) as error:
        checked_target(make_cfg(*overrides))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_every_rule_has_a_bad_case_of_its_own(make_cfg):
    """A case the rule itself refuses (not a relation between keys): turned off, the rule fails the test above."""
    def refused_by_its_rule(key: str, overrides: list[str]) -> bool:
        with pytest.raises(ConfigError) as error:
            checked_target(make_cfg(*overrides))
        return str(error.value).startswith(f"{key}=") and f" is not allowed: it must be {RULES[key][1]}" in str(
            error.value)

    cases = {key: [o for o, message in BAD if message.startswith(f"{key}=")] for key in RULES}
    assert [key for key, found in cases.items() if not any(refused_by_its_rule(key, o) for o in found)] == []


@pytest.mark.parametrize("overrides", [["data.batch_size=1"], ["data.eval_size=1"], ["optim.ema=0.9999999"],
                                       ["model.generator.hidden=[]", "model.discriminator.hidden=[]"],
                                       ["steps=1000000000000", "+trainer.max_time=00:00:00:01"]])
def test_absurd_but_valid_values_train(make_cfg, overrides):
    record = train(make_cfg(*overrides))
    assert record["status"] == "ok" and record["steps"] >= 10


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


def test_the_optim_and_penalties_classes_default_to_the_config_s_recipe(make_cfg):
    """GAN1D built in Python, without the config, trains the recipe the config gives: one set of defaults."""
    from gan1d.losses import Penalties
    from gan1d.module import Optim

    cfg = make_cfg(shrink=False)
    assert instantiate(cfg.optim) == Optim()
    assert instantiate(cfg.penalties) == Penalties()
