"""Reading a run's recorded widths (``--widths-from``): every malformed file, missing folder
or unreadable file is one clean ``UsageError`` naming it, of bounded length."""

from __future__ import annotations

import json

import pytest

import accelsim.train.recorded_widths as recorded_widths_module
from accelsim.errors import UsageError
from accelsim.train.recorded_widths import WidthPlan, read_widths


def test_a_good_history_reads_as_entries(tmp_path):
    history = [{"iteration": 0, "bits": {"fc1": 8, "fc2": 8}},
               {"iteration": 40, "bits": {"fc1": 7, "fc2": 9}}]
    (tmp_path / "metrics.json").write_text(json.dumps({"bitwidth_history": history,
                                                       "method": "rct"}))
    widths = read_widths(tmp_path)
    assert widths.entries == ((0, {"fc1": 8, "fc2": 8}), (40, {"fc1": 7, "fc2": 9}))
    assert widths.source == str(tmp_path / "metrics.json")


def test_a_plan_finds_the_widths_of_any_iteration_and_each_narrowing():
    plan = WidthPlan({"a": 8, "b": 8})
    for at in range(10, 10_000, 10):
        plan.decide(at, {"a": 8 - at // 10 % 2, "b": 8})
    assert plan.at(0) == plan.at(9) == {"a": 8, "b": 8}
    assert plan.at(10) == plan.at(19) == {"a": 7, "b": 8}
    assert plan.at(9_999) == {"a": 7, "b": 8}
    assert plan.narrowed_after(9) == (("a", 8, 7),) and plan.narrowed_after(19) == ()
    with pytest.raises(ValueError, match="in order"):
        plan.decide(5, {"a": 8, "b": 8})


BAD_HISTORIES = {
    "not-json": ("{", "not valid JSON"),
    "not-object": ("[1, 2]", "no bitwidth_history"),
    "no-history": ({"method": "rct"}, "no bitwidth_history"),
    "empty-history": ({"bitwidth_history": []}, "no bitwidth_history"),
    "entry-not-object": ({"bitwidth_history": [3]}, "bitwidth_history[0]"),
    "entry-extra-key": ({"bitwidth_history": [{"iteration": 0, "bits": {"fc1": 8},
                                               "gavg": 1}]}, "exactly iteration and bits"),
    "iteration-negative": ({"bitwidth_history": [{"iteration": -1, "bits": {"fc1": 8}}]},
                           "iteration must be an integer"),
    "iteration-bool": ({"bitwidth_history": [{"iteration": True, "bits": {"fc1": 8}}]},
                       "iteration must be an integer"),
    "iteration-400-digits": ('{"bitwidth_history": [{"iteration": 1' + "0" * 400
                             + ', "bits": {"fc1": 8}}]}', "iteration must be an integer"),
    "iterations-decrease": ({"bitwidth_history": [{"iteration": 4, "bits": {"fc1": 8}},
                                                  {"iteration": 4, "bits": {"fc1": 7}}]},
                            "iterations must increase"),
    "bits-not-object": ({"bitwidth_history": [{"iteration": 0, "bits": 8}]}, "bits must be"),
    "bits-too-wide": ({"bitwidth_history": [{"iteration": 0, "bits": {"fc1": 33}}]},
                      "from 2 to 32"),
    "bits-fraction": ({"bitwidth_history": [{"iteration": 0, "bits": {"fc1": 7.5}}]},
                      "from 2 to 32"),
    "bits-nan": ('{"bitwidth_history": [{"iteration": 0, "bits": {"fc1": NaN}}]}',
                 "from 2 to 32"),
    "deep": ('{"bitwidth_history": ' + "[" * 100_000 + "]" * 100_000 + "}", "not valid JSON"),
    "latin1": (b'{"bitwidth_history": "caf\xe9"}', "not UTF-8"),
}


@pytest.mark.parametrize("case", BAD_HISTORIES)
def test_a_bad_widths_file_is_one_clean_error(case, tmp_path):
    content, expect = BAD_HISTORIES[case]
    folder = tmp_path / "recorded"
    folder.mkdir()
    path = folder / "metrics.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(UsageError, match="--widths-from") as error:
        read_widths(folder)
    assert expect in str(error.value) and "\n" not in str(error.value)
    assert len(str(error.value)) < 400


def test_a_missing_or_unreadable_run_directory_is_one_clean_error(tmp_path, monkeypatch):
    with pytest.raises(UsageError, match="not a run directory"):
        read_widths(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a run directory"):
        read_widths(tmp_path / "file")
    with pytest.raises(UsageError, match=r"no metrics\.json"):
        read_widths(tmp_path)
    (tmp_path / "dir" / "metrics.json").mkdir(parents=True)
    with pytest.raises(UsageError, match=r"cannot read metrics\.json"):
        read_widths(tmp_path / "dir")
    monkeypatch.setattr(recorded_widths_module, "MAX_METRICS_BYTES", 10)
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "metrics.json").write_text(" " * 11)
    with pytest.raises(UsageError, match="larger than"):
        read_widths(tmp_path / "big")
