"""Tests compose the real configs (conf/, shipped as gan1d.conf) and shrink them to run in seconds."""

import os
import subprocess
import sys

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


def run_cli(module: str, *args: str, cwd, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` the way a user would, from ``cwd``."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
