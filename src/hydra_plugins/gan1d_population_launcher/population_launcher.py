"""The launcher. Hydra imports every module of the hydra_plugins package at start-up, for every run: this one
imports torch and gan1d's training code only when a sweep is launched with it."""

import copy
import logging
import math
import os
from pathlib import Path
from typing import Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, _save_config, configure_log, env_override, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

log = logging.getLogger(__name__)
KEPT = ("ok", "diverged")  # with resume=true, a job that ended so is kept as it is


class PopulationLauncher(Launcher):
    def __init__(self, max_replicas: int = 1024, resume: bool = False) -> None:
        if max_replicas < 1:
            raise ValueError(f"hydra.launcher.max_replicas={max_replicas}: must be 1 or more")
        self.max_replicas, self.resume = max_replicas, resume
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
        from gan1d.population import group, population_key

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        configs = [self._job_config(initial_job_idx + i, overrides) for i, overrides in enumerate(job_overrides)]
        returns: list[JobReturn | None] = [self._kept(config) if self.resume else None for config in configs]
        todo = [i for i, ret in enumerate(returns) if ret is None]
        keys = []
        for i in todo:
            with as_job(configs[i]):  # a population runs in one working directory
                keys.append(None if configs[i].hydra.job.chdir else population_key(task_config(configs[i])))
        groups = [[todo[j] for j in members] for members in group(keys, self.max_replicas)]
        log.info("Launching %d jobs locally: %d in populations, %d alone", len(todo),
                 sum(len(g) for g in groups if len(g) > 1), sum(len(g) == 1 for g in groups))
        for members in groups:
            numbers = " ".join(f"#{configs[i].hydra.job.num}" for i in members)
            if len(members) == 1:
                log.info("\t%s : %s", numbers, " ".join(configs[members[0]].hydra.overrides.task))
                returns[members[0]] = self._alone(configs[members[0]])
            else:
                log.info("\tpopulation of %d: %s", len(members), numbers)
                for i, ret in zip(members, self._population([configs[i] for i in members]), strict=True):
                    returns[i] = ret
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return returns

    def _job_config(self, idx: int, overrides: Sequence[str]) -> DictConfig:
        """The job's config with its number and run dir, as Hydra's run_job sets them."""
        config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(config):
            config.hydra.job.id = config.hydra.job.num = idx
        with as_job(config):
            output_dir = Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)
        with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
            config.hydra.runtime.output_dir = os.path.abspath(output_dir)
        return config

    def _kept(self, config: DictConfig) -> JobReturn | None:
        """With resume=true: a job that ended (ok with as many steps, or diverged) is kept as it is; one that was
        stopped resumes from its checkpoint (its ckpt_path set to its run dir); None for a job to train."""
        import json

        run_dir = Path(config.hydra.runtime.output_dir)
        record_file = run_dir / "metrics.json"
        record = json.loads(record_file.read_text()) if record_file.exists() else {}
        done = record.get("status") == "ok" and (config.steps == "auto" or record["steps"] >= config.steps)
        if record.get("status") == "diverged" or done:
            log.info("\t#%s : kept, %s in %s", config.hydra.job.num, record["status"], run_dir)
            with as_job(config):
                return job_return(config, record.get("w1_over_std", math.nan) if record["status"] == "ok"
                                  else math.nan)
        if (run_dir / "checkpoints" / "last.ckpt").is_file():
            with open_dict(config):
                config.ckpt_path = str(run_dir)
        return None

    def _alone(self, config: DictConfig) -> JobReturn:
        return run_job(hydra_context=self.hydra_context, task_function=self.task_function, config=config,
                       job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")

    def _population(self, configs: list[DictConfig]) -> list[JobReturn]:
        """The jobs of one population: each job's run dir, .hydra/ files, log file and Hydra callbacks as
        Hydra's run_job makes them, one training for all."""
        from gan1d.population import OwnLines, train_population
        from gan1d.run import failure, record_failure

        original = HydraConfig.instance().cfg
        callbacks = self.hydra_context.callbacks
        root = logging.getLogger()
        cfgs = []
        for config in configs:
            with as_job(config):
                task = task_config(config)
                Path(config.hydra.runtime.output_dir).mkdir(parents=True, exist_ok=True)
                if config.hydra.output_subdir is not None:
                    hydra_output = Path(config.hydra.runtime.output_dir) / str(config.hydra.output_subdir)
                    _save_config(task, "config.yaml", hydra_output)
                    _save_config(HydraConfig.instance().cfg, "hydra.yaml", hydra_output)
                    _save_config(config.hydra.overrides.task, "overrides.yaml", hydra_output)
                OmegaConf.resolve(task)  # resolved now, while Hydra's config is this job's
                if not cfgs:  # the console as the first job's logging sets it up; the log files come below
                    configure_log(config.hydra.job_logging, config.hydra.verbose)
                    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
                        root.removeHandler(handler)
                        handler.close()
                for handler in log_files(config):
                    handler.addFilter(OwnLines(task.run_dir))
                    root.addHandler(handler)
                callbacks.on_job_start(config=config, task_function=self.task_function)
                cfgs.append(task)
        try:
            with env_override(configs[0].hydra.job.env_set):
                values = [r.get("w1_over_std", math.nan) if r.get("status") == "ok" else math.nan
                          for r in train_population(cfgs)]
        except Exception as err:  # not the jobs': the population's; each job is recorded as failed, as main does
            log.exception("the population failed")
            for cfg in cfgs:
                record_failure(Path(cfg.run_dir), failure(err))
            values = [math.nan] * len(cfgs)
        returns = []
        for config, value in zip(configs, values, strict=True):
            with as_job(config):
                returns.append(job_return(config, value))
                callbacks.on_job_end(config=config, job_return=returns[-1])
        HydraConfig.instance().cfg = original
        return returns


class as_job:
    """Hydra's config is ``config``'s inside the block (its ${hydra:...} interpolations resolve for that job)."""

    def __init__(self, config: DictConfig):
        self.config = config

    def __enter__(self):
        self.previous = HydraConfig.instance().cfg
        HydraConfig.instance().set_config(self.config)

    def __exit__(self, *exc):
        HydraConfig.instance().cfg = self.previous


def task_config(config: DictConfig) -> DictConfig:
    """The config the task function gets: the job's, without Hydra's node."""
    task = copy.deepcopy(config)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def job_return(config: DictConfig, value: float) -> JobReturn:
    """What Hydra's run_job returns for a job that completed with ``value``; Hydra's config must be the job's."""
    ret = JobReturn(overrides=OmegaConf.to_container(config.hydra.overrides.task), cfg=task_config(config),
                    hydra_cfg=copy.deepcopy(HydraConfig.instance().cfg), working_dir=os.getcwd(),
                    task_name=config.hydra.job.name, status=JobStatus.COMPLETED)
    ret.return_value = value
    return ret


def log_files(config: DictConfig) -> list[logging.Handler]:
    """The job's log file handlers, as its job_logging config describes them (Hydra's default: RUN_DIR/NAME.log)."""
    spec = OmegaConf.to_container(config.hydra.job_logging, resolve=True)
    handlers = []
    for handler in spec.get("handlers", {}).values():
        if handler.get("class") == "logging.FileHandler":
            file = logging.FileHandler(handler["filename"], mode=handler.get("mode", "a"))
            form = spec.get("formatters", {}).get(handler.get("formatter"), {})
            file.setFormatter(logging.Formatter(form.get("format"), form.get("datefmt")))
            file.setLevel(handler.get("level", logging.NOTSET))
            handlers.append(file)
    return handlers
