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
from accelsim.sim.mapping import beat_for
from accelsim.sim.tiling import planner_rates
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


def machine_key(hw: Hardware, op: Any) -> tuple:
    """What of ``hw`` the cost of ``op`` depends on: machines that agree on it give the op
    the same cost, so a sweep prices it once for all of them. Every op reads the buffers, the
    DRAM and the clock; a vector op also the vector unit; a GEMM also the array's shape,
    dataflow and timing, its beat for the op's widths (not the precision mode as such), and
    what the tiler ranks plans by (``tiling.planner_rates``: the DRAM's energy per byte and
    the power burnt meanwhile, so a GEMM's plan, and its cost, follow the energy table too).
    None reads the schedule or the energy of actions."""
    shared = (hw.buffers, hw.dram, hw.cycle_ns)
    if op.op == "gemm":
        a = hw.array
        return (a.rows, a.cols, a.dataflow, a.timing, beat_for(a, op.a_bits, op.b_bits),
                planner_rates(hw), *shared)
    if op.op == "vector":
        return (hw.vector, *shared)
    return shared


_SHARED: dict[tuple, OpCost] = {}  # (op signature, machine key) -> cost, across machines
SHARED_COSTS = 4096  # costs kept (the oldest go first)


def simulate(hw: Hardware, op: Any) -> OpCost:
    """The cost of one execution of ``op`` on ``hw`` (its ``count`` is not applied),
    remembered for the machines that give it the same cost (``machine_key``). Costs are
    never changed once made, so sharing one is safe."""
    run = SIMULATORS.get(op.op)
    if run is None:
        raise SimulationError(f"no simulation for op kind {op.op!r}; the simulator knows "
                              f"{', '.join(SIMULATORS)}")
    key = (op.signature(), machine_key(hw, op))
    cost = _SHARED.get(key)
    if cost is None:
        cost = run(hw, op)
        if len(_SHARED) >= SHARED_COSTS:
            del _SHARED[next(iter(_SHARED))]
        _SHARED[key] = cost
    return cost
