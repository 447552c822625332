"""The GAN as a LightningModule: one training iteration = ``d_steps`` discriminator updates, then ``g_steps``
generator updates, under manual optimization.

Everything happens in standardised coordinates: the generator's output affine and the preprocessor share
``loc``/``scale`` estimated from target samples, so the discriminator, the R1 penalty and the learning rates see
the same problem whatever the target's location and width.
"""

import copy
import logging
import math
from dataclasses import dataclass
from functools import partial

import lightning as L
import torch
from omegaconf import DictConfig

from gan1d.cuda_graphs import WARMUP, GraphedIterations, graph_blocker
from gan1d.dashboard import Dashboard, for_logger
from gan1d.errors import Diverged
from gan1d.losses import D_OUTPUT, LOSSES, Penalties, frozen, gradient_norm_penalty, gradient_penalty
from gan1d.networks import Discriminator, Generator
from gan1d.preprocessors import Preprocessor
from gan1d.updates import Updates, wrappers_needed

log = logging.getLogger(__name__)

ITERATION = "gan1d_iteration"  # a checkpoint's iteration count


@dataclass
class Optim:
    """How both players step, and how often: the config's ``optim`` node."""

    name: str = "adam"  # adam | sgd (plain gradient steps of size lr, as the theory of the game's dynamics has them)
    g_lr: float = 5e-4
    d_lr: float = 5e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay_start: float = 0.5  # from this fraction of the run on, both rates fall linearly to 0; 1: constant
    d_steps: int = 2  # D updates per iteration
    g_steps: int = 1  # G updates per iteration, after D's; 0: D trained alone against a generator that stays put
    simultaneous: bool = False  # G's gradient at the same weights as D's, then both step (1 D and 1 G update only)
    ema: float = 0.999  # decay of the generator's weight average, the one evaluated and sampled; 0: none

    def __post_init__(self):
        self.betas = tuple(self.betas)


class GAN1D(L.LightningModule):
    """A GAN on one variable. Each iteration: ``d_steps`` updates of D on d_loss(D(x), D(G(z))) plus each penalty
    times its gamma (x real, z noise), then ``g_steps`` updates of G on g_loss(D(G(z))), then the weight average of
    G moved toward G. The losses and penalties are the small functions of gan1d.losses."""

    uncapturable: str | None = None  # why a kind of run's iterations cannot be CUDA graphs; see graph_blocker

    def __init__(
        self,
        generator: Generator,
        discriminator: partial,  # called with in_features=preprocessor.width
        preprocessor: Preprocessor,
        loss: str = "non_saturating",
        optim: Optim | None = None,  # the config's optim node; None: Optim()
        penalties: Penalties | None = None,  # the config's penalties node; None: Penalties()
        log_every: int = 50,
        cuda_graph: bool = True,
    ):
        super().__init__()
        self.automatic_optimization = False
        self.optim, self.penalties = optim or Optim(), penalties or Penalties()
        self.generator, self.preprocessor = generator, preprocessor
        self.discriminator: Discriminator = discriminator(in_features=preprocessor.width)
        # The averaged generator is the one evaluated and sampled: it smooths out the last iterations' oscillation.
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False) if self.optim.ema > 0 else None
        self.loss_name = loss
        self.d_loss, self.g_loss = LOSSES[loss]
        reading, self.d_equilibrium = D_OUTPUT[loss]
        self.d_prob = reading == "prob"
        self.d_reading = torch.sigmoid if self.d_prob else as_is
        # The penalties that are on, by name (a population's replicas agree on these, whatever their gammas).
        self.penalties_on = self.penalties.on()
        # R1 and R2 differentiate D at one side's inputs: with either on, D scores real and fake in separate calls.
        self.joint_critic = not {"r1", "r2"} & set(self.penalties_on)
        # What one iteration adds to the logged sums, in the order one_iteration stacks it (g_steps=0: D alone).
        self.logged = ("loss/d", f"d_out/real_{reading}", f"d_out/fake_{reading}", "grad_norm/d",
                       *(f"penalty/{name}" for name in self.penalties_on),
                       *(("loss/g", "grad_norm/g") if self.optim.g_steps else ()))
        # A population keeps one of each of these per replica, in place of the number here.
        self.g_lr, self.d_lr, self.ema = self.optim.g_lr, self.optim.d_lr, self.optim.ema
        self.r1_gamma = self.penalties.r1_gamma
        self.log_every, self.cuda_graph = log_every, cuda_graph
        self._sums, self._count = None, 0  # of the logged quantities since the last log point, on the device
        self._updates: Updates | None = None  # backward and step (straight to torch where Lightning idles)
        self.graph: GraphedIterations | None = None  # where iterations run as CUDA graphs (see graph_blocker)
        self._g_params = self._d_params = self._ema_params = None  # fixed once the model is on its device
        self._evaluation = (None, None)  # (iteration, samples) of the latest evaluation_samples()
        # Iterations done: gan1d's own count (Lightning's global_step counts only the optimizer steps it takes).
        self.iteration = 0
        self.latest: dict[str, float] = {}
        self.stop_requested = False  # set by GracefulStop (Ctrl-C, SIGTERM): the batch ends after this iteration
        self.dashboard = Dashboard(None, ".")  # what the logger can show besides scalars: set up with the trainer

    # -- one iteration: d_steps D updates, then g_steps G updates, then the weight average -------------------------
    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        # A batch holds several iterations (see gan1d.data): Lightning's per-batch work is paid once for all.
        opt_g, opt_d = self.optimizers()
        first = self.iteration + 1
        run = self.graph.for_batch(opt_g, opt_d, batch, first) if self.graph else partial(self._eager, opt_g, opt_d)
        for i, done in enumerate(range(first, first + len(batch[0]))):
            run(i, done, *(part[i] for part in batch))
            self._end_iteration(done)
            if self.stop_requested:  # the rest of the batch is left to the resumed run
                break

    def one_iteration(self, opt_g, opt_d, real, noise, alpha, ema_weight: float | torch.Tensor):
        """One iteration on its data: d_steps D updates, g_steps G updates at the optimizers' learning rates, the
        weight average moved ``ema_weight`` of the way to the generator, the logged values added to the sums. Run
        eagerly or captured as a CUDA graph: nothing here reads a tensor's value on the host or branches on one.
        ``simultaneous`` (one update each): G's gradient is taken at the same weights as D's, then both step."""
        d_steps, g_steps = self.optim.d_steps, self.optim.g_steps
        if self.optim.simultaneous:
            g_stats = self._generator_update(opt_g, noise[1], step=False)
            d_stats = self._discriminator_update(opt_d, real[0], noise[0], alpha[0])
            self._updates.step(opt_g)
        else:
            g_stats = []  # g_steps=0: D trained alone against a generator that stays as it is
            for i in range(d_steps):
                d_stats = self._discriminator_update(opt_d, real[i], noise[i], alpha[i])
            for j in range(g_steps):
                g_stats = self._generator_update(opt_g, noise[d_steps + j])
        if self.generator_ema is not None:
            self._update_ema(ema_weight)
        # The last D and G updates' values, summed on the device, read once per log point: no host sync per iteration.
        self._sums.add_(torch.stack(d_stats + g_stats))

    def _discriminator_update(self, opt, real, noise, alpha) -> list[torch.Tensor]:
        """One D update. Returns its logged values: the adversarial loss, D's mean reading of real and fake, the
        gradient norm, then each penalty that is on (unweighted: the loss adds it times its gamma)."""
        # Nothing to freeze here: the generator runs under no_grad, so no gradient can reach it anyway.
        z_real = self.standardize(real).requires_grad_("r1" in self.penalties_on)
        with torch.no_grad():
            fake = self.fake(noise)
        z_fake = self.standardize(fake).requires_grad_("r2" in self.penalties_on)
        if self.joint_critic:  # one D call on both: on networks this small a call's overhead outweighs its arithmetic
            d_real, d_fake = self.critic(torch.cat([z_real, z_fake], -2)).chunk(2, -1)
        else:  # R1/R2's input gradients would go through both halves of a joint call
            d_real, d_fake = self.critic(z_real), self.critic(z_fake)
        adversarial = self.d_loss(d_real, d_fake)
        penalties = []
        if "r1" in self.penalties_on:
            penalties.append((self.r1_gamma, gradient_norm_penalty(d_real, z_real)))
        if "r2" in self.penalties_on:
            penalties.append((self.penalties.r2_gamma, gradient_norm_penalty(d_fake, z_fake)))
        if "gp" in self.penalties_on:
            gp = gradient_penalty(self.critic, self.preprocessor.pack, z_real, z_fake, alpha,
                                  self.penalties.gp_one_sided)
            penalties.append((self.penalties.gp_gamma, gp))
        loss = adversarial
        for gamma, penalty in penalties:
            loss = loss + gamma * penalty
        norm = self._update(opt, loss, self._d_params)
        return [adversarial.detach(), self.d_reading(d_real.detach()).mean(-1),
                self.d_reading(d_fake.detach()).mean(-1), norm, *(penalty.detach() for _, penalty in penalties)]

    def _generator_update(self, opt, noise, step: bool = True) -> list[torch.Tensor]:
        """One G update (``step=False``: its gradient only, stepped later). Returns its loss and gradient norm."""
        # D frozen: its weights' gradients would be computed for nothing (toggled_optimizer, with fewer flags).
        with frozen(self._d_params):
            loss = self.g_loss(self.critic(self.standardize(self.fake(noise))))
            norm = self._update(opt, loss, self._g_params, step)
        return [loss.detach(), norm]

    def _update(self, opt, loss, params, step: bool = True) -> torch.Tensor:
        """One optimizer step on ``loss`` (``step=False``: the gradient only). Returns the norm of ``params``'
        gradient before the step. A population's loss has one value per replica: the gradient of their sum is each
        replica's own, and the norm is taken per replica."""
        self._updates.zero_grad(opt)
        self._updates.backward(loss.sum() if loss.dim() else loss)  # a solo run's loss is one number already
        norm = gradient_norm(params, replica_dims=loss.dim())
        if step:
            self._updates.step(opt)
        return norm

    @torch.no_grad()
    def _update_ema(self, weight: float | torch.Tensor):
        # One fused call for all the weights instead of one kernel per tensor (these tensors are tiny); a weight on
        # the device goes to it once per weight tensor.
        weights = [weight] * len(self._ema_params) if torch.is_tensor(weight) else weight
        torch._foreach_lerp_(self._ema_params, self._g_params, weights)

    # The three computations an iteration is made of. A population (gan1d.population) runs them as they are, its
    # networks Replicated: each call runs on every replica's own weights. Everything else in an update works on a
    # batch of replicas as on one run, reducing over the last dimension (the samples) only.
    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        return self.preprocessor.standardize(x)

    def critic(self, z: torch.Tensor) -> torch.Tensor:
        """D's raw output on standardised samples, one value per pack."""
        return self.discriminator(self.preprocessor.features(z))

    def fake(self, noise: torch.Tensor) -> torch.Tensor:
        return self.generator(noise)

    # -- the schedule: each iteration's learning rates and weight-average step -------------------------------------
    def _eager(self, opt_g, opt_d, i: int, done: int, real, noise, alpha):
        """Iteration ``done`` (the batch's ``i``-th), run as it is written: its rates set, then one_iteration."""
        if self.optim.lr_decay_start < 1:
            for opt, lr in zip((opt_g, opt_d), self.learning_rates(done), strict=True):
                opt.optimizer.param_groups[0]["lr"] = lr
        self.one_iteration(opt_g, opt_d, real, noise, alpha, self.ema_weight(done))

    def learning_rates(self, done: int) -> tuple[float, float]:
        """G's and D's learning rates for iteration ``done`` while they decay: linear to 0 at the end, from
        lr_decay_start of the way on (the game settles instead of circling)."""
        progress = (done - 1) / self.trainer.datamodule.steps
        factor = min(1.0, (1 - progress) / (1 - self.optim.lr_decay_start))
        return self.g_lr * factor, self.d_lr * factor

    def ema_weight(self, done: int) -> float:
        """How far iteration ``done`` moves the weight average toward the generator: 1 - decay, with the decay warmed
        up as (1+t)/(10+t), so that early on the average follows the generator instead of remembering its init."""
        return 1 - min(self.ema, (1 + done) / (10 + done))

    # -- logging ---------------------------------------------------------------------------------------------------
    def _end_iteration(self, done: int):
        self.iteration = done
        self._count += 1
        if done % self.log_every == 0:
            means = (self._sums / self._count).tolist()
            self._sums.zero_()
            self._count = 0
            self.log_window(done, means)

    def log_window(self, done: int, means: list[float]) -> None:
        """Report the means of the logged values over the log_every iterations up to ``done``."""
        if not all(map(math.isfinite, means)):  # a NaN anywhere in the window reaches the sums
            raise Diverged(nonfinite(done, self.log_every))
        self.report(dict(zip(self.logged, means, strict=True)))

    def report(self, metrics: dict[str, float]) -> None:
        """Log scalars against the iteration, straight to the logger. Not through self.log: its x-axis is Lightning's
        global_step (optimizer steps), and it re-sends the last values on every later step. ``latest`` keeps the last
        value of each, for the progress bar and the run record."""
        self.latest.update(metrics)
        if self.logger is not None:  # None: a moment the target does not have, nothing to plot
            self.logger.log_metrics({k: v for k, v in metrics.items() if v is not None}, step=self.iteration)

    # -- set-up ----------------------------------------------------------------------------------------------------
    def set_location_scale(self, loc: float, scale: float) -> None:
        for m in (self.generator, self.generator_ema, self.preprocessor):
            if m is not None:
                m.loc.fill_(loc)
                m.scale.fill_(scale)

    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        self.set_location_scale(datamodule.loc, datamodule.scale)
        # The data's atoms are placed exactly, and its decimals kept, by the sampler; the networks learn a density.
        target = datamodule.target
        for g in filter(None, (self.generator, self.generator_ema)):
            g.set_support(target.atoms.values, target.atoms.weights, target.decimals)
        # The gradient penalty's mixing weights come with the data, one per pack for each D update, so that every
        # random number of an iteration follows from (seed, iteration) and a resumed run draws the same ones.
        datamodule.mixing_weights = datamodule.batch_size // self.preprocessor.pack if "gp" in self.penalties_on else 0
        self.dashboard = for_logger(self.logger, self.trainer.default_root_dir)

    def on_train_start(self) -> None:
        self._updates = Updates(self, wrappers_needed(self.trainer, self))
        blocker = graph_blocker(self.trainer, self)
        self.graph = GraphedIterations(self) if blocker is None else None  # a new fit has new optimizers: a new graph
        if self.graph:
            log.info("each training iteration runs as one CUDA graph, captured after %d eager iterations "
                     "(cuda_graph=false runs them all eagerly)", WARMUP)
        else:
            log.info("training iterations run eagerly, not as CUDA graphs: %s", blocker)
        self._d_params = list(self.discriminator.parameters())
        self._g_params = list(self.generator.parameters())
        if self.generator_ema is not None:
            self._ema_params = list(self.generator_ema.parameters())
        self._sums, self._count = torch.zeros(len(self.logged), device=self.device), 0
        self.stop_at_run_length()

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.stop_at_run_length()

    def on_train_end(self) -> None:
        if not self.finished and not self.stop_requested:
            log.warning("training ended at iteration %d of steps=%d", self.iteration, self.trainer.datamodule.steps)

    @property
    def finished(self) -> bool:
        """The run has done its ``steps`` iterations (a resumed run may have raised them)."""
        return self.iteration >= self.trainer.datamodule.steps

    def stop_at_run_length(self) -> None:
        # The data stream is endless: the module ends the run.
        if self.finished:
            self.trainer.should_stop = True

    def configure_optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        # fused: the whole update in one kernel, fewer Python calls on these tiny networks. SGD: plain gradient steps
        # of size lr, as the theory of the game's dynamics has them (gan1d.dirac).
        make = (partial(torch.optim.Adam, betas=self.optim.betas, fused=True) if self.optim.name == "adam"
                else partial(torch.optim.SGD, fused=True))
        return make(self.generator.parameters(), lr=self.g_lr), make(self.discriminator.parameters(), lr=self.d_lr)

    @property
    def sampler(self) -> Generator:
        return self.generator_ema if self.generator_ema is not None else self.generator

    # -- sampling --------------------------------------------------------------------------------------------------
    def evaluation_samples(self) -> torch.Tensor:
        """The sampler's output on the datamodule's fixed evaluation noise, computed once per iteration however many
        callbacks ask for it (the evaluation and the figure share it)."""
        done = self.iteration
        if self._evaluation[0] != done:
            self._evaluation = (done, self.generate(self.trainer.datamodule.eval_noise))
        return self._evaluation[1]

    @torch.no_grad()
    def generate(self, noise: torch.Tensor) -> torch.Tensor:
        return self.sampler.draw(noise.to(self.device)).squeeze(1)

    @torch.no_grad()
    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """D's reading of each value of x: a probability or its raw output, as the loss reads it (losses.D_OUTPUT).
        Only meaningful for a per-sample discriminator (pack 1)."""
        return self.d_reading(self.discriminator(self.preprocessor(x.to(self.device).reshape(-1, 1))))

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """-d loss_G / dx for a generated sample at each value of x: the way the generator's update moves a sample
        there, and how hard (per sample, in the target's units). Only for a per-sample discriminator (pack 1)."""
        with torch.enable_grad():
            x = x.to(self.device, torch.float32).reshape(-1, 1).requires_grad_(True)
            per_sample = self.g_loss(self.discriminator(self.preprocessor(x))) * len(x)  # the losses are means
            (grad,) = torch.autograd.grad(per_sample, x)
        return -grad.squeeze(1)

    # -- checkpoints -----------------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Everything gan1d.sample needs, in plain types: it rebuilds the generator without Lightning or Hydra.
        checkpoint["gan1d_generator"] = {"config": self.sampler.config, "state_dict": self.sampler.state_dict()}
        checkpoint[ITERATION] = self.iteration
        # The optimizers as an eager run saves them, so that any run resumes from the checkpoint: a CUDA graph's
        # learning rates are tensors on the device, and its optimizers capturable.
        for state in checkpoint.get("optimizer_states", []):  # none in a weights-only checkpoint
            for group in state["param_groups"]:
                group["lr"], group["capturable"] = float(group["lr"]), False

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.iteration = saved_iteration(checkpoint, self.optim)


def saved_iteration(checkpoint: dict, optim: Optim | DictConfig) -> int:
    """The iterations a checkpoint was written after. One written before gan1d kept its own count has Lightning's,
    which counted every optimizer step (``optim``'s d_steps + g_steps an iteration) while gan1d stepped through
    Lightning."""
    return checkpoint.get(ITERATION, checkpoint["global_step"] // (optim.d_steps + optim.g_steps))


def gradient_norm(params: list[torch.Tensor], replica_dims: int = 0) -> torch.Tensor:
    """The L2 norm of all of ``params``' gradients together, one per replica where the first ``replica_dims``
    dimensions index replicas; left on the device, one reduction for them all."""
    return torch.linalg.vector_norm(torch.cat([p.grad.flatten(replica_dims) for p in params], -1), dim=-1)


def as_is(x: torch.Tensor) -> torch.Tensor:
    return x


def nonfinite(done: int, every: int) -> str:
    return f"a loss or gradient became NaN or Inf between iterations {done - every + 1} and {done}"
