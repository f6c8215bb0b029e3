"""The command line: success paths write what they promise; errors are one line, exit 2."""

import json

import pytest

from accelsim.cli import main

EXAMPLE = "examples/lenet5-mnist-int8.jsonl"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_ok(capsys):
    code, out, _ = run(capsys, "validate", "configs/edge-16x16.yaml", "scalesim-like")
    assert code == 0 and out.count(": ok") == 2


def test_validate_reports_each_bad_config(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("array: {rows: 0, cols: 4}\n")
    code, out, err = run(capsys, "validate", "edge-16x16", str(bad))
    assert code == 2 and ": ok" in out
    assert err.strip().count("\n") == 0 and "array.rows: 0 is below the minimum 1" in err


def test_simulate_writes_report(capsys, tmp_path):
    code, out, _ = run(capsys, "simulate", "--hw", "edge-16x16", "--trace", EXAMPLE,
                       "--out", str(tmp_path), "--set", "array.rows=32")
    assert code == 0 and "cycles" in out
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["hardware"] == "edge-16x16 [array.rows=32]" and doc["total_cycles"] > 0
    # the summary line gives whole cycles, whatever fractions the overlap schedule shares,
    # the stalls apart from the time overlapping saved (which the report counts as a
    # negative stall, so that compute and stalls add up to the total)
    causes = doc["stall_cycles_by_cause"]
    stalled = sum(v for k, v in causes.items() if k != "overlap")
    assert f"{round(doc['total_cycles']):,} cycles ({round(stalled):,} stalled" in out
    assert causes.get("overlap", 0) < 0 and f"{round(-causes['overlap']):,} overlapped)" in out
    assert (tmp_path / "layers.csv").exists() and (tmp_path / "occupancy.csv").exists()


def test_only_replays_the_named_op_kinds(capsys, tmp_path):
    """--only gemm,transfer leaves the vector work out: its kinds vanish from the report and
    what remains is priced exactly as in the whole replay when ops run one after another."""
    trace = tmp_path / "t.jsonl"
    trace.write_text(
        '{"format": "accelsim-trace", "version": 2}\n'
        '{"op": "gemm", "iter": 0, "layer": "l", "phase": "fwd", "m": 64, "n": 32, "k": 48, '
        '"a_bits": 8, "b_bits": 8, "acc_bits": 32}\n'
        '{"op": "vector", "iter": 0, "layer": "l", "phase": "fwd", "kind": "relu", '
        '"elements": 2048, "in_bits": 8, "out_bits": 8, "ops": 1}\n')
    serial = ["--set", "schedule.overlap_ops=false"]
    run(capsys, "simulate", "--trace", str(trace), "--out", str(tmp_path / "all"), *serial)
    code, _, _ = run(capsys, "simulate", "--trace", str(trace), "--out", str(tmp_path / "g"),
                     "--only", "gemm", *serial)
    whole = json.loads((tmp_path / "all" / "report.json").read_text())
    gemm = json.loads((tmp_path / "g" / "report.json").read_text())
    assert code == 0 and gemm["ops"] == 1 and set(gemm["energy_pj_by_kind"]) == {"gemm"}
    assert gemm["energy_pj_by_kind"]["gemm"] == pytest.approx(whole["energy_pj_by_kind"]["gemm"])
    assert gemm["total_cycles"] == whole["cycles_by_kind"]["gemm"]


def test_set_changes_the_machine(capsys, tmp_path):
    run(capsys, "simulate", "--trace", EXAMPLE, "--out", str(tmp_path / "a"))
    run(capsys, "simulate", "--trace", EXAMPLE, "--out", str(tmp_path / "b"),
        "--set", "array.rows=32", "--set", "array.cols=32")
    a = json.loads((tmp_path / "a" / "report.json").read_text())
    b = json.loads((tmp_path / "b" / "report.json").read_text())
    assert b["compute_cycles"] < a["compute_cycles"]


def test_schema_is_json(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == 0 and json.loads(out)["title"] == "accelsim hardware configuration"
    code, out, _ = run(capsys, "schema", "--markdown")
    assert code == 0 and "`array.rows`" in out


@pytest.mark.parametrize(("argv", "message"), [
    ([], "the following arguments are required: command"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["simulate", "--trace", EXAMPLE], "the following arguments are required: --out"),
    (["simulate", "--trace", "missing.jsonl", "--out", "x"], "cannot read trace"),
    (["simulate", "--hw", "nope", "--trace", EXAMPLE, "--out", "x"], "no such config"),
    (["simulate", "--trace", EXAMPLE, "--out", "x", "--set", "array.rows"], "expected KEY.PATH=VALUE"),
    (["simulate", "--trace", EXAMPLE, "--out", "x", "--set", "array.rows=-3"], "array.rows: -3"),
    (["validate"], "the following arguments are required: CONFIG"),
])
def test_errors_are_one_line_exit_2(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("accelsim: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_failed_simulate_leaves_no_output(capsys, tmp_path):
    out_dir = tmp_path / "out"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "accelsim-trace", "version": 1}\n{"op": "gemm"}\n')
    code, _, _ = run(capsys, "simulate", "--trace", str(bad), "--out", str(out_dir))
    assert code == 2 and not out_dir.exists()


def test_console_script_runs(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "accelsim", "validate", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1


def test_closed_pipe_is_not_a_traceback(tmp_path, monkeypatch):
    """`accelsim ... | head` closes stdout early: exit quietly instead of a traceback."""
    import contextlib
    import os
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE
    closed = os.fdopen(write_end, "w", buffering=1)  # line-buffered: each print hits the pipe
    monkeypatch.setattr(sys, "stdout", closed)
    saved = os.dup(1)
    try:
        code = main(["simulate", "--trace", EXAMPLE, "--out", str(tmp_path)])
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        with contextlib.suppress(OSError):
            closed.close()
    assert code == 141


def test_cli_pins_blas_before_numpy_loads():
    import subprocess
    import sys

    code = ("import sys, os; from accelsim import cli; assert 'numpy' not in sys.modules; "
            "cli.main(['validate', 'edge-16x16']); print(os.environ['OPENBLAS_NUM_THREADS'])")
    env = {k: v for k, v in __import__("os").environ.items() if not k.endswith("NUM_THREADS")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("1")


def test_empty_trace_and_unwritable_outputs(capsys, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"format": "accelsim-trace", "version": 1}\n')
    assert main(["simulate", "--trace", str(empty), "--out", str(tmp_path / "o")]) == 0
    assert "0 ops" in capsys.readouterr().out
    afile = tmp_path / "afile"
    afile.write_text("x")
    for argv in (["simulate", "--trace", EXAMPLE, "--out", str(afile)],
                 ["train", "--workload", "mlp-digits", "--method", "fp32", "--out", str(afile),
                  "--epochs", "1", "--set", "dataset.params.synthetic=true"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("accelsim: error: --out ") and err.count("\n") == 1
        assert "is a file, expected a directory" in err
