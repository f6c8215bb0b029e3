"""The discrete-event model of one op: DMA, array, write-back, buffers and DRAM as processes,
run on SimPy (the reference) or on ``fast``'s lean kernel, which orders events as SimPy does.

Time is in array clock cycles and events happen per tile, not per cycle: a tile's compute time is
the closed form of its folds (``mapping.block_cycles``), the DRAM prices each request in one call.

- ``dma_in`` walks the tiles in order; for every block a tile needs it takes a slot of the
  block's buffer (a resource with two slots when double buffered, else one), waits for
  the DRAM channel and loads it. It runs ahead of the array as far as free slots allow: that is
  double buffering. A block too large for a slot loads its first slot-full before the tile starts
  and streams the rest while the tile computes.
- ``array`` computes each tile once its blocks are in; a tile lasts its compute cycles, longer if
  an SRAM's ports cannot deliver the tile's accesses in that time, and until its stream is in.
- ``write_back`` drains outputs and spilled partial sums to DRAM and frees their slots.
Loads and write-backs share the DRAM channel (``channel.Channel``), which serves requests in
the order they are made: so the order of events at equal times matters, and is SimPy's on
either kernel.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import replace
from math import ceil
from typing import Any

from accelsim.hardware.model import Hardware
from accelsim.sim.channel import Channel
from accelsim.sim.costs import Occupancy, OpCost
from accelsim.sim.mapping import busy_pe_cycles
from accelsim.sim.tiling import BUFFER_OF, Block, Tile, plan_gemm
from accelsim.trace.records import Gemm


def _split(block: Block, head_bytes: int) -> tuple[Block, Block | None]:
    """The first ``head_bytes`` (whole chunks) of a block and the rest."""
    if head_bytes >= block.bytes:
        return block, None
    if block.chunks == 1:
        head = Block(block.operand, head_bytes, 1, head_bytes, head_bytes, block.base)
        rest = block.bytes - head_bytes
        return head, Block(block.operand, rest, 1, rest, rest, block.base + head_bytes)
    n = max(1, head_bytes // block.chunk_bytes)
    head = block._replace(bytes=n * block.chunk_bytes, chunks=n)
    tail = block._replace(bytes=(block.chunks - n) * block.chunk_bytes, chunks=block.chunks - n,
                          base=block.base + n * block.stride_bytes)
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


class _TileTimes:
    """Per tile, what ``_port_cycles`` and ``busy_pe_cycles`` give, worked out once for each
    distinct tile timing (a plan has a few, repeated over its tiles). With every SRAM
    multi-ported the port need depends on the array's accesses alone; a single-ported SRAM
    also serves the tile's DMA blocks, so its tiles are worked out one by one."""

    def __init__(self, hw: Hardware, op: Gemm, beat: Any):
        self.hw, self.op, self.beat = hw, op, beat
        self.by_accesses = all(hw.buffer(name).ports != 1 for name in BUFFER_OF.values())
        self._ports: dict[int, int] = {}
        self._busy: dict[tuple[int, int, int], int] = {}

    def ports(self, tile: Tile) -> int:
        if not self.by_accesses:
            return _port_cycles(self.hw, self.op, tile)
        key = id(tile.accesses)  # the plan's tiles share one object per distinct timing
        need = self._ports.get(key)
        if need is None:
            need = self._ports[key] = _port_cycles(self.hw, self.op, tile)
        return need

    def busy(self, tile: Tile) -> int:
        key = (tile.rows, tile.cols, tile.time)
        cycles = self._busy.get(key)
        if cycles is None:
            cycles = self._busy[key] = busy_pe_cycles(self.hw.array, tile.rows, tile.cols,
                                                      tile.time, self.beat)
        return cycles


SPAN_NAMES = {(write, operand): f"{'write' if write else 'load'} {operand.upper()}"
              for write in (False, True) for operand in BUFFER_OF}


def simulate_gemm(hw: Hardware, op: Gemm, kernel: Any = None) -> OpCost:
    """Run one GEMM through the event model (its ``count`` is ignored: one execution), on
    ``kernel``: SimPy by default, or anything offering the part of its API used here with the
    same event order (``fast.LEAN``)."""
    if kernel is None:
        import simpy as kernel
    plan = plan_gemm(hw, replace(op, count=1, iter=0, layer="-", phase="fwd"))
    env = kernel.Environment()
    channel = Channel(hw)
    slots = {name: kernel.Resource(env, capacity=2 if hw.buffer(name).double_buffered else 1)
             for name in BUFFER_OF.values()}
    slot_bytes = {name: hw.buffer(name).size_bytes // slots[name].capacity for name in slots}
    cost = OpCost(macs=op.macs, plan=plan)
    cost.occupancy = {name: Occupancy(hw.buffer(name).size_bytes) for name in BUFFER_OF.values()}
    sram: dict[tuple[str, str], int] = defaultdict(int)
    held: dict[str, deque] = {o: deque() for o in BUFFER_OF}
    hold_bytes: dict[str, deque] = {o: deque() for o in BUFFER_OF}
    n_tiles = len(plan.tiles)
    ready = [env.event() for _ in range(n_tiles)]
    streamed = [env.event() for _ in range(n_tiles)]
    writes = kernel.Store(env)
    stalls = {"memory": 0, "sram_port": 0}
    scalesim = hw.array.timing == "scalesim"
    array_busy: list[tuple[float, float]] = []
    times = _TileTimes(hw, op, plan.beat)

    def request(block: Block, write: bool) -> float:
        """Hand a block to the channel now; when its data is done (or, a write, accepted)."""
        go = channel.write if write else channel.read
        done = go(env.now, block.operand, block.base, block.chunks, block.chunk_bytes,
                  block.stride_bytes)
        sram[(block.operand, "read" if write else "write")] += block.bytes * 8
        cost.spans.append(("dma", SPAN_NAMES[(write, block.operand)], env.now, done))
        return done

    def at(event: Any, when: float):
        yield env.timeout(max(0.0, when - env.now))
        event.succeed()

    def trigger(event: Any, when: float) -> None:
        """Trigger ``event`` at ``when`` (from now on), by a process running ``at``."""
        env.process(at(event, when))

    # a kernel may offer the same in one step (fast.Environment.trigger_at: the same events)
    trigger = getattr(env, "trigger_at", trigger)

    def release(operand: str) -> None:
        for req in held[operand].popleft():
            slots[BUFFER_OF[operand]].release(req)
        cost.occupancy[BUFFER_OF[operand]].change(env.now, -hold_bytes[operand].popleft())

    def dma_in():
        """Issue each tile's loads as soon as buffer slots allow; the channel queues them."""
        for n, tile in enumerate(plan.tiles):
            rest: list[Block] = []
            heads_done = tails_done = env.now
            for step in tile.steps:
                if not step.acquire:
                    continue
                name = BUFFER_OF[step.operand]
                # a block larger than a slot (an operand loaded once) takes the whole SRAM
                units = 2 if step.hold_bytes > slot_bytes[name] else 1
                reqs = [slots[name].request() for _ in range(units)]
                yield from reqs
                held[step.operand].append(reqs)
                hold_bytes[step.operand].append(step.hold_bytes)
                cost.occupancy[name].change(env.now, step.hold_bytes)
                if step.load is not None:
                    head, tail = _split(step.load, step.hold_bytes)
                    heads_done = max(heads_done, request(head, write=False))
                    if tail is not None:
                        rest.append(tail)
            for tail in rest:
                tails_done = max(tails_done, request(tail, write=False))
            trigger(ready[n], heads_done)
            trigger(streamed[n], max(heads_done, tails_done))

    def array():
        for n, tile in enumerate(plan.tiles):
            waited = env.now
            yield ready[n]
            stalls["memory"] += int(env.now - waited)
            compute = tile.compute_cycles - (1 if scalesim and n == n_tiles - 1 else 0)
            duration = max(compute, times.ports(tile))
            start = env.now
            yield env.timeout(duration)
            if not streamed[n].triggered:
                yield streamed[n]
            cost.compute_cycles += compute
            cost.spans.append(("array", f"tile {n}", start, env.now))
            array_busy.append((start, start + duration))
            stalls["sram_port"] += duration - compute
            stalls["memory"] += int(env.now - start - duration)
            cost.busy_pe_cycles += times.busy(tile)
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
            done = request(step.write, write=True)
            yield env.timeout(max(0.0, done - env.now))
            release(step.operand)

    n_writes = sum(1 for t in plan.tiles for s in t.steps if s.release and s.write)
    env.process(dma_in())
    done_array = env.process(array())
    done_writes = env.process(write_back(n_writes))
    env.run(until=kernel.AllOf(env, [done_array, done_writes]))
    end = channel.flush(env.now)
    return channel.close(cost, end, stalls, array_busy, sram)
