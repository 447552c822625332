"""Fixtures. Tests compose the real configs (conf/, shipped as gan1d.conf) and shrink them to run in seconds; the
helpers they share are in helpers.py."""

import pytest
from hydra import compose, initialize_config_module

# Small enough to run in seconds, with every cadence hit at least once.
SHRINK = ["steps=40", "log_every=10", "eval_every=20", "figure_every=20", "data.eval_size=2000"]


@pytest.fixture
def make_cfg(tmp_path):
    def make(*overrides, shrink=True):
        with initialize_config_module("gan1d.conf", version_base="1.3"):
            # run_dir is normally Hydra's output dir, which the compose API does not set.
            return compose("train", overrides=[*(SHRINK if shrink else []), f"run_dir={tmp_path}", *overrides])

    return make
