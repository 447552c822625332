"""Each logger (logger=tensorboard, csv, mlflow, none) trains the default run, shrunk, to status ok, with every
scalar and figure in its own store, read back from there."""

import json

import pytest
import yaml
from helpers import run_cli
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
from test_train import read_events

from gan1d.run import train

SCALARS = {"loss/d", "loss/g", "d_out/real_prob", "d_out/fake_prob", "grad_norm/d", "grad_norm/g", "penalty/r1",
           "eval/w1_over_std", "eval/ks", "eval/mean_error", "hp/w1_over_std", "hp/ks"}
FIGURES = {("pdf_overlay", 20), ("pdf_overlay", 40), ("generator_map", 20), ("generator_map", 40),
           ("loss_curves", 40)}  # (tag, iteration) with the shrunk cadences: figure_every=20, steps=40
HPARAMS = {"seed", "steps", "target", "g_lr", "d_lr", "loss", "r1_gamma", "ema", "noise"}


def final_figures_are_written(run_dir):
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "ok"
    for name in ("pdf_overlay.png", "generator_map.png", "loss_curves.png", "training.gif"):
        assert (run_dir / name).stat().st_size > 10_000, name


def test_tensorboard_logger(make_cfg, tmp_path):
    train(make_cfg("logger=tensorboard"))
    final_figures_are_written(tmp_path)
    acc = read_events(tmp_path)
    tags = acc.Tags()
    assert SCALARS <= set(tags["scalars"])
    assert {(tag, e.step) for tag in tags["images"] for e in acc.Images(tag)} == FIGURES
    # The drawing process's PNG reaches TensorBoard as it is, not decoded and encoded again.
    assert acc.Images("pdf_overlay")[-1].encoded_image_string == (tmp_path / "pdf_overlay.png").read_bytes()
    assert [e.step for e in acc.Histograms("generated")] == [20, 40]
    hparams = acc.PluginTagToContent("hparams")  # the HParams tab's record of this run
    started = HParamsPluginData.FromString(hparams["_hparams_/session_start_info"]).session_start_info
    assert HPARAMS <= set(started.hparams)
    declared = HParamsPluginData.FromString(hparams["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in declared.metric_infos} == {"hp/w1_over_std", "hp/ks"}


def test_csv_logger(make_cfg, tmp_path):
    train(make_cfg("logger=csv"))
    final_figures_are_written(tmp_path)
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert SCALARS <= set(lines[0].split(","))
    figures = {(p.stem.rsplit("_", 1)[0], int(p.stem.rsplit("_", 1)[1])) for p in (tmp_path / "figures").glob("*.png")}
    assert figures == FIGURES
    assert (tmp_path / "figures" / "pdf_overlay_000040.png").read_bytes() == (tmp_path / "pdf_overlay.png").read_bytes()
    assert HPARAMS <= set(yaml.safe_load((tmp_path / "hparams.yaml").read_text()))
    assert not list(tmp_path.glob("events.out.tfevents.*"))


def test_no_logger(make_cfg, tmp_path):
    record = train(make_cfg("logger=none"))
    logged = train(make_cfg("logger=csv", f"run_dir={tmp_path / 'csv'}"))
    # The logger only watches: without one the run trains and scores exactly as with one.
    assert record["status"] == "ok" and record["w1_over_std"] == logged["w1_over_std"]
    final_figures_are_written(tmp_path)
    assert not list(tmp_path.glob("events.out.tfevents.*")) and not (tmp_path / "metrics.csv").exists()
    assert not (tmp_path / "figures").exists() and not (tmp_path / "lightning_logs").exists()


def test_mlflow_logger_keeps_one_run_per_sweep_job(tmp_path):
    """A real 2-job sweep, its jobs in parallel processes (joblib), into the default local store under outputs/."""
    mlflow = pytest.importorskip("mlflow")
    sweep = tmp_path / "sweep"
    proc = run_cli("gan1d.train", "-m", "logger=mlflow", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                   "seed=0,1", "steps=40", "log_every=10", "eval_every=20", "figure_every=20", "data.eval_size=2000",
                   f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/outputs/mlflow/mlflow.db")
    experiment = client.get_experiment_by_name("gan1d")
    runs = client.search_runs([experiment.experiment_id])
    names = [f"data.eval_size=2000,eval_every=20,figure_every=20,log_every=10,logger=mlflow,seed={s},steps=40"
             for s in (0, 1)]
    assert sorted(r.info.run_name for r in runs) == names  # each job's overrides
    for run in runs:
        assert run.info.status == "FINISHED"
        final_figures_are_written(tmp_path / "sweep" / run.data.tags["run_dir"].rsplit("/", 1)[-1])
        assert SCALARS <= set(run.data.metrics)
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss/d")] == [10, 20, 30, 40]
        assert set(run.data.params) == set(runs[0].data.params) and HPARAMS <= set(run.data.params)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
        assert artifacts == {f"figures/{tag}_{step:06d}.png" for tag, step in FIGURES}
