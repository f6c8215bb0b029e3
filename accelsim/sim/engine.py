"""The discrete-event model of one op: DMA, array, write-back, buffers and DRAM as SimPy actors.

Time is in array clock cycles and events happen per tile, not per cycle: a tile's compute time is
the closed form of its folds (``mapping.block_cycles``), the DRAM prices each request in one call.

- ``dma_in`` walks the tiles in order; for every block a tile needs it takes a slot of the
  block's buffer (a ``simpy.Resource`` with two slots when double buffered, else one), waits for
  the DRAM channel and loads it. It runs ahead of the array as far as free slots allow: that is
  double buffering. A block too large for a slot loads its first slot-full before the tile starts
  and streams the rest while the tile computes.
- ``array`` computes each tile once its blocks are in; a tile lasts its compute cycles, longer if
  an SRAM's ports cannot deliver the tile's accesses in that time, and until its stream is in.
- ``write_back`` drains outputs and spilled partial sums to DRAM and frees their slots.
The DRAM channel is a ``simpy.Resource`` of capacity one shared by loads and write-backs.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import replace
from math import ceil

import simpy

from accelsim.hardware.model import Hardware
from accelsim.sim.channel import Channel
from accelsim.sim.costs import DramStats, Occupancy, OpCost
from accelsim.sim.mapping import FoldGeometry
from accelsim.sim.tiling import BUFFER_OF, Block, Tile, plan_gemm
from accelsim.trace.records import Gemm


def _split(block: Block, head_bytes: int) -> tuple[Block, Block | None]:
    """The first ``head_bytes`` (whole chunks) of a block and the rest."""
    if head_bytes >= block.bytes:
        return block, None
    if block.chunks == 1:
        head = Block(block.operand, head_bytes, 1, head_bytes, head_bytes)
        rest = block.bytes - head_bytes
        return head, Block(block.operand, rest, 1, rest, rest)
    n = max(1, head_bytes // block.chunk_bytes)
    head = replace(block, bytes=n * block.chunk_bytes, chunks=n)
    tail = replace(block, bytes=(block.chunks - n) * block.chunk_bytes, chunks=block.chunks - n)
    return head, tail


def _port_cycles(hw: Hardware, op: Gemm, tile: Tile) -> int:
    """Cycles the SRAM ports need for a tile's array-side (and, single-ported, DMA) accesses."""
    acc = tile.accesses
    array_bits = {"a": acc.a_reads * op.a_bits, "b": acc.b_reads * op.b_bits,
                  "c": (acc.c_reads + acc.c_writes) * op.acc_bits}
    need = 0
    for step in tile.steps:
        buf = hw.buffer(BUFFER_OF[step.operand])
        bits = array_bits[step.operand]
        if buf.ports == 1:
            for block in (step.load, step.write):
                bits += block.bytes * 8 if block else 0
        need = max(need, ceil(bits / buf.bits_per_cycle))
    return need


def simulate_gemm(hw: Hardware, op: Gemm) -> OpCost:
    """Run one GEMM through the event model (its ``count`` is ignored: one execution)."""
    plan = plan_gemm(hw, replace(op, count=1, iter=0, layer="-", phase="fwd"))
    env = simpy.Environment()
    pricer = Channel(hw)
    channel = simpy.Resource(env, capacity=1)
    slots = {name: simpy.Resource(env, capacity=2 if hw.buffer(name).double_buffered else 1)
             for name in BUFFER_OF.values()}
    cost = OpCost(macs=op.macs, plan=plan)
    cost.occupancy = {name: Occupancy(hw.buffer(name).size_bytes) for name in BUFFER_OF.values()}
    cost.dram = defaultdict(DramStats)
    sram: dict[tuple[str, str], int] = defaultdict(int)
    held: dict[str, deque] = {o: deque() for o in BUFFER_OF}
    hold_bytes: dict[str, deque] = {o: deque() for o in BUFFER_OF}
    n_tiles = len(plan.tiles)
    ready = [env.event() for _ in range(n_tiles)]
    streamed = [env.event() for _ in range(n_tiles)]
    writes: simpy.Store = simpy.Store(env)
    stalls = {"memory": 0, "sram_port": 0}
    scalesim = hw.array.timing == "scalesim"
    time_extent = FoldGeometry.of(hw.array.dataflow).sizes(op.m, op.n, op.k)[2]

    def dram(block: Block, write: bool):
        with channel.request() as req:
            yield req
            cycles, stats = pricer.transfer(env.now, block.chunks, block.chunk_bytes,
                                            block.stride_bytes, write)
            cost.dram[block.operand].add(stats)
            sram[(block.operand, "read" if write else "write")] += block.bytes * 8
            start = env.now
            yield env.timeout(cycles)
            cost.spans.append(("dma", f"{'write' if write else 'load'} {block.operand.upper()}",
                               start, env.now))

    def release(operand: str) -> None:
        slots[BUFFER_OF[operand]].release(held[operand].popleft())
        cost.occupancy[BUFFER_OF[operand]].change(env.now, -hold_bytes[operand].popleft())

    def dma_in():
        for n, tile in enumerate(plan.tiles):
            rest: list[Block] = []
            for step in tile.steps:
                if not step.acquire:
                    continue
                name = BUFFER_OF[step.operand]
                req = slots[name].request()
                yield req
                held[step.operand].append(req)
                hold_bytes[step.operand].append(step.hold_bytes)
                cost.occupancy[name].change(env.now, step.hold_bytes)
                if step.load is not None:
                    head, tail = _split(step.load, step.hold_bytes)
                    yield from dram(head, write=False)
                    if tail is not None:
                        rest.append(tail)
            ready[n].succeed()
            for tail in rest:
                yield from dram(tail, write=False)
            streamed[n].succeed()

    def array():
        for n, tile in enumerate(plan.tiles):
            waited = env.now
            yield ready[n]
            stalls["memory"] += int(env.now - waited)
            compute = tile.compute_cycles - (1 if scalesim and n == n_tiles - 1 else 0)
            duration = max(compute, _port_cycles(hw, op, tile))
            start = env.now
            yield env.timeout(duration)
            if not streamed[n].triggered:
                yield streamed[n]
            cost.compute_cycles += compute
            cost.spans.append(("array", f"tile {n}", start, env.now))
            stalls["sram_port"] += duration - compute
            stalls["memory"] += int(env.now - start - duration)
            cost.busy_pe_cycles += tile.rows * tile.cols * plan.beat.steps(time_extent)
            acc = tile.accesses
            sram[("a", "read")] += acc.a_reads * op.a_bits
            sram[("b", "read")] += acc.b_reads * op.b_bits
            sram[("c", "read")] += acc.c_reads * op.acc_bits
            sram[("c", "write")] += acc.c_writes * op.acc_bits
            for step in tile.steps:
                if step.release:
                    if step.write is None:
                        release(step.operand)
                    else:
                        writes.put(step)

    def write_back(n_writes: int):
        for _ in range(n_writes):
            step = yield writes.get()
            yield from dram(step.write, write=True)
            release(step.operand)

    n_writes = sum(1 for t in plan.tiles for s in t.steps if s.release and s.write)
    env.process(dma_in())
    done_array = env.process(array())
    done_writes = env.process(write_back(n_writes))
    env.run(until=simpy.AllOf(env, [done_array, done_writes]))
    cost.cycles = ceil(env.now)
    tail = cost.cycles - cost.compute_cycles - stalls["memory"] - stalls["sram_port"]
    stalls["memory"] += tail  # the final write-back after the last tile
    cost.stall_cycles = stalls
    cost.sram_bits = dict(sram)
    cost.dram = dict(cost.dram)
    return cost
