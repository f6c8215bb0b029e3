"""Stopping `accelsim run` and `accelsim train`: quickly, keeping every finished run, leaving
no half-written file."""

import os
import signal
import subprocess
import sys
import time

import pytest


def ctrl_c_default() -> None:
    """In the child: Ctrl-C as a terminal delivers it, even where the test run itself was
    started with SIGINT ignored (a background job of a non-interactive shell)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(path, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def leftovers(folder):
    return [p for p in folder.rglob(".*") if p.is_file()]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stopping_run_keeps_finished_methods(tmp_path, sig, code):
    out = tmp_path / "study"
    argv = [sys.executable, "-m", "accelsim", "run", "--workload", "mlp-digits", "--methods",
            "fp32,qat", "--epochs", "40", "--out", str(out), "--no-figures"]
    proc = subprocess.Popen(argv, preexec_fn=ctrl_c_default, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    wait_for(out / "fp32" / "report.json", proc)
    time.sleep(0.5)  # into qat's training
    began = time.monotonic()
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - began < 3.0
    assert proc.returncode == code and "Traceback" not in err and err.count("\n") == 1
    assert {p.name for p in (out / "fp32").iterdir()} >= {"trace.jsonl.gz", "metrics.json",
                                                          "report.json"}
    assert not (out / "qat" / "trace.jsonl.gz").exists()
    assert not (out / "comparison.json").exists()
    assert leftovers(out) == []


def test_stopping_train_leaves_no_partial_trace(tmp_path):
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "accelsim", "train", "--workload", "mlp-digits", "--method",
            "rct", "--epochs", "40", "--out", str(out)]
    proc = subprocess.Popen(argv, preexec_fn=ctrl_c_default, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for(out, proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err and err.count("\n") == 1
    assert list(out.iterdir()) == []
