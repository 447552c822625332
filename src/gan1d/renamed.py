"""Config keys that were renamed. The old names still work in overrides (the command line, sweeps, gan1d.compose),
with a one-line notice; in a config file of your own they are refused in one line naming the new key."""

import logging
import re
from collections.abc import Iterable

log = logging.getLogger(__name__)

RENAMED = {
    # How both players step is the optimisation's; the discriminator's regularisers are one group.
    "model.d_steps": "optim.d_steps",
    "model.g_steps": "optim.g_steps",
    "model.simultaneous": "optim.simultaneous",
    "model.ema": "optim.ema",
    "model.r1_gamma": "penalties.r1_gamma",
    "model.r2_gamma": "penalties.r2_gamma",
    "model.gp_gamma": "penalties.gp_gamma",
    "model.gp_one_sided": "penalties.gp_one_sided",
}
# An override as Hydra reads it: +key=value, ++key=value, ~key, key=value, key=a,b (a sweep), ...
OVERRIDE = re.compile(r"(?P<op>[+~]*)(?P<key>[\w.]+)(?P<rest>=.*)?", re.DOTALL)
SWEEPER = "hydra.sweeper.params."  # a search space names keys too


def renamed(overrides: Iterable[str]) -> list[str]:
    """``overrides`` with every renamed key under its new name, and a notice for each."""
    return [_renamed(override) for override in overrides]


def _renamed(override: str) -> str:
    match = OVERRIDE.fullmatch(override)
    if match is None:
        return override
    op, key, rest = match["op"], match["key"], match["rest"] or ""
    prefix = SWEEPER if key.startswith(SWEEPER) else ""
    new = RENAMED.get(key.removeprefix(prefix))
    if new is None:
        return override
    log.warning("gan1d: %s is now %s (the old name still works)", key, prefix + new)
    return f"{op}{prefix}{new}{rest}"
