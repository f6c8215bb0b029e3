"""The binary-network layers: Sign's straight-through estimator and what each store mode keeps,
l1 batch norm's exact backward against finite differences, its "sign" backward against the
formula written out here, and the errors a bad definition or input raises."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.errors import WorkloadError
from accelsim.train.layers import L1BatchNorm1d, L1BatchNorm2d, Sign

F64 = np.float64


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def reduced_axes(x: np.ndarray) -> tuple[int, ...]:
    return (0, *range(2, x.ndim))


def per_feature(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


# ---- Sign ---------------------------------------------------------------------------------------

def test_sign_forward_is_plus_one_at_zero_and_keeps_the_dtype():
    x = np.array([[-2.0, -0.0, 0.0, 1e-30, -1e-30, 3.0]], dtype=np.float32)
    y = Sign().forward(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [[-1, 1, 1, 1, -1, 1]])


@pytest.mark.parametrize("store", ["real", "mask"])
def test_sign_backward_is_the_hardtanh_straight_through_estimator(store):
    one = np.float32(1.0)
    x = np.array([-1.5, np.nextafter(-one, -2 * one), -one, -0.5, 0.0, 0.5, one,
                  np.nextafter(one, 2 * one), 1.5], dtype=np.float32)
    grad_out = np.arange(1, x.size + 1, dtype=np.float32)
    layer = Sign(store=store)
    layer.forward(x)
    grad_in = layer.backward(grad_out)
    assert grad_in.dtype == np.float32
    # |x| <= 1 passes, 1 inclusive; the next float beyond +-1 is blocked.
    np.testing.assert_array_equal(grad_in, [0, 0, 3, 4, 5, 6, 7, 0, 0])


def test_sign_store_real_and_mask_give_identical_gradients(rng):
    x = (rng.standard_normal((16, 3, 5, 5)) * 1.5).astype(np.float32)
    grad_out = rng.standard_normal(x.shape).astype(np.float32)
    grads = {}
    for store in ("real", "mask"):
        layer = Sign(store=store)
        layer.forward(x)
        grads[store] = layer.backward(grad_out)
    np.testing.assert_array_equal(grads["real"], grads["mask"])


@pytest.mark.parametrize("dtype,store,kept_dtype,bits", [
    (np.float32, "real", np.float32, 32),
    (F64, "real", F64, 64),
    (np.float32, "mask", np.bool_, 1),
])
def test_sign_keeps_the_input_or_only_a_bool_mask(rng, dtype, store, kept_dtype, bits):
    x = rng.standard_normal((4, 7)).astype(dtype)
    layer = Sign(store=store)
    layer.forward(x)
    kept = layer.saved()
    assert kept.dtype == kept_dtype and kept.shape == x.shape
    assert layer.kept_bits_per_element == bits
    if store == "real":
        assert kept is x  # a reference: the standard method holds the layer's input
    else:
        np.testing.assert_array_equal(kept, np.abs(x) <= 1)


def test_sign_without_input_gradient_returns_none(rng):
    layer = Sign(store="mask")
    layer.needs_input_grad = False
    layer.forward(rng.standard_normal((2, 3)))
    assert layer.backward(np.ones((2, 3))) is None


# ---- L1BatchNorm: forward and statistics ------------------------------------------------------

def test_l1_batchnorm_train_normalises_and_updates_running_statistics(rng):
    bn = L1BatchNorm2d(3, momentum=0.25, dtype=F64)
    x = rng.standard_normal((4, 3, 5, 5)) * [[[[2.0]], [[0.5]], [[3.0]]]] + 7.0
    y = bn.forward(x)
    mean = x.mean(axis=(0, 2, 3))
    abs_dev = np.abs(x - mean.reshape(1, 3, 1, 1)).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(y).mean(axis=(0, 2, 3)), abs_dev / (abs_dev + 1e-5))
    np.testing.assert_allclose(bn.running_mean, 0.25 * mean)
    np.testing.assert_allclose(bn.running_abs_dev, 0.75 + 0.25 * abs_dev)


@pytest.mark.parametrize("backward", ["exact", "sign"])
def test_l1_batchnorm_eval_uses_and_keeps_the_running_statistics(backward):
    bn = L1BatchNorm1d(2, backward=backward, dtype=F64)
    bn.running_mean[:] = [1.0, -2.0]
    bn.running_abs_dev[:] = [4.0, 0.25]
    bn.weight.value[:] = [2.0, 1.0]
    bn.bias.value[:] = [0.5, 0.0]
    y = bn.eval().forward(np.array([[3.0, -1.0]]))  # one sample is fine in eval mode
    np.testing.assert_allclose(y, [[2.0 * 2.0 / (4 + 1e-5) + 0.5, 1.0 / (0.25 + 1e-5)]])
    np.testing.assert_array_equal(bn.running_mean, [1.0, -2.0])
    np.testing.assert_array_equal(bn.running_abs_dev, [4.0, 0.25])
    grad_in = bn.backward(np.array([[1.0, 3.0]]))  # statistics are constants: g / sigma
    np.testing.assert_allclose(grad_in, [[2.0 / (4 + 1e-5), 3.0 / (0.25 + 1e-5)]])


@pytest.mark.parametrize("backward", ["exact", "sign"])
def test_l1_batchnorm_trains_in_float32(rng, backward):
    bn = L1BatchNorm2d(2, backward=backward)
    x = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    y = bn.forward(x)
    grad_in = bn.backward(np.ones_like(y))
    assert y.dtype == grad_in.dtype == bn.weight.grad.dtype == bn.bias.grad.dtype == np.float32
    assert bn.running_mean.dtype == bn.running_abs_dev.dtype == np.float32


# ---- L1BatchNorm "exact": finite differences ----------------------------------------------------

def spread_out(rng, shape, scale, shift):
    """Random input whose per-feature deviations d = x - mean stay far from 0, so a
    finite-difference step (1e-6, moving the mean by 1e-6 / count) never crosses |d|'s kink."""
    x = rng.standard_normal(shape) * scale + shift
    d = x - x.mean(axis=reduced_axes(x), keepdims=True)
    assert np.abs(d).min() > 1e-3
    return x


def test_l1_batchnorm1d_exact_train(gradcheck, rng):
    bn = L1BatchNorm1d(4, dtype=F64)
    bn.weight.value[:] = rng.uniform(0.5, 2.0, 4)
    bn.bias.value[:] = rng.standard_normal(4)
    assert gradcheck(bn, spread_out(rng, (6, 4), 3.0, 1.0)) == [
        "input", "l1bn.weight", "l1bn.bias"]


def test_l1_batchnorm2d_exact_train(gradcheck, rng):
    bn = L1BatchNorm2d(3, name="bn", dtype=F64)
    bn.weight.value[:] = rng.uniform(0.5, 2.0, 3)
    gradcheck(bn, spread_out(rng, (2, 3, 3, 4), 2.0, -1.0))


def test_l1_batchnorm_exact_train_without_affine(gradcheck, rng):
    assert gradcheck(L1BatchNorm1d(3, affine=False, dtype=F64),
                     spread_out(rng, (5, 3), 1.0, 0.0)) == ["input"]


def test_l1_batchnorm2d_exact_eval(gradcheck, rng):
    bn = L1BatchNorm2d(3, dtype=F64)
    bn.forward(rng.standard_normal((4, 3, 2, 2)) * 2 + 1)  # move the running statistics
    gradcheck(bn.eval(), rng.standard_normal((2, 3, 3, 3)))


# ---- L1BatchNorm "sign": its definition, what it keeps, how close it is -------------------------

def sign_backward_by_definition(x, gamma, grad_out, eps=1e-5):
    """The "sign" backward written out from scratch: the exact l1 batch-norm gradient with
    xhat replaced by s = sign(xhat) (+1 at 0):
    dx = gamma / sigma * (dy - mean(dy) - (s - mean(s)) * mean(dy * s)),
    dgamma = sum(dy * s), dbeta = sum(dy)."""
    axes = reduced_axes(x)
    d = x - x.mean(axis=axes, keepdims=True)
    sigma = np.abs(d).mean(axis=axes, keepdims=True) + eps
    s = np.where(d >= 0, 1.0, -1.0)
    g = grad_out * per_feature(gamma, x)
    dx = (g - g.mean(axis=axes, keepdims=True)
          - (s - s.mean(axis=axes, keepdims=True)) * (g * s).mean(axis=axes, keepdims=True)) / sigma
    return dx, (grad_out * s).sum(axis=axes), grad_out.sum(axis=axes)


@pytest.mark.parametrize("cls,shape", [(L1BatchNorm1d, (8, 5)), (L1BatchNorm2d, (3, 4, 3, 5))])
def test_l1_batchnorm_sign_backward_matches_its_definition(rng, cls, shape):
    x = rng.standard_normal(shape) * 2 + 0.5
    grad_out = rng.standard_normal(shape)
    bn = cls(shape[1], backward="sign", dtype=F64)
    bn.weight.value[:] = rng.uniform(0.5, 2.0, shape[1])
    bn.bias.value[:] = rng.standard_normal(shape[1])
    y = bn.forward(x)
    exact = cls(shape[1], dtype=F64)
    exact.weight.value[:], exact.bias.value[:] = bn.weight.value, bn.bias.value
    np.testing.assert_allclose(y, exact.forward(x), rtol=1e-12)  # forward is the same
    dx, dgamma, dbeta = sign_backward_by_definition(x, bn.weight.value, grad_out)
    np.testing.assert_allclose(bn.backward(grad_out), dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.weight.grad, dgamma, rtol=1e-12)
    np.testing.assert_allclose(bn.bias.grad, dbeta, rtol=1e-12)


@pytest.mark.parametrize("backward,kept_dtype,bits", [
    ("exact", np.float32, 32), ("sign", np.bool_, 1)])
def test_l1_batchnorm_keeps_xhat_or_only_its_sign(rng, backward, kept_dtype, bits):
    bn = L1BatchNorm2d(3, backward=backward)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    y = bn.forward(x)
    kept, inv_sigma, trained = bn.saved()
    assert kept.dtype == kept_dtype and kept.shape == x.shape
    assert inv_sigma.dtype == np.float32 and inv_sigma.shape == (3,)
    assert trained is True
    assert bn.kept_bits_per_element == bits
    if backward == "sign":
        np.testing.assert_array_equal(kept, y >= 0)  # gamma = 1, beta = 0: y is xhat


def exact_and_sign_gradients(cls, x, grad_out):
    out = {}
    for mode in ("exact", "sign"):
        bn = cls(x.shape[1], backward=mode, dtype=F64)
        bn.forward(x)
        out[mode] = bn.backward(grad_out)
    return out["exact"], out["sign"]


@pytest.mark.parametrize("cls,shape", [(L1BatchNorm1d, (64, 16)), (L1BatchNorm2d, (8, 4, 6, 6))])
def test_l1_batchnorm_sign_backward_is_close_to_the_exact_one(rng, cls, shape):
    """Random normal input and upstream gradient: the two input gradients differ only in the
    per-feature mean(g * xhat) vs mean(g * s). Measured cosine at this seed: 0.9962 (1d) and
    0.9999 (2d); over seeds 0-19, at least 0.992 (1d) and 0.996 (2d)."""
    x = rng.standard_normal(shape) * 2 + 1
    exact, sign = exact_and_sign_gradients(cls, x, rng.standard_normal(shape))
    assert cosine(exact, sign) > 0.8


def test_l1_batchnorm_sign_backward_on_its_hardest_gradient(rng):
    """An upstream gradient close to xhat (which the exact backward nearly cancels) is the
    approximation's weak case: cosine about 0.8, not 0.99."""
    x = rng.standard_normal((64, 16)) * 2 + 1
    exact, sign = exact_and_sign_gradients(L1BatchNorm1d, x,
                                           x + 0.5 * rng.standard_normal(x.shape))
    assert 0.7 < cosine(exact, sign) < 0.9


# ---- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("make,message", [
    (lambda: Sign(store="bits"),
     r"layer 'sign' \(Sign\): store must be one of 'real', 'mask', got 'bits'"),
    (lambda: L1BatchNorm1d(4, name="bn", backward="approx"),
     r"layer 'bn' \(L1BatchNorm1d\): backward must be one of 'exact', 'sign', 'paper', got 'approx'"),
    (lambda: L1BatchNorm2d(0, name="bn"),
     r"layer 'bn' \(L1BatchNorm2d\): num_features must be a positive integer, got 0"),
    (lambda: L1BatchNorm1d(4, name="bn", momentum=-0.1),
     r"layer 'bn' \(L1BatchNorm1d\): momentum must be in \[0, 1\], got -0\.1"),
    (lambda: L1BatchNorm1d(4, name="bn", eps=0.0),
     r"layer 'bn' \(L1BatchNorm1d\): eps must be positive, got 0\.0"),
])
def test_bad_binary_layer_definitions_raise_workload_errors(make, message):
    with pytest.raises(WorkloadError, match=message):
        make()


@pytest.mark.parametrize("layer,x,message", [
    (L1BatchNorm1d(3, name="bn"), np.zeros((2, 3, 4)),
     r"layer 'bn' \(L1BatchNorm1d\): expected input of shape \[N, 3\], got \[2, 3, 4\]"),
    (L1BatchNorm2d(3, name="bn"), np.zeros((2, 4, 5, 5)),
     r"layer 'bn' \(L1BatchNorm2d\): expected input of shape \[N, 3, \*, \*\], got \[2, 4, 5, 5\]"),
    (L1BatchNorm1d(3, name="bn"), np.zeros((1, 3)),
     r"layer 'bn' \(L1BatchNorm1d\): training needs more than one value per feature, got "
     r"input \[1, 3\]"),
    (Sign(name="act"), np.array([1, -1]),
     r"layer 'act' \(Sign\): expected floating-point input, got dtype int64"),
])
def test_bad_binary_layer_inputs_raise_workload_errors(layer, x, message):
    with pytest.raises(WorkloadError, match=message):
        layer.forward(x)


@pytest.mark.parametrize("layer", [Sign(name="act"), L1BatchNorm1d(2, name="bn")])
def test_backward_before_forward_raises(layer):
    with pytest.raises(RuntimeError, match=rf"layer '{layer.name}': backward called before "
                                           "forward"):
        layer.backward(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        _ = layer.kept_bits_per_element
