"""The networks a workload can name, built by a registry of small builder functions.

Each builder takes the data set's input shape and class count, a seeded generator, and its own
parameters from the workload (``model.params``); an unknown model or parameter is a
``WorkloadError`` naming it. Besides accelsim's small models, Wang et al.'s three sequential
networks for binary training on the edge (``bnn-mlp``, ``bnn-cnv``, ``bnn-binarynet``; their
ResNetE-18 is ``accelsim/zoo/resnete.py``). Layer names (``conv1``, ``fc1``, ...) are the names the trace and
reports use.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from accelsim.errors import WorkloadError, shown
from accelsim.train.layers import (
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Embedding,
    Flatten,
    L1BatchNorm1d,
    L1BatchNorm2d,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Sign,
)
from accelsim.train.layers.base import parameter_budget

VARIANTS = (None, "bnn", "bnn-lowmem")


def _activation(variant: str | None, features: int, name: str, spatial: bool) -> list:
    """What follows a GEMM layer: ReLU, or for binary networks a batch norm and a Sign (the
    low-memory variant: an l1 norm with a 1-bit backward, and a Sign keeping a 1-bit mask)."""
    if variant is None:
        return [ReLU(f"relu{name}")]
    if variant == "bnn":
        standard = (BatchNorm2d if spatial else BatchNorm1d)(features, name=f"bn{name}")
        return [standard, Sign(f"sign{name}", store="real")]
    l1 = (L1BatchNorm2d if spatial else L1BatchNorm1d)(features, name=f"bn{name}",
                                                       backward="sign")
    return [l1, Sign(f"sign{name}", store="mask")]


def _output_norm(variant: str | None, classes: int) -> list:
    """Binary networks normalise the logits too (BinaryNet)."""
    if variant is None:
        return []
    if variant == "bnn":
        return [BatchNorm1d(classes, name="bn_out")]
    return [L1BatchNorm1d(classes, name="bn_out", backward="sign")]

Builder = Callable[..., Sequential]
MODELS: dict[str, Builder] = {}


def model(name: str) -> Callable[[Builder], Builder]:
    """Register a builder under ``name``."""

    def register(fn: Builder) -> Builder:
        MODELS[name] = fn
        return fn

    return register


@model("mlp")
def mlp(input_shape: tuple[int, ...], classes: int, rng: np.random.Generator, *,
        hidden: int = 128, variant: str | None = None) -> Sequential:
    """Flatten, one hidden layer, a classifier; binary variants are BinaryNet-style MLPs."""
    features = int(np.prod(input_shape))
    bias = variant is None
    return Sequential([Flatten(), Linear(features, hidden, rng=rng, name="fc1", bias=bias),
                       *_activation(variant, hidden, "1", spatial=False),
                       Linear(hidden, classes, rng=rng, name="fc2", bias=bias),
                       *_output_norm(variant, classes)], name="mlp")


@model("cnn")
def cnn(input_shape: tuple[int, ...], classes: int, rng: np.random.Generator, *,
        channels: tuple[int, int, int] = (32, 32, 64), variant: str | None = None
        ) -> Sequential:
    """A small VGG-like CNN (the shape of FINN's CNV, scaled to 8x8 inputs): three 3x3
    convolutions with padding, pooling after the second and third, a classifier."""
    c, h, w = input_shape
    if h < 4 or w < 4:
        raise WorkloadError(f"model cnn: input {h}x{w} is too small for two 2x2 poolings")
    c1, c2, c3 = channels
    bias = variant is None
    return Sequential([
        Conv2d(c, c1, 3, rng=rng, padding=1, name="conv1", bias=bias),
        *_activation(variant, c1, "1", spatial=True),
        Conv2d(c1, c2, 3, rng=rng, padding=1, name="conv2", bias=bias),
        MaxPool2d(2, name="pool2"), *_activation(variant, c2, "2", spatial=True),
        Conv2d(c2, c3, 3, rng=rng, padding=1, name="conv3", bias=bias),
        MaxPool2d(2, name="pool3"), *_activation(variant, c3, "3", spatial=True),
        Flatten(), Linear(c3 * (h // 4) * (w // 4), classes, rng=rng, name="fc", bias=bias),
        *_output_norm(variant, classes)], name="cnn")


# ---- the networks of Wang et al., "Enabling Binary Neural Network Training on the Edge" ----
# (github.com/awai54st/Enabling-Binary-Neural-Network-Training-on-the-Edge,
# training_emulation_on_gpu/model_architectures.py): no biases (a batch norm's beta only),
# every GEMM layer binarised, the first one seeing the real input, the logits batch-normalised
# before the softmax. ResNetE-18 has shortcuts: accelsim/zoo/resnete.py (torch).

def _paper_norm(variant: str | None, features: int, name: str, spatial: bool) -> list:
    """What follows a GEMM layer in Wang et al.'s networks: a batch norm and a Sign (the
    low-memory form: their l1 batch norm, beta only, with its custom 1-bit backward; a Sign
    keeping a 1-bit mask); ReLU for the real-valued form (``variant`` None)."""
    if variant is None:
        return [ReLU(f"relu{name}")]
    return [_bnn_norm(variant, features, f"bn{name}", spatial),
            Sign(f"sign{name}", store="real" if variant == "bnn" else "mask")]


def _bnn_norm(variant: str | None, features: int, name: str, spatial: bool):
    """The standard method's batch norm (Keras' BatchNormalization: gamma, beta, eps 1e-4) or
    the low-memory method's l1 batch norm (beta only, no eps to speak of, the paper's
    backward)."""
    if variant == "bnn":
        return (BatchNorm2d if spatial else BatchNorm1d)(features, name=name, eps=1e-4)
    return (L1BatchNorm2d if spatial else L1BatchNorm1d)(features, name=name, backward="paper",
                                                         scale=False, half=True, eps=1e-12)


def _paper_output(variant: str | None, classes: int) -> list:
    return [] if variant is None else [_bnn_norm(variant, classes, "bn_out", spatial=False)]


@model("bnn-mlp")
def bnn_mlp(input_shape: tuple[int, ...], classes: int, rng: np.random.Generator, *,
            hidden: tuple[int, ...] = (256, 256, 256, 256), variant: str | None = None
            ) -> Sequential:
    """Wang et al.'s MLP for MNIST (model_architectures.py L14-35): 784 -> 256 x 4 -> 10, each
    hidden layer dense, batch norm, sign; the logits batch-normalised."""
    bias = variant is None
    layers: list = [Flatten()]
    features = int(np.prod(input_shape))
    for n, width in enumerate(hidden, start=1):
        layers += [Linear(features, width, rng=rng, name=f"fc{n}", bias=bias),
                   *_paper_norm(variant, width, str(n), spatial=False)]
        features = width
    layers += [Linear(features, classes, rng=rng, name=f"fc{len(hidden) + 1}", bias=bias),
               *_paper_output(variant, classes)]
    return Sequential(layers, name="bnn-mlp")


def _conv_stack(input_shape: tuple[int, ...], classes: int, rng: np.random.Generator,
                variant: str | None, convs: tuple[tuple[int, bool], ...], padding: int,
                pool_first: bool, dense: tuple[int, ...], name: str) -> Sequential:
    """3x3 convolutions (``convs``: channels, pooled after it), then dense layers. Pooling
    (2x2, stride 2) comes after the Sign (``pool_first`` False, CNV) or straight after the
    convolution (BinaryNet)."""
    c, h, w = input_shape
    bias = variant is None
    layers: list = []
    for n, (channels, pooled) in enumerate(convs, start=1):
        layers.append(Conv2d(c, channels, 3, rng=rng, padding=padding, name=f"conv{n}",
                             bias=bias))
        h, w = h + 2 * padding - 2, w + 2 * padding - 2
        pool = [MaxPool2d(2, name=f"pool{n}")] if pooled else []
        after = _paper_norm(variant, channels, str(n), spatial=True)
        layers += pool + after if pool_first else after + pool
        if pooled:
            h, w = h // 2, w // 2
        if h < 1 or w < 1:
            raise WorkloadError(f"model {name}: input {input_shape[1]}x{input_shape[2]} is too "
                                "small for its convolutions")
        c = channels
    layers.append(Flatten())
    features = c * h * w
    for n, width in enumerate(dense, start=1):
        layers += [Linear(features, width, rng=rng, name=f"fc{n}", bias=bias),
                   *_paper_norm(variant, width, f"_fc{n}", spatial=False)]
        features = width
    layers += [Linear(features, classes, rng=rng, name=f"fc{len(dense) + 1}", bias=bias),
               *_paper_output(variant, classes)]
    return Sequential(layers, name=name)


@model("bnn-cnv")
def bnn_cnv(input_shape: tuple[int, ...], classes: int, rng: np.random.Generator, *,
            variant: str | None = None) -> Sequential:
    """Wang et al.'s CNV for CIFAR-10 (FINN's; model_architectures.py L37-81): 3x3 valid
    convolutions 64, 64, pool, 128, 128, pool, 256, 256, then dense 512, 512, classes; pooling
    after the Sign. 32x32 inputs give 30, 28 -> 14, 12, 10 -> 5, 3, 1."""
    convs = ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False))
    return _conv_stack(input_shape, classes, rng, variant, convs, 0, False, (512, 512),
                       "bnn-cnv")


@model("bnn-binarynet")
def bnn_binarynet(input_shape: tuple[int, ...], classes: int, rng: np.random.Generator, *,
                  variant: str | None = None) -> Sequential:
    """BinaryNet (Courbariaux et al. 2016) as Wang et al. train it on CIFAR-10
    (model_architectures.py L83-128): 3x3 same convolutions 128, 128 + pool, 256, 256 + pool,
    512, 512 + pool, then dense 1024, 1024, classes; pooling straight after the convolution,
    before the batch norm."""
    convs = ((128, False), (128, True), (256, False), (256, True), (512, False), (512, True))
    return _conv_stack(input_shape, classes, rng, variant, convs, 1, True, (1024, 1024),
                       "bnn-binarynet")


@model("lenet5")
def lenet5(input_shape: tuple[int, ...], classes: int, rng: np.random.Generator, *,
           channels: tuple[int, int] = (6, 16), hidden: tuple[int, int] = (120, 84)
           ) -> Sequential:
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling: two 5x5 convolutions, each
    followed by 2x2 pooling, then three fully connected layers. 32x32 inputs give the classic
    28x28x6 / 10x10x16 / 400-120-84 shapes."""
    c, h, w = input_shape
    c1, c2 = channels
    h1, w1 = (h - 4) // 2, (w - 4) // 2
    h2, w2 = (h1 - 4) // 2, (w1 - 4) // 2
    if h2 < 1 or w2 < 1:
        raise WorkloadError(f"model lenet5: input {h}x{w} is too small for two 5x5 convolutions "
                            "with pooling (needs at least 16x16; try dataset.params.upsample)")
    return Sequential([
        Conv2d(c, c1, 5, rng=rng, name="conv1"), ReLU("relu1"), MaxPool2d(2, name="pool1"),
        Conv2d(c1, c2, 5, rng=rng, name="conv2"), ReLU("relu2"), MaxPool2d(2, name="pool2"),
        Flatten(), Linear(c2 * h2 * w2, hidden[0], rng=rng, name="fc1"), ReLU("relu3"),
        Linear(hidden[0], hidden[1], rng=rng, name="fc2"), ReLU("relu4"),
        Linear(hidden[1], classes, rng=rng, name="fc3")], name="lenet5")


@model("charlm")
def charlm(input_shape: tuple[int, ...], classes: int, rng: np.random.Generator, *,
           embedding: int = 16, hidden: int = 256) -> Sequential:
    """A character-level language model in the style of Bengio et al. (2003): embed each of
    the context characters, concatenate, one hidden ReLU layer, logits over the vocabulary."""
    (context,) = input_shape
    return Sequential([Embedding(classes, embedding, rng=rng, name="embed"), Flatten(),
                       Linear(context * embedding, hidden, rng=rng, name="fc1"), ReLU("relu1"),
                       Linear(hidden, classes, rng=rng, name="fc2")], name="charlm")


def build_model(name: str, params: dict[str, Any], input_shape: tuple[int, ...], classes: int,
                rng: np.random.Generator, variant: str | None = None) -> Sequential:
    """The named network with its first layer marked as needing no input gradient.

    ``variant`` (``bnn``, ``bnn-lowmem``) asks for the binary form of the network, which only
    some models have."""
    builder = MODELS.get(name)
    if builder is None:
        raise WorkloadError(f"model.name: unknown model {shown(name)}; valid: "
                            f"{', '.join(sorted(MODELS))}")
    accepted = [p for p in inspect.signature(builder).parameters
                if p not in ("input_shape", "classes", "rng", "variant")]
    if variant is not None:
        if "variant" not in inspect.signature(builder).parameters:
            binary = sorted(n for n, b in MODELS.items()
                            if "variant" in inspect.signature(b).parameters)
            raise WorkloadError(f"model {shown(name)} has no binary form for method {shown(variant)} "
                                f"(models that do: {', '.join(binary)})")
        params = {**params, "variant": variant}
    for key in params:
        if key not in accepted and key != "variant":
            raise WorkloadError(f"model.params.{key}: not a parameter of model {shown(name)} "
                                f"(valid: {', '.join(accepted)})")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    try:
        with parameter_budget():
            net = builder(tuple(input_shape), classes, rng, **params)
    except (TypeError, ValueError) as exc:
        raise WorkloadError(f"model.params: {exc}") from None
    _first_gemm_layer(net).needs_input_grad = False
    return net


def _first_gemm_layer(net: Sequential):
    for layer in net.layers:
        if layer.parameters():
            return layer
    raise WorkloadError(f"model {shown(net.name)} has no trainable layer")
