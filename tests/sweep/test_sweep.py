"""Sweeps: spec checking, point keys, local vs Dask results, and resuming a killed sweep."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accelsim.sweep.runner import pareto, results_csv, run_sweep
from accelsim.sweep.spec import SweepError, expand, iter_points, load_spec
from accelsim.trace import Header, write_trace
from accelsim.trace.synthetic import lenet5_mnist, narrowing_trace, training_trace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "lenet5.jsonl.gz"
    write_trace(path, Header("lenet5"), training_trace(lenet5_mnist(64), 3))
    return path


@pytest.fixture(scope="module")
def narrowing(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "narrowing.jsonl.gz"
    write_trace(path, Header("lenet5"), narrowing_trace(lenet5_mnist(64), 9))
    return path


def write_spec(tmp_path, trace, grid=None, points=None, name="spec.yaml", **extra):
    import yaml

    data = {"name": "t", "base": "edge-16x16", "traces": [str(trace)], **extra}
    if grid is not None:
        data["grid"] = grid
    if points is not None:
        data["points"] = points
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


GRID = {"array.rows": [8, 16], "array.cols": [8, 16], "array.dataflow": ["os", "ws"]}


def test_grid_and_points_expand_with_stable_keys(tmp_path, trace):
    spec = load_spec(write_spec(tmp_path, trace, GRID, [{"array.rows": 32}]))
    points = expand(spec)
    assert len(points) == 2 * 2 * 2 + 1
    assert len({p.key for p in points}) == len(points)
    assert [p.key for p in expand(spec)] == [p.key for p in points]  # deterministic
    edited = load_spec(write_spec(tmp_path, trace, {**GRID, "array.rows": [8, 32]}, None,
                                  name="edited.yaml"))
    kept = {p.key for p in expand(edited)} & {p.key for p in points}
    # The rows=8 half is unchanged; of the new rows=32 half, one machine (cols 16, ws, the
    # defaults) equals the old explicit point {array.rows: 32}: keys follow the resolved config.
    assert len(kept) == 4 + 1


@pytest.mark.parametrize(("change", "message"), [
    ({"colour": 1}, r"unknown key\(s\) colour"),
    ({"traces": []}, r"traces: expected a non-empty list"),
    ({"traces": ["missing.jsonl"]}, r"no such trace file 'missing.jsonl'"),
    ({"grid": {"array.rows": 8}}, r"grid.array.rows: expected a non-empty list"),
    ({"grid": {}, "points": []}, r"give a grid, points, or both"),
    ({"points": [3]}, r"points: expected a list of mappings"),
    ({"grid": {f"energy.mac.k{i}": list(range(10)) for i in range(9)}},
     r"the sweep has 1,000,000,000 points \(machines x traces\), more than the limit"),
])
def test_bad_specs(tmp_path, trace, change, message):
    path = write_spec(tmp_path, trace, GRID)
    import yaml

    data = yaml.safe_load(path.read_text())
    data.update(change)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SweepError, match=message):
        load_spec(path)


def test_a_malformed_trace_is_the_specs_error(tmp_path, capsys):
    """Not a sweep of failed points with exit status 0: one error naming the trace's line."""
    from accelsim.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "accelsim-trace", "version": 1}\n{"op": "gemm", "m": 1}\n')
    spec = write_spec(tmp_path, bad, GRID)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "traces:" in err and "bad.jsonl:2: gemm record is missing field(s)" in err
    assert err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_a_grid_is_expanded_lazily(tmp_path, trace):
    """Points are produced one by one: the first comes before the grid is walked."""
    import itertools

    grid = {"array.rows": list(range(8, 1008)), "array.cols": list(range(8, 1008))}
    spec = load_spec(write_spec(tmp_path, trace, grid))
    assert spec["size"] == 1_000_000
    first = list(itertools.islice(iter_points(spec), 3))
    # (yaml.safe_dump sorts the keys: array.cols is the outer loop)
    assert [p.overrides for p in first] == [{"array.cols": 8, "array.rows": r} for r in (8, 9, 10)]


def test_impossible_points_name_the_point(tmp_path, trace):
    spec = load_spec(write_spec(tmp_path, trace, None, [{"array.rows": 0}]))
    with pytest.raises(SweepError, match=r"point \{'array.rows': 0\}: .*array.rows: 0 is below"):
        expand(spec)
    spec = load_spec(write_spec(tmp_path, trace, None, [{"array.rowz": 8}]))
    with pytest.raises(SweepError, match=r"array.rowz: unknown key"):
        expand(spec)


def test_local_and_dask_give_identical_results(tmp_path, trace):
    import distributed  # the test extra installs it: the Dask path must run

    points = expand(load_spec(write_spec(tmp_path, trace, GRID)))
    local = run_sweep(points, tmp_path / "local", workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = run_sweep(points, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert (local.computed, remote.computed) == (len(points), len(points))
    assert results_csv(local.rows) == results_csv(remote.rows)
    assert pareto(local.rows)  # a non-empty front


def test_unreachable_scheduler_is_a_usage_error(tmp_path, trace, capsys):
    from accelsim.cli import main

    spec = write_spec(tmp_path, trace, None, [{"array.rows": 8}])
    code = main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--scheduler",
                 "tcp://127.0.0.1:9", "--no-plot"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the Dask scheduler" in err and err.count("\n") == 1


def test_a_killed_sweep_resumes_without_loss_or_repeats(tmp_path, trace):
    grid = {"array.rows": [4, 8, 16, 32], "array.cols": [4, 8, 16, 32],
            "array.dataflow": ["os", "ws", "is"]}
    spec = write_spec(tmp_path, trace, grid)
    total = 4 * 4 * 3
    out = tmp_path / "killed"
    argv = [sys.executable, "-m", "accelsim", "sweep", str(spec), "--out", str(out),
            "--workers", "1", "--no-plot"]
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    points_dir = out / "points"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = list(points_dir.glob("*.json")) if points_dir.exists() else []
        if len(done) >= 3:
            break
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in points_dir.glob("*.json")}
    assert 3 <= len(before) < total, "the sweep must be killed mid-way"
    rerun = subprocess.run(argv, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{total} points ({total - len(before)} computed, {len(before)} already done)" \
        in rerun.stdout
    after = {p.name: p.stat().st_mtime_ns for p in points_dir.glob("*.json")}
    assert len(after) == total and all(after[n] == t for n, t in before.items())
    fresh = run_sweep(expand(load_spec(spec)), tmp_path / "fresh", workers=2)
    assert (out / "results.csv").read_text() == results_csv(fresh.rows)


@pytest.mark.parametrize("name", ["trace", "narrowing"])
def test_a_sweep_point_equals_replaying_the_ordered_trace(name, request):
    """The sweep replays runs of identical iterations from memory; its figures must equal a
    plain replay of the trace as written, overlapped or serial, with fused vector work."""
    from accelsim.hardware import load_hardware
    from accelsim.replay import replay
    from accelsim.sweep.runner import COMPONENTS, evaluate
    from accelsim.trace import read_trace

    trace = request.getfixturevalue(name)
    for overrides in ([], ["array.dataflow=os", "array.rows=8"], ["schedule.overlap_ops=false"]):
        hw = load_hardware("edge-16x16", overrides)
        row = evaluate(hw, str(trace))
        doc = replay(hw, read_trace(trace)[1]).to_json()
        assert row["total_cycles"] == pytest.approx(doc["total_cycles"], rel=1e-12)
        assert row["stall_cycles"] == pytest.approx(doc["stall_cycles"], rel=1e-12)
        assert row["dram_read_bytes"] == doc["dram"]["read_bytes"]
        assert row["energy_pj"] == pytest.approx(doc["energy_pj"]["total"], rel=1e-12)
        for c in COMPONENTS:
            assert row[f"energy_{c}_pj"] == pytest.approx(doc["energy_pj"][c], rel=1e-12)
        assert row["peak_ifmap_bytes"] == doc["buffers"]["ifmap"]["peak_bytes"]


def test_example_spec_expands_to_200_points():
    spec = load_spec(ROOT / "examples" / "sweep-lenet5.yaml")
    assert len(expand(spec)) == 200


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    """A point whose ops fit no tiling records its error; the other points still run."""
    from accelsim.cli import main
    from accelsim.trace import Gemm

    wide = tmp_path / "wide.jsonl"  # 32-bit outputs: an output tile needs 4 B per value
    write_trace(wide, Header("w"), [Gemm(iter=0, layer="l", phase="fwd", m=40, n=40, k=40,
                                         a_bits=8, b_bits=8, acc_bits=64, c_bits=32)])
    # os drains 4x4 outputs of 4 bytes (64 B) into the ofmap SRAM: more than a 51-byte slot
    tiny = {"array.rows": 4, "array.cols": 4, "array.dataflow": "os",
            "buffers.ofmap.size_kib": 0.1}
    spec = write_spec(tmp_path, wide, None, [{}, tiny])
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "1 point(s) failed" in out and "does not fit buffers.ofmap" in out
    rows = (tmp_path / "o" / "results.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].endswith(",") and "does not fit" in rows[2]


def test_override_errors_name_the_point(tmp_path, trace):
    spec = load_spec(write_spec(tmp_path, trace, {"array.rows": [None]}))
    with pytest.raises(SweepError, match=r"point \{'array.rows': None\}"):
        expand(spec)


@pytest.mark.parametrize(("argv", "message"), [
    (["--workers", "0"], "--workers must be from 1 to 1,024, got 0"),
    (["--workers", "x"], "invalid int value: 'x'"),
])
def test_bad_sweep_flags(tmp_path, trace, capsys, argv, message):
    from accelsim.cli import main

    spec = write_spec(tmp_path, trace, None, [{}])
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_or_broken_spec_file(tmp_path, capsys):
    from accelsim.cli import main

    assert main(["sweep", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: [\n")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "YAML syntax error" in capsys.readouterr().err
