"""Matplotlib figures: the generated distribution against the target with the discriminator's push, the
generator's map against the ideal one, the loss curves, and the sweep summary.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``), never pyplot's global state, so
nothing needs a display and nothing leaks between runs. Drawing needs numpy and matplotlib only (the training run
draws in a separate process that imports just those); torch is imported where target data is computed.
"""

import matplotlib

matplotlib.use("Agg")

import io  # noqa: E402
import math  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import TYPE_CHECKING, BinaryIO, NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gan1d.atoms import at, shares  # noqa: E402

if TYPE_CHECKING:  # the drawing process imports numpy and matplotlib only
    import torch

    from gan1d.targets import Target

Curve = Callable[[np.ndarray], np.ndarray]  # a function of x, e.g. D(x)
# A sweep figure labels each cell of a heatmap, and draws one labelled bar per job, up to these many.
LABELLED_CELLS, MOST_BARS = 400, 60


def plot_range(target: "Target", samples: np.ndarray) -> tuple[float, float]:
    """Wide enough for the target's bulk and most generated samples, without letting outliers squash the plot."""
    import torch

    t = target.sample(20_000, torch.Generator().manual_seed(0)).numpy()
    lo = min(np.quantile(t, 0.0005), np.quantile(samples, 0.001))
    hi = max(np.quantile(t, 0.9995), np.quantile(samples, 0.999))
    pad = 0.1 * (hi - lo)
    return lo - pad, hi + pad


def to_png(fig: Figure) -> bytes:
    """Render once to an RGB PNG: the same bytes serve TensorBoard, the PNG file and the animation's frame."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    out = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).save(out, format="PNG")
    return out.getvalue()


def save_animation(frames: list[bytes], file: BinaryIO, seconds_per_frame: float = 0.6) -> None:
    """An animated GIF of PNG frames (Pillow, which matplotlib already depends on)."""
    from PIL import Image

    images = [Image.open(io.BytesIO(f)) for f in frames]
    images[0].save(file, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 * seconds_per_frame),
                   loop=0)


class OverlayData(NamedTuple):
    """What an overlay shows, as plain arrays: computed where the target and the discriminator live, then drawn
    anywhere (the training run draws in a separate process, gan1d.drawing)."""

    x: np.ndarray
    pdf: np.ndarray  # the target's pdf at x
    samples: np.ndarray
    title: str
    d: np.ndarray | None = None  # the discriminator's output at x, for a per-sample discriminator
    pdf_label: str = "target pdf"  # a data target draws its scored part's density instead
    d_prob: bool = True  # d is a probability (logistic losses); else D's raw output
    push: np.ndarray | None = None  # -d loss_G / dx at x: the push on a generated sample there
    d_star: np.ndarray | None = None  # the optimal discriminator p / (p + q) at x, for the trained generator's q
    d_star_label: str = ""  # how q was had: exact or a KDE
    corrected: np.ndarray | None = None  # the samples after the discriminator's correction (gan1d.correction)
    atoms: np.ndarray | None = None  # a data target's atoms (gan1d.atoms), drawn as lines beside the densities
    atom_shares: np.ndarray | None = None  # each atom's share of the target's scored part
    decimals: int | None = None  # a data target's resolution (gan1d.rounding): the histogram's bins follow it


def overlay_data(target: "Target", samples: np.ndarray, title: str, d_curve: Curve | None = None, d_prob: bool = True,
                 push_curve: Curve | None = None, d_star: tuple[Curve, str] | None = None) -> OverlayData:
    """``d_curve`` and ``push_curve`` are functions of an array of x, for a per-sample discriminator; ``d_star``
    the optimal discriminator's, with its label (gan1d.optimal.optimal_curve)."""
    import torch

    samples = np.asarray(samples, dtype=np.float64)
    lo, hi = plot_range(target, samples)
    x = np.linspace(lo, hi, 400)
    d = None if d_curve is None else np.asarray(d_curve(x))
    push = None if push_curve is None else np.asarray(push_curve(x))
    pdf_label = getattr(target, "pdf_label", OverlayData._field_defaults["pdf_label"])
    optimal, optimal_label = (None, "") if d_star is None else (np.asarray(d_star[0](x)), d_star[1])
    atoms = (target.atoms.values, target.atom_shares()) if len(target.atoms.values) else (None, None)
    return OverlayData(x, target.pdf(torch.from_numpy(x)).numpy(), samples, title, d, pdf_label, d_prob, push,
                       optimal, optimal_label, None, *atoms, target.decimals)


def pdf_overlay(data: OverlayData) -> Figure:
    """Target pdf (for a data target: its held-out data's density), a histogram of the generated samples, the
    normal fitted to them (the tutorial's picture) and, where given, the discriminator's output D(x) on a second
    axis and its push on the generated samples below."""
    if data.push is None:
        fig = Figure(figsize=(7, 4.2), dpi=100)
        fig.subplots_adjust(left=0.09, right=0.91, bottom=0.12, top=0.92)  # fixed: tight_layout costs a whole draw
        draw_overlay(fig.add_subplot(), data)
        return fig
    fig = Figure(figsize=(7, 5.6), dpi=100)
    fig.subplots_adjust(left=0.1, right=0.91, bottom=0.09, top=0.94, hspace=0.08)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    draw_overlay(top, data)
    top.set_xlabel("")
    draw_push(bottom, data)
    return fig


def overlay_png(data: OverlayData) -> bytes:
    return to_png(pdf_overlay(data))


def correction_figure(data: OverlayData, log_odds: np.ndarray, log_ratio: tuple[np.ndarray, np.ndarray],
                      log_bound: float) -> Figure:
    """The overlay with the corrected samples beside the generated ones, over the classifier's log p/q at ``data.x``
    against the one measured from the generator's samples (``log_ratio``: bin centres and values, NaN where it made
    none), with the log of the bound M."""
    fig = Figure(figsize=(7, 5.6), dpi=100)
    fig.subplots_adjust(left=0.1, right=0.95, bottom=0.09, top=0.94, hspace=0.08)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.6]})
    draw_overlay(top, data)
    top.set_xlabel("")
    bottom.plot(*log_ratio, color="tab:blue", lw=1.5, label="log p/q: exact pdf over a histogram of G")
    bottom.plot(data.x, log_odds, color="black", lw=1, label="log odds of the fitted classifier")
    bottom.axhline(log_bound, color="tab:red", ls=":", lw=1, label="log M: kept with probability 1 above")
    bottom.set_ylim(-6, log_bound + 3)  # below odds of e^-6 a draw is all but never kept
    bottom.set_xlabel("x")
    bottom.set_ylabel("log p/q")
    bottom.legend(fontsize=7, loc="lower left")
    return fig


def overlays(panels: list[OverlayData], ncols: int = 2) -> Figure:
    """Several overlays in one figure, e.g. two recipes side by side."""
    nrows = -(-len(panels) // ncols)
    height = 3.8 * nrows
    fig = Figure(figsize=(6 * ncols, height), dpi=100)
    # Margins in inches, not fractions: a tall gallery would otherwise open and close on inches of white.
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.38 / height, top=1 - 0.3 / height, wspace=0.18, hspace=0.35)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, data in zip(axes, panels, strict=False):
        draw_overlay(ax, data)
    for ax in axes[len(panels):]:  # a last row that is not full
        ax.set_visible(False)
    return fig


def draw_overlay(ax: Axes, data: OverlayData) -> None:
    x, samples, (lo, hi) = data.x, data.samples, (data.x[0], data.x[-1])
    edges = bin_edges(lo, hi, data.decimals)
    # One stairs artist instead of ax.hist's one rectangle per bar: one artist to build and draw, not hundreds.
    ax.stairs(smooth_density(samples, edges, data.atoms), edges, fill=True, color="tab:orange", alpha=0.45,
              label="generated")
    if data.corrected is not None:
        ax.stairs(smooth_density(data.corrected, edges, data.atoms), edges, color="black", lw=1.2,
                  label="corrected (resampled by p/q)")
    if data.atoms is not None:
        for value, share, made in zip(data.atoms, data.atom_shares, shares(samples, data.atoms), strict=True):
            ax.axvline(value, color="tab:purple", ls="--", lw=1.5,
                       label=f"atom {value:g}: {share:.1%} of the data, {made:.1%} generated")
    ax.plot(x, data.pdf, color="tab:blue", lw=2, label=data.pdf_label)
    mu, sd = samples.mean(), max(samples.std(), 1e-12)
    fitted = np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
    ax.plot(x, fitted, color="tab:red", ls="--", lw=1.2, label=f"normal fit to generated ({mu:.2f}, {sd:.2f})")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_title(data.title, fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    if data.d is not None:
        ax2 = ax.twinx()
        h = ax2.plot(x, data.d, color="tab:green", lw=1, alpha=0.8, label="D(x)")
        if data.d_prob:
            ax2.set_ylim(0, 1)
        ax2.set_ylabel("D(x): probability real" if data.d_prob else "D(x): raw output")
        handles, labels = handles + h, labels + ["D(x)"]
        if data.d_star is not None:
            label = f"optimal D* = p/(p+q), {data.d_star_label}"
            handles += ax2.plot(x, data.d_star, color="darkgreen", ls=":", lw=1.5, label=label)
            labels.append(label)
    ax.legend(handles, labels, fontsize=8, loc="upper left")


def bin_edges(lo: float, hi: float, decimals: int | None, bins: int = 120) -> np.ndarray:
    """About ``bins`` equal bins over [lo, hi]; for rounded samples, each a whole number of the data's steps centred
    on them, so that no bin falls between two values and shows a comb that is not there."""
    if decimals is None:
        return np.linspace(lo, hi, bins + 1)
    step = 10.0**-decimals
    width = step * max(1, math.ceil((hi - lo) / (bins * step)))
    first = (math.floor(lo / step) - 0.5) * step
    return np.arange(first, hi + width, width)


def smooth_density(samples: np.ndarray, edges: np.ndarray, atoms: np.ndarray | None) -> np.ndarray:
    """A histogram's density of the samples that are not atoms, as a share of all samples (the atoms are drawn
    apart: as part of a density they would be spikes of any height)."""
    weights = np.full(len(samples), 1 / (len(samples) * (edges[1] - edges[0])))
    if atoms is not None:
        weights[at(samples, atoms)] = 0
    return np.histogram(samples, bins=edges, weights=weights)[0]


def draw_push(ax: Axes, data: OverlayData) -> None:
    """Where the generator's update moves a generated sample at each x, and how hard: -d loss_G / dx."""
    x, push = data.x, data.push
    ax.axhline(0, color="grey", lw=0.8)
    ax.fill_between(x, push, 0, where=push >= 0, color="tab:green", alpha=0.35, lw=0, label="pushed right")
    ax.fill_between(x, push, 0, where=push < 0, color="tab:purple", alpha=0.35, lw=0, label="pushed left")
    ax.plot(x, push, color="black", lw=1)
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel("x")
    ax.set_ylabel(r"push $-\partial \ell_G / \partial x$")
    ax.legend(fontsize=8, loc="upper left")


class MapData(NamedTuple):
    """The generator's map from noise to x, against the ideal one, as plain arrays (drawn by generator_map)."""

    z: np.ndarray  # the first noise coordinate across the noise's bulk
    g: np.ndarray  # G(z), one row per category of the categorical code (one row without a code)
    ideal: np.ndarray | None  # the exact monotone map in G's direction, for 1-D noise without a code
    ideal_label: str
    title: str
    noise: str  # the x-axis label


def map_inputs(kind: str, dim: int, categories: int = 0, points: int = 400) -> "torch.Tensor":
    """The generator map's inputs, as a float32 tensor of points rows (for each category of a categorical code, in
    turn): the first noise coordinate across the noise's bulk (0.1% to 99.9% of a fixed sample), the others at the
    noise's median, then the category's one-hot code."""
    import torch

    from gan1d.networks import noise_cdf, sample_noise

    bulk = sample_noise(kind, 100_000, 1, torch.Generator().manual_seed(0)).squeeze(1).double()
    lo, hi = torch.quantile(bulk, torch.tensor([0.001, 0.999], dtype=torch.float64)).tolist()
    z = torch.linspace(lo, hi, points, dtype=torch.float64)
    median = float(np.interp(0.5, noise_cdf(kind, z).numpy(), z.numpy()))
    inputs = torch.full((points, dim), median, dtype=torch.float64)
    inputs[:, 0] = z
    if categories:
        codes = torch.eye(categories, dtype=torch.float64).repeat_interleave(points, 0)
        inputs = torch.cat([inputs.repeat(categories, 1), codes], 1)
    return inputs.float()


def map_data(target: "Target", kind: str, inputs: "torch.Tensor", g: np.ndarray, title: str, dim: int = 1,
             categories: int = 0) -> MapData:
    """``inputs`` from map_inputs, ``g`` the generator's output on them."""
    from gan1d.networks import noise_cdf

    g = np.asarray(g, dtype=np.float64).reshape(max(categories, 1), -1)
    z = inputs[: g.shape[1], 0].double()
    if dim > 1 or categories:  # one map of one coordinate of several, or per category: no single ideal
        label = f"first noise coordinate z1 ({kind})" + (f"; the other {dim - 1} at their median" if dim > 1 else "")
        return MapData(z.numpy(), g, None, "", title, label)
    # Two monotone maps carry the noise exactly onto the target: F^-1(C(z)) and the decreasing F^-1(1 - C(z)).
    # A generator learns either; the one it heads for is drawn.
    u = noise_cdf(kind, z).numpy()
    if g[0, -1] >= g[0, 0]:
        ideal, ideal_label = target.quantile(u), "ideal map $F^{-1}(C(z))$"
    else:
        ideal, ideal_label = target.quantile(1 - u), "ideal map $F^{-1}(1 - C(z))$ (decreasing)"
    return MapData(z.numpy(), g, ideal, ideal_label, title, f"noise z ({kind})")


def generator_map(data: MapData) -> Figure:
    """G(z) against the ideal map F^-1(C(z)) (C the noise's cdf, F the target's), which carries the noise onto the
    target exactly: where it is steep, a little noise must cover a wide range of x (the gaps between a mixture's
    modes); where it is flat, much noise piles onto little x (the modes)."""
    fig = Figure(figsize=(7, 4.2), dpi=100)
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.12, top=0.92)
    ax = fig.add_subplot()
    if data.ideal is not None:
        ax.plot(data.z, data.ideal, color="tab:blue", lw=2.5, alpha=0.8, label=data.ideal_label)
    if len(data.g) == 1:
        ax.plot(data.z, data.g[0], color="tab:orange", lw=1.5, label="generator G(z)")
    else:  # each category of the categorical code has a map of its own: which modes it serves
        for c, row in enumerate(data.g):
            ax.plot(data.z, row, color=matplotlib.colormaps["tab10"](c % 10), lw=1.2,
                    label=f"G(z, c) for each of the {len(data.g)} categories c" if c == 0 else None)
    ax.set_xlim(data.z[0], data.z[-1])
    ax.set_xlabel(data.noise)
    ax.set_ylabel("x")
    ax.set_title(data.title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def generator_map_png(data: MapData) -> bytes:
    return to_png(generator_map(data))


def loss_curves(history: dict[str, list[tuple[int, float]]], d_prob: bool = True,
                equilibrium: float | None = 0.5) -> Figure:
    """Losses on the left; on the right, the discriminator's mean output on real and fake, as the loss reads it (a
    probability or raw, see losses.D_OUTPUT), with its value at equilibrium where the loss has one."""
    fig = Figure(figsize=(9, 3.5), dpi=100)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.2)
    left, right = fig.subplots(1, 2)
    for name, points in history.items():
        if not points:
            continue
        ax = right if name.startswith("d_out") else left
        steps, values = zip(*points, strict=True)
        ax.plot(steps, values, label=name, lw=1.2)
    left.set_title("losses", fontsize=10)
    meaning = f"{equilibrium:g} at equilibrium" if equilibrium is not None else "only real minus fake means something"
    right.set_title(f"D's mean {'output: probability real' if d_prob else 'raw output'} ({meaning})", fontsize=10)
    if equilibrium is not None:
        right.axhline(equilibrium, color="grey", ls=":", lw=1, label="equilibrium")
    for ax in (left, right):
        ax.set_xlabel("iteration")
        if ax.get_legend_handles_labels()[0]:  # a run shorter than log_every has no curves to name
            ax.legend(fontsize=8)
    return fig


def sweep_heatmap(scores: list[list[float]], xs: list[str], ys: list[str], keys: list[str], title: str) -> Figure:
    """W1/sd over a grid of two swept keys (``scores[y][x]``); inf marks a failed job."""
    grid = np.array(scores, dtype=float)
    failed = ~np.isfinite(grid)
    fig = Figure(figsize=(7, 5), dpi=100)
    fig.subplots_adjust(left=0.14, right=0.98, bottom=0.12, top=0.92)
    ax = fig.add_subplot()
    image = ax.imshow(np.log10(np.where(failed, np.nan, grid)), cmap="viridis_r", origin="lower", aspect="auto")
    fig.colorbar(image, ax=ax, label="log10 W1/sd (lower is better)")
    if grid.size <= LABELLED_CELLS:  # beyond that the numbers overlap: the colours and summary.md carry them
        for (i, j), value in np.ndenumerate(grid):
            ax.text(j, i, "failed" if failed[i, j] else f"{value:.3f}", ha="center", va="center", fontsize=9,
                    bbox=dict(facecolor="white", alpha=0.7, linewidth=0))  # readable on light and dark cells
    ax.set_xticks(*_every_nth(xs))
    ax.set_yticks(*_every_nth(ys))
    ax.set_xlabel(keys[0])
    ax.set_ylabel(keys[1])
    ax.set_title(title, fontsize=10)
    return fig


def _every_nth(values: list[str], most: int = 20) -> tuple[range, list[str]]:
    """Tick positions and labels for at most ``most`` of ``values``, evenly spaced, so that they stay legible."""
    step = -(-len(values) // most)  # rounded up
    return range(0, len(values), step), values[::step]


def sweep_ranked(scores: list[float], title: str) -> Figure:
    """W1/sd of many jobs, best first, as one curve (log scale): too many for a bar each; the failed are counted."""
    scores = np.asarray(scores, dtype=float)
    done = np.sort(scores[np.isfinite(scores)])
    fig = Figure(figsize=(7, 4.5), dpi=100)
    fig.subplots_adjust(left=0.12, right=0.98, bottom=0.12, top=0.9)
    ax = fig.add_subplot()
    ax.plot(np.arange(1, len(done) + 1), done, color="tab:blue")
    ax.set_yscale("log")
    ax.set_xlabel("job's rank (best first)")
    ax.set_ylabel("W1/sd (lower is better)")
    ax.set_title(f"{title}; {len(scores) - len(done)} failed", fontsize=10)
    return fig


def sweep_bars(labels: list[str], scores: list[float], xlabel: str, title: str) -> Figure:
    """W1/sd of each job as a bar (log scale); a failed job is marked instead."""
    fig = Figure(figsize=(max(6, 0.6 * len(labels)), 4.5), dpi=100)
    fig.subplots_adjust(left=0.15, right=0.98, bottom=0.3, top=0.9)
    ax = fig.add_subplot()
    finite = [s for s in scores if np.isfinite(s)]
    floor = min(finite) / 2 if finite else 1e-3
    ax.bar(range(len(scores)), [s if np.isfinite(s) else floor for s in scores],
           color=["tab:blue" if np.isfinite(s) else "tab:red" for s in scores])
    for i, s in enumerate(scores):
        ax.text(i, s if np.isfinite(s) else floor, "failed" if not np.isfinite(s) else f"{s:.3f}", ha="center",
                va="bottom", fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("W1/sd (lower is better)")
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    return fig


def sweep_scatter(values: dict[str, list[str]], scores: list[float], title: str) -> Figure:
    """A search's jobs: each searched key's value against W1/sd, one panel per key (log axes where the values span
    a factor of 10 or more, as a log-uniform search's do); failed jobs as red crosses at the top; the best starred."""
    fig = Figure(figsize=(5.5 * len(values), 4.5), dpi=100)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.13, top=0.88, wspace=0.25)
    scores = np.asarray(scores, dtype=float)
    failed = ~np.isfinite(scores)
    ceiling = 2 * scores[~failed].max() if (~failed).any() else 1.0
    shown = np.where(failed, ceiling, scores)
    best = int(np.argmin(np.where(failed, np.inf, scores)))
    for ax, (key, raw) in zip(np.atleast_1d(fig.subplots(1, len(values))), values.items(), strict=True):
        try:
            x = np.array(raw, dtype=float)
        except ValueError:  # a categorical choice
            x = np.array(raw)
        ax.scatter(x[~failed], shown[~failed], color="tab:blue", s=25, label="job")
        if failed.any():
            ax.scatter(x[failed], shown[failed], color="tab:red", marker="x", s=40, label="failed")
        if not failed[best]:
            ax.scatter([x[best]], [shown[best]], color="gold", edgecolor="black", marker="*", s=200, zorder=3,
                       label=f"best: {raw[best]}")
        if x.dtype.kind == "f" and (x > 0).all() and x.max() >= 10 * x.min():
            ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel("W1/sd (lower is better)")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


class PortraitData(NamedTuple):
    """A Dirac-GAN trajectory over the game's gradient vector field, as plain arrays (drawn by phase_portrait)."""

    theta: np.ndarray  # the generator's parameter at each step
    psi: np.ndarray  # the discriminator's slope at each step
    grid_theta: np.ndarray  # the points of the vector field, a 2-D grid
    grid_psi: np.ndarray
    u: np.ndarray  # the field there: -dL_G/dtheta, -dL_D/dpsi
    v: np.ndarray
    title: str


def phase_portrait(data: PortraitData) -> Figure:
    """The (theta, psi) plane as in Mescheder et al. 2018's figures: the gradient vector field as arrows of one
    length (their direction is what tells a rotation from a pull), the trajectory over it, its start and the
    equilibrium (0, 0)."""
    fig = Figure(figsize=(5.2, 5.2), dpi=100)
    fig.subplots_adjust(left=0.14, right=0.96, bottom=0.11, top=0.92)
    ax = fig.add_subplot()
    norm = np.hypot(data.u, data.v)
    norm = np.where(norm > 0, norm, 1)
    ax.quiver(data.grid_theta, data.grid_psi, data.u / norm, data.v / norm, color="0.6", angles="xy", pivot="mid",
              width=0.003)
    ax.plot(data.theta, data.psi, color="tab:blue", lw=1.2, label="trajectory")
    ax.plot(data.theta[:1], data.psi[:1], "o", color="tab:green", label="start")
    ax.plot([0], [0], "*", color="tab:red", ms=12, label="equilibrium (0, 0)")
    ax.set_xlim(data.grid_theta.min(), data.grid_theta.max())
    ax.set_ylim(data.grid_psi.min(), data.grid_psi.max())
    ax.set_aspect("equal")
    ax.set_xlabel(r"$\theta$ (generator)")
    ax.set_ylabel(r"$\psi$ (discriminator)")
    ax.set_title(data.title, fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def phase_portrait_png(data: PortraitData) -> bytes:
    return to_png(phase_portrait(data))
