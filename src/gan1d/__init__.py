"""gan1d: learn 1-D distributions with GANs, and see why training works or fails.

From Python: ``from gan1d import compose, train``, then ``cfg = compose(["target=empirical", "target.path=x.npy"])``
and ``record = train(cfg)`` (gan1d.run's; the module gan1d.train is the command line, and importing it binds the
package's name ``train`` to it).
"""

import importlib

__version__ = "0.1.0"


def __getattr__(name: str):
    # Imported on first use: they bring in torch, Lightning and Hydra, which `import gan1d` must not (the training
    # run's drawing process imports gan1d.figures, with numpy and matplotlib only).
    if name in ("compose", "train"):
        return getattr(importlib.import_module("gan1d.run"), name)
    raise AttributeError(f"module 'gan1d' has no attribute {name!r}")
