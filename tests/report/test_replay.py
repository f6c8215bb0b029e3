"""Replay: the cache, conservation across breakdowns, determinism and the report files."""

import csv
import json

import pytest

from accelsim.hardware import load_hardware
from accelsim.replay import replay
from accelsim.report import write_report
from accelsim.trace.synthetic import lenet5_mnist, training_trace


@pytest.fixture(scope="module")
def lenet_report():
    hw = load_hardware("edge-16x16")
    return replay(hw, training_trace(lenet5_mnist(8), 5))


def test_identical_ops_are_simulated_once(lenet_report):
    per_iteration = len(training_trace(lenet5_mnist(8), 1))
    assert lenet_report.ops == 5 * per_iteration
    assert lenet_report.distinct_ops < per_iteration


def test_breakdowns_partition_the_totals(lenet_report):
    doc = lenet_report.to_json()
    total = doc["energy_pj"]["total"]
    assert total == pytest.approx(sum(v for k, v in doc["energy_pj"].items() if k != "total"))
    assert total == pytest.approx(sum(v["total"] for v in doc["energy_pj_by_layer"].values()))
    assert total == pytest.approx(sum(v["total"] for v in doc["energy_pj_by_phase"].values()))
    assert doc["total_cycles"] == sum(doc["cycles_by_layer"].values())
    assert doc["total_cycles"] == sum(doc["cycles_by_phase"].values())
    assert doc["total_cycles"] == doc["compute_cycles"] + doc["stall_cycles"]
    assert doc["stall_cycles"] == sum(doc["stall_cycles_by_cause"].values())
    dram = doc["dram"]
    by_tensor = doc["dram_bytes_by_tensor"]
    assert dram["read_bytes"] == sum(v["read"] for v in by_tensor.values())
    assert dram["write_bytes"] == sum(v["write"] for v in by_tensor.values())
    assert 0 < doc["utilization"] <= 1
    assert doc["latency_s"] == pytest.approx(doc["total_cycles"] * 2e-9)


def test_repeated_iterations_scale_linearly():
    hw = load_hardware("edge-16x16")
    one = replay(hw, training_trace(lenet5_mnist(8), 1)).to_json()
    four = replay(hw, training_trace(lenet5_mnist(8), 4)).to_json()
    assert four["total_cycles"] == 4 * one["total_cycles"]
    assert four["energy_pj"]["total"] == pytest.approx(4 * one["energy_pj"]["total"])
    for name, buf in four["buffers"].items():
        assert buf["peak_bytes"] == one["buffers"][name]["peak_bytes"]
        assert buf["mean_bytes"] == pytest.approx(one["buffers"][name]["mean_bytes"])
        assert buf["peak_bytes"] <= buf["capacity_bytes"]


def test_replay_is_deterministic():
    hw = load_hardware("edge-16x16")
    ops = training_trace(lenet5_mnist(8), 2)
    assert replay(hw, ops).to_json() == replay(hw, ops).to_json()


def test_report_files(lenet_report, tmp_path):
    doc = write_report(lenet_report, tmp_path)
    assert json.loads((tmp_path / "report.json").read_text()) == json.loads(json.dumps(doc))
    for key in ("total_cycles", "compute_cycles", "stall_cycles", "latency_s", "utilization",
                "energy_pj", "energy_pj_by_layer", "energy_pj_by_phase", "energy_pj_by_tensor",
                "cycles_by_layer", "cycles_by_phase", "dram_bytes_by_tensor", "buffers"):
        assert key in doc
    for comp in ("total", "mac", "ifmap", "filter", "ofmap", "dram", "static"):
        assert comp in doc["energy_pj"]
    with open(tmp_path / "layers.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["layer"] for r in rows] == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert sum(float(r["energy_pj"]) for r in rows) == pytest.approx(doc["energy_pj"]["total"],
                                                                     rel=1e-5)
    with open(tmp_path / "occupancy.csv") as f:
        occ = list(csv.DictReader(f))
    times = [float(r["cycle"]) for r in occ]
    assert times == sorted(times) and len(occ) > 10
    assert max(int(r["ifmap_bytes"]) for r in occ) == doc["buffers"]["ifmap"]["peak_bytes"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
