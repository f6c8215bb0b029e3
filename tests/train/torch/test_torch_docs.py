"""docs/models.md's example runs as written: its workload and models.py, trained through the
CLI (on fewer synthetic samples), then simulated."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

from helpers_torch import one_thread  # noqa: F401

from accelsim.cli import main

DOC = Path(__file__).resolve().parents[3] / "docs" / "models.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_example_trains_and_simulates(tmp_path, monkeypatch):
    (tmp_path / "my-cnn.yaml").write_text(blocks("yaml")[0])
    (tmp_path / "models.py").write_text(blocks("python")[0])
    monkeypatch.chdir(tmp_path)
    commands = [line.split() for line in blocks("sh")[0].splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["accelsim", "train"], ["accelsim", "simulate"]]
    small = ["--set", "dataset.params.train_samples=64", "--set",
             "dataset.params.test_samples=16", "--set", "epochs=1"]
    assert main(commands[0][1:] + small) == 0
    assert main(commands[1][1:]) == 0
    report = json.loads((tmp_path / "runs" / "my-cnn-qat" / "report.json").read_text())
    assert report["trace"]["method"] == "qat" and report["macs"] > 0
