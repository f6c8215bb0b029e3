"""The simulator's entry point: one op in, the cost of one execution out, looked up by the op's
kind. Every kind the trace contract defines (``accelsim.trace.records.KINDS``) has its
simulation here; a test keeps the two tables in step.
"""

from __future__ import annotations

from collections.abc import Callable
from math import ceil
from typing import Any

from accelsim.errors import SimulationError
from accelsim.hardware.model import BUFFERS, Hardware
from accelsim.sim.channel import Channel
from accelsim.sim.costs import Occupancy, OpCost
from accelsim.sim.fast import simulate_gemm
from accelsim.sim.vector import simulate_vector
from accelsim.trace.records import Transfer


def simulate_transfer(hw: Hardware, op: Transfer) -> OpCost:
    """A tensor moved between DRAM and the chip as one sequential stream; the array idles."""
    channel = Channel(hw)
    go = channel.write if op.dir == "write" else channel.read
    done = go(0.0, "transfer", 0, 1, op.bytes, op.bytes)
    end = channel.flush(done)
    cost = OpCost(compute_cycles=0, spans=[("dma", f"{op.dir} {op.tensor}", 0.0, end)],
                  occupancy={name: Occupancy(hw.buffer(name).size_bytes) for name in BUFFERS})
    cost = channel.close(cost, end, {"transfer": ceil(end)}, [], {})
    cost.stall_cycles["transfer"] += cost.stall_cycles.pop("memory", 0)
    return cost


def _simulate_gemm(hw: Hardware, op: Any) -> OpCost:
    return simulate_gemm(hw, op)  # the event model without SimPy (``fast.py``), exactly


SIMULATORS: dict[str, Callable[[Hardware, Any], OpCost]] = {
    "gemm": _simulate_gemm,
    "transfer": simulate_transfer,
    "vector": simulate_vector,
}


def simulate(hw: Hardware, op: Any) -> OpCost:
    """The cost of one execution of ``op`` on ``hw`` (its ``count`` is not applied)."""
    run = SIMULATORS.get(op.op)
    if run is None:
        raise SimulationError(f"no simulation for op kind {op.op!r}; the simulator knows "
                              f"{', '.join(SIMULATORS)}")
    return run(hw, op)
