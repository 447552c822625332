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

import torch

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
