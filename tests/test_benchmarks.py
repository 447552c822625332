"""One-seed smoke versions of the benchmarks (slow: run with `pytest -m slow`). They check that the scripts run
and print their tables; the figures themselves come from the full runs, never from tests."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.slow
def test_quality_benchmark_smoke(tmp_path, capsys):
    import quality

    table = quality.main(["--seeds", "1", "--steps", "60", "--jobs", "1", "--targets", "N(4, 1.25)",
                          "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")])
    assert [(t["preset"], t["seeds"]) for t in table] == [("default", 1), ("seed2017", 1)]
    assert "| default | N(4, 1.25) | 60 |" in capsys.readouterr().out
    saved = json.loads((tmp_path / "out" / "quality.json").read_text())
    assert len(saved["runs"]) == 2 and all(r["w1_over_std"] > 0 for r in saved["runs"])
    assert (tmp_path / "out" / "quality_overlays.png").stat().st_size > 10_000


@pytest.mark.slow
def test_throughput_benchmark_smoke(capsys):
    import throughput

    throughput.main(["--repeats", "1", "--steps", "60", "--presets", "seed2017"])
    out = capsys.readouterr().out
    assert "| seed2017 | 60 |" in out and "gan1d / plain" in out


@pytest.mark.slow
def test_scaling_benchmark_smoke(tmp_path, capsys):
    import scaling

    rows = scaling.main(["--steps", "50", "--batches", "64", "128", "--widths", "32", "--out", str(tmp_path)])
    assert [(r["batch"], r["width"]) for r in rows] == [(64, 64), (128, 64), (256, 32)]
    assert all(r["it_s"] > 0 and r["peak_mib"] >= 0 for r in rows)
    assert "| 128 | 64 |" in capsys.readouterr().out
    assert (tmp_path / "scaling.png").stat().st_size > 10_000


@pytest.mark.slow
def test_data_benchmark_smoke(tmp_path, capsys):
    import data

    rows = data.main(["--seeds", "1", "--steps", "60", "--jobs", "1", "--out", str(tmp_path / "out"),
                      "--runs", str(tmp_path / "runs")])
    assert [r["target"] for r in rows] == ["N(4, 1.25) draws", "penguins flipper", "seattle wind"]
    assert all(r["w1_over_std_floor"] > 0 for r in rows) and rows[0]["exact_w1_over_std"] > 0
    assert "| N(4, 1.25) draws | 16000 / 4000 |" in capsys.readouterr().out
    assert (tmp_path / "out" / "data_overlays.png").stat().st_size > 10_000
