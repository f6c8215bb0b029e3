"""Tests for accelsim.sim.dram: hand-timed small requests, bandwidth properties, refresh, errors."""

import dataclasses
import time

import pytest

from accelsim.sim.dram import (
    DramTiming,
    StreamCost,
    lpddr4_3200,
    peak_bytes_per_tck,
    price_stream,
    refresh_stall,
)

MB = 1 << 20


@pytest.fixture
def lp4() -> DramTiming:
    return lpddr4_3200()


def price(t: DramTiming, chunk: int, stride: int, chunks: int, write: bool = False, base: int = 0):
    return price_stream(
        t, chunk_bytes=chunk, stride_bytes=stride, chunks=chunks, write=write, base=base
    )


def efficiency(t: DramTiming, cost: StreamCost, useful_bytes: int) -> float:
    return useful_bytes / cost.tck / peak_bytes_per_tck(t)


# --- the LPDDR4-3200 default -------------------------------------------------------------------


def test_lpddr4_3200_is_25_6_gb_per_s_with_128_byte_bursts_and_8_kb_rows(lp4):
    assert lp4.burst_bytes == 128
    assert lp4.row_bytes == 8192
    assert peak_bytes_per_tck(lp4) == 16.0
    assert peak_bytes_per_tck(lp4) / lp4.tck_ns == pytest.approx(25.6)  # bytes/ns == GB/s


def test_single_burst_latencies_match_the_reference_figures(lp4):
    # Closed row: ACT, tRCD, CL, burst = 69 tCK, about 43 ns.
    miss = price(lp4, 128, 128, 1)
    assert (miss.tck, miss.row_misses, miss.activates) == (69, 1, 1)
    assert miss.tck * lp4.tck_ns == pytest.approx(43, abs=0.5)
    # Two rows of one bank (64 KB apart = 8 pages): the second waits for tRAS, then tRP + tRCD.
    conflict = price(lp4, 128, 64 * 1024, 2)
    assert conflict.tck == 68 + 27 + 29 + 32 + 8
    assert (conflict.row_misses, conflict.row_conflicts, conflict.row_hits) == (1, 1, 0)
    # A conflict after the row has been open for tRAS costs tRP + tRCD + CL + burst: about 60 ns.
    assert (27 + 29 + 32 + 8) * lp4.tck_ns == pytest.approx(60)


def test_write_conflict_waits_for_write_recovery(lp4):
    cost = price(lp4, 128, 64 * 1024, 2, write=True)
    precharge = 29 + 18 + 8 + 28  # column + CWL + burst + tWR (later than tRAS = 68)
    assert cost.tck == precharge + 27 + 29 + 18 + 8


def test_next_bank_opens_while_the_current_one_streams(lp4):
    cost = price(lp4, 2 * 8192, 2 * 8192, 1)  # two full rows, banks 0 and 1
    assert (cost.row_misses, cost.row_hits) == (2, 126)
    # Bank 1's ACT (at tRRD = 16) hides under bank 0's 64 bursts: no bubble between the rows.
    assert cost.tck == 29 + 127 * 8 + 32 + 8


def test_a_chunk_crossing_a_row_boundary_opens_both_rows(lp4):
    cost = price(lp4, 256, 256, 1, base=8192 - 128)
    assert (cost.bursts, cost.row_misses) == (2, 2)
    assert cost.tck == (16 + 29) + 32 + 8  # second ACT at tRRD, its column at tRRD + tRCD


def test_tfaw_spaces_the_fifth_activate(lp4):
    slow = dataclasses.replace(lp4, tfaw=100)
    cost = price(slow, 128, 8192, 5)  # one burst in each of five banks
    assert cost.tck == 100 + 29 + 32 + 8
    assert price(lp4, 128, 8192, 5).tck == 4 * 16 + 29 + 32 + 8  # tFAW = 4 tRRD: never binds


# --- bandwidth properties ------------------------------------------------------------------------


def test_long_sequential_read_reaches_90_percent_of_peak_with_row_hits(lp4):
    cost = price(lp4, MB, MB, 1)
    assert efficiency(lp4, cost, MB) >= 0.90
    assert (cost.bursts, cost.activates) == (8192, 128)
    assert (cost.row_misses, cost.row_conflicts, cost.row_hits) == (8, 120, 8064)


def test_sequential_stream_of_small_chunks_prices_like_one_chunk(lp4):
    assert price(lp4, 4096, 4096, 256) == price(lp4, MB, MB, 1)


@pytest.mark.parametrize("stride", [4096, 8192, 64 * 1024])
def test_scattered_words_waste_bandwidth(lp4, stride):
    cost = price(lp4, 4, stride, 256)
    assert efficiency(lp4, cost, 4 * 256) < 0.15
    assert cost.bytes_moved == 128 * 256


@pytest.mark.parametrize("stride", [8192, 64 * 1024])
def test_scattered_stream_is_all_misses_and_conflicts(lp4, stride):
    cost = price(lp4, 4, stride, 256)
    assert cost.row_hits == 0
    assert cost.activates == cost.bursts == cost.row_misses + cost.row_conflicts


CASES = [  # (chunk, stride, chunks, base)
    (128, 128, 64, 0),
    (4, 4, 1000, 0),
    (4, 8, 32, 0),
    (4, 4096, 100, 0),
    (100, 300, 50, 7),
    (256, 256, 1, 8192 - 128),
    (3000, 10000, 20, 5),
    (8192, 16384, 10, 4096),
    (512, 64 * 1024, 16, 0),
]


@pytest.mark.parametrize(("chunk", "stride", "chunks", "base"), CASES)
def test_conservation_of_bytes_and_bursts(lp4, chunk, stride, chunks, base):
    cost = price(lp4, chunk, stride, chunks, base=base)
    assert cost.bytes_moved == cost.bursts * lp4.burst_bytes >= chunk * chunks
    assert cost.row_hits + cost.row_misses + cost.row_conflicts == cost.bursts
    assert cost.activates == cost.row_misses + cost.row_conflicts


@pytest.mark.parametrize(
    ("chunk", "stride", "chunks"), [(128, 128, 64), (256, 4096, 9), (MB, MB, 1)]
)
def test_burst_aligned_chunks_move_exactly_what_was_asked(lp4, chunk, stride, chunks):
    assert price(lp4, chunk, stride, chunks).bytes_moved == chunk * chunks


def test_over_fetch_counts_whole_bursts_and_shares_them_between_chunks(lp4):
    assert price(lp4, 4, 4, 1, base=126).bursts == 2  # straddles a burst boundary
    assert price(lp4, 4, 8, 32).bursts == 2  # 32 words in 256 bytes: two shared bursts
    assert price(lp4, 4, 256, 32).bursts == 32


def test_more_bytes_never_cost_fewer_cycles(lp4):
    for stride in (64, 128, 1000, 4096, 8192, 64 * 1024):
        previous = 0
        for chunks in range(1, 40):
            tck = price(lp4, 64, stride, chunks).tck
            assert tck >= previous, (stride, chunks)
            previous = tck
    for stride in (4096, 64 * 1024):
        previous = 0
        for chunk in range(1, stride + 1, 97):
            tck = price(lp4, chunk, stride, 8).tck
            assert tck >= previous, (stride, chunk)
            previous = tck


@pytest.mark.parametrize(
    ("chunk", "stride", "chunks"), [(MB, MB, 1), (4, 4096, 256), (256, 8192, 64)]
)
def test_writes_and_reads_differ_only_in_latency(lp4, chunk, stride, chunks):
    read, write = price(lp4, chunk, stride, chunks), price(lp4, chunk, stride, chunks, write=True)
    assert dataclasses.replace(write, tck=read.tck) == read
    assert read.tck - write.tck == lp4.cl - lp4.cwl  # tWR never binds with rows this far apart


def test_write_recovery_slows_same_bank_writes(lp4):
    read = price(lp4, 128, 64 * 1024, 100)
    write = price(lp4, 128, 64 * 1024, 100, write=True)
    assert write.tck > read.tck
    assert read.tck == 99 * (68 + 27) + 29 + 32 + 8  # tRC per conflict
    assert write.tck == 99 * (29 + 18 + 8 + 28 + 27) + 29 + 18 + 8


def test_sequential_megabyte_prices_in_well_under_10_ms(lp4):
    uncached = price_stream.__wrapped__
    best = min(
        _timed(lambda: uncached(lp4, chunk_bytes=MB, stride_bytes=MB, chunks=1, write=False))
        for _ in range(3)
    )
    assert best < 0.010


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def test_prices_are_cached_by_timing_and_request(lp4):
    first = price(lp4, 4096, 8192, 17)
    assert price(lpddr4_3200(), 4096, 8192, 17) is first


# --- refresh -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "busy", "stall"),
    [
        (0, 1000, 0),  # no refresh before tREFI
        (0, 6247, 0),  # ends exactly at the boundary: nothing left to delay
        (6000, 1000, 288),  # crosses 6247 once
        (6000, 6300, 576),  # ends at 12300 < 12494, pushed to 12588: crosses 12494 too
        (6247, 10, 288),  # starts as the refresh starts
        (6300, 10, 235),  # starts inside the refresh: waits until 6247 + 288 = 6535
        (6535, 10, 0),  # starts as the refresh ends
        (100, 0, 0),
    ],
)
def test_refresh_stall_hand_computed_lpddr4(lp4, start, busy, stall):
    assert refresh_stall(lp4, start, busy) == stall


def test_refresh_stall_chain_of_pushes():
    small = dataclasses.replace(lpddr4_3200(), trefi=100, trfc=30)
    assert refresh_stall(small, 90, 20) == 30  # 90..110 crosses 100
    # 90..175 crosses 100, is pushed to 205 and so crosses 200 as well: ends at 235.
    assert refresh_stall(small, 90, 85) == 60
    # 100 work before the first refresh, then 70 per period: 8 periods reach 660 work at 900,
    # the ninth refresh runs 900..930 and the last 40 end at 970.
    assert refresh_stall(small, 0, 700) == 270


def _refresh_stall_stepwise(t, start, busy):
    """The definition, one refresh at a time: the closed form must equal it."""
    if busy == 0:
        return 0
    k = start // t.trefi
    stall = max(0, k * t.trefi + t.trfc - start) if k >= 1 else 0
    end = start + stall + busy
    while (k + 1) * t.trefi < end:
        stall += t.trfc
        end += t.trfc
        k += 1
    return stall


def test_refresh_stall_closed_form_equals_stepping():
    import random

    rng = random.Random(7)
    for _ in range(3000):
        trefi = rng.randint(2, 400)
        t = dataclasses.replace(lpddr4_3200(), trefi=trefi, trfc=rng.randint(1, trefi - 1))
        start, busy = rng.randint(0, 5000), rng.randint(0, 5000)
        assert refresh_stall(t, start, busy) == _refresh_stall_stepwise(t, start, busy)


def test_refresh_stall_is_instant_for_huge_requests():
    t = dataclasses.replace(lpddr4_3200(), trefi=3, trfc=2)
    assert refresh_stall(t, 0, 10**15) == 2 * (10**15 - 3)


def test_every_configured_timing_reaches_the_model():
    """One source for the DRAM timing names: each ``*_tck`` key is a DramTiming field."""
    from accelsim.hardware.model import Lpddr4
    from accelsim.spec.fields import keys

    config = Lpddr4()
    configured = {k.name[:-4] for k in keys(Lpddr4) if k.name.endswith("_tck")}
    modelled = {f.name for f in dataclasses.fields(DramTiming)} - {
        "tck_ns", "bus_bytes", "burst_length", "banks", "row_bytes"}
    assert configured == modelled
    assert DramTiming.of(config) == lpddr4_3200()


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_bytes": 0}, "chunk_bytes must be positive, got 0"),
        ({"chunk_bytes": -4, "stride_bytes": 4}, "chunk_bytes must be positive, got -4"),
        ({"chunks": 0}, "chunks must be positive, got 0"),
        ({"stride_bytes": 64}, "stride_bytes must be >= chunk_bytes=128, got 64"),
        ({"base": -1}, "base must be non-negative, got -1"),
    ],
)
def test_bad_requests_name_the_argument_and_value(lp4, kwargs, message):
    request = {"chunk_bytes": 128, "stride_bytes": 128, "chunks": 4, "write": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        price_stream(lp4, **request)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tck_ns", 0.0, r"tck_ns must be positive, got 0\.0"),
        ("banks", 0, "banks must be positive, got 0"),
        ("trcd", -1, "trcd must be a non-negative int, got -1"),
        ("burst_length", 15, "burst_length must be even .*got 15"),
        ("row_bytes", 1000, "row_bytes must be a multiple of the burst size 128, got 1000"),
        ("trfc", 7000, "trfc must be shorter than trefi=6247, got 7000"),
    ],
)
def test_bad_timings_name_the_field_and_value(lp4, field, value, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(lp4, **{field: value})


def test_refresh_stall_rejects_negative_times(lp4):
    with pytest.raises(ValueError, match="start_tck must be non-negative, got -1"):
        refresh_stall(lp4, -1, 10)
    with pytest.raises(ValueError, match="busy_tck must be non-negative, got -5"):
        refresh_stall(lp4, 0, -5)
