"""gan1d: learn 1-D distributions with GANs, and see why training works or fails."""

__version__ = "0.1.0"
