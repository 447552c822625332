"""The sweeper: an Optuna study on disk (a journal file), asked for trials and told their results (Optuna's
ask/tell), each batch of trials launched as one batch of Hydra jobs by whatever launcher is configured.

The study is the state: stop a search (Ctrl-C) and run the same command again, and it goes on with the trials it
lacks; start the same command on several machines or processes with one storage and one ``hydra.sweep.dir``, and
they run one study together. Trial N runs as job N, in its own run dir. A file lock beside the journal makes
counting the budget and asking for trials one step, so the workers together run ``n_trials`` trials, not more."""

import fcntl
import json
import logging
import math
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # who runs a trial, so a worker that died can be told apart


class OptunaSweeper(Sweeper):
    def __init__(self, storage: str, study_name: str, direction: str = "minimize", n_trials: int = 20,
                 n_jobs: int = 1, seed: int = 0, params: dict | None = None, wait_s: float = 2.0) -> None:
        if n_trials < 1 or n_jobs < 1:
            raise ValueError(f"hydra.sweeper.n_trials={n_trials}, n_jobs={n_jobs}: both must be 1 or more")
        self.storage, self.study_name, self.direction = Path(storage).absolute(), study_name, direction
        self.n_trials, self.n_jobs, self.seed, self.params, self.wait_s = n_trials, n_jobs, seed, params or {}, wait_s

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        fixed, space = search_space([*(f"{k}={v}" for k, v in self.params.items()), *arguments], self.hydra_context)
        self.storage.parent.mkdir(parents=True, exist_ok=True)
        study, pending = None, []
        try:
            while True:
                study, pending = self.ask(study, space)
                if not pending:
                    break
                for part in consecutive(pending):  # trial N is job N: a launch numbers its jobs from the first on
                    jobs = [[*fixed, *(f"{k}={v}" for k, v in t.params.items()), *resumed(t, sweep_dir)] for t in part]
                    returns = self.launcher.launch(jobs, initial_job_idx=part[0].number)
                    for trial, ret in zip(part, returns, strict=True):
                        tell(study, trial, ret, sweep_dir)
                        pending.remove(trial)
                write_trials(study, sweep_dir)
            self.wait_for_others(study)
        finally:
            for trial in pending:  # stopped mid-batch (Ctrl-C): left running, for a rerun or another worker to resume
                _set(study, trial, "interrupted", True)
            if study is not None:
                write_trials(study, sweep_dir)
                write_results(study, sweep_dir, self.storage)

    def ask(self, study, space):
        """The next batch of trials (none once the study has its n_trials), asked under the study's lock."""
        import optuna

        with locked(self.storage.with_name(self.storage.name + ".ask-lock")):
            if study is None:
                study = optuna.create_study(storage=optuna.storages.JournalStorage(
                    optuna.storages.journal.JournalFileBackend(str(self.storage))), study_name=self.study_name,
                    direction=self.direction, load_if_exists=True)
                # seeded past the trials there: a second worker, or a rerun, does not repeat the first's points
                study.sampler = optuna.samplers.TPESampler(seed=self.seed + len(study.trials))
            trials = study.get_trials(deepcopy=False)
            # First those no worker runs any more (interrupted, or their worker here is gone): resumed, same number.
            batch = [t for t in trials if t.state == _state("RUNNING") and _free(t)][:self.n_jobs]
            used = sum(t.state in (_state("COMPLETE"), _state("FAIL"), _state("RUNNING")) for t in trials)
            batch += [study.ask(space) for _ in range(max(0, min(self.n_jobs - len(batch), self.n_trials - used)))]
            batch.sort(key=lambda t: t.number)
            for trial in batch:
                _set(study, trial, "worker", WORKER)
                _set(study, trial, "interrupted", False)
        return study, batch

    def wait_for_others(self, study) -> None:
        """Until the trials other workers run have ended, so the summary written next sees every trial's result."""
        while running := [t.number for t in study.get_trials(deepcopy=False, states=(_state("RUNNING"),))
                          if not _orphaned(t)]:
            log.info("waiting for trials %s of other workers", " ".join(map(str, running)))
            time.sleep(self.wait_s)


def _state(name: str):
    from optuna.trial import TrialState

    return TrialState[name]


def consecutive(trials: list) -> list[list]:
    """``trials`` (sorted by number) in runs of consecutive numbers."""
    runs = []
    for trial in trials:
        if runs and trial.number == runs[-1][-1].number + 1:
            runs[-1].append(trial)
        else:
            runs.append([trial])
    return runs


def _set(study, trial, key: str, value) -> None:
    study._storage.set_trial_user_attr(trial._trial_id, key, value)  # for a FrozenTrial too (a resumed trial)


def _free(trial) -> bool:
    return bool(trial.user_attrs.get("interrupted")) or _orphaned(trial)


def _orphaned(trial) -> bool:
    host, _, pid = trial.user_attrs.get("worker", ":").rpartition(":")
    if trial.state != _state("RUNNING") or host != socket.gethostname() or not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    return False


@contextmanager
def locked(path: Path):
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def search_space(overrides: list[str], hydra_context) -> tuple[list[str], dict]:
    """The fixed overrides, and Optuna distributions for the swept ones: interval(a, b) (tag(log, ...) for a
    log scale), choice(...) or a,b,c, range(a, b, step)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    parser = OverridesParser.create(config_loader=hydra_context.config_loader)
    fixed, space = [], {}
    for override in parser.parse_overrides(overrides):
        key, value = override.get_key_element(), override.value()
        if isinstance(value, IntervalSweep):
            ints = isinstance(value.start, int) and isinstance(value.end, int)
            space[key] = (IntDistribution if ints else FloatDistribution)(value.start, value.end,
                                                                          log="log" in value.tags)
        elif isinstance(value, RangeSweep):
            space[key] = IntDistribution(value.start, value.stop - value.step, step=value.step)
        elif isinstance(value, ChoiceSweep):
            space[key] = CategoricalDistribution(list(value.list))
        else:
            fixed.append(f"{key}={override.get_value_element_as_str()}")
    return fixed, space


def tell(study, trial, ret, sweep_dir: Path) -> None:
    """The job's value (W1/sd), or FAIL with the job's own reason where it has none (diverged, failed)."""
    run_dir = Path(ret.hydra_cfg.hydra.runtime.output_dir) if ret.hydra_cfg else sweep_dir / str(trial.number)
    _set(study, trial, "run_dir", str(run_dir))
    try:
        value = float(ret.return_value)
    except Exception:  # noqa: BLE001  the launcher's record of a job that raised
        value = math.nan
    if math.isfinite(value):
        study.tell(trial.number, value)
        return
    record_file = run_dir / "metrics.json"
    record = json.loads(record_file.read_text()) if record_file.exists() else {}
    if record.get("status") == "interrupted":  # stopped, not ended (the worker is stopping): left to resume
        _set(study, trial, "interrupted", True)
        return
    _set(study, trial, "reason", f"{record.get('status', 'failed')}: {record.get('reason', 'no result')}")
    study.tell(trial.number, state=_state("FAIL"))


def resumed(trial, sweep_dir: Path) -> list[str]:
    """ckpt_path for a trial that was stopped part-way and has a checkpoint: it goes on from there."""
    run_dir = Path(trial.user_attrs.get("run_dir", sweep_dir / str(trial.number)))
    return [f"ckpt_path={run_dir}"] if (run_dir / "checkpoints" / "last.ckpt").exists() else []


def write_trials(study, sweep_dir: Path) -> None:
    from gan1d.report import write_trials as write

    write(sweep_dir, [{"trial": t.number, "state": t.state.name.lower(), "params": t.params,
                       "w1_over_std": t.value, "run_dir": t.user_attrs.get("run_dir", ""),
                       "reason": t.user_attrs.get("reason", "interrupted" if t.user_attrs.get("interrupted") else "")}
                      for t in study.get_trials(deepcopy=False)])


def write_results(study, sweep_dir: Path, storage: Path) -> None:
    """optimization_results.yaml: where the study lives, and its best trial so far."""
    results = {"storage": str(storage), "study_name": study.study_name}
    if any(t.state == _state("COMPLETE") for t in study.get_trials(deepcopy=False)):
        best = study.best_trial
        results |= {"best_trial": best.number, "best_params": best.params, "best_value": best.value}
    OmegaConf.save(OmegaConf.create(results), sweep_dir / "optimization_results.yaml")
