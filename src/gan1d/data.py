"""Data: an endless, seeded stream of target and noise minibatches, and a fixed evaluation noise set.

Iteration ``i`` gets ``d_steps`` minibatches of real samples, ``d_steps + g_steps`` minibatches of noise and, with
a gradient penalty, the penalty's mixing weights (one per pack, for each discriminator step): every random number
of the iteration, drawn from its own generator seeded by (seed, rank, i). The stream has no hidden state, so a run
resumed at iteration ``i`` sees exactly the data it would have seen, whatever the number of loader workers and
however the iterations are grouped into batches, and every rank sees different data.

One loader batch holds ``iterations_per_batch`` iterations' worth (the one that ends at ``steps`` fewer):
Lightning's per-batch work (fetching, hooks, callbacks, the bar) is then paid once per many iterations. The stream
goes on past ``steps``: the run ends there (GAN1D.on_train_batch_end), and a resumed run may train longer.
"""

import itertools

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from gan1d.length import AUTO, SAMPLES, auto_steps
from gan1d.networks import sample_noise
from gan1d.targets import Target

TRAIN, EVAL = 0, 1  # what a stream is for: training batches, or the fixed evaluation noise and standardisation
LENGTH_SEED = 2  # the length rule's draw of target samples, the same for every run seed


def stream_seed(seed: int, purpose: int, rank: int = 0) -> int:
    """Independent, reproducible 63-bit seeds for every (seed, purpose, rank)."""
    return int(np.random.SeedSequence(seed, spawn_key=(purpose, rank)).generate_state(2, np.uint64)[0]) >> 1


class MinibatchStream(IterableDataset):
    def __init__(self, target: Target, batch_size: int, noise: str, noise_dim: int, d_steps: int, g_steps: int,
                 seed: int, steps: int, iterations_per_batch: int = 1, rank: int = 0, start: int = 0,
                 mixing_weights: int = 0, categories: int = 0):
        super().__init__()
        self.target, self.batch_size = target, batch_size
        self.noise, self.noise_dim, self.categories = noise, noise_dim, categories
        self.d_steps, self.g_steps = d_steps, g_steps
        self.steps, self.iterations_per_batch = steps, iterations_per_batch
        self.base_seed, self.start = stream_seed(seed, TRAIN, rank), start
        self.mixing_weights = mixing_weights

    def item(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = torch.Generator().manual_seed((self.base_seed + i) % 2**63)
        b, k = self.batch_size, self.d_steps
        real = self.target.sample(k * b, rng).view(k, b, 1)
        noise = sample_noise(self.noise, (k + self.g_steps) * b, self.noise_dim, rng, self.categories)
        # Drawn last, and only when asked for: the real samples and the noise do not depend on them.
        alpha = torch.rand(k, self.mixing_weights, 1, generator=rng) if self.mixing_weights else torch.empty(k, 0, 1)
        return real, noise.view(k + self.g_steps, b, -1), alpha

    def end(self, first: int) -> int:
        """Where the batch from iteration ``first`` ends: at the next multiple of iterations_per_batch, where the
        cadences fall, even after resuming elsewhere; or at ``steps``, where the run ends."""
        end = (first // self.iterations_per_batch + 1) * self.iterations_per_batch
        return min(end, self.steps) if first < self.steps else end

    def batch(self, first: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Iterations from ``first`` to ``end(first)``, stacked: real (n, d_steps, B, 1), noise
        (n, d_steps + g_steps, B, noise_dim + categories) and the gradient penalty's mixing weights
        (n, d_steps, mixing_weights, 1)."""
        return tuple(torch.stack(parts) for parts in zip(*map(self.item, range(first, self.end(first))), strict=True))

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        # DataLoader takes batches from its workers in turn, so worker w serves batches w, w + W, w + 2W, ...
        yield from map(self.batch, itertools.islice(self.firsts(), worker, None, workers))

    def firsts(self):
        """The first iteration of each batch, from ``start`` on."""
        first = self.start
        while True:
            yield first
            first = self.end(first)


class StreamDataModule(L.LightningDataModule):
    # noise, noise_dim, categories, d_steps and g_steps have no defaults: they are the model's (gan1d.build's
    # build_datamodule passes them), and a default here could silently disagree with it.
    def __init__(self, target: Target, steps: int | str, *, noise: str, noise_dim: int, categories: int,
                 d_steps: int, g_steps: int, batch_size: int = 256, seed: int = 0, iterations_per_batch: int = 1,
                 eval_size: int = 20_000, standardize: bool = True, standardize_size: int = 10_000,
                 num_workers: int = 0, mixing_weights: int = 0):
        super().__init__()
        self.target, self.iterations_per_batch = target, iterations_per_batch
        self.steps, self.length_rule = self._length(steps)
        self.batch_size, self.noise, self.noise_dim, self.categories = batch_size, noise, noise_dim, categories
        self.d_steps, self.g_steps, self.seed = d_steps, g_steps, seed
        self.num_workers, self.mixing_weights = num_workers, mixing_weights
        rng = torch.Generator().manual_seed(stream_seed(seed, EVAL))
        self.eval_noise = sample_noise(noise, eval_size, noise_dim, rng, categories)
        self.loc, self.scale = self._location_scale(standardize_size, rng) if standardize else (0.0, 1.0)

    def _length(self, steps: int | str) -> tuple[int, str | None]:
        """``steps``, or with ``auto`` the length rule's (gan1d.length), from a draw that does not depend on the run's
        seed: every seed of a sweep trains as long, and a population's replicas stay in lockstep."""
        if steps != AUTO:
            return steps, None
        return auto_steps(self.target.sample(SAMPLES, torch.Generator().manual_seed(LENGTH_SEED)).numpy())

    def _location_scale(self, n: int, rng: torch.Generator) -> tuple[float, float]:
        """Estimated from target samples, as a user with only data would: never from the config's parameters."""
        x = self.target.sample(n, rng)
        return float(x.mean()), float(x.std())

    def train_dataloader(self) -> DataLoader:
        rank = self.trainer.global_rank if self.trainer else 0
        # A resumed run continues the stream where it stopped: the module's iteration count is restored from the
        # checkpoint before the loader is made.
        start = self.trainer.lightning_module.iteration if self.trainer else 0
        # batch_size=None: the stream already yields whole batches.
        return DataLoader(self.stream(start, rank), batch_size=None, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0)

    def stream(self, start: int = 0, rank: int = 0) -> MinibatchStream:
        """This run's training stream from iteration ``start`` on."""
        return MinibatchStream(self.target, self.batch_size, self.noise, self.noise_dim, self.d_steps, self.g_steps,
                               self.seed, self.steps, self.iterations_per_batch, rank, start, self.mixing_weights,
                               self.categories)
