"""Installed, not just checked out: a wheel holds every package, the shipped machines and
workloads, and runs from an empty folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "accelsim").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject's packages: {sorted(found - listed)}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The project built as a wheel and installed (without dependencies: they are this
    environment's) into a folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(work / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((work / "dist").glob("accelsim-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(work / "site"), str(wheel)], check=True, capture_output=True)
    empty = work / "empty"
    empty.mkdir()
    return work / "site", empty


def accelsim(installed, *argv):
    site, empty = installed
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "accelsim", *argv], cwd=empty, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_wheel_is_the_one_that_runs(installed):
    site, _ = installed
    proc = accelsim(installed, "--version")
    assert proc.returncode == 0 and proc.stdout.startswith("accelsim ")
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import accelsim; print(accelsim.__file__)"],
                           cwd=installed[1], env=env, capture_output=True, text=True)
    assert where.stdout.startswith(str(site))


def test_presets_and_workloads_work_from_an_empty_folder(installed):
    proc = accelsim(installed, "validate", "edge-16x16", "scalesim-like")
    assert proc.returncode == 0, proc.stderr
    proc = accelsim(installed, "--help")
    assert "edge-16x16" in proc.stdout and "lenet5-digits" in proc.stdout
    proc = accelsim(installed, "train", "--workload", "mlp-digits", "--method", "rct",
                    "--epochs", "1", "--out", "r", "--set", "dataset.params.synthetic=true")
    assert proc.returncode == 0, proc.stderr
    proc = accelsim(installed, "simulate", "--trace", "r/trace.jsonl.gz", "--out", "s")
    assert proc.returncode == 0, proc.stderr
    assert (installed[1] / "s" / "report.json").exists()


@pytest.mark.slow
def test_a_fresh_venv_runs_the_default_study(tmp_path):
    """The README's first command, from a wheel in a fresh virtual environment."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = venv / "bin" / "pip"
    subprocess.run([str(pip), "install", "-q", f"{ROOT}[digits]"], check=True, timeout=900)
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([str(venv / "bin" / "accelsim"), "run"], cwd=empty,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (empty / "runs" / "latest" / "comparison.json").exists()
    assert "rct vs qat" in proc.stdout
