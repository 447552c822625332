"""An iteration as one CUDA graph: captured once, then replayed every iteration (``torch.cuda.graph``).

A training iteration of these small networks is about a hundred kernel launches of a few microseconds of work
each: on a GPU, launching them costs more than running them. Replaying a captured graph launches them all at once.
A graph replays the same kernels on the same memory, so the step it captures reads everything that changes from
one iteration to the next (the data, the learning rates, the weight average's step) from static buffers, which
each iteration fills on the device before the replay, and it neither reads a tensor's value on the host nor
branches on one. The same step runs eagerly on the same buffers wherever there is nothing to capture (a CPU):
that is what the tests compare with the eager path.
"""

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import torch

from gan1d.updates import wrappers_needed

if TYPE_CHECKING:
    import lightning as L

    from gan1d.module import GAN1D

# Eager iterations before the capture, on a side stream, as PyTorch's CUDA-graph notes ask: what is set up lazily
# (the optimizers' state, cuBLAS's handles and workspaces, autograd's streams) is then set up outside the graph.
WARMUP = 3


class StaticIteration:
    """Calls ``step()`` with its inputs in ``buffers``: each call copies ``inputs`` (tensors shaped and placed as
    ``buffers``, in the same order) into the buffers, then runs the step. On a CUDA device the first WARMUP calls
    run it eagerly, the next captures it once and every call from then on replays the graph; elsewhere every call
    runs it eagerly. ``optimizers`` are stepped inside ``step``: they are made capturable before the capture."""

    def __init__(self, step: Callable[[], None], buffers: list[torch.Tensor], optimizers: list[torch.optim.Optimizer]):
        self.step, self.buffers, self.optimizers = step, buffers, optimizers
        self.capture = buffers[0].is_cuda
        self.graph = None
        self.warmups = 0

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self, inputs: list[torch.Tensor]) -> None:
        torch._foreach_copy_(self.buffers, inputs)  # device to device: nothing crosses the bus
        if self.graph is not None:
            self.graph.replay()
        elif not self.capture:
            self.step()
        elif self.warmups < WARMUP:
            self._warm_up()
        else:
            self._capture()
            self.graph.replay()

    def _warm_up(self) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.step()
        torch.cuda.current_stream().wait_stream(side)
        self.warmups += 1

    def _capture(self) -> None:
        # Capturable only now: an optimizer marked so warns at every step it takes outside a capture. (Fused Adam
        # keeps its step counts on the device either way; the flag is what lets its step be captured.)
        for optimizer in self.optimizers:
            for group in optimizer.param_groups:
                group["capturable"] = True
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):  # records the kernels without running them: the weights stay as they are
            self.step()


class GraphedIterations:
    """A GAN1D's iterations as CUDA graphs: its ``one_iteration`` on a StaticIteration's buffers, made at the first
    batch, whose shapes it takes. The buffers are one iteration's data, then, in this order, the learning rates
    while they decay (in the optimizers' parameter groups, where the optimizers read them) and the weight average's
    step, whose values each batch computes on the host by the eager path's own functions and sends with the data."""

    def __init__(self, module: "GAN1D"):
        self.module = module
        self.static: StaticIteration | None = None

    def for_batch(self, opt_g, opt_d, batch, first: int) -> Callable[..., None]:
        """What runs the batch's ``i``-th iteration (number ``done``) on its data, as the eager path does."""
        if self.static is None:
            self.static = self._static_iteration(opt_g, opt_d, batch)
        schedule = self._schedule(first, len(batch[0]))
        return lambda i, done, *data: self.static([*data, *(values[i] for values in schedule)])

    def _static_iteration(self, opt_g, opt_d, batch) -> StaticIteration:
        module = self.module
        data = [torch.empty_like(part[0]) for part in batch]
        schedule = []
        if module.optim.lr_decay_start < 1:
            # A tensor as the fused kernel reads it: on CUDA a float32 on the device; elsewhere a double, as a
            # Python number is read.
            dtype = torch.float32 if module.device.type == "cuda" else torch.float64
            for opt in (opt_g, opt_d):
                group = opt.optimizer.param_groups[0]
                group["lr"] = torch.tensor(group["lr"], dtype=dtype, device=module.device)
                schedule.append(group["lr"])
        ema_weight = torch.zeros((), device=module.device) if module.generator_ema is not None else None
        schedule += [ema_weight] if ema_weight is not None else []
        step = partial(module.one_iteration, opt_g, opt_d, *data, ema_weight)
        return StaticIteration(step, data + schedule, [opt_g.optimizer, opt_d.optimizer])

    def _schedule(self, first: int, n: int) -> list[torch.Tensor]:
        """The schedule buffers' values for iterations first .. first + n - 1, one tensor per buffer."""
        module, done = self.module, range(first, first + n)
        rows = list(zip(*map(module.learning_rates, done), strict=True)) if module.optim.lr_decay_start < 1 else []
        if module.generator_ema is not None:
            rows.append(list(map(module.ema_weight, done)))
        if not rows:
            return []
        values = torch.tensor(rows, dtype=torch.float64).to(module.device, non_blocking=True)
        return [row.to(buffer.dtype) for row, buffer in zip(values, self.static.buffers[-len(rows):], strict=True)]


def graph_blocker(trainer: "L.Trainer", module: "GAN1D") -> str | None:
    """Why the iterations cannot run as CUDA graphs, or None when they can: on one CUDA device, in 32-bit precision,
    with no hook to call inside an iteration (everything there must be on the device, in the same kernels every
    time)."""
    if not module.cuda_graph:
        return "cuda_graph=false"
    if module.uncapturable:
        return module.uncapturable
    if module.optim.name != "adam":
        return f"optim.name={module.optim.name} (CUDA graphs are set up for fused Adam)"
    if module.device.type != "cuda":
        return f"the device is {module.device.type} (CUDA graphs need a CUDA GPU)"
    if torch.is_anomaly_enabled():
        return "autograd's anomaly detection (trainer.detect_anomaly) checks every backward on the host"
    return wrappers_needed(trainer, module)
