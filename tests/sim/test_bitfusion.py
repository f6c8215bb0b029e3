"""Bit Fusion packs along the reduction: fused PEs of 16-bit bricks follow Bit Fusion's
simulator rule, M x ceil(K / (rows x pf)) x ceil(N / cols) folds-steps, for every dataflow."""

from math import ceil

import pytest

from accelsim.hardware import load_hardware
from accelsim.sim.mapping import Folding, beat_for, dims, folds, gemm_cycles

LAYERS = [(12544, 64, 147), (3136, 64, 576), (784, 256, 128), (16, 1000, 512), (1, 1024, 1024)]
PRECISIONS = [(16, 16), (8, 8), (4, 4), (2, 2), (8, 2), (4, 8), (3, 5)]


def pf(a, b):
    """Bit Fusion's perf factor with bricks rounded up to powers of two (its simulator's int
    rule gives 5 for 3 bits; two 2-bit bricks are what hardware needs)."""
    up = {1: 2, 2: 2, 3: 4, 4: 4, 5: 8, 6: 8, 7: 8, 8: 8, 16: 16}
    return (16 // up[a]) * (16 // up[b])


@pytest.mark.parametrize("dataflow", ["ws", "is", "os"])
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize(("a", "b"), PRECISIONS)
def test_folds_follow_bit_fusions_rule(dataflow, layer, a, b):
    hw = load_hardware("edge-16x16", [f"array.dataflow={dataflow}"])
    m, n, k = layer
    array = hw.array
    _rows_dim, cols_dim, time = dims(dataflow, m, n, k)
    assert beat_for(array, a, b).pack == pf(a, b)
    if dataflow == "os":  # K streams: each step takes pf of it
        steps = ceil(k / pf(a, b))
        assert folds(array, m, n, k, a, b) == ceil(m / 16) * ceil(n / 16)
        work = folds(array, m, n, k, a, b) * steps
        assert work == ceil(m / 16) * ceil(n / 16) * ceil(k / pf(a, b))
    else:  # K spans the rows, 16 x pf of it per fold
        assert folds(array, m, n, k, a, b) == ceil(k / (16 * pf(a, b))) * ceil(cols_dim / 16)
        work = folds(array, m, n, k, a, b) * time
        if dataflow == "ws":  # Bit Fusion's own mapping: exactly its rule
            assert work == m * ceil(k / (16 * pf(a, b))) * ceil(n / 16)
    cycles = gemm_cycles(array, m, n, k, a, b)
    f = Folding.of(array, beat_for(array, a, b))
    fill = cycles - work  # what accelsim adds: preload or drain, and skew, per fold
    assert 0 <= fill <= folds(array, m, n, k, a, b) * (2 * 16 + 16 - 2)
    assert f.row_span == (16 if dataflow == "os" else 16 * pf(a, b))


def test_a_batch_one_gemv_gains_the_full_factor():
    """The case the old packing along the streamed dimension got wrong: 1.0x there, 64x here."""
    hw = load_hardware("edge-16x16")
    wide = folds(hw.array, 1, 1024, 1024, 16, 16)
    narrow = folds(hw.array, 1, 1024, 1024, 2, 2)
    assert wide / narrow == 64
