"""The errors a run ends with that are the user's to fix, not bugs: each is reported as one line with its own exit
code (gan1d.train), without a traceback."""


class ConfigError(ValueError):
    """A bad value in the user's config; reported as one line, without a traceback."""


class Diverged(RuntimeError):
    """Training produced NaN or Inf; the run stops, its metrics.json says so and the last good checkpoint stays."""
