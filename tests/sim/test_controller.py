"""The LPDDR4 controller (``accelsim/sim/controller.py``): hand-computed closed forms, the timing
rules on every command it places, refresh on the running clock, and agreement with DRAMsim3.

The rules are checked on the commands the controller actually schedules: ``Recorder`` logs every
column command, ACT and refresh as it is placed. Timings are ``edge-16x16``'s LPDDR4-3200 (tCK
0.625 ns): tRCD 29, CL 32, CWL 18, BL/2 8, tRP 27, tRAS 68, tRRD 16, tFAW 64, tWR 28, tWTR 16,
tRTP 14, tCCD 8, tRTW 23, tREFI 6247, tRFC 288. DRAMsim3's own hand checks (one cycle later:
its first command goes out at cycle 1) are in ``benchmarks/peers/dramsim3_results.csv``.

Three tests at the end hold the fixes of bugs these tests found: row hits scheduled before
their row's ACT; a short run placed between a longer run's bursts; an endless loop when
tREFI - tRFC left no room for a request (such timings are now refused).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accelsim.errors import AccelsimError
from accelsim.hardware import load_hardware
from accelsim.hardware.model import MAX_TCK
from accelsim.replay.requests import price_requests, read_requests
from accelsim.sim.controller import DramController, Run
from accelsim.sim.dram import DramTiming

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

T = DramTiming.of(load_hardware("edge-16x16").dram.lpddr4)
NO_REFRESH = replace(T, trefi=MAX_TCK)  # longer than anything priced here
GAP = max(T.tccd, T.burst_tck)  # 8: the data bus peak, one burst per GAP
MiB = 1 << 20

FAST = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

class Recorder(DramController):
    """A controller that logs what it places: column commands ``(time, bank, row, write)``, ACTs
    ``(time, bank, row)`` and refreshes ``(start, end)``. An ACT is seen as a change of the
    bank's ``act`` when ``_serve`` records the run's first column commands."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.columns: list[tuple[int, int, int, bool]] = []
        self.acts_placed: list[tuple[int, int, int]] = []
        self.refresh_windows: list[tuple[int, int]] = []
        self._run: Run | None = None
        self._last_act: dict[int, int] = {}

    def _serve(self, run: Run) -> tuple[int, int]:
        self._run = run
        return super()._serve(run)

    def _record_columns(self, first: int, n: int, write: bool) -> None:
        run = self._run
        assert run is not None
        bank = self.banks[run.bank]
        if self._last_act.get(run.bank) != bank.act:
            self._last_act[run.bank] = bank.act
            self.acts_placed.append((bank.act, run.bank, run.row))
        self.columns += [(first + k * self.gap, run.bank, run.row, write) for k in range(n)]
        super()._record_columns(first, n, write)

    def _refresh_until(self, when: int) -> None:
        while when >= self.next_refresh:  # one at a time, to see each window
            super()._refresh_until(self.next_refresh)
            self.refresh_windows.append((self.refresh_end - self.t.trfc, self.refresh_end))


def served(requests: list[tuple[int, int, bool]], t: DramTiming = T) -> tuple[Recorder, int]:
    c = Recorder(t)
    return c, c.stream(requests)


def spacing(t: DramTiming, earlier_write: bool, later_write: bool) -> int:
    """The least distance between two column commands, by hand: tCCD/BL/2 in one direction,
    tRTW read -> write, CWL + BL/2 + tWTR write -> read."""
    if earlier_write == later_write:
        return max(t.tccd, t.burst_tck)
    return t.trtw if later_write else t.cwl + t.burst_tck + t.twtr


def bus_violations(c: Recorder) -> list:
    cols = sorted(c.columns)
    # consecutive pairs suffice: the spacings obey the triangle inequality
    return [(a, b) for a, b in pairwise(cols)
            if b[0] - a[0] < spacing(c.t, a[3], b[3])]


def act_violations(c: Recorder) -> list:
    """tRRD between any two ACTs, at most four in any tFAW, tRAS + tRP between a bank's ACTs."""
    t, acts = c.t, sorted(c.acts_placed)
    bad = [("tRRD", a, b) for a, b in pairwise(acts) if b[0] - a[0] < t.trrd]
    bad += [("tFAW", acts[i], acts[i + 4]) for i in range(len(acts) - 4)
            if acts[i + 4][0] - acts[i][0] < t.tfaw]
    for bank in range(t.banks):
        mine = [a for a in acts if a[1] == bank]
        bad += [("tRC", a, b) for a, b in pairwise(mine) if b[0] - a[0] < t.tras + t.trp]
    return bad


def bank_violations(c: Recorder) -> list:
    """Every column command goes to the row its bank's latest ACT opened, tRCD or more after
    it; a bank's next ACT waits for PRE (tRAS after the ACT, tRTP after a read, CWL + BL/2 +
    tWR after a write) and tRP."""
    t, bad = c.t, []
    for bank in range(t.banks):
        acts = sorted(a for a in c.acts_placed if a[1] == bank)
        cols = sorted(x for x in c.columns if x[1] == bank)
        for x in cols:
            opened = [a for a in acts if a[0] <= x[0]]
            if not opened or opened[-1][2] != x[2] or x[0] < opened[-1][0] + t.trcd:
                bad.append(("column", x, opened[-1] if opened else None))
        for a, b in pairwise(acts):
            pre = a[0] + t.tras
            for x in cols:
                if a[0] <= x[0] < b[0]:
                    pre = max(pre, x[0] + (t.cwl + t.burst_tck + t.twr if x[3] else t.trtp))
            if b[0] < pre + t.trp:
                bad.append(("PRE", a, b))
    return bad


def refresh_violations(c: Recorder, end: int) -> list:
    """Refresh k (k = 1, 2, ...) starts at k tREFI, or as soon after as the open banks can be
    precharged, lasts tRFC, and no ACT or column command falls inside it (nor an ACT in the
    tRP before it); the count is floor(end / tREFI) within 1."""
    t, bad = c.t, []
    late = max(t.tras, t.cwl + t.burst_tck + t.twr, t.trtp) + t.trp
    for k, (start, stop) in enumerate(c.refresh_windows, start=1):
        if not k * t.trefi <= start <= k * t.trefi + late or stop - start != t.trfc:
            bad.append(("window", k, start, stop))
        bad += [("column in refresh", x) for x in c.columns if start <= x[0] < stop]
        bad += [("ACT in refresh", a) for a in c.acts_placed if start - t.trp < a[0] < stop]
    if not end // t.trefi - 1 <= c.stats.refreshes <= end // t.trefi:
        bad.append(("count", c.stats.refreshes, end))
    return bad


def bursts_of(c: DramController) -> int:
    return c.stats.read_bursts + c.stats.write_bursts


# ---- closed forms -------------------------------------------------------------------------


@pytest.mark.parametrize("addr", [0, 8192 * 3 + 640, 8192 * 8 * 77 + 64, (1 << 30) + 8192 * 7])
def test_single_read_to_a_closed_bank_is_trcd_cl_and_one_burst(addr):
    c, end = served([(addr, 64, False)])
    assert end == T.trcd + T.cl + T.burst_tck == 69  # DRAMsim3: 70
    s = c.stats
    assert (s.activates, s.row_misses, s.row_hits, s.row_conflicts, s.read_bursts) == (
        1, 1, 0, 0, 1)
    assert c.acts_placed == [(0, addr // 8192 % 8, addr // 8192 // 8)]


def test_single_write_is_trcd_cwl_and_one_burst():
    c, end = served([(4096, 128, True)])
    assert end == T.trcd + T.cwl + T.burst_tck == 55  # DRAMsim3: 56
    assert c.columns == [(T.trcd, 0, 0, True)] and c.stats.write_bursts == 1


def test_conflicting_second_read_waits_for_tras_and_trp():
    """Page 8 is bank 0 again, another row: PRE at tRAS (68, later than the first read's
    tRTP), ACT tRP later, then tRCD + CL + BL/2."""
    c, end = served([(0, 128, False), (8 * 8192, 128, False)])
    assert end == T.tras + T.trp + T.trcd + T.cl + T.burst_tck == 164  # DRAMsim3: 165
    assert [a[0] for a in c.acts_placed] == [0, T.tras + T.trp]
    s = c.stats
    assert (s.row_misses, s.row_conflicts, s.row_hits, s.activates) == (1, 1, 0, 2)


def test_read_to_another_bank_overlaps_the_first():
    """Bank parallelism across requests: the second bank activates tRRD after the first."""
    c, end = served([(0, 128, False), (8192, 128, False)])
    assert [a[0] for a in c.acts_placed] == [0, T.trrd]
    assert end == T.trrd + T.trcd + T.cl + T.burst_tck == 85


def test_sequential_megabyte_streams_at_the_bus_peak():
    """8192 bursts, one every max(tCCD, BL/2) = 8 tCK (25.6 GB/s): the first ACT and the data
    latency are the only overhead; ACTs of the next banks hide behind the transfers."""
    n = MiB // T.burst_bytes
    c, end = served([(a, 128, False) for a in range(0, MiB, 128)], NO_REFRESH)
    assert n * GAP <= end <= n * GAP + T.trcd + T.cl + T.burst_tck
    assert MiB / (end * T.tck_ns) > 0.99 * T.burst_bytes / GAP / T.tck_ns
    assert c.stats.activates == MiB // T.row_bytes and c.stats.row_hits == n - c.stats.activates
    assert not bus_violations(c)


def test_random_reads_keep_trrd_and_tfaw_and_are_bound_by_them():
    """Distinct random lines: nearly every burst needs an ACT, so ACTs, not the bus, set the
    pace: at most four per tFAW window."""
    import random

    rng = random.Random(11)
    lines = rng.sample(range((256 * MiB) // 128), 2000)
    c, end = served([(line * 128, 64, False) for line in lines], NO_REFRESH)
    acts = sorted(a[0] for a in c.acts_placed)
    assert len(acts) == c.stats.activates > 1900
    assert min(b - a for a, b in pairwise(acts)) >= T.trrd
    assert min(acts[i + 4] - acts[i] for i in range(len(acts) - 4)) >= T.tfaw
    assert end >= (len(acts) - 1) // 4 * T.tfaw
    assert not act_violations(c)


def test_read_to_write_and_write_to_read_turnarounds():
    """A read at 29 (bank 0), then a write to bank 1 (ACT at tRRD = 16): its column waits for
    tRTW after the read, not for its own tRCD (45); the reverse waits CWL + BL/2 + tWTR."""
    c = Recorder(T)
    c.read(0, c.runs(0, 128, False, 0))
    c.write(0, c.runs(8192, 128, True, 0))
    c.flush()
    assert [x[0] for x in sorted(c.columns)] == [T.trcd, T.trcd + T.trtw]

    c = Recorder(T)
    c.write(0, c.runs(0, 128, True, 0))
    c.flush()
    c.read(0, c.runs(8192, 128, False, 0))
    assert [x[0] for x in sorted(c.columns)] == [T.trcd, T.trcd + T.cwl + T.burst_tck + T.twtr]


def test_interleaved_reads_and_writes_keep_their_turnarounds():
    c, _ = served([(a + off, 128, w) for a in range(0, 256 * 1024, 128)
                   for off, w in ((0, False), (128 * MiB, True))])
    cols = sorted(c.columns)
    turns = [(a, b) for a, b in pairwise(cols) if a[3] != b[3]]
    assert turns, "no read/write turnaround happened"
    for a, b in turns:
        assert b[0] - a[0] >= (T.trtw if b[3] else T.cwl + T.burst_tck + T.twtr), (a, b)
    assert not bus_violations(c)


@pytest.mark.parametrize("t", [T, replace(T, trefi=1000, trfc=200)], ids=["lpddr4", "tREFI-1000"])
def test_refresh_runs_every_trefi_on_the_running_clock(t):
    c, end = served([(a, 128, False) for a in range(0, MiB, 128)], t)
    assert c.stats.refreshes >= 11
    assert end // t.trefi - 1 <= c.stats.refreshes <= end // t.trefi
    assert not refresh_violations(c, end)
    # the refresh's precharges close every bank: the next burst of each bank is a miss
    assert c.stats.row_misses >= c.stats.refreshes


def test_refresh_costs_time_and_none_happen_beyond_the_run():
    reqs = [(a, 128, False) for a in range(0, MiB, 128)]
    with_refresh, without = served(reqs)[1], served(reqs, NO_REFRESH)
    assert without[0].stats.refreshes == 0
    refreshes = with_refresh // T.trefi
    assert with_refresh - without[1] >= refreshes * T.trfc


def test_conservation_and_determinism_on_a_mixed_stream():
    import random

    rng = random.Random(5)
    reqs = [(rng.randrange(1 << 26), rng.choice([64, 128, 300, 4096]), rng.random() < 0.3)
            for _ in range(3000)]
    a, end_a = served(reqs)
    b, end_b = served(reqs)
    assert end_a == end_b and a.stats == b.stats and a.columns == b.columns
    s = a.stats
    assert s.row_hits + s.row_misses + s.row_conflicts == bursts_of(a) == len(a.columns)
    assert s.activates == len(a.acts_placed)


# ---- bugs found and fixed ----------------------------------------------------------------------


def test_a_row_hit_waits_for_its_rows_activate():
    """Two reads in one row: the second is a hit, but its column must still come tRCD after
    the row's ACT (at 0), not at 0."""
    c, _ = served([(0, 128, False), (128, 128, False)])
    assert min(x[0] for x in c.columns) >= T.trcd, sorted(c.columns)


def test_a_short_run_is_not_placed_inside_a_long_one():
    """A 4 KiB read (32 bursts on bank 0 from 29 to 277) then 28 reads of one burst on banks
    1-7: the bus carries 60 bursts, so the last data cannot end before 60 x 8 tCK. Today the
    short ones landed between the long run's bursts, and all was done at 573."""
    reqs = [(0, 8192, False)] + [(8192 * k + 128 * j, 128, False)
                                  for j in range(4) for k in range(1, 8)]
    c, end = served(reqs, NO_REFRESH)
    assert not bus_violations(c), bus_violations(c)[:3]
    assert end >= bursts_of(c) * GAP


class _Bounded(DramController):
    """Stops a controller caught refreshing without end (no run needs 1000 refreshes here)."""

    def _refresh_until(self, when: int) -> None:
        if self.stats.refreshes > 1000:
            raise RuntimeError(f"{self.stats.refreshes} refreshes for 64 bursts: endless loop")
        super()._refresh_until(when)


def test_a_refresh_window_shorter_than_trcd_ends_or_is_refused():
    """tREFI 300, tRFC 290: 10 tCK between refreshes, tRCD is 29. Either the timing is refused
    up front or the 64 bursts are served; it used to loop forever."""
    try:
        t = DramTiming.of(load_hardware("edge-16x16", ["dram.lpddr4.trefi_tck=300",
                                                        "dram.lpddr4.trfc_tck=290"]).dram.lpddr4)
    except (AccelsimError, ValueError):
        return
    _Bounded(t).stream([(a, 128, False) for a in range(0, 64 * 128, 128)])


# ---- properties over random request lists ---------------------------------------------------

SIZES = st.sampled_from([1, 64, 128, 200, 4096, 9000]) | st.integers(1, 20_000)
ADDRS = st.integers(0, 1 << 15) | st.integers(0, 1 << 20) | st.integers(0, 1 << 30)
ANY_REQUESTS = st.lists(st.tuples(ADDRS, SIZES, st.booleans()), min_size=1, max_size=50)


@st.composite
def one_burst_requests(draw):
    """Requests that each fit in one 128-B burst (the DMA-engine patterns of the benchmark)."""
    out = []
    span = draw(st.sampled_from([1 << 15, 1 << 20, 1 << 28]))
    for _ in range(draw(st.integers(1, 60))):
        line = draw(st.integers(0, span // 128 - 1))
        offset = draw(st.integers(0, 127))
        out.append((line * 128 + offset, draw(st.integers(1, 128 - offset)), draw(st.booleans())))
    return out


@st.composite
def timings(draw):
    """edge-16x16's timing, with refresh often, or every timing drawn at random. tREFI - tRFC
    stays >= 400, past the worst refresh delay plus tFAW and tRCD (a window of tRCD or less
    loops forever: test_a_refresh_window_shorter_than_trcd_ends_or_is_refused)."""
    pick = draw(st.integers(0, 3))
    if pick == 0:
        return T
    if pick == 1:
        return replace(T, trefi=draw(st.integers(600, 3000)), trfc=draw(st.integers(1, 400)))
    ints = {name: draw(st.integers(1, hi)) for name, hi in (
        ("trcd", 40), ("cl", 40), ("cwl", 30), ("trp", 40), ("tras", 90), ("trrd", 20),
        ("tfaw", 100), ("twr", 30), ("twtr", 20), ("trtp", 20), ("tccd", 12), ("trtw", 30),
        ("trfc", 300))}
    return replace(T, trefi=ints["trfc"] + draw(st.integers(400, 4000)), **ints)


@FAST
@given(reqs=ANY_REQUESTS, t=timings())
def test_random_requests_keep_activate_refresh_and_count_rules(reqs, t):
    c, end = served(reqs, t)
    assert not act_violations(c), act_violations(c)[:3]
    assert not refresh_violations(c, end), refresh_violations(c, end)[:3]
    s = c.stats
    assert s.row_hits + s.row_misses + s.row_conflicts == bursts_of(c) == len(c.columns)
    assert s.activates == len(c.acts_placed)
    want = sum((a + n - 1) // t.burst_bytes - a // t.burst_bytes + 1 for a, n, _ in reqs)
    assert bursts_of(c) == want
    assert end >= max(x[0] for x in c.columns) + min(t.cl, t.cwl) + t.burst_tck
    again, end_again = served(reqs, t)
    assert end_again == end and again.columns == c.columns and again.stats == c.stats


@FAST
@given(reqs=one_burst_requests(), t=timings())
def test_one_burst_requests_keep_the_bus_spacing(reqs, t):
    """No two column commands closer than their spacing, so never faster than the bus."""
    c, end = served(reqs, t)
    assert not bus_violations(c), bus_violations(c)[:3]
    assert end >= bursts_of(c) * max(t.tccd, t.burst_tck)


@FAST
@given(reqs=ANY_REQUESTS, t=timings())
@example(reqs=[(0, 4096, False), (8192, 128, False)], t=T)
def test_any_requests_keep_the_bus_spacing(reqs, t):
    c, end = served(reqs, t)
    assert not bus_violations(c), bus_violations(c)[:3]
    assert end >= bursts_of(c) * max(t.tccd, t.burst_tck)


@FAST
@given(reqs=ANY_REQUESTS, t=timings())
@example(reqs=[(0, 128, False), (128, 128, False)], t=T)
def test_random_requests_respect_each_banks_row(reqs, t):
    c, _ = served(reqs, t)
    assert not bank_violations(c), bank_violations(c)[:3]


# ---- against DRAMsim3 ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def patterns(tmp_path_factory):
    """The nine request files, regenerated (and checked byte for byte) by the benchmark."""
    import dram_patterns

    return dram_patterns.write_patterns(tmp_path_factory.mktemp("dram-patterns"))


@pytest.fixture(scope="module")
def agreement():
    import dramsim3_agreement

    return dramsim3_agreement


def _agrees(agreement, patterns, name, peer_file, sets):
    peer = agreement.read_peer(peer_file)[name]
    doc = price_requests(load_hardware("edge-16x16", sets), read_requests(patterns[name]))
    assert doc["bytes_requested"] == peer["bytes_requested"]
    assert doc["bytes_moved"] == peer["bytes_moved"]
    bursts = doc["bytes_moved"] // T.burst_bytes
    assert doc["row_hits"] + doc["row_misses"] + doc["row_conflicts"] == bursts
    assert doc["time_ns"] == pytest.approx(peer["time_ns"], rel=agreement.TARGET), (
        name, doc["time_ns"], peer["time_ns"])
    return doc, peer


@pytest.mark.parametrize("name", ["seq_read", "seq_write", "strided_read_64B_4K",
                                  "strided_read_128B_1K", "block4k_read", "random64_read",
                                  "random64_write", "mixed_rw", "mixed_random_rw"])
def test_time_within_10_percent_of_dramsim3(agreement, patterns, name):
    doc, peer = _agrees(agreement, patterns, name, agreement.PEER, [])
    assert abs(doc["refreshes"] - peer["refreshes"]) <= 3
    # same counts priced with the same currents: the core energy (no I/O) agrees too
    hw = load_hardware("edge-16x16")
    core = agreement.core_energy(hw, doc)
    assert core["total"] == pytest.approx(peer["energy_total_pj"], rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["seq_read", "strided_read_64B_4K", "block4k_read",
                                  "random64_read", "mixed_rw", "mixed_random_rw"])
def test_time_without_refresh_within_10_percent_of_dramsim3(agreement, patterns, name):
    doc, _ = _agrees(agreement, patterns, name, agreement.PEER_NO_REFRESH, agreement.NO_REFRESH)
    assert doc["refreshes"] == 0


def test_patterns_are_the_ones_dramsim3_ran(patterns):
    import hashlib

    import dram_patterns

    assert list(patterns) == list(dram_patterns.PATTERNS)
    for name, path in patterns.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == dram_patterns.SHA256[name]


def _strided_runs_chunk_by_chunk(channel, address, chunks, chunk_bytes, stride_bytes):
    """The reference: walk a strided request's chunks one by one, merging bursts per row."""
    burst, per_row, banks = channel._burst, channel._per_row, channel._banks
    out: list[list[int]] = []
    for i in range(chunks):
        lo = address + i * stride_bytes
        for b in range(lo // burst, (lo + chunk_bytes - 1) // burst + 1):
            page = b // per_row
            if out and out[-1][0] == page:
                out[-1][1] += 1
            else:
                out.append([page, 1])
    return [(page % banks, page // banks, n) for page, n in out]


@settings(max_examples=300, deadline=None)
@given(address=st.integers(0, 1 << 24), chunks=st.integers(1, 400),
       chunk_bytes=st.integers(1, 5000), gap=st.integers(0, 9000))
@example(address=127, chunks=300, chunk_bytes=1, gap=0)  # one byte a burst
@example(address=0, chunks=100, chunk_bytes=4096, gap=0)  # chunks larger than a row
@example(address=5, chunks=512, chunk_bytes=16, gap=6)  # LeNet-5's C: a period of 64 chunks
@example(address=77, chunks=300, chunk_bytes=3, gap=0)  # an odd stride: a period of 128
@example(address=0, chunks=70, chunk_bytes=128, gap=0)  # a stride of whole bursts: period 1
def test_strided_request_runs_by_page_equal_walking_its_chunks(address, chunks, chunk_bytes,
                                                               gap):
    """A strided request's runs, counted by page in closed form (many chunks) or chunk by
    chunk (few), are the bursts its chunks touch, merged per row, in address order."""
    from accelsim.sim import channel as module

    channel = module.Channel(load_hardware("edge-16x16"))
    stride = chunk_bytes + channel._burst + gap  # the strided case: gaps of a burst or more
    runs = channel.runs(address, chunks, chunk_bytes, stride, False, 0)
    expected = _strided_runs_chunk_by_chunk(channel, address, chunks, chunk_bytes, stride)
    assert [(r.bank, r.row, r.bursts) for r in runs] == expected
    # the closed form itself, wherever the channel would or would not take it
    pages = module.strided_pages(address, chunks, chunk_bytes, stride, channel._burst,
                                 channel._per_row)
    banks = channel._banks
    assert [(page % banks, page // banks, n) for page, n in pages] == expected


def earliest_fit(c: DramController, want: int, n: int, write: bool) -> int:
    """The first cycle from ``want`` where ``n`` column commands ``gap`` apart go wholly
    before or wholly after every run already on the bus, their spacing kept: found by trying
    every cycle in turn."""
    span = (n - 1) * c.gap
    runs = list(zip(c.run_firsts, c.run_lasts, c.run_writes, strict=True))
    at = max(want, c.col_horizon)
    while not all(at + span + c.spacing[write][w] <= first or at >= last + c.spacing[w][write]
                  for first, last, w in runs):
        at += 1
    return at


PLACED_RUNS = st.lists(st.tuples(st.integers(0, 600), st.integers(1, 6), st.booleans()),
                       max_size=12)


@FAST
@given(t=timings(), placed=PLACED_RUNS, want=st.integers(0, 800), n=st.integers(1, 6),
       write=st.booleans())
@example(t=replace(T, tccd=12, trtw=1, cwl=1, twtr=1), placed=[(0, 1, True), (14, 1, False)],
         want=0, n=1, write=False)
def test_a_run_takes_the_earliest_gap_on_the_bus(t, placed, want, n, write):
    """``_columns_at`` passes each placed run once and still finds the first cycle that fits,
    also where a spacing is longer than a detour through the other direction (the example:
    tCCD 12 against 1 + (1 + 8 + 1))."""
    c = DramController(t)
    for at, k, w in placed:
        c._record_columns(c._columns_at(at, k, w), k, w)
    assert c._columns_at(want, n, write) == earliest_fit(c, want, n, write)



def test_an_empty_batch_takes_no_time():
    c = DramController(T)
    assert c.schedule([]) == 0 and c.read(0, []) == 0 and c.stats == type(c.stats)()
