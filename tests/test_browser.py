"""TensorBoard as a user meets it: a short run, a real tensorboard server on 127.0.0.1, and its Scalars, Images and
HParams views in headless Chromium, through benchmarks/screenshots.py (which makes the README's pictures the same
way). Skipped where Debian's chromium or Playwright is missing, except on CI (CI=true), where .ci/run installs both."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import screenshots  # noqa: E402

from gan1d.run import train  # noqa: E402


def require_browser():
    needs = {"Debian's chromium (apt-get install chromium)": screenshots.chromium(),
             "playwright (pip install -e '.[test]')": importlib.util.find_spec("playwright")}
    missing = [what for what, there in needs.items() if not there]
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test; missing: {', '.join(missing)}")
    if missing:
        pytest.skip(f"needs {' and '.join(missing)}")


def test_tensorboard_views_show_the_run_in_a_real_browser(make_cfg, tmp_path):
    require_browser()
    train(make_cfg())
    with screenshots.tensorboard(tmp_path) as url, screenshots.browser() as page:
        seen = {view: screenshots.open_view(page, url, view) for view in screenshots.VIEWS}  # waits for every tag
        page.screenshot(path=tmp_path / "hparams.png")
    # The Images view shows this run's last figures, the very PNGs the run dir keeps.
    assert {(tmp_path / f"{tag}.png").read_bytes() for tag in ("pdf_overlay", "generator_map")} <= seen["images"]
    assert (tmp_path / "hparams.png").stat().st_size > 20_000  # a rendered page, not a blank one
