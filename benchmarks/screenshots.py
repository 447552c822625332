"""TensorBoard as a user meets it: a real tensorboard server on 127.0.0.1, its Scalars, Images and HParams views
opened in headless Chromium, and a screenshot of each (the README's dashboard pictures are made this way).

    python benchmarks/screenshots.py                           # trains the default run, writes docs/tensorboard_*.png
    python benchmarks/screenshots.py --logdir RUN_OR_SWEEP_DIR --out /tmp/shots

It needs Debian's chromium (``apt-get install chromium``; .ci/run installs it) and Playwright for Python (in gan1d's
test extra), which drives that browser: Playwright's own browser download is not used. tests/test_browser.py opens
the same views through the same functions and checks what is on the page.
"""

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote

if TYPE_CHECKING:
    from playwright.sync_api import Page


class View(NamedTuple):
    address: str  # after the server's address and "#"
    texts: list[str]  # what says the view shows the run: its tags, hyperparameters, metrics
    images: int = 0  # how many images it shows once loaded
    size: tuple[int, int] = (1280, 900)  # of the screenshot: TensorBoard scrolls inside the page, not the page


# The filters keep each view to what a gan1d user looks at first, on one page of cards.
VIEWS = {
    "scalars": View("scalars&tagFilter=" + quote("^(loss|d_out|grad_norm|penalty)/|^eval/(w1_over_std|ks)$"),
                    ["loss/d", "loss/g", "d_out/real_prob", "d_out/fake_prob", "grad_norm/d", "grad_norm/g",
                     "penalty/r1", "eval/w1_over_std", "eval/ks"]),
    "images": View("images&tagFilter=" + quote("^(pdf_overlay|generator_map)$"), ["pdf_overlay", "generator_map"], 2,
                   (1280, 1400)),  # the two figures one under the other
    "hparams": View("hparams", ["g_lr", "d_lr", "r1_gamma", "hp/w1_over_std", "hp/ks"], 0, (1900, 700)),  # to hp/ks
}


def chromium() -> str | None:
    """Debian's chromium, if installed."""
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def tensorboard(logdir: str | Path, timeout: float = 60) -> Iterator[str]:
    """A tensorboard server on 127.0.0.1 for ``logdir``; yields its address once it lists a run."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host",
                               "127.0.0.1", "--port", str(port), "--reload_interval", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while not _runs(url):
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError(f"tensorboard --logdir {logdir} did not list a run within {timeout} s")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _runs(url: str) -> list:
    try:
        with urllib.request.urlopen(f"{url}/data/runs", timeout=5) as response:
            return json.loads(response.read())
    except OSError:
        return []


@contextmanager
def browser() -> Iterator["Page"]:
    """A page in headless Chromium: Debian's, driven by Playwright (--no-sandbox: CI runs as root)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            yield chrome.new_page()
        finally:
            chrome.close()


def open_view(page: "Page", url: str, view: str, timeout_s: float = 60) -> set[bytes]:
    """Opens one view and waits until each of its texts is visible and its images have loaded. Returns the images
    the page holds, fetched again from the server (their bytes)."""
    address, texts, images, (width, height) = VIEWS[view]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{url}/#{address}")
    for text in texts:  # Playwright's locators see into TensorBoard's web components (shadow DOM)
        page.get_by_text(text, exact=True).first.wait_for(timeout=timeout_s * 1000)
    deadline = time.time() + timeout_s
    while len(loaded := set(page.locator("img").evaluate_all(LOADED))) < images:
        if time.time() > deadline:
            raise TimeoutError(f"{view}: {len(loaded)} of {images} images loaded within {timeout_s} s")
        page.wait_for_timeout(200)
    page.wait_for_timeout(1000)  # the charts' last animation frame
    return {page.request.get(src).body() for src in loaded}


LOADED = "images => images.filter(i => i.complete && i.naturalWidth > 0).map(i => i.src)"


def screenshots(logdir: str | Path, out: str | Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with tensorboard(logdir) as url, browser() as page:
        for view in VIEWS:
            open_view(page, url, view)
            if view == "images":  # at their size, readable, rather than shrunk into the cards
                page.get_by_text("Show actual image size").click()
                page.wait_for_timeout(1000)
            paths.append(out / f"tensorboard_{view}.png")
            page.screenshot(path=paths[-1])
    return paths


def main(argv: list[str] | None = None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logdir", type=Path, default=None, help="a run or sweep dir (default: train the default run)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    args = ap.parse_args(argv)
    if chromium() is None:
        sys.exit("screenshots.py: Debian's chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        logdir = args.logdir
        if logdir is None:
            from throughput import make_cfg  # this folder's throughput.py: the config composed as the CLI does

            from gan1d.run import train

            logdir = Path(tmp) / "default"
            train(make_cfg([], str(logdir)))
        paths = screenshots(logdir, args.out)
    for path in paths:
        print(f"{path} ({path.stat().st_size / 1000:.0f} KB)")
    return paths


if __name__ == "__main__":
    main()
