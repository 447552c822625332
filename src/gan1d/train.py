"""Train a GAN on a 1-D target: ``python -m gan1d.train target.mean=4 trainer.accelerator=gpu``.

The command line only: Hydra composes the config (conf/train.yaml, every part a ``_target_``) and gan1d.run trains
it. From Python (a notebook): ``from gan1d import compose, train`` (gan1d.run's), ``record = train(compose([...]))``.
"""

import importlib.util
import logging
import math
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from gan1d.errors import ConfigError, Diverged
from gan1d.renamed import renamed
from gan1d.run import failure, record_failure, train

EXIT_CONFIG, EXIT_DIVERGED = 2, 3
log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="pkg://gan1d.conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """The task function. Returns the final W1/sd, the number a sweeper (e.g. Optuna) minimises: for data, against
    the validation part when there is one (a search needs one, check_search), never the held-out test part's."""
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        return train(cfg).get("w1_over_std", math.nan)
    except (ConfigError, Diverged) as err:
        code, message = EXIT_CONFIG if isinstance(err, ConfigError) else EXIT_DIVERGED, failure(err)
    except Exception as err:
        if not multirun:  # a bug: the traceback is for us
            raise
        log.exception("the job failed")
        code, message = 1, failure(err)
    if not multirun:
        print(f"gan1d: {message}", file=sys.stderr)
        sys.exit(code)
    record_failure(Path(HydraConfig.get().runtime.output_dir), message)
    return math.nan


def expose_launcher() -> None:
    """Hydra finds plugins (hydra/launcher=population) by walking the folders of the hydra_plugins namespace. A
    regular install puts gan1d's there; an editable one (setuptools >= 64) serves it through an import hook that
    the walk cannot see (Hydra issue #2359), so its folder joins the namespace here, before Hydra starts."""
    import hydra_plugins

    spec = importlib.util.find_spec("hydra_plugins.gan1d_population_launcher")
    folder = str(Path(spec.origin).parent.parent) if spec is not None and spec.origin else None
    if folder is not None and folder not in list(hydra_plugins.__path__):
        hydra_plugins.__path__.append(folder)


def cli() -> None:
    expose_launcher()
    sys.argv[1:] = renamed(sys.argv[1:])
    main()


if __name__ == "__main__":
    cli()
