"""A player's update (its gradient cleared, computed, and one optimizer step) for a manual-optimization module,
straight to torch when Lightning's wrappers around them (``manual_backward``, ``LightningOptimizer.step``) would only
call hooks that do nothing.

Those wrappers pass through the precision plugin, the strategy and every callback's backward and optimizer-step
hooks. With 32-bit precision on one device and none of those hooks overridden they add nothing but Python calls,
which on networks this small are a sizeable share of an iteration; add such a callback, or train in 16-bit, and
the steps go through Lightning again. Lightning's global_step counts only the steps taken through it: gan1d counts
its iterations itself (GAN1D.iteration).
"""

import lightning as L
import torch
from lightning.pytorch.plugins.precision import Precision
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.utilities.model_helpers import is_overridden

# The hooks that Lightning's manual_backward and LightningOptimizer.step call around the real work.
WRAPPER_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


class Updates:
    """A player's update, in three calls: ``zero_grad(opt)``, ``backward(loss)`` and ``step(opt)``.
    ``wrappers_needed``: why Lightning's wrappers must run (``wrappers_needed(trainer, module)``), or None to skip
    them."""

    def __init__(self, module: L.LightningModule, wrappers_needed: str | None = None):
        self.module, self.wrappers_needed = module, wrappers_needed
        self.direct = wrappers_needed is None

    def zero_grad(self, opt) -> None:
        """``opt`` is a LightningOptimizer; set_to_none, as Lightning's own loop does."""
        # The wrapper's copy of the optimizer's attributes costs a lookup each through its __getattr__.
        (opt.optimizer if self.direct else opt).zero_grad(set_to_none=True)

    def backward(self, loss: torch.Tensor) -> None:
        if self.direct:
            loss.backward()
        else:
            self.module.manual_backward(loss)

    def step(self, opt) -> None:
        """``opt`` is a LightningOptimizer."""
        if self.direct:
            opt.optimizer.step()
        else:
            opt.step()


def wrappers_needed(trainer: L.Trainer, module: L.LightningModule) -> str | None:
    """Why Lightning's wrappers must run around backward and the optimizer step, or None when they would add nothing:
    32-bit precision on one device (no loss scaling, no gradient synchronisation) and none of their hooks overridden,
    in the module or in any callback."""
    if type(trainer.precision_plugin) is not Precision:
        return f"precision={trainer.precision} scales or casts around each backward and optimizer step"
    if type(trainer.strategy) is not SingleDeviceStrategy:
        return f"the {type(trainer.strategy).__name__} strategy synchronises gradients between devices"
    if is_overridden("backward", module):
        return "the module overrides backward"
    for x in (module, *trainer.callbacks):
        for hook in WRAPPER_HOOKS:
            if is_overridden(hook, x):
                return f"{type(x).__name__} overrides {hook}, which must run at every step"
    return None
