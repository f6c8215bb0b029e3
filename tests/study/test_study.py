"""The end-to-end study: accelsim run / compare, comparison.json, figures, timeline."""

import csv
import json
from itertools import pairwise

import pytest

from accelsim.cli import main
from accelsim.hardware import load_hardware
from accelsim.replay import placed_ops
from accelsim.report.timeline import chrome_trace
from accelsim.study.compare import CompareError, compare
from accelsim.study.run import run_study
from accelsim.trace.synthetic import lenet5_mnist, training_trace

QUICK = ["epochs=1", "dataset.params.synthetic=true", "model.params.hidden=16"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    doc = run_study("mlp-digits", "edge-16x16", ["fp32", "qat", "rct"], out,
                    workload_overrides=QUICK, log=lambda _: None)
    return out, doc


def test_comparison_holds_every_required_figure(study):
    out, _ = study
    on_disk = json.loads((out / "comparison.json").read_text())
    assert on_disk["methods"].keys() == {"fp32", "qat", "rct"}
    for row in on_disk["methods"].values():
        for key in ("accuracy", "energy_pj", "gemm_energy_pj", "param_movement_energy_pj",
                    "param_memory_bytes", "latency_s"):
            assert key in row
        parts = {k: v for k, v in row["energy_pj"].items() if k != "total"}
        assert set(parts) == {"mac", "vector", "ifmap", "filter", "ofmap", "dram", "static"}
        assert row["energy_pj"]["total"] == pytest.approx(sum(parts.values()))
    rct = on_disk["methods"]["rct"]["savings"]
    assert rct["vs_fp32"]["baseline"] == "fp32" and rct["vs_qat"]["baseline"] == "qat"
    fp32, qat = on_disk["methods"]["fp32"], on_disk["methods"]["qat"]
    r = on_disk["methods"]["rct"]
    assert rct["vs_qat"]["param_memory_bytes"] == pytest.approx(
        100 * (qat["param_memory_bytes"] - r["param_memory_bytes"]) / qat["param_memory_bytes"])
    assert rct["vs_fp32"]["gemm_energy_pj"] == pytest.approx(
        100 * (fp32["gemm_energy_pj"] - r["gemm_energy_pj"]) / fp32["gemm_energy_pj"])
    assert "savings" not in fp32 and "vs_qat" not in qat.get("savings", {})
    # The method's structural savings hold even after one epoch.
    assert r["param_memory_bytes"] < qat["param_memory_bytes"]
    assert r["param_movement_energy_pj"] < qat["param_movement_energy_pj"]


def test_csv_and_figures(study):
    out, _ = study
    with open(out / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == ["fp32", "qat", "rct"]
    assert rows[2]["saving_param_memory_bytes_vs_qat_pct"] != ""
    assert rows[0]["saving_param_memory_bytes_vs_fp32_pct"] == ""
    for name in ("energy_breakdown", "rct_bitwidths", "occupancy", "energy_by_layer_phase"):
        for ext in ("png", "svg"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000


def test_figures_are_reproducible_and_say_what_they_show(study, tmp_path):
    """Byte-identical SVGs from a second process; energy in a scaled unit over the whole run;
    whole-bit ticks on the width scale; one shared time axis for occupancy."""
    import subprocess
    import sys

    from accelsim.study.figures import all_figures

    out, doc = study
    code = ("import json, sys; from pathlib import Path; "
            "from accelsim.study.figures import all_figures; "
            "all_figures(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))")
    subprocess.run([sys.executable, "-c", code, str(out / "comparison.json"),
                    str(tmp_path / "again")], check=True)
    for svg in (out / "figures").glob("*.svg"):
        assert svg.read_bytes() == (tmp_path / "again" / svg.name).read_bytes(), svg.name
    breakdown = (out / "figures" / "energy_breakdown.svg").read_text()
    iterations = doc["methods"]["rct"]["iterations"]
    assert f"the whole training run ({iterations:,} iterations)" in _svg_text(breakdown)
    assert any(f"energy ({u})" in _svg_text(breakdown) for u in ("nJ", "µJ", "mJ", "J"))
    assert "energy (uJ)" not in _svg_text(breakdown)
    widths = _svg_text((out / "figures" / "rct_bitwidths.svg").read_text())
    assert ".5" not in widths.split("bits")[-1]  # whole-bit colour bar ticks
    all_figures(doc, tmp_path / "third")  # and the in-process path agrees
    assert (tmp_path / "third" / "occupancy.svg").read_bytes() == \
        (out / "figures" / "occupancy.svg").read_bytes()


def _svg_text(svg: str) -> str:
    """The text of an SVG's labels (matplotlib writes each label as a comment too)."""
    import re

    return " ".join(re.findall(r"<!-- (.*?) -->", svg))


def test_compare_reproduces_run(study, tmp_path, capsys):
    out, doc = study
    code = main(["compare", str(out / "fp32"), str(out / "qat"), str(out / "rct"),
                 "--out", str(tmp_path), "--no-figures"])
    assert code == 0 and "rct vs qat" in capsys.readouterr().out
    again = json.loads((tmp_path / "comparison.json").read_text())
    assert again["methods"]["rct"]["savings"] == json.loads(
        json.dumps(doc["methods"]["rct"]["savings"]))


def test_compare_errors(study, tmp_path, capsys):
    out, _ = study
    with pytest.raises(CompareError, match=r"no metrics\.json \(run `accelsim train` first\)"):
        compare([tmp_path])
    with pytest.raises(CompareError, match=r"method 'qat' appears twice"):
        compare([out / "qat", out / "qat"])
    (tmp_path / "metrics.json").write_text("{oops")
    assert main(["compare", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--methods", "fp32,sgd"], "unknown method(s) sgd"),
    (["run", "--methods", "qat,qat"], "a method is named twice"),
    (["run", "--hw", "nope"], "no such config file or preset 'nope'"),
    (["run", "--hw-set", "array.rows=0"], "array.rows: 0 is below the minimum 1"),
    (["run", "--workload", "nope"], "no such workload"),
    (["run", "--epochs", "0"], "--epochs must be from 1 to 100,000, got 0"),
    (["compare"], "the following arguments are required: DIR"),
    (["run", "--target-accuracy", "0"], "--target-accuracy: must be a percentage above 0"),
    (["run", "--target-accuracy", "ninety"], "--target-accuracy: must be a percentage above 0"),
])
def test_run_errors_before_any_work(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "out")] if argv[0] == "run" else argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_chrome_trace_timeline():
    hw = load_hardware("edge-16x16")
    ops = training_trace(lenet5_mnist(8), 2)
    doc = chrome_trace(hw, placed_ops(hw, ops), max_ops=20)
    events = doc["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    ops_track = [e for e in spans if e["tid"] == 1]
    assert len(ops_track) == 20 == doc["otherData"]["ops"]
    for a, b in pairwise(ops_track):  # in order, back to back or overlapping (prefetch)
        assert a["ts"] <= b["ts"] <= a["ts"] + a["dur"] + 1e-6
    end = ops_track[-1]["ts"] + ops_track[-1]["dur"]
    assert all(e["ts"] + e["dur"] <= end + 1e-6 for e in spans)
    assert {e["name"] for e in events if e["ph"] == "C"} == {"ifmap bytes", "filter bytes",
                                                             "ofmap bytes"}
    assert any(e["tid"] == 2 for e in spans) and any(e["tid"] == 3 for e in spans)


def test_simulate_timeline_option(tmp_path, capsys):
    path = tmp_path / "t.json"
    assert main(["simulate", "--trace", "examples/lenet5-mnist-int8.jsonl", "--out",
                 str(tmp_path), "--timeline", str(path), "--timeline-ops", "5"]) == 0
    assert json.loads(path.read_text())["otherData"]["ops"] == 5
    assert main(["simulate", "--trace", "examples/lenet5-mnist-int8.jsonl", "--out",
                 str(tmp_path), "--timeline", str(path), "--timeline-ops", "0"]) == 2
    assert "--timeline-ops must be at least 1" in capsys.readouterr().err


def test_energy_to_accuracy_is_the_energy_of_the_epochs_before_the_target(study, tmp_path):
    """The energy until the accuracy first reaches the target is the sum of the report's
    per-iteration energies up to the end of that epoch; by default the target is the lowest
    final accuracy, which every method reaches."""
    out, _ = study
    doc = compare([out / "fp32", out / "qat", out / "rct"])
    lowest = min(row["accuracy"] for row in doc["methods"].values())
    assert doc["target_accuracy"] == lowest
    for name, row in doc["methods"].items():
        metrics = json.loads((out / name / "metrics.json").read_text())
        report = json.loads((out / name / "report.json").read_text())
        first = next(h for h in metrics["history"] if h["test_accuracy"] >= lowest)
        n = first["epoch"] * metrics["iterations"] // metrics["epochs"]
        assert row["to_target"]["iterations"] == n
        assert row["energy_to_target_pj"] == pytest.approx(
            sum(report["energy_pj_by_iteration"][:n]))
        assert sum(report["energy_pj_by_iteration"]) == pytest.approx(
            report["energy_pj"]["total"], rel=1e-9)
    assert "energy_to_target_pj" in doc["methods"]["rct"]["savings"]["vs_qat"]
    unreachable = compare([out / "qat", out / "rct"], target_accuracy=1.01)
    assert all(row["to_target"] is None for row in unreachable["methods"].values())
    code = main(["compare", str(out / "qat"), str(out / "rct"), "--out", str(tmp_path),
                 "--no-figures", "--target-accuracy", "100.5"])
    assert code == 2
    assert main(["compare", str(out / "qat"), str(out / "rct"), "--out", str(tmp_path),
                 "--no-figures", "--target-accuracy", "99.99"]) == 0
    assert json.loads((tmp_path / "comparison.json").read_text())["target_accuracy"] == \
        pytest.approx(0.9999)
