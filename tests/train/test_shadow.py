"""ShadowWeights: the weights the GEMMs compute with, swapped over the stored ones in place and
back, exactly; on the fake front-end, whose storage a method can only reach through assign."""

from __future__ import annotations

import numpy as np
import pytest
from fake_frontend import FakeFrontend

from accelsim.train.shadow import ShadowWeights


def setup():
    frontend = FakeFrontend(np.random.default_rng(0))
    return frontend, frontend.params()


def test_swap_in_writes_the_shadow_into_the_storage_and_restore_writes_it_back():
    frontend, params = setup()
    stored = frontend.storage.copy()
    shadow = ShadowWeights(params[:2], lambda w: np.round(w * 4) / 4)
    shadow.swap_in()
    assert shadow.swapped
    for p in params[:2]:
        assert np.array_equal(p.value(), np.round(p.value() * 4) / 4)
    untouched = [p.name for p in params[2:]]
    assert frontend.assigned == [p.name for p in params[:2]]
    shadow.restore()
    assert not shadow.swapped
    assert np.array_equal(frontend.storage, stored)  # bit for bit
    assert not any(name in frontend.assigned for name in untouched)


def test_the_stored_values_move_with_the_owner_between_swaps():
    """The buffer is reused, but each swap saves what is stored then (an update in between)."""
    params = setup()[1]
    shadow = ShadowWeights(params, np.sign)
    with shadow.swapped_in():
        pass
    params[0].assign(np.full(params[0].shape, 0.5, dtype=np.float32))
    with shadow.swapped_in():
        assert np.all(params[0].value() == 1.0)
    assert np.all(params[0].value() == 0.5)


def test_swapping_twice_is_an_error_and_restoring_unswapped_weights_does_nothing():
    frontend, params = setup()
    shadow = ShadowWeights(params, np.sign)
    stored = frontend.storage.copy()
    shadow.restore()
    assert np.array_equal(frontend.storage, stored)
    shadow.swap_in()
    with pytest.raises(RuntimeError, match="already swapped in; restore them first"):
        shadow.swap_in()
    shadow.restore()
    assert np.array_equal(frontend.storage, stored)


def test_a_failing_shadow_leaves_the_weights_restorable():
    frontend, params = setup()
    stored = frontend.storage.copy()
    calls = []

    def shadow_of(w):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("cannot quantise")
        return np.zeros_like(w)

    shadow = ShadowWeights(params, shadow_of)
    with pytest.raises(ValueError, match="cannot quantise"), shadow.swapped_in():
        pass
    assert np.array_equal(frontend.storage, stored)
