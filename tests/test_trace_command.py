"""``accelsim trace`` and ``accelsim run --shape-only``: traces from shapes alone, on the command
line.

What a user sees: the trace command writes the trace training would write and a metrics file
that says nothing was measured; a shape-only study says so in its output, its comparison files
and its figures; and every bad input (iterations, a recorded run to take widths from, a method
that takes none, an output that cannot be written, ...) ends in one line on standard error and
exit status 2, with nothing left behind. The bad inputs are a corpus in the style of
``test_bad_inputs.py``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from one_clean_line import assert_one_clean_line

from accelsim.cli import build_parser, main

MLP = ["--set", "dataset.params.synthetic=true", "--set", "model.params.hidden=8"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """A real RCT run of the small MLP whose widths change (decisions every 5 iterations)."""
    out = tmp_path_factory.mktemp("recorded") / "rct"
    code = main(["train", "--workload", "mlp-digits", "--method", "rct", "--epochs", "1",
                 "--out", str(out), *MLP, "--set", "methods.rct.interval=5"])
    assert code == 0
    return out


# ---- what the commands do ------------------------------------------------------------------

def test_trace_writes_the_trace_training_writes(capsys, tmp_path):
    code, _, _ = run(capsys, "train", "--workload", "mlp-digits", "--method", "qat",
                     "--epochs", "1", "--out", str(tmp_path / "real"), *MLP)
    assert code == 0
    real = json.loads((tmp_path / "real" / "metrics.json").read_text())
    code, out, err = run(capsys, "trace", "--workload", "mlp-digits", "--method", "qat",
                         "--iterations", str(real["iterations"]), "--out",
                         str(tmp_path / "shape"), *MLP)
    assert code == 0 and err == ""
    assert "shape-only trace (no data, nothing trained, no accuracy)" in out
    assert f"{real['trace']['records']:,} records" in out and "training memory" in out
    assert gzip.decompress((tmp_path / "shape" / "trace.jsonl.gz").read_bytes()) == \
        gzip.decompress((tmp_path / "real" / "trace.jsonl.gz").read_bytes())
    metrics = json.loads((tmp_path / "shape" / "metrics.json").read_text())
    assert metrics["shape_only"] is True and "test_accuracy" not in metrics
    assert metrics["training_memory"] == real["training_memory"]
    assert sorted(p.name for p in (tmp_path / "shape").iterdir()) == ["metrics.json",
                                                                      "trace.jsonl.gz"]


def test_trace_takes_rcts_widths_from_a_recorded_run(capsys, tmp_path, recorded):
    real = json.loads((recorded / "metrics.json").read_text())
    assert len(real["bitwidth_history"]) > 1, "the recorded run changed no width"
    code, _, _ = run(capsys, "trace", "--workload", "mlp-digits", "--method", "rct",
                     "--iterations", str(real["iterations"]), "--out", str(tmp_path),
                     "--widths-from", str(recorded), *MLP, "--set", "methods.rct.interval=5")
    assert code == 0
    assert gzip.decompress((tmp_path / "trace.jsonl.gz").read_bytes()) == \
        gzip.decompress((recorded / "trace.jsonl.gz").read_bytes())
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["bitwidth_history"] == real["bitwidth_history"]
    assert metrics["widths_from"] == str(recorded / "metrics.json")


def test_a_shape_only_study_says_no_accuracy_was_measured(capsys, tmp_path, recorded):
    out_dir = tmp_path / "study"
    code, out, err = run(capsys, "run", "--workload", "mlp-digits", "--shape-only",
                         "--iterations", "12", "--widths-from", str(recorded), "--out",
                         str(out_dir), *MLP)
    assert code == 0, err
    assert out.count("(shape-only: nothing trained, no accuracy)") == 3
    assert "no accuracy was measured for fp32, qat, rct: shape-only traces" in out
    assert "n/a (shape-only)" in out
    doc = json.loads((out_dir / "comparison.json").read_text())
    assert doc["shape_only"] is True and "no accuracy was measured" in doc["note"]
    for name, row in doc["methods"].items():
        assert row["accuracy"] is None and row["shape_only"] is True, name
        assert row["energy_total_pj"] > 0 and row["iterations"] == 12
        for saving in row.get("savings", {}).values():
            assert saving["accuracy_points"] is None
    rows = list(csv.DictReader(io.StringIO((out_dir / "comparison.csv").read_text())))
    assert {r["accuracy"] for r in rows} == {"n/a (shape-only)"}
    assert {r["shape_only"] for r in rows} == {"true"}
    assert json.loads((out_dir / "rct" / "metrics.json").read_text())["widths_from"] == \
        str(recorded / "metrics.json")
    figures = out_dir / "figures"
    for name in ("energy_breakdown", "energy_by_layer_phase"):
        assert "shape-only traces: nothing trained, no accuracy measured" in \
            svg_text(figures / f"{name}.svg"), name
    assert "shape-only: widths from a recorded run" in svg_text(figures / "rct_bitwidths.svg")


def svg_text(path: Path) -> str:
    """The labels of a figure (matplotlib writes each one as a comment too)."""
    return " ".join(re.findall(r"<!-- (.*?) -->", path.read_text()))


def test_a_shape_only_study_runs_the_epochs_training_would(capsys, tmp_path):
    code, out, _ = run(capsys, "run", "--workload", "mlp-digits", "--methods", "fp32",
                       "--shape-only", "--epochs", "1", "--no-figures", "--out",
                       str(tmp_path), *MLP)
    assert code == 0 and "traced 45 iterations from shapes" in out


def test_trace_is_in_the_help(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "trace" in out and "shapes alone" in out
    code, out, _ = run(capsys, "trace", "--help")
    assert code == 0
    for flag in ("--workload", "--method", "--iterations", "--out", "--widths-from", "--set"):
        assert flag in out
    code, out, _ = run(capsys, "run", "--help")
    assert code == 0 and "--shape-only" in out and "--widths-from" in out


def test_every_command_has_help(capsys):
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert "trace" in commands
    for name in commands:
        code, out, _ = run(capsys, name, "--help")
        assert code == 0 and out.startswith("usage: "), name


# ---- bad inputs: one line, exit 2, nothing left behind ---------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path, Path], list[str]]  # (scratch folder, a recorded run) -> argv
    expect: str

    def __repr__(self) -> str:
        return self.name


def _trace(*extra: str, method: str = "rct", iterations: str | None = "5") -> Callable:
    def build(tmp: Path, recorded: Path) -> list[str]:
        argv = ["trace", "--workload", "mlp-digits", "--method", method, "--out",
                str(tmp / "out"), *MLP]
        if iterations is not None:
            argv += ["--iterations", iterations]
        return argv + [a.replace("{tmp}", str(tmp)).replace("{run}", str(recorded))
                       for a in extra]
    return build


def _history(content: str | bytes | dict | list) -> Callable:
    """``--widths-from`` a folder whose metrics.json holds ``content``."""
    def build(tmp: Path, recorded: Path) -> list[str]:
        folder = tmp / "given"
        folder.mkdir()
        path = folder / "metrics.json"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content))
        return _trace("--widths-from", str(folder))(tmp, recorded)
    return build


def _entry(**bits) -> dict:
    return {"bitwidth_history": [{"iteration": 0, "bits": bits}]}


CASES = [
    Case("iterations-0", _trace(iterations="0"), "--iterations must be from 1 to 100,000, got 0"),
    Case("iterations-negative", _trace(iterations="-3"), "--iterations must be from 1"),
    Case("iterations-over-the-bound", _trace(iterations="100001"), "got 100001"),
    Case("iterations-400-digits", _trace(iterations="9" * 400), "--iterations must be"),
    Case("iterations-word", _trace(iterations="many"), "invalid int value: 'many'"),
    Case("iterations-fraction", _trace(iterations="2.5"), "invalid int value: '2.5'"),
    Case("iterations-empty", _trace(iterations=""), "invalid int value: ''"),
    Case("iterations-missing", _trace(iterations=None),
         "the following arguments are required: --iterations"),
    Case("out-missing", lambda tmp, run: ["trace", "--workload", "mlp-digits", "--method",
                                          "fp32", "--iterations", "3"],
         "the following arguments are required: --out"),
    Case("method-unknown", _trace(method="adamw"), "unknown method 'adamw'"),
    Case("workload-unknown", lambda tmp, run: ["trace", "--workload", "nope", "--method",
                                               "fp32", "--iterations", "3", "--out",
                                               str(tmp / "out")], "no such workload"),
    Case("set-bad", _trace("--set", "batch_size=0"), "batch_size"),
    Case("batch-larger-than-the-data", _trace("--set", "batch_size=100000"),
         "larger than the training set"),
    Case("widths-from-missing-dir", _trace("--widths-from", "{tmp}/nope"),
         "not a run directory"),
    Case("widths-from-a-file", _trace("--widths-from", "{tmp}/file.txt"),
         "not a run directory"),
    Case("widths-from-empty-dir", _trace("--widths-from", "{tmp}"), "no metrics.json there"),
    Case("widths-from-not-json", _history("{oops"), "not valid JSON"),
    Case("widths-from-empty-file", _history(""), "not valid JSON"),
    Case("widths-from-latin1", _history(b'{"bitwidth_history": "caf\xe9"}'), "not UTF-8"),
    Case("widths-from-deep", _history("[" * 100_000 + "]" * 100_000), "not valid JSON"),
    Case("widths-from-a-list", _history([1, 2]), "no bitwidth_history"),
    Case("widths-from-no-history", _history({"method": "rct"}), "no bitwidth_history"),
    Case("widths-from-empty-history", _history({"bitwidth_history": []}),
         "no bitwidth_history"),
    Case("widths-from-entry-string", _history({"bitwidth_history": ["8 bits"]}),
         "bitwidth_history[0] must be an object"),
    Case("widths-from-iteration-string",
         _history({"bitwidth_history": [{"iteration": "0", "bits": {"fc1": 8, "fc2": 8}}]}),
         "iteration must be an integer"),
    Case("widths-from-iterations-decrease",
         _history({"bitwidth_history": [{"iteration": 5, "bits": {"fc1": 8, "fc2": 8}},
                                         {"iteration": 2, "bits": {"fc1": 7, "fc2": 8}}]}),
         "iterations must increase"),
    Case("widths-from-bits-zero", _history(_entry(fc1=0, fc2=8)), "from 2 to 32, got 0"),
    Case("widths-from-bits-64", _history(_entry(fc1=8, fc2=64)), "from 2 to 32, got 64"),
    Case("widths-from-bits-string", _history(_entry(fc1="8", fc2=8)), "from 2 to 32"),
    Case("widths-from-bits-null", _history(_entry(fc1=None, fc2=8)), "from 2 to 32"),
    Case("widths-from-layer-missing", _history(_entry(fc1=8)),
         "no width for layer(s) fc2 of the model"),
    Case("widths-from-layer-unknown", _history(_entry(fc1=8, fc2=8, conv9=8)),
         "names layer(s) conv9 the model does not have"),
    Case("widths-from-another-network",
         _history(_entry(conv1=8, conv2=8, fc1=8, fc2=8, fc3=8)),
         "names layer(s) conv1, conv2, fc3 the model does not have"),
    Case("widths-from-a-real-run-of-another-network",
         lambda tmp, run: ["trace", "--workload", "lenet5-digits", "--method", "rct",
                           "--iterations", "3", "--out", str(tmp / "out"),
                           "--widths-from", str(run)],
         "has no width for layer(s) conv1, conv2, fc3"),
    Case("widths-from-for-qat", _trace("--widths-from", "{run}", method="qat"),
         "--widths-from sets rct's widths; qat takes its widths from the workload"),
    Case("widths-from-for-fp32", _trace("--widths-from", "{run}", method="fp32"),
         "--widths-from sets rct's widths"),
    Case("widths-from-for-bnn", _trace("--widths-from", "{run}", method="bnn"),
         "--widths-from sets rct's widths"),
    Case("out-proc", _trace("--out", "/proc/accelsim-test"), "--out /proc/accelsim-test"),
    Case("out-is-a-file", _trace("--out", "{tmp}/file.txt"), "is a file, expected a directory"),
    Case("out-under-a-file", _trace("--out", "{tmp}/file.txt/sub"), "is a file, not a directory"),
    # accelsim run --shape-only
    Case("run-iterations-without-shape-only",
         lambda tmp, run: ["run", "--iterations", "5", "--out", str(tmp / "out")],
         "--iterations needs --shape-only"),
    Case("run-widths-from-without-shape-only",
         lambda tmp, run: ["run", "--widths-from", str(run), "--out", str(tmp / "out")],
         "--widths-from needs --shape-only"),
    Case("run-shape-only-iterations-0",
         lambda tmp, run: ["run", "--shape-only", "--iterations", "0", "--out",
                           str(tmp / "out")], "--iterations must be from 1"),
    Case("run-shape-only-epochs-and-iterations",
         lambda tmp, run: ["run", "--shape-only", "--iterations", "5", "--epochs", "1",
                           "--out", str(tmp / "out")], "give --epochs or --iterations"),
    Case("run-shape-only-widths-without-rct",
         lambda tmp, run: ["run", "--shape-only", "--methods", "fp32,qat", "--widths-from",
                           str(run), "--out", str(tmp / "out")],
         "rct is not in --methods"),
    Case("run-shape-only-widths-from-missing",
         lambda tmp, run: ["run", "--shape-only", "--widths-from", str(tmp / "nope"),
                           "--out", str(tmp / "out")], "not a run directory"),
    # the mismatch is found before fp32 and qat are traced, so nothing is written
    Case("run-shape-only-widths-of-another-network",
         lambda tmp, run: ["run", "--shape-only", "--iterations", "3", "--widths-from",
                           str(run), "--out", str(tmp / "out")],
         "no width for layer(s) conv1, conv2, fc3"),
    Case("run-shape-only-out-proc",
         lambda tmp, run: ["run", "--shape-only", "--iterations", "3", "--out",
                           "/proc/accelsim-test"], "--out /proc/accelsim-test"),
]


def test_the_corpus_covers_every_kind_of_bad_input():
    assert len(CASES) >= 45 and len({c.name for c in CASES}) == len(CASES)
    names = " ".join(c.name for c in CASES)
    for kind in ("iterations-", "widths-from-missing", "widths-from-not-json", "layer-missing",
                 "for-qat", "out-proc", "run-shape-only"):
        assert kind in names, kind


@pytest.mark.parametrize("bad", CASES, ids=[c.name for c in CASES])
def test_a_bad_input_is_one_clean_line(bad, tmp_path, capsys, monkeypatch, recorded):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("not a folder\n")
    argv = bad.build(tmp_path, recorded)
    before = set(tmp_path.rglob("*"))
    recorded_before = {p: p.stat().st_mtime_ns for p in recorded.iterdir()}
    assert_one_clean_line(bad.name, argv, bad.expect, capsys)
    assert set(tmp_path.rglob("*")) == before, "left something behind"
    assert {p: p.stat().st_mtime_ns for p in recorded.iterdir()} == recorded_before


# The inputs that could hang or eat memory, as real processes under a memory ceiling.
BOMBS = {
    "deep": "[" * 1_000_000 + "]" * 1_000_000,
    "huge": '{"bitwidth_history": [], "pad": "' + "x" * (65 << 20) + '"}',
    "long-history": json.dumps({"bitwidth_history": [
        {"iteration": i, "bits": {"fc1": 8, "fc2": 8}} for i in range(200_000)]}),
}


def _limit_memory() -> None:
    ceiling = 3 << 30
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))


@pytest.mark.parametrize("name", BOMBS)
def test_widths_file_bombs_stay_bounded_as_processes(name, tmp_path):
    folder = tmp_path / "given"
    folder.mkdir()
    (folder / "metrics.json").write_text(BOMBS[name])
    argv = ["trace", "--workload", "mlp-digits", "--method", "rct", "--iterations", "3",
            "--out", str(tmp_path / "out"), "--widths-from", str(folder), *MLP]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "accelsim", *argv], capture_output=True,
                          text=True, timeout=120, preexec_fn=_limit_memory, cwd=tmp_path,
                          env=env)
    if name == "long-history":  # well-formed: 200,000 decisions, 3 iterations use the first
        assert proc.returncode == 0, proc.stderr[-1000:]
        metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
        assert [e["iteration"] for e in metrics["bitwidth_history"]] == [0, 1, 2, 3]
        return
    assert proc.returncode == 2, proc.stderr[-1000:]
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
