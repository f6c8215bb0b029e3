"""Wang et al.'s low-memory BNN as published (bnn-lowmem's defaults), their four networks, and
their memory savings on their terms (docs/papers-bnn.md, docs/training-methods.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.train.data import dataset_shape
from accelsim.train.frontend_factory import build_frontend
from accelsim.train.gemm import GemmOp
from accelsim.train.iteration import run_iteration
from accelsim.train.layers import L1BatchNorm1d, L1BatchNorm2d
from accelsim.train.layers.binary import paper_norm_input_grad
from accelsim.train.memory import resident_memory, training_memory
from accelsim.train.methods import METHODS
from accelsim.train.methods.bnn import fan_scaled_signs
from accelsim.train.workload import load_workload

F64 = np.float64
PAPER = {"bnn-mlp-mnist": 2.78, "bnn-cnv-cifar10": 4.17, "bnn-binarynet-cifar10": 3.71,
         "bnn-resnete18-imagenet": 3.78}  # their README's modelled memory savings
MIB = 2**20


def fp16(x):
    return np.asarray(x).astype(np.float16).astype(np.asarray(x).dtype)


# ---- the method's definition ----------------------------------------------------------------

def test_the_workloads_train_as_the_paper_does():
    for name in PAPER:
        w = load_workload(name)
        assert (w.optimizer.name, w.optimizer.lr, w.optimizer.eps) == ("adam", 1e-3, 1e-7)
        assert w.batch_size == (4096 if "imagenet" in name else 100)
        s = w.methods.bnn_lowmem
        assert (s.latent_bits, s.latent_format, s.error_bits, s.error_format) == (16, "fp", 16,
                                                                                  "fp")
        assert (s.grad_bits, s.grad_scale, s.norm_backward, s.state_bits) == (1, "fan", "paper",
                                                                              16)


def test_weight_gradients_are_signs_over_the_root_of_fan_in_times_fan_out(rng):
    grad = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)  # conv 3 -> 8, 3x3
    grad[0, 0, 0, 0] = 0.0  # their sign(dW + 1e-16): 0 counts as positive
    passed = rng.random(grad.shape) < 0.8
    fan_in, fan_out = 3 * 3 * 3, 8
    want = np.where(grad >= 0, 1.0, -1.0) / math.sqrt(fan_in * fan_out) * passed
    np.testing.assert_array_equal(fan_scaled_signs(grad, passed), want.astype(np.float32))
    assert fan_scaled_signs(grad, passed)[0, 0, 0, 0] == pytest.approx(
        passed[0, 0, 0, 0] / math.sqrt(216))


def lowmem_run(iterations: int = 2, batch: int = 8):
    w = load_workload("bnn-mlp-mnist", [f"batch_size={batch}"])
    rng = np.random.default_rng(0)
    cls = METHODS["bnn-lowmem"]
    frontend = build_frontend(w.model, (1, 28, 28), 10, rng, variant=cls.variant)
    method = cls(frontend, w, np.random.default_rng(1))
    x = rng.uniform(-1, 1, (batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    for it in range(iterations):
        run_iteration(frontend, method, None, x, y, it)
    return method, frontend


def test_lowmem_latents_are_ieee_half_and_gradients_fan_scaled_signs():
    method, _ = lowmem_run()
    for p in method.latents:
        assert np.array_equal(p.value(), fp16(p.value())), p.name  # float16, not a fixed grid
        scale = 1 / math.sqrt(p.value().size)
        assert set(np.unique(np.abs(p.grad()))) <= {0.0, np.float32(scale)}, p.name
    norms = [q for q in method.params if q.layer.startswith("bn")]
    assert {q.role for q in norms} == {"norm_shift"}  # beta only, no gamma


def test_lowmem_errors_reach_the_gemms_in_ieee_half(rng):
    method, _ = lowmem_run(iterations=1)
    errors = rng.standard_normal((8, 256)).astype(np.float32) * 1e-3
    weights = np.where(rng.random((256, 256)) < 0.5, 1.0, -1.0).astype(np.float32)
    op, a, _ = method.observer().operands(GemmOp("fc2", "bwd_data", m=8, n=256, k=256),
                                          errors, weights)
    np.testing.assert_array_equal(a, fp16(errors))  # nearest half: no per-tensor scale
    assert (op.dtype, op.a_bits, op.b_bits) == ("fp", 16, 1)


# ---- the l1 batch norm's backward, from their custom_grad ------------------------------------

def their_custom_grad(x, dy, axes):
    """Wang et al.'s l1_batch_norm_mod_{dense,conv} (training_emulation_on_gpu/
    binarization_utils.py), transcribed line by line: mu and sigma (no eps) rounded to FP16,
    dy rounded to FP16, then dx = a - mean(a) - sign(xhat) * mean(a * sign(xhat) * m) with
    a = dy / sigma and m = mean|xhat| per channel (sign(0) = 0, as tf.sign)."""
    mu = fp16(x.mean(axis=axes, keepdims=True))
    sigma = fp16(np.abs(x - mu).mean(axis=axes, keepdims=True))
    xhat = (x - mu) / sigma
    g = fp16(dy)
    a = g / sigma
    s = np.sign(xhat)
    m = np.abs(xhat).mean(axis=axes, keepdims=True)
    return a - a.mean(axis=axes, keepdims=True) - s * (a * s * m).mean(axis=axes, keepdims=True)


@pytest.mark.parametrize(("cls", "shape"), [(L1BatchNorm1d, (16, 5)),
                                            (L1BatchNorm2d, (4, 3, 5, 5))])
def test_paper_backward_is_their_custom_gradient(rng, cls, shape):
    bn = cls(shape[1], backward="paper", scale=False, half=True, eps=1e-30, dtype=F64)
    bn.bias.value[:] = rng.standard_normal(shape[1])
    x = rng.standard_normal(shape) * 2 + 0.5
    dy = rng.standard_normal(shape)
    y = bn.forward(x)
    axes = (0, *range(2, len(shape)))
    mu = fp16(x.mean(axis=axes, keepdims=True))
    sigma = fp16(np.abs(x - mu).mean(axis=axes, keepdims=True))
    np.testing.assert_allclose(y, (x - mu) / sigma + fp16(bn.bias.value).reshape(mu.shape))
    np.testing.assert_allclose(bn.backward(dy), their_custom_grad(x, dy, axes), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(bn.bias.grad, fp16(dy).sum(axis=axes))  # dbeta = sum(dy)
    assert [p.name for p in bn.parameters()] == [bn.bias.name]


def test_paper_backward_is_the_l2_formula_with_xhat_replaced_by_sign_xhat_and_m(rng):
    """Their commented "Vanilla BN" lines, (g - mean g - xhat * mean(g * xhat)) / sigma, with
    xhat -> sign(xhat) * m outside the mean and sign(xhat) inside (m once, not squared)."""
    g, axes = rng.standard_normal((32, 4)), (0,)
    s = np.where(rng.random((32, 4)) < 0.5, 1.0, -1.0)
    m, inv_sigma = rng.uniform(0.5, 1.5, (1, 4)), rng.uniform(0.5, 2.0, (1, 4))
    want = (g - g.mean(0, keepdims=True) - s * m * (g * s).mean(0, keepdims=True)) * inv_sigma
    np.testing.assert_allclose(paper_norm_input_grad(g, s, m, inv_sigma, axes), want)


def test_paper_backward_is_not_the_true_gradient_which_exact_is(gradcheck, rng):
    x = rng.standard_normal((12, 3)) * 2 + 1
    d = x - x.mean(0)
    assert np.abs(d).min() > 1e-3  # finite differences never cross |d|'s kink
    exact = L1BatchNorm1d(3, backward="exact", scale=False, dtype=F64)
    assert gradcheck(exact, x) == ["input", "l1bn.bias"]  # a true gradient
    paper = L1BatchNorm1d(3, backward="paper", scale=False, dtype=F64)
    dy = rng.standard_normal(x.shape)
    exact.forward(x)
    paper.forward(x)
    assert not np.allclose(exact.backward(dy), paper.backward(dy))


# ---- their networks --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "weights", "flat"), [
    ("bnn-mlp-mnist", 399_872, 784), ("bnn-cnv-cifar10", 1_542_848, 256),
    ("bnn-binarynet-cifar10", 14_022_016, 8192)])
def test_their_networks_have_their_layer_sizes(name, weights, flat):
    w = load_workload(name)
    shape = dataset_shape(w.dataset.name, dict(w.dataset.params))  # no data files needed
    frontend = build_frontend(w.model, shape.input_shape, shape.classes,
                              np.random.default_rng(0), variant="bnn-lowmem")
    assert sum(p.value().size for p in frontend.params() if p.role == "gemm_weight") == weights
    layers = frontend.describe((2, *shape.input_shape))
    assert next(i for i in layers if i.kind == "flatten").out_shape == (2, flat)
    assert not any(p.role == "bias" for p in frontend.params())


def test_cnv_and_binarynet_place_pooling_as_they_do():
    def kinds(name):
        w = load_workload(name)
        frontend = build_frontend(w.model, (3, 32, 32), 10, np.random.default_rng(0),
                                  variant="bnn")
        return [i.kind for i in frontend.describe((2, 3, 32, 32))][:8]
    assert kinds("bnn-cnv-cifar10") == ["conv2d", "batchnorm", "sign", "conv2d", "batchnorm",
                                        "sign", "maxpool2d", "conv2d"]
    assert kinds("bnn-binarynet-cifar10") == ["conv2d", "batchnorm", "sign", "conv2d",
                                              "maxpool2d", "batchnorm", "sign", "conv2d"]


# ---- the memory model on their terms ---------------------------------------------------------

def memories(name: str, overrides: list[str] | None = None):
    """(training_memory, resident_memory) of bnn and bnn-lowmem, from shapes alone."""
    w = load_workload(name, overrides)
    shape = dataset_shape(w.dataset.name, dict(w.dataset.params))
    out = {}
    for method in ("bnn", "bnn-lowmem"):
        cls = METHODS[method]
        frontend = build_frontend(w.model, shape.input_shape, shape.classes,
                                  np.random.default_rng(0), variant=cls.variant)
        m = cls(frontend, w, np.random.default_rng(0))
        layers = frontend.describe((w.batch_size, *shape.input_shape))
        out[method] = (training_memory(layers, m), resident_memory(layers, m))
    return out


# our iteration peak, and the ratio with everything resident (their accounting)
SMALL = {"bnn-mlp-mnist": (2.492, 2.763), "bnn-cnv-cifar10": (3.846, 4.409),
         "bnn-binarynet-cifar10": (3.244, 3.715)}


@pytest.mark.parametrize("name", SMALL)
def test_the_small_networks_memory_savings_on_their_terms(name):
    mem = memories(name)
    peak = mem["bnn"][0].peak_bytes / mem["bnn-lowmem"][0].peak_bytes
    resident = mem["bnn"][1].total_bytes / mem["bnn-lowmem"][1].total_bytes
    assert (peak, resident) == pytest.approx(SMALL[name], abs=2e-3)
    assert resident == pytest.approx(PAPER[name], rel=0.10)  # what they model: within 10 %


def test_binarynet_peak_falls_short_by_the_second_error_buffer():
    """Our peak (3.24) holds two FP16 errors of BinaryNet's largest layer, conv2's input and
    output (13,107,200 values each, 50 MiB of the low-memory 138.9); the ratio the paper
    gives needs one of them at 5 bits, the PO2 dY of their first code and C++ prototype."""
    mem = memories("bnn-binarynet-cifar10")
    standard, lowmem = mem["bnn"][0], mem["bnn-lowmem"][0]
    assert lowmem.peak_phase == "backward, conv2"
    po2 = lowmem.peak_bytes - 13_107_200 * (16 - 5) / 8
    assert standard.peak_bytes / po2 == pytest.approx(PAPER["bnn-binarynet-cifar10"],
                                                      rel=0.01)


def test_resnete18_memory_saving_on_their_terms():
    """The standard method as their ResNetE-18 sheet counts it (each Sign a 1-bit mask, binary
    convolutions' inputs at 1 bit: the workload's methods.bnn) gives our peak within 10 % of
    their 3.78x. Their everything-resident accounting stays above (5.13x): our binary form also
    binarises the stem, the 1x1 shortcuts and the classifier, which they keep in FP16
    (docs/papers-bnn.md). With the Signs keeping their real input, the framework default, the
    32-bit residual stream (27,644 MiB) dominates the standard's peak: 5.36x."""
    pytest.importorskip("torch")
    mem = memories("bnn-resnete18-imagenet")
    standard, lowmem = mem["bnn"], mem["bnn-lowmem"]
    peak = standard[0].peak_bytes / lowmem[0].peak_bytes
    resident = standard[1].total_bytes / lowmem[1].total_bytes
    assert (peak, resident) == pytest.approx((3.485, 5.13), abs=5e-3)
    assert peak == pytest.approx(PAPER["bnn-resnete18-imagenet"], rel=0.10)
    real = memories("bnn-resnete18-imagenet", ["methods.bnn.sign_store=real"])["bnn"][0]
    assert real.to_json()["kept_by_kind_bytes"]["sign_input"] / MIB == pytest.approx(
        27_644, rel=1e-3)
    assert real.peak_bytes / lowmem[0].peak_bytes == pytest.approx(5.362, abs=2e-3)


def test_a_float_format_has_16_or_32_bits():
    from accelsim.errors import WorkloadError

    with pytest.raises(WorkloadError, match=r"methods\.bnn_lowmem\.latent_bits: the fp format "
                                            r"has 16 bits \(IEEE half\) or 32, got 12"):
        load_workload("bnn-mlp-mnist", ["methods.bnn_lowmem.latent_bits=12"])
    w = load_workload("bnn-mlp-mnist", ["methods.bnn_lowmem.latent_bits=12",
                                        "methods.bnn_lowmem.latent_format=fixed"])
    assert w.methods.bnn_lowmem.latent_bits == 12


def test_a_front_end_that_cannot_change_its_signs_says_so():
    from fake_frontend import FakeFrontend

    from accelsim.errors import WorkloadError

    frontend = FakeFrontend.build(np.random.default_rng(0), "bnn")
    assert not hasattr(frontend, "configure_signs")
    w = load_workload("mlp-digits", ["methods.bnn.sign_store=mask"])
    with pytest.raises(WorkloadError, match=r"^methods\.bnn: this front-end cannot change what "
                                            r"its Signs keep \(sign_store 'real', "
                                            r"activation_bits 1\)$"):
        METHODS["bnn"](frontend, w, np.random.default_rng(0))
    METHODS["bnn"](frontend, load_workload("mlp-digits"), np.random.default_rng(0))  # as built
