"""RCT/APT's width rules against their definitions (``accelsim/train/methods/rct.py``): the
rounding noise a stochastic update injects, the noise guard that widens a layer and blocks its
narrowing, what Gavg measures (``gavg: step | gradient``), and APT's knob degrading gracefully
on a tiny problem."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from frontends import FRONTENDS

from accelsim.train.layers.loss import SoftmaxCrossEntropy
from accelsim.train.methods import METHODS
from accelsim.train.methods.rct import NARROWING, rounding_variance
from accelsim.train.quant import quantise
from accelsim.train.workload import load_workload


def rct(*overrides: str, kind: str = "numpy", seed: int = 0):
    """RCT on a fresh small front-end (mlp-digits' optimizer), and one batch."""
    frontend, x, y = FRONTENDS[kind](None, np.random.default_rng(seed))
    method = METHODS["rct"](frontend, load_workload("mlp-digits", list(overrides)),
                            np.random.default_rng(seed + 1))
    return method, frontend, x, y


def feed(method, scale: float, iterations: int, start: int = 0, seed: int = 0) -> None:
    """Updates from random gradients of ``scale`` (a known update size, no network needed)."""
    rng = np.random.default_rng(seed)
    for iteration in range(start, start + iterations):
        for p in method.params:
            p.set_grad(rng.normal(scale=scale, size=p.shape).astype(np.float32))
        method.update(iteration)


# ---- the rounding noise of a stochastic update ---------------------------------------------------

@pytest.mark.parametrize(("fraction", "variance"), [(0.0, 0.0), (0.25, 0.1875), (0.5, 0.25),
                                                   (1.5, 0.25), (2.0, 0.0), (-0.75, 0.1875)])
def test_rounding_variance_is_grid_squared_f_one_minus_f(fraction, variance):
    grid = 2.0 ** -5
    step = np.full(4, fraction * grid)
    assert rounding_variance(step, grid) == pytest.approx(4 * variance * grid ** 2)


def test_rounding_variance_matches_stochastic_rounding_draws():
    grid_bits, rng = 6, np.random.default_rng(3)
    w = quantise(rng.uniform(-1, 1, 64), grid_bits)
    step = rng.normal(scale=0.3 * w.step, size=64)
    draws = np.stack([quantise(w.values - step, grid_bits, rounding="stochastic", rng=rng,
                               exponent=w.exponent).values for _ in range(4000)])
    measured = float(np.sum(draws.var(axis=0)))
    assert measured == pytest.approx(rounding_variance(step, w.step), rel=0.05)


# ---- the noise guard -------------------------------------------------------------------------------

def test_noise_ratio_is_injected_noise_over_weight_power_per_iteration():
    method, *_ = rct("methods.rct.interval=1000", "optimizer.momentum=0")
    before = {p.name: p.value().copy() for p in method.params}
    grids = {p.name: quantise(p.value(), method.layer_bits[p.layer]).step
             for p in method.params}
    feed(method, 1e-3, 1)
    for layer, params in method.layers.items():
        # mlp-digits: lr 0.05, L2 decay 0.0001 added to the gradient
        noise = sum(rounding_variance(0.05 * (p.grad().astype(np.float64) + 0.0001 * before[
            p.name]), grids[p.name]) for p in params)
        power = sum(float(np.sum(p.value().astype(np.float64) ** 2)) for p in params)
        assert method.noise_ratio(layer) == pytest.approx(noise / power, rel=1e-3)


def test_guard_widens_a_layer_whose_noise_exceeds_the_budget():
    # Gavg inside [t_min, t_max]: only the guard can move a width
    kept, _, _, _ = rct("methods.rct.interval=5", "methods.rct.t_min=1e-9",
                        "methods.rct.t_max=1e6", "methods.rct.noise_budget=1e5")
    widened, _, _, _ = rct("methods.rct.interval=5", "methods.rct.t_min=1e-9",
                           "methods.rct.t_max=1e6", "methods.rct.noise_budget=1e-9")
    for method in (kept, widened):
        feed(method, 1e-3, 5)
    assert set(kept.layer_bits.values()) == {8}
    assert set(widened.layer_bits.values()) == {9}
    noise = widened.gavg_history[-1]["noise"]
    assert all(value > 1e-9 for value in noise.values())  # recorded: ratio x iterations


def test_guard_blocks_narrowing_that_would_break_the_budget():
    # Gavg far above t_max asks every layer to narrow
    args = ("methods.rct.interval=1", "methods.rct.t_min=1e-9", "methods.rct.t_max=1e-8")
    free, _, _, _ = rct(*args, "methods.rct.noise_budget=0")
    guarded, _, _, _ = rct(*args, "methods.rct.noise_budget=1e-9")
    feed(free, 1e-3, 1)
    feed(guarded, 1e-3, 1)
    assert set(free.layer_bits.values()) == {7}
    # blocked from narrowing, and over budget: widened instead
    assert set(guarded.layer_bits.values()) == {9}


def test_guard_allows_narrowing_within_the_budget():
    args = ("methods.rct.interval=1", "methods.rct.t_min=1e-9", "methods.rct.t_max=1e-8")
    method, _, _, _ = rct(*args, "methods.rct.noise_budget=1e5")
    feed(method, 1e-3, 1)
    assert set(method.layer_bits.values()) == {7}
    noise = method.gavg_history[-1]["noise"]
    assert all(NARROWING * value <= 1e5 for value in noise.values())


def test_guard_off_records_no_noise_and_costs_no_ops():
    on, _, _, _ = rct("methods.rct.interval=1")
    off, _, _, _ = rct("methods.rct.interval=1", "methods.rct.noise_budget=0")
    feed(on, 1e-3, 1)
    feed(off, 1e-3, 1)
    assert "noise" in on.gavg_history[-1] and "noise" not in off.gavg_history[-1]
    layer = next(iter(on.layers))
    ops = {m: next(v.ops for v in m.update_work(layer, 0) if v.kind == "rct_update")
           for m in (on, off)}
    assert ops[on] - ops[off] == 7


# ---- what Gavg measures --------------------------------------------------------------------------

@pytest.mark.parametrize("measure", ["step", "gradient"])
def test_gavg_is_mean_magnitude_over_grid_averaged_per_tensor(measure):
    method, *_ = rct("methods.rct.interval=2", "optimizer.momentum=0",
                     "optimizer.weight_decay=0", f"methods.rct.gavg={measure}")
    rng, expected = np.random.default_rng(9), {}
    for iteration in range(2):
        for p in method.params:
            g = rng.normal(scale=1e-2, size=p.shape).astype(np.float32)
            p.set_grad(g)
            stored = quantise(g, 16).values  # the gradient as RCT stores it
            moved = stored if measure == "gradient" else 0.05 * stored  # lr 0.05, plain SGD
            grid = quantise(p.value(), method.layer_bits[p.layer]).step
            expected.setdefault(p.layer, []).append(float(np.mean(np.abs(moved))) / grid)
        method.update(iteration)
    gavg = method.gavg_history[-1]["gavg"]
    for layer, values in expected.items():
        assert gavg[layer] == pytest.approx(np.mean(values), rel=1e-4)


def test_gradient_gavg_is_the_step_gavg_over_the_learning_rate():
    common = ("methods.rct.interval=1", "optimizer.momentum=0", "optimizer.weight_decay=0",
              "methods.rct.noise_budget=0")
    step, _, _, _ = rct(*common, "methods.rct.gavg=step")
    gradient, _, _, _ = rct(*common, "methods.rct.gavg=gradient")
    feed(step, 1e-2, 1)
    feed(gradient, 1e-2, 1)
    for layer in step.layers:
        assert gradient.gavg_history[0]["gavg"][layer] == pytest.approx(
            step.gavg_history[0]["gavg"][layer] / 0.05, rel=1e-4)


def test_an_unknown_gavg_measure_is_refused():
    with pytest.raises(Exception, match="gavg"):
        load_workload("mlp-digits", ["methods.rct.gavg=update"])


# ---- APT's knob on a tiny problem --------------------------------------------------------------

def mean_width(tradeoff: float, budget: float, iterations: int = 240) -> float:
    """Mean width over layers and iterations of RCT training a tiny MLP on one fixed batch."""
    method, frontend, x, y = rct("methods.rct.interval=4", f"methods.rct.tradeoff={tradeoff}",
                                 f"methods.rct.noise_budget={budget}", "optimizer.lr=0.2")
    total = 0.0
    for iteration in range(iterations):
        method.begin_batch()
        method.before_forward()
        loss = SoftmaxCrossEntropy()
        loss.forward(frontend.forward(x), y)
        frontend.backward(loss.backward())
        method.after_backward()
        method.update(iteration)
        total += float(np.mean(list(method.layer_bits.values())))
    return total / iterations


def test_knob_narrows_monotonically_and_the_guard_bounds_it():
    knobs = (0.0, 1.0, 3.0, 10.0, 100.0)
    guarded = [mean_width(k, 0.1) for k in knobs]
    free = [mean_width(k, 0.0) for k in knobs]
    assert all(a >= b - 1e-9 for a, b in pairwise(guarded)), guarded
    assert all(a >= b - 1e-9 for a, b in pairwise(free)), free
    # without the guard the knob drives widths to the floor; with it they stay above
    assert free[-1] < guarded[-1]
