"""Renamed keys: the old names keep working in overrides, with a notice; in a config file they are refused."""

import json

import pytest
from helpers import SHRINK, run_cli
from omegaconf import OmegaConf

from gan1d.checks import check_config
from gan1d.errors import ConfigError
from gan1d.renamed import RENAMED, renamed
from gan1d.run import compose


@pytest.mark.parametrize("old,new", [
    ("model.r1_gamma=0", "penalties.r1_gamma=0"),
    ("model.d_steps=1,2", "optim.d_steps=1,2"),  # a sweep
    ("+model.ema=0", "+optim.ema=0"),
    ("~model.gp_one_sided", "~penalties.gp_one_sided"),
    ("hydra.sweeper.params.model.r2_gamma=interval(0,1)", "hydra.sweeper.params.penalties.r2_gamma=interval(0,1)"),
    ("model.loss=hinge", "model.loss=hinge"),  # not renamed
    ("model.emal=0", "model.emal=0"),  # a name that only starts like one
    ("--multirun", "--multirun"),
])
def test_old_names_in_overrides_become_the_new_ones(old, new):
    assert renamed([old]) == [new]


def test_every_old_name_composes_to_its_new_key_with_a_notice(tmp_path, caplog):
    values = {"model.d_steps": 3, "model.g_steps": 2, "model.simultaneous": True, "model.ema": 0.5,
              "model.r1_gamma": 0.25, "model.r2_gamma": 0.5, "model.gp_gamma": 2.0, "model.gp_one_sided": False}
    assert values.keys() == RENAMED.keys()
    with caplog.at_level("WARNING", logger="gan1d"):
        cfg = compose([f"{old}={str(v).lower()}" for old, v in values.items()], run_dir=tmp_path)
    for old, value in values.items():
        group, key = RENAMED[old].split(".")
        assert cfg[group][key] == value and key not in cfg.model
        assert f"{old} is now {RENAMED[old]} (the old name still works)" in caplog.text


def test_an_old_name_in_a_config_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "old.yaml").write_text("# @package _global_\nmodel:\n  r1_gamma: 0.5\n")
    cfg = compose(["experiment=old"], run_dir=tmp_path / "run", config_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"^model.r1_gamma is now penalties.r1_gamma: set that instead$"):
        check_config(cfg)


def test_an_old_name_on_the_command_line_trains_as_the_new_one(tmp_path):
    proc = run_cli("gan1d.train", *SHRINK, "model.d_steps=1", "model.ema=0", f"hydra.run.dir={tmp_path / 'run'}",
                   "logger=none", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model.d_steps is now optim.d_steps (the old name still works)" in proc.stderr
    saved = (tmp_path / "run" / ".hydra" / "overrides.yaml").read_text()
    assert "optim.d_steps=1" in saved and "model.d_steps" not in saved
    cfg = OmegaConf.load(tmp_path / "run" / ".hydra" / "config.yaml")
    assert cfg.optim.d_steps == 1 and cfg.optim.ema == 0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "ok"
