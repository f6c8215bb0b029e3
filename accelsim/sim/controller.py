"""An LPDDR4 channel controller on a running clock: requests in, command times and counts out.

What it owns: the state of one channel while requests stream through it (which row each bank
holds open and since when, the recent activates, the data bus and its direction, the refresh
clock, the buffered writes) and the timing of every command the requests need. Pure
arithmetic, no SimPy: the event model (``engine.py``) and ``accelsim dram`` both drive it.

The model (``docs/simulator.md``; timings are ``DramTiming``'s, in tCK):

- **Bursts and rows.** A request ``[addr, addr + bytes)`` moves every whole burst it touches
  (``bus_bytes x burst_length`` bytes, aligned). Addresses are row-interleaved: page
  ``addr // row_bytes`` lives in bank ``page % banks``, row ``page // banks``. Consecutive
  bursts in one row are served as one *run*, in closed form, so a long stream costs one step
  per row, not per burst.
- **Queues and scheduling.** Requests wait in a transaction queue (``queue_depth`` bursts) and
  move, the first whose bank has room, into per-bank command queues (``bank_queue`` bursts).
  Banks are served in the order they can start, round-robin among equals, each bank in its own
  arrival order, as DRAMsim3's controller does; so one bank activates while another transfers,
  and a busy bank does not hold the others up. A run to a closed bank needs ACT (then tRCD); to
  a bank holding another row, PRE first (no earlier than tRAS after that row's ACT, tRTP after
  its last read, or CWL + BL/2 + tWR after its last write; then tRP). tRRD and the four-activate
  window tFAW bound the ACTs; column commands are spaced by ``max(tCCD, BL/2)``.
- **Turnarounds.** A write's column command follows a read's by tRTW; a read's follows a write's
  by CWL + BL/2 + tWTR.
- **Write buffer.** Writes are accepted into a buffer of ``write_buffer`` bursts and drained in
  a batch when it fills (reads go first meanwhile), as DRAMsim3's controller does; ``flush``
  drains the rest. This turns interleaved reads and writes into batches, which saves both row
  conflicts and turnarounds.
- **Refresh on the running clock.** Every tREFI (the first at tREFI) all open banks are
  precharged and the channel refreshes for tRFC; commands due meanwhile wait, and the banks are
  closed afterwards.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass, field

from accelsim.sim.dram import DramTiming

QUEUE_DEPTH = 32  # requests (bursts) the controller sees ahead: its transaction queue
BANK_QUEUE = 8  # commands queued per bank
WRITE_BUFFER = 32  # bursts of writes buffered before a drain
NEVER = float("inf")  # a time after every other


@dataclass
class ControllerStats:
    """What the channel did: counts for energy and reports (per burst: a hit is a column
    command to an already open row)."""

    read_bursts: int = 0
    write_bursts: int = 0
    activates: int = 0
    row_hits: int = 0
    row_misses: int = 0  # the bank held no row (never opened, or closed by a refresh)
    row_conflicts: int = 0  # the bank held another row
    refreshes: int = 0

    def add(self, other: ControllerStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class _Bank:
    row: int | None = None
    act: int = -(1 << 60)  # last ACT
    pre_ok: int = 0  # earliest PRE allowed by the column commands to the open row
    ready: int = 0  # earliest ACT (after a PRE or a refresh)
    closed_by_refresh: bool = False


@dataclass(slots=True)
class Run:
    """Consecutive bursts of one request to one row."""

    bank: int
    row: int
    bursts: int
    write: bool
    arrival: int
    entered: int = 0  # when it reached its bank's command queue


@dataclass
class DramController:
    """One channel on a running clock (tCK). ``read`` schedules a request and returns when its
    data is done; ``write`` buffers one and returns when it was accepted (or, when it filled
    the buffer, when the drained writes are done); ``flush`` drains what is buffered and returns
    when the channel is idle."""

    t: DramTiming
    queue_depth: int = QUEUE_DEPTH
    bank_queue: int = BANK_QUEUE
    write_buffer: int = WRITE_BUFFER
    stats: ControllerStats = field(default_factory=ControllerStats)

    def __post_init__(self) -> None:
        t = self.t
        if t.trefi - t.trfc < 2 * (t.trp + t.trcd + t.cl + t.burst_tck):
            raise ValueError(f"tREFI ({t.trefi}) leaves too little time between refreshes of "
                             f"tRFC ({t.trfc}) to serve a request")
        self.banks = [_Bank() for _ in range(t.banks)]
        self.acts: list[int] = []  # recent ACT times, sorted (ACTs may issue out of order)
        self.gap = max(t.tccd, t.burst_tck)
        self.trtw = t.trtw
        self.write_to_read = t.cwl + t.burst_tck + t.twtr  # column spacing, write then read
        self.reach = self.write_to_read + self.trtw  # the widest spacing
        # least distance between two column commands: [earlier is a write][later is a write]
        self.spacing = ((self.gap, self.trtw), (self.write_to_read, self.gap))
        # No run fits between two placed runs closer than this, by their directions (it needs
        # a spacing on either side); and where no detour through the other direction is
        # shorter than going straight, the earliest start after a placed run never falls as
        # the runs go on (``_columns_at`` skips a packed tail on the strength of both).
        self.fit_gap = tuple(tuple(min(self.spacing[a][d] + self.spacing[d][b] for d in (0, 1))
                                   for b in (0, 1)) for a in (0, 1))
        self.rising = all(self.spacing[a][b] + self.spacing[b][c] >= self.spacing[a][c]
                          for a in (0, 1) for b in (0, 1) for c in (0, 1))
        self.read_tail = t.cl + t.burst_tck  # a read column command to its data's end
        self.write_tail = t.cwl + t.burst_tck  # a write column command to its data's end
        # recent runs of column commands on the bus, sorted: first, last, direction
        self.run_firsts: list[int] = []
        self.run_lasts: list[int] = []
        self.run_writes: list[bool] = []
        self.packed = 0  # from this run on, no run fits before the next (``fit_gap``)
        self.col_horizon = 0  # no column command before this (older ones are forgotten)
        self.act_horizon = 0
        self.next_refresh = t.trefi
        self.refresh_end = 0
        self.turn = 0  # the bank served first among equals (round-robin)
        # the banks in round-robin order from each bank: the order ties are served in
        self._rounds = [tuple((turn + k) % t.banks for k in range(t.banks))
                        for turn in range(t.banks)]
        self.buffered: list[Run] = []
        self._queues: list[deque[Run]] = [deque() for _ in range(t.banks)]  # by bank
        self.buffered_bursts = 0
        self.done = 0  # when the last data beat issued so far ends

    # ---- requests ---------------------------------------------------------------------------

    def runs(self, addr: int, nbytes: int, write: bool, arrival: int) -> list[Run]:
        """The runs of bursts a request touches, in address order."""
        t = self.t
        burst, row_bytes = t.burst_bytes, t.row_bytes
        first, last = addr // burst, (addr + nbytes - 1) // burst
        per_row = row_bytes // burst
        out = []
        b = first
        while b <= last:
            page = b // per_row
            end = min(last, (page + 1) * per_row - 1)
            out.append(Run(page % t.banks, page // t.banks, end - b + 1, write, arrival))
            b = end + 1
        return out

    def read(self, now: int, runs: list[Run]) -> int:
        """Schedule read runs arriving at ``now``; when their last data beat ends."""
        return self.schedule(runs)

    def write(self, now: int, runs: list[Run]) -> int:
        """Buffer write runs arriving at ``now``; drain the buffer once it holds
        ``write_buffer`` bursts. When the write was accepted, or its drained data done."""
        self.buffered += runs
        self.buffered_bursts += sum(run.bursts for run in runs)
        if self.buffered_bursts >= self.write_buffer:
            return self.flush_writes()
        return now

    def flush_writes(self) -> int:
        runs, self.buffered, self.buffered_bursts = self.buffered, [], 0
        return self.schedule(runs) if runs else self.done

    def flush(self) -> int:
        self.flush_writes()
        return self.done

    def stream(self, requests: list[tuple[int, int, bool]]) -> int:
        """Serve a list of requests ``(addr, bytes, write)`` all issued at time 0, as a DMA
        engine would hand them over; when the last data beat ends.

        Reads queue as they come; writes wait in the buffer, which is drained once it holds
        ``write_buffer`` bursts and a read is waiting: the reads queued so far and the drained
        writes are then served together, the run that can transfer soonest first, so that
        interleaved reads and writes mostly go in batches (a turnaround delays a run) while
        every bank stays busy; a run of writes alone streams."""
        reads: list[Run] = []
        writes: list[Run] = []
        buffered = 0
        for addr, nbytes, write in requests:
            runs = self.runs(addr, nbytes, write, 0)
            if write:
                writes += runs
                buffered += sum(run.bursts for run in runs)
                continue
            if buffered >= self.write_buffer:  # the queued reads, then the drain
                self.schedule(reads + writes)
                reads, writes, buffered = [], [], 0
            reads += runs
        if reads or writes:
            self.schedule(reads + writes)
        return self.done

    # ---- scheduling a batch of runs ----------------------------------------------------------

    def schedule(self, batch: list[Run]) -> int:
        """Serve ``batch`` (runs in arrival order) through the queues; when its data is done.

        Runs enter the transaction queue while it has room, move to their bank's queue, the
        first in order whose bank has room, and are served bank by bank: each step serves the
        head run of the bank that can start soonest (round-robin among equals)."""
        if not batch:
            return 0
        if len(batch) == 1:  # the loop below, for one run: it goes straight to its bank
            run = batch[0]
            run.entered = run.arrival
            self.turn = (run.bank + 1) % len(self.banks)
            run_end, _ = self._serve(run)
            return max(0, run_end)
        banks = len(self.banks)
        depth, per_bank, spacing, stats = (self.queue_depth, self.bank_queue, self.spacing,
                                           self.stats)
        outside = deque(batch)
        txq: list[Run] = []
        txq_bursts = 0
        queues: list[deque[Run]] = self._queues  # each bank's, in arrival order (empty now)
        queued = 0  # runs in them
        held = [0] * banks
        waiting = [0] * banks  # runs in the transaction queue, by bank
        # Each bank's part of its head's start: worked out when the head arrives or the bank
        # has been served, and after a refresh; nothing else changes it. NEVER: no run.
        parts: list[float] = [NEVER] * banks
        refreshes = stats.refreshes
        direction = batch[0].write
        uniform = all(run.write == direction for run in batch)  # reads, or a drain of writes
        rounds = self._rounds
        clock = min(run.arrival for run in batch)
        end = 0
        best = -1
        while outside or txq or queued:
            entered = False
            # A run entering an empty transaction queue whose bank has room goes straight on,
            # as the scan below would move it first; its bursts count against the queue's
            # depth until the entering is done, as they would while it sat there.
            through = 0
            while outside and (not (txq or through)
                               or txq_bursts + through + outside[0].bursts <= depth):
                run = outside.popleft()
                run.entered = clock if clock > run.arrival else run.arrival
                bank = run.bank
                if not txq and (held[bank] == 0 or held[bank] + run.bursts <= per_bank):
                    through += run.bursts
                    held[bank] += run.bursts
                    queue = queues[bank]
                    if not queue:
                        parts[bank] = self._bank_ready(run)
                    queue.append(run)
                    queued += 1
                    continue
                txq.append(run)
                txq_bursts += run.bursts
                waiting[bank] += 1
                entered = True
            # a run moves on once its bank has room; only new runs, or runs waiting for the
            # bank just served, can have it now (every other bank's queue is as it was)
            if entered or (best >= 0 and waiting[best]):
                i = 0
                while i < len(txq):
                    run = txq[i]
                    bank = run.bank
                    if held[bank] == 0 or held[bank] + run.bursts <= per_bank:
                        txq.pop(i)
                        txq_bursts -= run.bursts
                        held[bank] += run.bursts
                        waiting[bank] -= 1
                        if clock > run.entered:
                            run.entered = clock
                        queue = queues[bank]
                        if not queue:
                            parts[bank] = self._bank_ready(run)
                        queue.append(run)
                        queued += 1
                    else:
                        i += 1
            # Serve the head that can start soonest, the first from ``turn`` round-robin among
            # equals: its start is its bank's part or the bus's (after the last column command
            # placed, its turnaround included), whichever is later.
            lasts = self.run_lasts
            after = spacing[self.run_writes[-1]] if lasts else None
            if uniform:  # one bus part for all: the soonest are those at or below it
                soonest = min(parts)
                if after is not None and lasts[-1] + after[direction] > soonest:
                    soonest = lasts[-1] + after[direction]
                for best in rounds[self.turn]:
                    if parts[best] <= soonest:
                        break
            else:
                best, best_start, best_rank = -1, 0.0, 0
                turn = self.turn
                for bank, queue in enumerate(queues):
                    if not queue:
                        continue
                    start = parts[bank]
                    if after is not None and lasts[-1] + after[queue[0].write] > start:
                        start = lasts[-1] + after[queue[0].write]
                    rank = (bank - turn) % banks
                    if best < 0 or start < best_start or (start == best_start
                                                          and rank < best_rank):
                        best, best_start, best_rank = bank, start, rank
            queue = queues[best]
            run = queue.popleft()
            queued -= 1
            self.turn = (best + 1) % banks
            run_end, first = self._serve(run)
            held[best] -= run.bursts
            parts[best] = self._bank_ready(queue[0]) if queue else NEVER
            if stats.refreshes != refreshes:  # every bank was closed
                refreshes = stats.refreshes
                for bank, queue in enumerate(queues):
                    if queue:
                        parts[bank] = self._bank_ready(queue[0])
            if run_end > end:
                end = run_end
            if first > clock:
                clock = first
        return end

    def _bank_ready(self, run: Run) -> int:
        """When ``run``'s first column command could go by its bank (an ACT first unless its
        row is open) and the last refresh; ``schedule`` adds the bus (after the last column
        command placed, turnaround included) and serves the run that can transfer soonest."""
        t, bank = self.t, self.banks[run.bank]
        # (conditional expressions rather than max(): this runs for every run, and they
        # pick the same value, the first of equals)
        earliest = run.entered
        if self.refresh_end > earliest:
            earliest = self.refresh_end
        if bank.row == run.row:  # a hit, once its row's ACT has had tRCD
            open_at = bank.act + t.trcd
            return open_at if open_at > earliest else earliest
        if bank.row is None:
            return (bank.ready if bank.ready > earliest else earliest) + t.trcd
        closable = bank.act + t.tras
        if bank.pre_ok > closable:
            closable = bank.pre_ok
        return (closable if closable > earliest else earliest) + t.trp + t.trcd

    def _act_slot(self, want: int) -> int:
        """The earliest ACT time from ``want`` that keeps tRRD to every other ACT and at most
        four ACTs in any tFAW window (ACTs to different banks may go in any order)."""
        t, acts = self.t, self.acts
        if self.act_horizon > want:
            want = self.act_horizon
        # after every ACT by tRRD, and by tFAW after the fourth last: nothing to check
        if not acts or (want >= acts[-1] + t.trrd and (len(acts) < 4
                                                       or want >= acts[-4] + t.tfaw)):
            return want
        while True:
            i = bisect_left(acts, want)
            if i and want - acts[i - 1] < t.trrd:
                want = acts[i - 1] + t.trrd
                continue
            if i < len(acts) and acts[i] - want < t.trrd:
                want = acts[i] + t.trrd
                continue
            window = [*acts[max(0, i - 4):i], want, *acts[i:i + 4]]
            pos = min(i, 4)
            moved = False
            for s in range(max(0, pos - 4), pos + 1):
                if s + 4 < len(window) and window[s + 4] - window[s] < t.tfaw:
                    want = window[s] + t.tfaw if s < pos else window[s + 4] + t.trrd
                    moved = True
                    break
            if not moved:
                return want

    def _columns_at(self, want: int, n: int, write: bool) -> int:
        """The earliest first column command from ``want`` for ``n`` bursts ``gap`` apart that
        keeps its spacing to every run of column commands already placed (the bus is shared;
        a run may fill an earlier gap: commands issue out of arrival order across banks, as
        FR-FCFS does, within the queues' look-ahead). A run's commands fill its span of the bus
        densely, so a run goes wholly before or wholly after another.

        One pass over the runs in time order is enough, as placed runs keep their spacing to
        each other: moving after run i also clears every earlier run j we had gone before.
        Spacings j -> i -> ours add up to less than j -> ours only if i's direction differs
        from j's and ours, alike; but then i needs from us what j does, and being before j we
        were before i too, so i did not move us.

        Mostly the bus is the bottleneck and the last runs follow each other closely
        (``packed``): once we do not go wholly before one of them we cannot go before any
        later one either (no gap holds a spacing on each side), so we go after them all. Where
        no detour is shorter than going straight (``rising``), the start after a run never
        falls from one run to the next, so that is after the last one."""
        lasts = self.run_lasts
        if self.col_horizon > want:
            want = self.col_horizon
        reach = self.reach
        if not lasts or lasts[-1] < want - reach:  # after every run placed, out of reach
            return want
        firsts, writes, spacing = self.run_firsts, self.run_writes, self.spacing
        end = want + (n - 1) * self.gap
        i = bisect_left(lasts, want - reach)
        if i >= self.packed and self.rising:  # mostly: the bus's packed tail is in reach
            first = firsts[i]
            if first <= end + reach and end + spacing[write][writes[i]] > first:
                after = lasts[-1] + spacing[writes[-1]][write]  # after the last
                return after if want < after else want
            return want  # wholly before it, so before every later one (``rising``)
        span = end - want
        ours = spacing[write]  # from our commands to a later run's, by its direction
        theirs = (spacing[0][write], spacing[1][write])  # from a run's to ours
        count = len(firsts)
        packed = self.packed if self.rising else count
        while i < count:
            first = firsts[i]
            if first > end + reach:  # this one and every later one start far enough on
                break
            other = writes[i]
            if end + ours[other] > first:  # not wholly before it
                if i >= packed:  # nor before any later one: after the last
                    after = lasts[-1] + theirs[writes[-1]]
                    return after if want < after else want
                after = lasts[i] + theirs[other]
                if want < after:  # nor wholly after it: go after it
                    want = after
                    end = want + span
            i += 1
        return want

    def _record_columns(self, first: int, n: int, write: bool) -> None:
        last = first + (n - 1) * self.gap
        firsts, lasts = self.run_firsts, self.run_lasts
        if not firsts or first > firsts[-1]:  # mostly: after every run placed
            if firsts and first - lasts[-1] >= self.fit_gap[self.run_writes[-1]][write]:
                self.packed = len(firsts)
            firsts.append(first)
            lasts.append(last)
            self.run_writes.append(write)
        else:  # into a gap: the runs packed from the end, anew
            i = bisect_left(firsts, first)
            firsts.insert(i, first)
            lasts.insert(i, last)
            self.run_writes.insert(i, write)
            writes = self.run_writes
            packed = len(firsts) - 1
            while packed and (firsts[packed] - lasts[packed - 1]
                              < self.fit_gap[writes[packed - 1]][writes[packed]]):
                packed -= 1
            self.packed = packed
        if len(firsts) > 512:  # forget the oldest; nothing may go before them any more
            self.col_horizon = max(self.col_horizon, lasts[255] + self.reach)
            del firsts[:256], lasts[:256], self.run_writes[:256]
            self.packed = max(0, self.packed - 256)

    def _serve(self, run: Run) -> tuple[int, int]:
        """Place ``run``'s commands: (when its last data beat ends, its first column)."""
        t, stats, gap = self.t, self.stats, self.gap
        remaining, write = run.bursts, run.write
        end = self.done
        first_column = -1
        bank = self.banks[run.bank]
        while remaining:
            earliest = run.entered
            if self.refresh_end > earliest:
                earliest = self.refresh_end
            if earliest >= self.next_refresh:
                self._refresh_until(earliest)
                earliest = max(earliest, self.refresh_end)
            hit = bank.row == run.row
            if hit:
                ready = bank.act + t.trcd
                if earliest > ready:
                    ready = earliest
            else:
                if bank.row is None:
                    act = bank.ready if bank.ready > earliest else earliest
                else:
                    act = bank.act + t.tras
                    if bank.pre_ok > act:
                        act = bank.pre_ok
                    act = (act if act > earliest else earliest) + t.trp
                act = self._act_slot(act)
                if act >= self.next_refresh:  # the refresh comes first; then try again
                    self._refresh_until(act)
                    continue
                ready = act + t.trcd
            if self.refresh_end > ready:
                ready = self.refresh_end
            first = self._columns_at(ready, remaining, write)
            if first >= self.next_refresh:
                self._refresh_until(first)
                continue
            # Bursts whose column command falls before the next refresh go now; the rest wait.
            last = first + (remaining - 1) * gap
            if last < self.next_refresh:
                fit = remaining
            else:
                fit = -(-(self.next_refresh - first) // gap)
                last = first + (fit - 1) * gap
            if not hit:
                stats.activates += 1
                if bank.row is None:
                    stats.row_misses += 1
                else:
                    stats.row_conflicts += 1
                acts = self.acts
                insort(acts, act)
                if len(acts) > 64:
                    self.act_horizon = max(self.act_horizon, acts[31] + t.tfaw)
                    del acts[:32]
                bank.act, bank.row = act, run.row
                stats.row_hits += fit - 1
            else:
                stats.row_hits += fit
            if first_column < 0:
                first_column = first
            self._record_columns(first, fit, write)
            if write:
                stats.write_bursts += fit
                end = last + self.write_tail
                ok = end + t.twr
            else:
                stats.read_bursts += fit
                ok = last + t.trtp
                end = last + self.read_tail
            if ok > bank.pre_ok:
                bank.pre_ok = ok
            if end > self.done:
                self.done = end
            remaining -= fit
        return end, first_column

    def _refresh_until(self, when: int) -> None:
        """Perform every refresh due at or before ``when``: precharge all, tRFC, banks closed."""
        t = self.t
        while when >= self.next_refresh:
            start = self.next_refresh
            for bank in self.banks:
                if bank.row is not None:
                    start = max(start, max(self.next_refresh, bank.act + t.tras,
                                           bank.pre_ok) + t.trp)
            self.refresh_end = start + t.trfc
            for bank in self.banks:
                bank.row, bank.ready = None, self.refresh_end
            self.stats.refreshes += 1
            self.next_refresh += t.trefi

