"""Fixtures. Tests compose the real configs (conf/, shipped as gan1d.conf) and shrink them to run in seconds; the
helpers they share are in helpers.py."""

import pytest
from helpers import SHRINK
from hydra import compose, initialize_config_module


@pytest.fixture
def make_cfg(tmp_path):
    def make(*overrides, shrink=True):
        with initialize_config_module("gan1d.conf", version_base="1.3"):
            # run_dir is normally Hydra's output dir, which the compose API does not set.
            return compose("train", overrides=[*(SHRINK if shrink else []), f"run_dir={tmp_path}", *overrides])

    return make
