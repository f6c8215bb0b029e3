"""A replay as a Chrome trace (JSON), which Perfetto (ui.perfetto.dev) and chrome://tracing open.

Tracks: ``ops`` (one span per trace op, named layer/phase), ``array`` (one span per tile the
array computes), ``dma`` (one span per DRAM request: loads, write-backs, transfers); counters:
each SRAM's occupancy in bytes. Time is in microseconds of simulated time. Only the first
``max_ops`` op executions are exported, which keeps files small: a training trace repeats itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from accelsim.atomic import write_atomic
from accelsim.energy.model import time_energy
from accelsim.hardware.model import Hardware

TRACKS = {"ops": 1, "array": 2, "dma": 3}


def chrome_trace(hw: Hardware, placed: Iterable[Any], max_ops: int = 500) -> dict[str, Any]:
    """The first ``max_ops`` op executions of a replay (``accelsim.replay.Placed`` ops), at the
    times its schedule gave them."""
    us = hw.cycle_ns / 1000.0  # microseconds per cycle
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": f"accelsim: {hw.name}"}}]
    events += [{"ph": "M", "name": "thread_name", "pid": 1, "tid": tid, "args": {"name": name}}
               for name, tid in TRACKS.items()]
    done = 0
    for item in placed:
        op, cost = item.op, item.cost
        share = sum(time_energy(hw, item.held / op.count).values())  # per execution
        energy = item.energy.total + share
        for rep in range(op.count):
            if done >= max_ops:
                break
            now = item.start + rep * item.period
            name = f"{op.layer} {op.phase or 'transfer'}"
            args: dict[str, Any] = {"cycles": cost.cycles, "energy_pj": round(energy, 1),
                                    **op.summary()}
            events.append({"ph": "X", "name": name, "cat": op.op, "pid": 1,
                           "tid": TRACKS["ops"], "ts": now * us, "dur": cost.cycles * us,
                           "args": {**args, "iter": op.iter}})
            for unit, what, start, end in cost.spans:
                events.append({"ph": "X", "name": what, "cat": unit, "pid": 1,
                               "tid": TRACKS[unit], "ts": (now + start) * us,
                               "dur": (end - start) * us})
            for buffer, occ in cost.occupancy.items():
                for t, level in zip(occ.times, occ.levels, strict=True):
                    events.append({"ph": "C", "name": f"{buffer} bytes", "pid": 1,
                                   "ts": (now + t) * us, "args": {"bytes": level}})
            done += 1
        if done >= max_ops:
            break
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"hardware": hw.name, "clock_mhz": hw.clock_mhz, "ops": done}}


def write_timeline(path: str | Path, doc: dict[str, Any]) -> None:
    write_atomic(Path(path), json.dumps(doc, separators=(",", ":")))
