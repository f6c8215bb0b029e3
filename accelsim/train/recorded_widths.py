"""Widths for a shape-only trace: what a recorded run chose, and what an RCT method holds when.

What it owns: :func:`read_widths`, a run's ``bitwidth_history`` (``metrics.json`` of ``accelsim
train`` or ``accelsim trace``) read and checked for form, every problem one ``UsageError``
naming the file; :class:`WidthPlan`, the widths an RCT method holds at each iteration (its
configured ones, replaced by each recorded entry from that entry's iteration on) with the
narrowing each width decision makes; :func:`hold_widths`, which puts an RCT method in the width
state its training would be in; and :func:`bitwidth_history`, the widths used, as training
reports them. Methods other than RCT never change their widths: they have no plan.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from accelsim.errors import UsageError, clip, shown
from accelsim.trace.records import MAX_COUNT
from accelsim.train.methods import Method
from accelsim.train.methods.rct import Rct

METRICS_NAME = "metrics.json"
MAX_METRICS_BYTES = 64 << 20  # a --widths-from metrics.json read into memory
WIDTH_BOUNDS = (2, 32)  # an RCT width (methods.rct.min_bits .. max_bits bounds)


@dataclass(frozen=True)
class RecordedWidths:
    """Per-layer widths by iteration, from a run's ``bitwidth_history``: each entry's widths
    hold from its iteration on. ``source`` names the file, for messages and metrics."""

    source: str
    entries: tuple[tuple[int, dict[str, int]], ...]

    def check_layers(self, layers: Sequence[str]) -> None:
        """Every entry must give a width to exactly the model's layers with parameters."""
        wanted = set(layers)
        for iteration, bits in self.entries:
            where = (f"--widths-from {clip(self.source)}: bitwidth_history at iteration "
                     f"{iteration}")
            missing = [layer for layer in layers if layer not in bits]
            if missing:
                raise UsageError(f"{where} has no width for layer(s) {clip(', '.join(missing))} "
                                 f"of the model")
            extra = [layer for layer in bits if layer not in wanted]
            if extra:
                raise UsageError(f"{where} names layer(s) {clip(', '.join(extra))} the model "
                                 f"does not have (its layers: {clip(', '.join(layers))})")


def read_widths(run_dir: str | Path) -> RecordedWidths:
    """The ``bitwidth_history`` of ``run_dir/metrics.json`` (``accelsim train`` or ``accelsim
    trace`` wrote it), checked for form: a list of ``{"iteration": i, "bits": {layer: bits}}``
    with increasing iterations and whole widths in ``WIDTH_BOUNDS``. Every problem is one
    ``UsageError`` naming the file."""
    path = Path(run_dir) / METRICS_NAME
    flag = f"--widths-from {clip(str(run_dir))}"
    try:
        if not Path(run_dir).is_dir():
            raise UsageError(f"{flag}: not a run directory (expected a directory holding "
                             f"{METRICS_NAME} from accelsim train)")
        with open(path, "rb") as f:
            raw = f.read(MAX_METRICS_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{flag}: no {METRICS_NAME} there (run accelsim train first)") from None
    except OSError as exc:
        raise UsageError(f"{flag}: cannot read {METRICS_NAME}: {exc.strerror or exc}") from None
    if len(raw) > MAX_METRICS_BYTES:
        raise UsageError(f"{flag}: {METRICS_NAME} is larger than {MAX_METRICS_BYTES >> 20} MiB")
    where = f"--widths-from {clip(str(path))}"
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{where}: not valid JSON ({clip(str(exc), 100)})") from None
    history = doc.get("bitwidth_history") if isinstance(doc, dict) else None
    if not isinstance(history, list) or not history:
        raise UsageError(f"{where}: no bitwidth_history (a non-empty list of "
                         "{\"iteration\": i, \"bits\": {layer: bits}})")
    entries: list[tuple[int, dict[str, int]]] = []
    for n, entry in enumerate(history):
        at = f"{where}: bitwidth_history[{n}]"
        if not isinstance(entry, dict) or set(entry) != {"iteration", "bits"}:
            raise UsageError(f"{at} must be an object with exactly iteration and bits, got "
                             f"{shown(entry)}")
        iteration, bits = entry["iteration"], entry["bits"]
        if isinstance(iteration, bool) or not isinstance(iteration, int) \
                or not 0 <= iteration <= MAX_COUNT:
            raise UsageError(f"{at}.iteration must be an integer from 0 to {MAX_COUNT:,}, "
                             f"got {shown(iteration)}")
        if entries and iteration <= entries[-1][0]:
            raise UsageError(f"{at}.iteration {iteration} does not follow iteration "
                             f"{entries[-1][0]} (iterations must increase)")
        if not isinstance(bits, dict) or not bits:
            raise UsageError(f"{at}.bits must be a non-empty object of layer: bits, got "
                             f"{shown(bits)}")
        low, high = WIDTH_BOUNDS
        for layer, width in bits.items():
            if isinstance(width, bool) or not isinstance(width, int) or not low <= width <= high:
                raise UsageError(f"{at}.bits.{clip(layer)} must be a whole number of bits from "
                                 f"{low} to {high}, got {shown(width)}")
        entries.append((iteration, dict(bits)))
    return RecordedWidths(str(path), tuple(entries))


@dataclass
class WidthPlan:
    """The widths an RCT method holds at each iteration: its configured ones, replaced by each
    recorded entry from that entry's iteration on. An entry at iteration i is a decision the
    update of iteration i - 1 made, so its narrowing is that update's post-update work."""

    start: dict[str, int]
    changes: dict[int, dict[str, int]] = field(default_factory=dict)
    _decided: list[int] = field(default_factory=list, init=False, repr=False)

    def decide(self, iteration: int, bits: dict[str, int]) -> None:
        """The widths from ``iteration`` on (after every earlier decision)."""
        if self._decided and iteration <= self._decided[-1]:
            raise ValueError(f"width decisions must come in order, got {iteration} after "
                             f"{self._decided[-1]}")
        self.changes[iteration] = bits
        self._decided.append(iteration)

    def at(self, iteration: int) -> dict[str, int]:
        """The widths in force at ``iteration`` (a binary search: a long run may hold
        thousands of decisions)."""
        found = bisect.bisect_right(self._decided, iteration)
        return self.changes[self._decided[found - 1]] if found else self.start

    def narrowed_after(self, iteration: int) -> tuple[tuple[str, int, int], ...]:
        """(layer, old, new) for every layer the decision after ``iteration`` narrows, in the
        model's layer order (as ``Rct._adapt`` lists them)."""
        after = self.changes.get(iteration + 1)
        if after is None:
            return ()
        before = self.at(iteration)
        return tuple((layer, old, after[layer]) for layer, old in before.items()
                     if after[layer] < old)


def width_plan(method: Method | None, recorded: RecordedWidths | None, iterations: int
                ) -> WidthPlan | None:
    """The width plan of an RCT method (None for a method whose widths never change)."""
    if not isinstance(method, Rct):
        if recorded is not None:
            raise UsageError("--widths-from applies to rct (the method whose widths change "
                             "while it trains); other methods take their widths from the "
                             "workload's methods section")
        return None
    layers = list(method.layers)
    plan = WidthPlan(dict(method.layer_bits))
    if recorded is not None:
        recorded.check_layers(layers)
        for iteration, bits in recorded.entries:
            ordered = {layer: bits[layer] for layer in layers}
            if iteration == 0:
                plan.start = ordered
            elif iteration <= iterations:  # one at the end narrows in the last update
                plan.decide(iteration, ordered)
    return plan


def hold_widths(method: Method, bits: Mapping[str, int],
                 narrowed: tuple[tuple[str, int, int], ...] = ()) -> None:
    """Put an RCT method in the width state its training would be in: ``layer_bits`` as the
    update found them, and the narrowing its width decision made (what ``post_update_work``
    reports). Needs RCT's own attributes: the method has no public setter for them."""
    rct = cast(Rct, method)
    rct.layer_bits = dict(bits)
    rct._narrowed = list(narrowed)


def bitwidth_history(method: Method, plan: WidthPlan | None) -> list[dict[str, Any]]:
    """The widths used, as ``metrics.json``'s ``bitwidth_history`` (the trainer's form)."""
    if plan is None:
        return [{"iteration": 0, "bits": {layer: method.bits(layer, "weights")
                                          for layer in method.layers}}]
    return [{"iteration": 0, "bits": dict(plan.start)},
            *({"iteration": at, "bits": dict(bits)} for at, bits in plan.changes.items())]
