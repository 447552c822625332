"""The Dirac-GAN (Mescheder, Geiger and Nowozin 2018, "Which training methods for GANs do actually converge?"): the
target a point mass at 0, the generator one parameter theta (every sample equals it), the discriminator the line
D(x) = psi x. The only equilibrium is (theta, psi) = (0, 0), and whether gradient steps of size h reach it is the
spectral radius of the update linearised there (derived in docs/classics.md):

- each D step:  psi <- psi - h_d (a theta + gamma psi)
- each G step:  theta <- theta + h_g a psi

with a = f'(0) the slope of the loss's f at 0 (1/2 for the logistic losses, 1 for WGAN) and gamma the R1 weight.
``spectral_radius`` composes these steps in the module's order (d_steps D steps, then g_steps G steps; or both
from the same point), from the formulas, not from the training code, so a run measures the code against the math.
``Trajectory`` is the callback that records (theta, psi) at every iteration and measures the per-step factor of
the distance to equilibrium, and draws the trajectory over the game's gradient vector field.
"""

from pathlib import Path

import lightning as L
import numpy as np
import torch

from gan1d.callbacks import is_due
from gan1d.drawing import Painter
from gan1d.files import atomic_file, write_json
from gan1d.losses import gradient_norm_penalty, gradient_penalty

# f'(0) for each loss the linearisation holds for: d/dpsi of D's loss at the equilibrium is a * theta, and
# d/dtheta of G's is -a * psi (the logistic losses: sigmoid(0) = 1/2; WGAN's is linear: 1).
SLOPE = {"non_saturating": 0.5, "minimax": 0.5, "wgan": 1.0}
# A measured factor this close to 1 (relative) is a cycle: the bound the comparison with the theory is held to.
CYCLE_TOLERANCE = 0.01


def update_matrix(loss: str, g_lr: float, d_lr: float, r1_gamma: float = 0.0, d_steps: int = 1, g_steps: int = 1,
                  simultaneous: bool = False) -> np.ndarray:
    """The iteration's update of (theta, psi) linearised at (0, 0), as a 2x2 matrix."""
    a = SLOPE[loss]
    d_step = np.array([[1.0, 0.0], [-d_lr * a, 1.0 - d_lr * r1_gamma]])
    g_step = np.array([[1.0, g_lr * a], [0.0, 1.0]])
    if simultaneous:  # both gradients at the same point: the sum of the two steps' changes
        return d_step + g_step - np.eye(2)
    return np.linalg.matrix_power(g_step, g_steps) @ np.linalg.matrix_power(d_step, d_steps)


def spectral_radius(*args, **kwargs) -> float:
    """The largest |eigenvalue| of update_matrix(...): the distance to equilibrium's factor per iteration."""
    return float(np.abs(np.linalg.eigvals(update_matrix(*args, **kwargs))).max())


def theory(module) -> float | None:
    """The spectral radius for a GAN1D module's settings, or None where the linearisation above does not hold (not
    plain gradient steps, a loss without a slope here, a two-sided gradient penalty, which is not 0 at psi = 0)."""
    loss, optim, penalties = module.loss_name, module.optim, module.penalties
    if optim.name != "sgd" or loss not in SLOPE or penalties.r2_gamma > 0:
        return None
    if penalties.gp_gamma > 0 and not penalties.gp_one_sided:
        return None
    return spectral_radius(loss, optim.g_lr, optim.d_lr, penalties.r1_gamma, optim.d_steps, optim.g_steps,
                           optim.simultaneous)


def measured_factor(theta: np.ndarray, psi: np.ndarray) -> float:
    """The distance to equilibrium's factor per step, exp of the least-squares slope of log sqrt(theta^2 + psi^2)
    against the step: a fit, not the two ends' ratio, so the distance's wobble along an elliptic orbit averages out."""
    log_r = np.log(np.hypot(theta, psi))
    return float(np.exp(np.polyfit(np.arange(len(log_r)), log_r, 1)[0]))


def outcome(factor: float) -> str:
    """What the distance to equilibrium does at this factor per step."""
    if factor > 1 + CYCLE_TOLERANCE:
        return "spirals out"
    if factor < 1 - CYCLE_TOLERANCE:
        return "converges"
    return "cycles"


def vector_field(module, theta: np.ndarray, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The game's gradient vector field at the points (theta, psi): (-dL_G/dtheta, -dL_D/dpsi), each player's
    descent direction, from the module's own losses and penalties on the real point ``at`` and the fake theta."""
    at = float(module.trainer.datamodule.target.mean)
    th = torch.tensor(theta, dtype=torch.float64).reshape(-1, 1, 1).requires_grad_(True)  # one replica per point
    ps = torch.tensor(psi, dtype=torch.float64).reshape(-1, 1, 1).requires_grad_(True)
    critic = lambda z: (ps * z).squeeze(-1)  # noqa: E731
    z_real = torch.full_like(th, at).requires_grad_(True)
    d_real, d_fake = critic(z_real), critic(th.detach())
    d_loss, penalties = module.d_loss(d_real, d_fake), module.penalties
    if penalties.r1_gamma > 0:
        d_loss = d_loss + penalties.r1_gamma * gradient_norm_penalty(d_real, z_real)
    if penalties.gp_gamma > 0:
        alpha = torch.full_like(th, 0.5)  # the critic is a line: its gradient is psi between any two points
        d_loss = d_loss + penalties.gp_gamma * gradient_penalty(critic, 1, z_real, th.detach(), alpha,
                                                                penalties.gp_one_sided)
    (d_psi,) = torch.autograd.grad(d_loss.sum(), ps)
    (d_theta,) = torch.autograd.grad(module.g_loss(critic(th)).sum(), th)
    return -d_theta.reshape(np.shape(theta)).numpy(), -d_psi.reshape(np.shape(psi)).numpy()


class Trajectory(L.Callback):
    """For a Dirac-GAN run (``experiment=dirac_*``, one iteration per batch so that every step is seen): records
    (theta, psi) before the first iteration and after each; at the end reports the measured per-step factor of
    the distance to equilibrium beside the spectral radius (``eval/dirac_factor``, ``eval/dirac_spectral_radius``,
    so metrics.json has them) and writes the trajectory (``trajectory.json``). Every ``every`` iterations, and at
    the end, the trajectory over the vector field: logger image ``phase_portrait``, ``phase_portrait.png``."""

    def __init__(self, every: int = 500, background: bool = True):
        self.every, self.background = every, background
        self.points: list[tuple[float, float]] = []
        self.painter = None
        self.pending = []  # (iteration, future of the PNG), oldest first
        self.last = None  # the latest PNG

    @staticmethod
    def position(pl_module) -> tuple[float, float]:
        return pl_module.generator.net.theta.item(), pl_module.discriminator.net.weight.item()

    def on_fit_start(self, trainer, pl_module):
        if trainer.datamodule.iterations_per_batch != 1:
            raise ValueError("the Dirac-GAN's trajectory needs every iteration: set iterations_per_batch=1")
        self.painter = Painter(self.background and trainer.datamodule.steps >= 3 * self.every)
        self.points = [self.position(pl_module)]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.points.append(self.position(pl_module))
        if pl_module.finished:
            theta, psi = np.array(self.points).T
            rho = theory(pl_module)
            pl_module.report({"eval/dirac_factor": measured_factor(theta, psi), "eval/dirac_spectral_radius": rho})
        if is_due(pl_module, self.every):
            from gan1d.figures import phase_portrait_png

            self.pending.append((pl_module.iteration, self.painter.draw(phase_portrait_png, self.portrait(pl_module))))
        self._log_drawn(pl_module)

    def _log_drawn(self, pl_module, wait: bool = False) -> None:
        while self.pending and (wait or self.pending[0][1].done()):
            done, image = self.pending.pop(0)
            self.last = image.result()
            pl_module.dashboard.image("phase_portrait", self.last, done)

    def portrait(self, pl_module):
        from gan1d.figures import PortraitData

        theta, psi = np.array(self.points).T
        reach = 1.15 * max(np.abs(theta).max(), np.abs(psi).max())
        grid = np.linspace(-reach, reach, 21)
        gt, gp = np.meshgrid(grid, grid)
        u, v = vector_field(pl_module, gt, gp)
        rho, factor = pl_module.latest.get("eval/dirac_spectral_radius"), pl_module.latest.get("eval/dirac_factor")
        title = f"iteration {pl_module.iteration}"
        if factor is not None:
            title += f": factor per step {factor:.5f} measured" + (f", {rho:.5f} analytic" if rho else "")
        return PortraitData(theta, psi, gt, gp, u, v, title)

    def on_train_end(self, trainer, pl_module):
        self._log_drawn(pl_module, wait=True)
        run_dir = Path(trainer.default_root_dir)
        if self.last is not None:
            with atomic_file(run_dir / "phase_portrait.png", "wb") as f:
                f.write(self.last)
        theta, psi = np.array(self.points).T
        write_json(run_dir / "trajectory.json", {"theta": theta.tolist(), "psi": psi.tolist()})
        self.teardown(trainer, pl_module, "fit")

    def teardown(self, trainer, pl_module, stage):
        if self.painter is not None:
            self.painter.close()
            self.painter = None

