"""Sweep specs: a base machine, overrides on any key path, and the traces to replay.

```yaml
name: lenet5-arrays
base: edge-16x16                  # config file or preset
traces: [runs/latest/rct/trace.jsonl.gz]   # relative to the spec file
grid:                              # every combination (the cartesian product)
  array.rows: [8, 16, 32]
  buffers.ifmap.size_kib: [32, 64]
points:                            # and/or explicit points
  - {array.dataflow: os}
```

Each point is the base with its overrides, checked like any config (an impossible point is an
error naming the point), times each trace. Every trace is read and checked when the spec is
loaded, so a malformed trace is one error, not a sweep of failed points. A point's key is a hash
of its resolved machine and of the trace's content (and accelsim's version), so editing the spec
reruns exactly the points it changes. A point the simulator cannot run (an op that fits no
tiling) is recorded with its error and the sweep goes on.

Points are produced lazily (``iter_points``): a grid is never held in memory, and one larger
than ``MAX_POINTS`` is refused with its size before anything runs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from accelsim import __version__
from accelsim.errors import AccelsimError, clip, shown
from accelsim.hardware import load_hardware
from accelsim.spec.yamlio import read_yaml

SPEC_KEYS = ("name", "base", "traces", "grid", "points")
MAX_POINTS = 1_000_000  # machines x traces in one sweep


class SweepError(AccelsimError):
    """A sweep spec is malformed."""


@dataclass(frozen=True)
class Point:
    """One machine and one trace to replay it with."""

    key: str  # hash of the resolved machine and the trace's content
    overrides: dict[str, Any]
    trace: str
    hardware: Any  # the validated Hardware


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _override_text(key: str, value: Any) -> str:
    return f"{key}={json.dumps(value)}"


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read and check a spec's shape (the machines are checked when points are built)."""
    path = Path(path)
    data = read_yaml(path, SweepError)
    if not isinstance(data, dict):
        raise SweepError(f"{path}: expected a mapping with keys {', '.join(SPEC_KEYS)}")
    unknown = [str(k) for k in data if k not in SPEC_KEYS]
    if unknown:
        raise SweepError(f"{path}: unknown key(s) {clip(', '.join(unknown))}; valid: "
                         f"{', '.join(SPEC_KEYS)}")
    traces = data.get("traces")
    if not isinstance(traces, list) or not traces or not all(isinstance(t, str) for t in traces):
        raise SweepError(f"{path}: traces: expected a non-empty list of trace files")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise SweepError(f"{path}: grid: expected a mapping of key paths to lists of values")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{path}: grid.{key}: expected a non-empty list of values, got "
                             f"{shown(values)}")
    points = data.get("points") or []
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise SweepError(f"{path}: points: expected a list of mappings of key paths to values")
    if not grid and not points:
        raise SweepError(f"{path}: give a grid, points, or both")
    base = data.get("base", "edge-16x16")
    if not isinstance(base, str):
        raise SweepError(f"{path}: base: expected a config file or preset name, got {shown(base)}")
    size = math.prod(len(v) for v in grid.values()) if grid else 0
    size = (size + len(points)) * len(traces)
    if size > MAX_POINTS:
        raise SweepError(f"{path}: the sweep has {size:,} points (machines x traces), more than "
                         f"the limit of {MAX_POINTS:,}; sweep fewer values per key")
    resolved = []
    for t in traces:
        trace = Path(t) if Path(t).is_absolute() else path.parent / t
        if not trace.is_file():
            raise SweepError(f"{path}: traces: no such trace file {shown(t)}")
        _check_trace(trace, path)
        resolved.append(trace)
    return {"name": str(data.get("name", path.stem))[:200], "base": base, "traces": resolved,
            "grid": grid, "points": points, "source": path, "size": size}


def _check_trace(trace: Path, spec: Path) -> None:
    """Read the whole trace now: a malformed one is the spec's error, named with its line."""
    from accelsim.trace import read_trace

    try:
        read_trace(trace)
    except AccelsimError as exc:
        raise SweepError(f"{spec}: traces: {exc}") from None


def iter_points(spec: dict[str, Any]) -> Iterator[Point]:
    """Every (machine, trace) point of a spec, lazily, in a stable order, each checked and
    keyed (a point equal to an earlier one is produced once)."""
    grid = spec["grid"]
    keys = list(grid)
    combos = (dict(zip(keys, values, strict=True))
              for values in itertools.product(*(grid[k] for k in keys))) if keys else iter(())
    digests = {trace: _digest(trace) for trace in spec["traces"]}
    seen: set[str] = set()
    for overrides in itertools.chain(combos, (dict(p) for p in spec["points"])):
        texts = [_override_text(k, v) for k, v in overrides.items()]
        try:
            hw = load_hardware(spec["base"], texts)
        except AccelsimError as exc:
            raise SweepError(f"{spec['source']}: point {shown(overrides, 200)}: {exc}") from None
        # The simulator's version is part of the key: a newer accelsim recomputes old points.
        # The name is a label (it lists the overrides), not part of the machine.
        machine = {k: v for k, v in asdict(hw).items() if k != "name"}
        config = json.dumps({"accelsim": __version__, **machine}, sort_keys=True)
        for trace, digest in digests.items():
            key = hashlib.sha256(f"{config}|{digest}".encode()).hexdigest()[:20]
            if key not in seen:
                seen.add(key)
                yield Point(key, overrides, str(trace), hw)


def expand(spec: dict[str, Any]) -> list[Point]:
    """``iter_points`` as a list (for small sweeps and tests)."""
    return list(iter_points(spec))
