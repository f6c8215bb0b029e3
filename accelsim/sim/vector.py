"""The vector unit running one ``vector`` record: stream the inputs in, compute, stream out.

The work is cut into chunks that fill a slot of the unit's SRAM (half of it when double
buffered, inputs and outputs of a chunk together). Each chunk is loaded from DRAM, computed
(``elements x ops`` operations on ``lanes x ops_per_lane_per_cycle`` per cycle, or longer if
the SRAM's ports cannot feed it) and written back; with two slots the next chunk loads while
one computes. Events are per chunk, in closed form, no SimPy: a vector record has no reuse to
plan, only a stream.

A ``fused`` record works on values already on chip (a GEMM's output tiles on their way out,
what a transfer brings in): its chunks compute back to back and it moves no DRAM bytes; the
SRAM it works in holds the producer's values (counted with the producer).
"""

from __future__ import annotations

from dataclasses import replace
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
    # inputs and outputs are each rounded up to whole bytes: leave a byte for each
    per_chunk = (slot - 2) * 8 // bits_per_element
    if per_chunk < 1:
        raise SimulationError(f"vector {op.kind}: one element ({op.inputs} x {op.in_bits} bits "
                              f"in, {op.out_bits} out) does not fit a slot of "
                              f"buffers.{unit.sram} ({slot} bytes)")
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
    loaded: list[float] = []  # when each chunk's inputs are in
    sizes = [min(per_chunk, op.elements - n * per_chunk) for n in range(chunks)]
    in_offset = out_offset = 0

    def chunk_bytes(n: int) -> tuple[int, int]:
        return ((sizes[n] * op.inputs * op.in_bits + 7) // 8,
                (sizes[n] * op.out_bits + 7) // 8)

    if op.fused:
        return _fused(op, sizes, rate, buf.bits_per_cycle, bits_per_element, channel, cost)
    # The channel takes requests in the order they are issued, so issue them in time order:
    # a chunk's load (when its slot frees) and a finished chunk's write-back, the earlier first.
    written = 0
    while written < chunks:
        n = len(loaded)  # the next chunk to load, once its slot is free
        can_load = n < chunks and n - slots < written
        if written < n:  # the next chunk to write back: computed once loaded, unit free
            compute = ceil(sizes[written] * op.ops / rate)
            port = ceil(sizes[written] * bits_per_element / buf.bits_per_cycle)
            duration = max(compute, port)
            begin = max(loaded[written], unit_free)
            done = begin + duration
        if can_load and (written == n or freed[n % slots] <= done):
            in_bytes, out_bytes = chunk_bytes(n)
            start = freed[n % slots]
            loaded.append(channel.read(start, "vector", in_offset, 1, in_bytes, in_bytes))
            held.append((start, in_bytes + out_bytes))
            cost.spans.append(("dma", f"load {op.kind}", start, loaded[-1]))
            in_offset += in_bytes
            continue
        in_bytes, out_bytes = chunk_bytes(written)
        unit_free = done
        busy.append((begin, done))
        compute_total += compute
        port_total += duration - compute
        stored = channel.write(done, "vector", (1 << 29) + out_offset, 1, out_bytes, out_bytes)
        freed[written % slots] = max(stored, done)
        held.append((freed[written % slots], -(in_bytes + out_bytes)))
        cost.spans.append(("array", f"{op.kind} chunk {written}", begin, done))
        out_offset += out_bytes
        written += 1
    end = channel.flush(max(unit_free, max(freed)))
    for time, delta in sorted(held, key=lambda event: (event[0], event[1])):
        occupancy[unit.sram].change(time, delta)
    cost.compute_cycles = compute_total
    bits_in = op.elements * op.inputs * op.in_bits
    bits_out = op.elements * op.out_bits
    sram = {("vector", "write"): bits_in + bits_out, ("vector", "read"): bits_in + bits_out}
    stalls = {"sram_port": port_total}
    cost = channel.close(cost, end, stalls, busy, sram)
    cost.profile = replace(cost.profile, unit="vector")
    return cost


def _fused(op: Vector, sizes: list[int], rate: int, port_bits: int, bits_per_element: int,
           channel: Channel, cost: OpCost) -> OpCost:
    """A fused record: chunks compute back to back on values already on chip (held by the
    ops that produce or move them, so none of its own); no DRAM."""
    now = 0.0
    busy: list[tuple[float, float]] = []
    compute_total = port_total = 0
    for n, elements in enumerate(sizes):
        compute = ceil(elements * op.ops / rate)
        duration = max(compute, ceil(elements * bits_per_element / port_bits))
        cost.spans.append(("array", f"{op.kind} chunk {n}", now, now + duration))
        busy.append((now, now + duration))
        compute_total += compute
        port_total += duration - compute
        now += duration
    cost.compute_cycles = compute_total
    bits = op.elements * bits_per_element
    sram_bits = {("vector", "write"): bits, ("vector", "read"): bits}
    cost = channel.close(cost, now, {"sram_port": port_total}, busy, sram_bits)
    cost.profile = replace(cost.profile, unit="vector", fused=True)
    return cost
