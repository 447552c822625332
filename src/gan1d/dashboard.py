"""What each logger can show, in one place. Scalars go to any logger as they are (``logger.log_metrics``); images,
histograms and hyperparameters go through the ``Dashboard`` of the run's logger, which knows what that logger takes:

| logger (``logger=``) | images | histograms | hyperparameters |
|---|---|---|---|
| ``tensorboard`` | the Images tab | Histograms and Distributions | the HParams tab, with the final metrics |
| ``mlflow`` | artifacts under ``figures/`` (and the same PNGs in the run dir) | none | the run's params |
| ``csv`` (and any other) | PNG files in the run dir, ``figures/TAG_ITERATION.png`` | none | ``hparams.yaml`` |
| ``none`` | none | none | none |

Whatever the logger, the run dir keeps the final figures and ``metrics.json`` (the callbacks write those).
"""

from pathlib import Path
from typing import TYPE_CHECKING

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from gan1d.files import atomic_file

if TYPE_CHECKING:
    import torch
    from lightning.pytorch.loggers import Logger


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header, which starts with its IHDR chunk."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


class Dashboard:
    """No logger (``logger=none``): nothing is shown anywhere."""

    def __init__(self, logger: "Logger | None", run_dir: str | Path):
        self.logger, self.run_dir = logger, Path(run_dir)

    def image(self, tag: str, png: bytes, step: int) -> None:
        """A PNG (already encoded, e.g. by the drawing process) at iteration ``step``."""

    def histogram(self, tag: str, values: "torch.Tensor", step: int) -> None:
        """The distribution of ``values`` at iteration ``step``."""

    def hparams(self, params: dict, metrics: dict[str, float]) -> None:
        """The run's hyperparameters, and the tags of the metrics that will be logged for them at the end."""


class TensorBoard(Dashboard):
    def image(self, tag: str, png: bytes, step: int) -> None:
        # The PNG goes in as it is: SummaryWriter.add_image would take pixels and encode them again.
        from tensorboard.compat.proto.summary_pb2 import Summary

        width, height = png_size(png)
        image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=png)
        self.logger.experiment.file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)

    def histogram(self, tag: str, values: "torch.Tensor", step: int) -> None:
        self.logger.experiment.add_histogram(tag, values, step)

    def hparams(self, params: dict, metrics: dict[str, float]) -> None:
        # The HParams tab shows only the metrics whose tags were declared with the hyperparameters.
        self.logger.log_hyperparams(params, metrics)


class Files(Dashboard):
    """Images as PNG files in the run dir: for CSVLogger, and for a logger gan1d does not know."""

    def image(self, tag: str, png: bytes, step: int) -> Path:
        path = self.run_dir / "figures" / f"{tag}_{step:06d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "wb") as f:
            f.write(png)
        return path

    def hparams(self, params: dict, metrics: dict[str, float]) -> None:
        self.logger.log_hyperparams(params)


class MLflow(Files):
    def image(self, tag: str, png: bytes, step: int) -> Path:
        path = super().image(tag, png, step)
        self.logger.experiment.log_artifact(self.logger.run_id, str(path), "figures")
        return path


def for_logger(logger: "Logger | None", run_dir: str | Path) -> Dashboard:
    from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger

    if logger is None:
        return Dashboard(logger, run_dir)
    if isinstance(logger, TensorBoardLogger):
        return TensorBoard(logger, run_dir)
    if isinstance(logger, MLFlowLogger):
        return MLflow(logger, run_dir)
    return Files(logger, run_dir)


class MLflowStore(Callback):
    """Hydra callback of ``logger=mlflow``: creates the store (its tables) and the experiment before a sweep's jobs
    start. Jobs running in parallel would race to do it, and all but one would fail."""

    def on_multirun_start(self, config: DictConfig, **kwargs: object) -> None:
        from mlflow import MlflowClient

        logger = config.logger
        client = MlflowClient(logger.tracking_uri)
        if client.get_experiment_by_name(logger.experiment_name) is None:
            client.create_experiment(logger.experiment_name, logger.artifact_location)
