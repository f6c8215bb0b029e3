"""The vector unit running one ``vector`` record: stream the inputs in, compute, stream out.

The work is cut into chunks that fill a slot of the unit's SRAM (half of it when double
buffered, inputs and outputs of a chunk together). Each chunk is loaded from DRAM, computed
(``elements x ops`` operations on ``lanes x ops_per_lane_per_cycle`` per cycle, or longer if
the SRAM's ports cannot feed it) and written back; with two slots the next chunk loads while
one computes. Events are per chunk, in closed form, no SimPy: a vector record has no reuse to
plan, only a stream.
"""

from __future__ import annotations

from math import ceil

from accelsim.errors import SimulationError
from accelsim.hardware.model import BUFFERS, Hardware
from accelsim.sim.channel import Channel
from accelsim.sim.costs import Occupancy, OpCost
from accelsim.trace.records import Vector

MAX_CHUNKS = 1 << 20  # chunks one record may take (each is a few steps of arithmetic)


def simulate_vector(hw: Hardware, op: Vector) -> OpCost:
    """The cost of one execution of a vector record (its ``count`` is not applied)."""
    unit = hw.vector
    buf = hw.buffer(unit.sram)
    slots = 2 if buf.double_buffered else 1
    slot = buf.size_bytes // slots
    bits_per_element = op.inputs * op.in_bits + op.out_bits
    per_chunk = max(1, slot * 8 // bits_per_element)
    chunks = -(-op.elements // per_chunk)
    if chunks > MAX_CHUNKS:
        raise SimulationError(f"vector {op.kind} of {op.elements:,} elements needs {chunks:,} "
                              f"chunks of buffers.{unit.sram}, more than the simulator's limit "
                              f"of {MAX_CHUNKS:,}")
    channel = Channel(hw)
    rate = unit.lanes * unit.ops_per_lane_per_cycle
    occupancy = {name: Occupancy(hw.buffer(name).size_bytes) for name in BUFFERS}
    cost = OpCost(occupancy=occupancy)
    held: list[tuple[float, int]] = []  # (time, bytes) of each slot's fill and release
    freed = [0.0] * slots  # when each slot is next free
    unit_free = 0.0
    busy: list[tuple[float, float]] = []
    compute_total = port_total = 0
    in_offset = out_offset = 0
    for n in range(chunks):
        elements = min(per_chunk, op.elements - n * per_chunk)
        in_bytes = (elements * op.inputs * op.in_bits + 7) // 8
        out_bytes = (elements * op.out_bits + 7) // 8
        s = n % slots
        start = freed[s]
        loaded = channel.read(start, "vector", in_offset, 1, in_bytes, in_bytes)
        compute = ceil(elements * op.ops / rate)
        port = ceil(elements * bits_per_element / buf.bits_per_cycle)
        duration = max(compute, port)
        begin = max(loaded, unit_free)
        unit_free = begin + duration
        busy.append((begin, unit_free))
        compute_total += compute
        port_total += duration - compute
        stored = channel.write(unit_free, "vector", (1 << 29) + out_offset, 1, out_bytes,
                               out_bytes)
        freed[s] = max(stored, unit_free)
        held += [(start, in_bytes + out_bytes), (freed[s], -(in_bytes + out_bytes))]
        cost.spans += [("dma", f"load {op.kind}", start, loaded),
                       ("array", f"{op.kind} chunk {n}", begin, unit_free)]
        in_offset += in_bytes
        out_offset += out_bytes
    end = channel.flush(max(unit_free, max(freed)))
    for time, delta in sorted(held, key=lambda event: (event[0], event[1])):
        occupancy[unit.sram].change(time, delta)
    cost.compute_cycles = compute_total
    bits_in = op.elements * op.inputs * op.in_bits
    bits_out = op.elements * op.out_bits
    sram = {("vector", "write"): bits_in + bits_out, ("vector", "read"): bits_in + bits_out}
    stalls = {"sram_port": port_total}
    cost = channel.close(cost, end, stalls, busy, sram)
    return cost
