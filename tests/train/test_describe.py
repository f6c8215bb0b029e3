"""What the numpy layers tell the memory model and a shape-only trace: each layer's LayerInfo
against what its forward and backward really do (output shape, the GEMMs with their sizes and
footprints, parameters and roles), the numpy front-end's chain of them, and its ParamRef."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.errors import WorkloadError
from accelsim.train.gemm import observing
from accelsim.train.interfaces import (
    ACC_WIDTH,
    ERROR_WIDTH,
    INPUT_WIDTH,
    VALUE_WIDTH,
    KeptSpec,
    VectorSpec,
)
from accelsim.train.layers import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Embedding,
    Flatten,
    L1BatchNorm2d,
    Linear,
    MaxPool2d,
    ReLU,
    Sign,
    SoftmaxCrossEntropy,
)
from accelsim.train.numpy_frontend import NumpyFrontend, NumpyParam

R = np.random.default_rng(5)
LAYERS = {  # layer, input
    "linear": (Linear(6, 4, rng=R, name="fc"), R.standard_normal((2, 3, 6))),
    "conv2d": (Conv2d(3, 4, 3, stride=2, padding=1, rng=R, name="conv"),
               R.standard_normal((2, 3, 7, 6))),
    "embedding": (Embedding(11, 4, rng=R, name="embed"), R.integers(0, 11, (2, 5))),
    "relu": (ReLU("relu"), R.standard_normal((2, 3))),
    "flatten": (Flatten(), R.standard_normal((2, 3, 4))),
    "maxpool2d": (MaxPool2d(3, stride=2, name="pool"), R.standard_normal((2, 3, 7, 7))),
    "avgpool2d": (AvgPool2d(2, name="avg"), R.standard_normal((2, 3, 4, 4))),
    "batchnorm": (BatchNorm2d(3, name="bn"), R.standard_normal((2, 3, 4, 4))),
    "l1batchnorm": (L1BatchNorm2d(3, name="l1", backward="sign"),
                    R.standard_normal((2, 3, 4, 4))),
    "sign": (Sign("sign", store="mask"), R.standard_normal((4, 5))),
}


def gemm_record(op) -> tuple:
    return (op.phase, op.m, op.n, op.k, op.a_elements, op.c_elements)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_a_layer_describes_what_its_forward_and_backward_do(kind, recorder):
    layer, x = LAYERS[kind]
    x = x.astype(np.float32) if np.issubdtype(x.dtype, np.floating) else x
    info = layer.describe(x.shape)
    with observing(recorder):
        y = layer.forward(x)
        layer.backward(np.ones_like(y))
    assert info.kind == kind and info.name == layer.name
    assert info.in_shape == x.shape and info.out_shape == y.shape
    assert [tuple(g) for g in info.gemms] == [gemm_record(op) for op in recorder.ops]
    assert [(p.name, p.role, p.shape) for p in info.params] == [
        (p.name, p.role, p.value.shape) for p in layer.parameters()]


def test_what_each_layer_keeps_and_at_which_width():
    def kept(kind):
        layer, x = LAYERS[kind]
        return layer.describe(x.shape).kept

    assert kept("linear") == (KeptSpec("activations", 36, INPUT_WIDTH, is_input=True),)
    assert kept("conv2d") == (KeptSpec("activations", 2 * 3 * 7 * 6, INPUT_WIDTH, is_input=True),)
    assert kept("embedding") == (KeptSpec("indices", 10, 4),)  # ceil(log2 11)
    assert kept("relu") == (KeptSpec("mask", 6, 1),)
    assert kept("maxpool2d") == (KeptSpec("argmax", 2 * 3 * 3 * 3, 4),)  # 9 positions
    assert kept("flatten") == kept("avgpool2d") == ()
    assert kept("batchnorm") == (KeptSpec("normalised", 96, VALUE_WIDTH),
                                 KeptSpec("statistics", 6, 32))
    assert kept("l1batchnorm")[0] == KeptSpec("normalised", 96, 1)  # the "sign" backward
    assert kept("sign") == (KeptSpec("mask", 20, 1),)
    assert Sign(store="real").describe((4, 5)).kept == (
        KeptSpec("sign_input", 20, INPUT_WIDTH, is_input=True),)
    widths = {kind: LAYERS[kind][0].describe(LAYERS[kind][1].shape).out_width for kind in LAYERS}
    assert widths == {"linear": VALUE_WIDTH, "conv2d": VALUE_WIDTH, "embedding": VALUE_WIDTH,
                      "batchnorm": VALUE_WIDTH, "l1batchnorm": VALUE_WIDTH, "sign": 1,
                      "relu": INPUT_WIDTH, "flatten": INPUT_WIDTH, "maxpool2d": INPUT_WIDTH,
                      "avgpool2d": INPUT_WIDTH}


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_vector_work_counts_what_forward_and_backward_produce(kind):
    """Forward steps count the layer's outputs, backward-data steps the input gradient's
    elements, backward-weight steps the output gradient's they reduce."""
    layer, x = LAYERS[kind]
    x = x.astype(np.float32) if np.issubdtype(x.dtype, np.floating) else x
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    produced = {"fwd": y.size, "bwd_weight": y.size, "bwd_data": x.size}
    info = layer.describe(x.shape)
    assert all(spec.elements == produced[spec.phase] for spec in info.vectors), kind
    vector_backward = dx is not None and not info.gemms and kind != "flatten"  # GEMMs: array
    assert ("bwd_data" in {s.phase for s in info.vectors}) == vector_backward


def test_each_layers_vector_work_and_width_rules():
    def vectors(kind):
        layer, x = LAYERS[kind]
        return layer.describe(x.shape).vectors

    grads = {"out_width": ACC_WIDTH, "tensor": "weight_grads"}
    assert vectors("linear") == (
        VectorSpec("fwd", "bias_add", 24, 1, in_width=VALUE_WIDTH, out_width=VALUE_WIDTH),
        VectorSpec("bwd_weight", "bias_grad", 24, 1, **grads))
    assert [s.kind for s in vectors("conv2d")] == ["bias_add", "bias_grad"]
    assert vectors("embedding") == (VectorSpec("bwd_weight", "scatter_add", 40, 1, **grads,
                                               fused=False),)
    assert vectors("relu") == (VectorSpec("fwd", "relu", 6, 1),
                               VectorSpec("bwd_data", "relu", 6, 1, out_width=ERROR_WIDTH))
    assert vectors("flatten") == ()
    # 3x3 windows at stride 2: 8 compares per output; 4 windows cover an input (7 ops)
    assert vectors("maxpool2d") == (
        VectorSpec("fwd", "maxpool", 54, 8, inputs=9),
        VectorSpec("bwd_data", "maxpool", 294, 7, inputs=4, out_width=ERROR_WIDTH))
    assert vectors("avgpool2d") == (
        VectorSpec("fwd", "avgpool", 24, 4, inputs=4),
        VectorSpec("bwd_data", "avgpool", 96, 1, out_width=ERROR_WIDTH))
    assert vectors("batchnorm") == (
        VectorSpec("fwd", "batchnorm", 96, 8, out_width=VALUE_WIDTH, fused=False),
        VectorSpec("bwd_weight", "batchnorm", 96, 3, inputs=2, **grads),
        VectorSpec("bwd_data", "batchnorm", 96, 7, inputs=2, out_width=ERROR_WIDTH,
                   fused=False))
    # only batch norm's passes over the whole batch and the embedding's scattered rows move
    # DRAM bytes of their own; every other step works on values passing through the chip
    for kind, (layer, x) in LAYERS.items():
        for spec in layer.describe(x.shape).vectors:
            own_pass = ((kind.endswith("batchnorm") and spec.phase != "bwd_weight")
                        or spec.kind == "scatter_add")
            assert spec.fused == (not own_pass), (kind, spec)
    assert [(s.phase, s.ops, s.inputs) for s in vectors("l1batchnorm")] == [  # "sign"
        ("fwd", 9, 1), ("bwd_weight", 4, 1), ("bwd_data", 10, 1)]
    exact = L1BatchNorm2d(3, name="l1", backward="exact").describe((2, 3, 4, 4)).vectors
    assert [(s.phase, s.ops, s.inputs) for s in exact] == [
        ("fwd", 8, 1), ("bwd_weight", 3, 2), ("bwd_data", 11, 2)]
    assert vectors("sign") == (VectorSpec("fwd", "sign", 20, 3, out_width=1),
                               VectorSpec("bwd_data", "sign", 20, 1, out_width=ERROR_WIDTH))
    assert Sign(store="real").describe((4, 5)).vectors == (
        VectorSpec("fwd", "sign", 20, 1, out_width=1),
        VectorSpec("bwd_data", "sign", 20, 3, inputs=2, out_width=ERROR_WIDTH))
    assert SoftmaxCrossEntropy().describe((4, 10)).vectors == (
        VectorSpec("fwd", "softmax", 40, 5, out_width=ERROR_WIDTH),
        VectorSpec("bwd_data", "softmax", 40, 3, in_width=ERROR_WIDTH, out_width=ERROR_WIDTH))


def test_a_layer_without_input_gradient_describes_no_backward_data_work():
    fc = Linear(3, 2, rng=R, name="fc")
    fc.needs_input_grad = False
    assert [g.phase for g in fc.describe((4, 3)).gemms] == ["fwd", "bwd_weight"]
    for layer, shape in ((BatchNorm1d(3), (4, 3)), (ReLU(), (4, 3)), (Sign(), (4, 3)),
                         (MaxPool2d(2), (1, 1, 2, 2))):
        layer.needs_input_grad = False
        assert "bwd_data" not in {s.phase for s in layer.describe(shape).vectors}, layer


@pytest.mark.parametrize(("layer", "shape", "message"), [
    (Linear(6, 4, rng=R, name="fc"), (2, 5),
     r"layer 'fc' \(Linear\): expected input of shape \[\.\.\., 6\], got \[2, 5\]"),
    (Conv2d(3, 4, 5, rng=R, name="conv"), (1, 3, 4, 4),
     r"layer 'conv' \(Conv2d\): kernel \[5, 5\] with padding 0 does not fit input \[4, 4\]"),
    (BatchNorm1d(3, name="bn"), (2, 4),
     r"layer 'bn' \(BatchNorm1d\): expected input of shape \[N, 3\], got \[2, 4\]"),
    (MaxPool2d(2, name="pool"), (1, 1, 1, 5),
     r"layer 'pool' \(MaxPool2d\): window 2 does not fit input \[1, 5\]"),
    (Flatten(), (3,), r"layer 'flatten' \(Flatten\): expected input with a batch axis"),
])
def test_describing_a_shape_the_layer_cannot_take_raises_as_forward_does(layer, shape, message):
    with pytest.raises(WorkloadError, match=message):
        layer.describe(shape)
    with pytest.raises(WorkloadError, match=message):
        layer.forward(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize(("model", "params", "input_shape", "classes", "variant"), [
    ("lenet5", {}, (1, 32, 32), 10, None),
    ("cnn", {"channels": [4, 4, 8]}, (1, 8, 8), 10, "bnn"),
    ("cnn", {"channels": [4, 4, 8]}, (1, 8, 8), 10, "bnn-lowmem"),
    ("mlp", {"hidden": 8}, (1, 8, 8), 10, None),
    ("charlm", {"hidden": 16}, (6,), 20, None),
])
def test_the_numpy_frontend_describes_every_gemm_a_real_iteration_runs(
        model, params, input_shape, classes, variant, recorder):
    """The shape-only promise: LayerInfo alone gives the trace's GEMMs, in order."""
    rng = np.random.default_rng(0)
    frontend = NumpyFrontend.build(model, params, input_shape, classes, rng, variant=variant)
    batch = (4, *input_shape)
    x = (rng.integers(0, classes, batch) if model == "charlm"
         else rng.standard_normal(batch).astype(np.float32))
    layers = frontend.describe(batch)
    with observing(recorder):
        logits = frontend.forward(x)
        loss = SoftmaxCrossEntropy()
        loss.forward(logits, rng.integers(0, classes, logits.shape[:-1]))
        frontend.backward(loss.backward())
    described = ([(i.name, *g) for i in layers for g in i.gemms if g.phase == "fwd"]
                 + [(i.name, *g) for i in reversed(layers) for g in i.gemms if g.phase != "fwd"])
    assert described == [(op.layer, *gemm_record(op)) for op in recorder.ops]
    assert layers[-1].out_shape == logits.shape
    assert [p.name for p in frontend.params()] == [p.name for i in layers for p in i.params]


def test_numpy_params_carry_layer_and_role_and_assign_in_place():
    frontend = NumpyFrontend.build("mlp", {"hidden": 4}, (1, 2, 2), 3, np.random.default_rng(0),
                                   variant="bnn")
    roles = {p.name: (p.layer, p.role) for p in frontend.params()}
    assert roles == {"fc1.weight": ("fc1", "gemm_weight"), "bn1.weight": ("bn1", "norm_scale"),
                     "bn1.bias": ("bn1", "norm_shift"), "fc2.weight": ("fc2", "gemm_weight"),
                     "bn_out.weight": ("bn_out", "norm_scale"),
                     "bn_out.bias": ("bn_out", "norm_shift")}
    p = frontend.params()[0]
    storage = p.value()
    p.assign(np.ones(p.shape, dtype=np.float32))
    assert p.value() is storage and np.all(storage == 1.0)
    with pytest.raises(ValueError, match=r"parameter 'fc1.weight': cannot assign float64\[4, 4\] "
                                         r"to float32\[4, 4\]"):
        p.assign(np.ones(p.shape))
    with pytest.raises(ValueError, match=r"cannot assign float32\[2\] to float32\[4, 4\]"):
        p.assign(np.ones(2, dtype=np.float32))
    assert isinstance(p, NumpyParam) and "role='gemm_weight'" in repr(p)
