"""Each training method's policy, run against every front-end (``frontends.FRONTENDS``: a fake
framework and the numpy layers), through the interfaces alone: update rules, widths, the
weights swapped in for the GEMMs and restored, gradients and optimizer state at their widths,
parameters written in place."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Recorder
from frontends import FRONTENDS

from accelsim.train.gemm import observing
from accelsim.train.iteration import run_iteration
from accelsim.train.layers.loss import SoftmaxCrossEntropy
from accelsim.train.methods import METHODS
from accelsim.train.quant import quantise
from accelsim.train.workload import load_workload

LR, MOMENTUM, DECAY = 0.05, 0.9, 0.0001  # mlp-digits' optimizer


@pytest.fixture(params=sorted(FRONTENDS))
def kind(request) -> str:
    return request.param


def setup(method: str, kind: str, *overrides: str, seed: int = 0):
    """A method on a fresh front-end in the form it asks for, and one batch."""
    cls = METHODS[method]
    frontend, x, y = FRONTENDS[kind](cls.variant, np.random.default_rng(seed))
    return cls(frontend, load_workload("mlp-digits", list(overrides)),
               np.random.default_rng(seed + 1)), frontend, x, y


def backward_pass(method, frontend, x, y) -> None:
    """An iteration up to its update: the hooks, forward, loss, backward."""
    method.begin_batch()
    method.before_forward()
    loss = SoftmaxCrossEntropy()
    loss.forward(frontend.forward(x), y)
    frontend.backward(loss.backward())
    method.after_backward()


def values(method) -> dict[str, np.ndarray]:
    return {p.name: p.value().copy() for p in method.params}


def grads(method) -> dict[str, np.ndarray]:
    return {p.name: p.grad().copy() for p in method.params}


def on_grid(x: np.ndarray, bits: int) -> bool:
    return np.array_equal(quantise(x, bits).values, x)


def sgd_by_hand(w: np.ndarray, g: np.ndarray, v: np.ndarray | None):
    """PyTorch's SGD step in float64: the new weights and velocity."""
    d = g.astype(np.float64) + DECAY * w
    v = d if v is None else MOMENTUM * v + d
    return w - LR * v, v


# ---- fp32 ---------------------------------------------------------------------------------------

def test_fp32_is_sgd_with_momentum_and_float_gemms(kind):
    fp32, frontend, x, y = setup("fp32", kind)
    seen = Recorder()
    velocity: dict[str, np.ndarray | None] = dict.fromkeys(values(fp32))
    with observing(fp32.observer()), observing(seen):
        for it in range(2):
            backward_pass(fp32, frontend, x, y)
            before, g = values(fp32), grads(fp32)
            fp32.update(it)
            for p in fp32.params:
                want, velocity[p.name] = sgd_by_hand(before[p.name], g[p.name], velocity[p.name])
                np.testing.assert_allclose(p.value(), want, rtol=1e-5, atol=1e-7)
                np.testing.assert_allclose(fp32.optimizer.state(p)["momentum"],
                                           velocity[p.name], rtol=1e-5, atol=1e-7)
    assert seen.ops and all(op.dtype == "fp" and op.a_bits == op.b_bits == 32 for op in seen.ops)


# ---- qat ----------------------------------------------------------------------------------------

def test_qat_computes_with_a_quantised_copy_and_steps_the_master(kind):
    qat, frontend, x, y = setup("qat", kind)
    master, views = values(qat), {p.name: p.value() for p in qat.params}
    seen = Recorder()
    with observing(qat.observer()), observing(seen):
        qat.begin_batch()
        qat.before_forward()
        for p in qat.params:  # the quantised copy, written into the same storage
            assert np.array_equal(p.value(), quantise(master[p.name], 8).values), p.name
            assert np.shares_memory(p.value(), views[p.name])
        loss = SoftmaxCrossEntropy()
        loss.forward(frontend.forward(x), y)
        frontend.backward(loss.backward())
        qat.after_backward()
    assert all(np.array_equal(p.value(), master[p.name]) for p in qat.params)  # restored
    assert all((op.a_bits, op.b_bits, op.dtype) == (8, 8, "int") for op in seen.ops)
    g = grads(qat)
    qat.update(0)
    for p in qat.params:  # straight through: the master takes the copy's gradient, in fp32
        want, _ = sgd_by_hand(master[p.name], g[p.name], None)
        np.testing.assert_allclose(p.value(), want, rtol=1e-5, atol=1e-7)


def test_qat_stores_gradients_at_grad_bits(kind):
    qat, frontend, x, y = setup("qat", kind, "methods.qat.grad_bits=4")
    with observing(qat.observer()):
        backward_pass(qat, frontend, x, y)
    assert all(on_grid(p.grad(), 4) for p in qat.params)
    # fc1 holds 6 x 5 + 5 values, fc2 5 x 3 + 3: 4 bits each, whole bytes per layer
    assert qat.memory()["weight_grads_bytes"] == (35 * 4 + 7) // 8 + (18 * 4 + 7) // 8


# ---- rct ----------------------------------------------------------------------------------------

def test_rct_keeps_weights_gradients_and_momentum_on_their_grids(kind):
    rct, frontend, x, y = setup("rct", kind)
    assert all(on_grid(p.value(), 8) for p in rct.params)  # quantised from the start
    with observing(rct.observer()):
        for it in range(3):
            run_iteration(frontend, rct, None, x, y, it)
    for p in rct.params:
        assert on_grid(p.value(), rct.layer_bits[p.layer]), p.name
        assert on_grid(p.grad(), 16), p.name
        assert on_grid(rct.optimizer.state(p)["momentum"], 16), p.name


def test_rct_gains_bits_when_updates_underflow(kind):
    rct, _, _, _ = setup("rct", kind, "methods.rct.interval=2", "methods.rct.t_min=0.5",
                         "methods.rct.t_max=1000")
    rng = np.random.default_rng(0)
    for it in range(4):
        for p in rct.params:
            p.set_grad(rng.normal(scale=1e-4, size=p.shape).astype(np.float32))
        rct.update(it)
    assert set(rct.layer_bits.values()) == {10}  # +1 bit at iterations 2 and 4
    assert [h["iteration"] for h in rct.history] == [0, 2, 4]
    assert [g["iteration"] for g in rct.gavg_history] == [2, 4]
    assert all(on_grid(p.value(), 10) for p in rct.params)


def test_rct_loses_bits_and_moves_weights_onto_the_coarser_grid(kind):
    rct, _, _, _ = setup("rct", kind, "methods.rct.interval=1", "methods.rct.t_min=0.001",
                         "methods.rct.t_max=0.01")
    for p in rct.params:
        p.set_grad(np.ones(p.shape, dtype=np.float32))
    rct.update(0)
    assert set(rct.layer_bits.values()) == {7}
    assert all(on_grid(p.value(), 7) for p in rct.params)


def test_rct_tradeoff_lowers_both_thresholds(kind):
    plain, apt = setup("rct", kind)[0], setup("rct", kind, "methods.rct.tradeoff=1.0")[0]
    assert apt.t_min == pytest.approx(plain.t_min / 2)
    assert apt.t_max == pytest.approx(plain.t_max / 2)


def test_rct_rounds_with_the_methods_generator(kind):
    def run(seed):
        rct, frontend, x, y = setup("rct", kind)
        rct.rng = np.random.default_rng(seed)
        with observing(rct.observer()):
            run_iteration(frontend, rct, None, x, y, 0)
        return b"".join(p.value().tobytes() for p in rct.params)

    assert run(5) == run(5) != run(6)


# ---- bnn, bnn-lowmem ----------------------------------------------------------------------------

BINARY = ["bnn", "bnn-lowmem"]


@pytest.mark.parametrize("method", BINARY)
def test_binary_methods_binarise_gemm_weights_and_pass_gradients_straight_through(kind, method):
    bnn, frontend, x, y = setup(method, kind)
    latents = [p for p in bnn.params if p.role == "gemm_weight"]
    others = [p for p in bnn.params if p.role != "gemm_weight"]
    assert latents and others
    assert all(np.abs(p.value()).max() <= 1.0 for p in latents)  # clipped at the start
    outside = latents[0]
    w = outside.value().copy()
    w.flat[0], w.flat[1] = 1.5, -0.25  # beyond the straight-through window, and inside it
    outside.assign(w)
    stored = values(bnn)
    with observing(bnn.observer()):
        bnn.begin_batch()
        bnn.before_forward()
        for p in latents:
            assert np.array_equal(p.value(), np.where(stored[p.name] >= 0, 1.0, -1.0))
        assert all(np.array_equal(p.value(), stored[p.name]) for p in others)
        loss = SoftmaxCrossEntropy()
        loss.forward(frontend.forward(x), y)
        frontend.backward(loss.backward())
        bnn.after_backward()
    assert all(np.array_equal(p.value(), stored[p.name]) for p in bnn.params)  # latents back
    g = outside.grad()
    assert g.flat[0] == 0.0 and g.flat[1] != 0.0
    if method == "bnn-lowmem":  # scaled signs: one magnitude per tensor
        assert all(len(np.unique(np.abs(p.grad()[p.grad() != 0]))) == 1 for p in latents)
    bnn.update(0)
    assert all(np.abs(p.value()).max() <= 1.0 for p in latents)  # clipped again


@pytest.mark.parametrize("method", BINARY)
def test_binary_methods_store_latents_and_state_at_their_widths(kind, method):
    bnn, frontend, x, y = setup(method, kind)
    with observing(bnn.observer()):
        for it in range(2):
            run_iteration(frontend, bnn, None, x, y, it)
    s = bnn.settings
    assert (s.latent_bits, s.state_bits) == ((32, 32) if method == "bnn" else (16, 16))
    for p in bnn.params:
        momentum = bnn.optimizer.state(p)["momentum"]
        if method == "bnn-lowmem":
            assert on_grid(momentum, 16), p.name
            if p.role == "gemm_weight":  # IEEE half precision (latent_format fp)
                assert np.array_equal(p.value(), p.value().astype(np.float16)), p.name
        else:
            assert not on_grid(momentum, 16), p.name  # kept in float


@pytest.mark.parametrize("method", BINARY)
def test_binary_gemms_are_one_bit_except_the_network_input(kind, method):
    bnn, frontend, x, y = setup(method, kind)
    seen = Recorder()
    with observing(bnn.observer()), observing(seen):
        backward_pass(bnn, frontend, x, y)
    ops = {(op.layer, op.phase): op for op in seen.ops}
    s = bnn.settings
    assert (ops["fc1", "fwd"].a_bits, ops["fc1", "fwd"].b_bits) == (s.input_bits, 1)
    assert (ops["fc2", "fwd"].a_bits, ops["fc2", "fwd"].b_bits) == (1, 1)
    assert (ops["fc2", "bwd_data"].a_bits, ops["fc2", "bwd_data"].b_bits) == (s.error_bits, 1)


# ---- every method -------------------------------------------------------------------------------

def test_each_method_asks_for_its_network_form():
    assert {name: cls.variant for name, cls in METHODS.items()} == {
        "fp32": None, "qat": None, "rct": None, "bnn": "bnn", "bnn-lowmem": "bnn-lowmem"}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_writes_parameters_in_place(kind, method):
    """Nothing rebinds a framework's tensor: after training, each parameter is the same
    storage it was, with new values."""
    m, frontend, x, y = setup(method, kind)
    views, before = {p.name: p.value() for p in m.params}, values(m)
    with observing(m.observer()):
        for it in range(2):
            run_iteration(frontend, m, None, x, y, it)
    assert all(np.shares_memory(p.value(), views[p.name]) for p in m.params)
    assert any(not np.array_equal(p.value(), before[p.name]) for p in m.params)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_evaluation_uses_the_deployed_weights_and_restores_the_stored_ones(kind, method):
    m = setup(method, kind)[0]
    stored = values(m)
    with m.inference():
        deployed = values(m)
    assert all(np.array_equal(p.value(), stored[p.name]) for p in m.params)
    swapped = {p.name for p in m.params if not np.array_equal(deployed[p.name], stored[p.name])}
    expected = {"fp32": set(), "rct": set(),  # RCT's stored weights are the deployed ones
                "qat": {p.name for p in m.params if not on_grid(stored[p.name], 8)},
                "bnn": {p.name for p in m.params if p.role == "gemm_weight"}}
    assert swapped == expected[method.removesuffix("-lowmem")]
