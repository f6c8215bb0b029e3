"""A fake front-end: the smallest framework a training method could be asked to train.

It stands in for PyTorch (issue 12) in the method tests: it uses no accelsim layer class, keeps
every parameter in one flat float32 buffer of its own (as a framework owns its storage, so a
method can only write it through ``ParamRef.assign``), and passes its numpy operands through
``accelsim.train.gemm.gemm`` so the method's quantiser and the tracer see every GEMM.

The network: ``fc1`` (features -> hidden, bias), ``act1`` (ReLU), ``fc2`` (hidden -> classes,
bias). The binary form a binary method asks for (``variant`` bnn or bnn-lowmem): no biases,
``act1`` is a sign with the hardtanh straight-through estimator (keeping its real input for
bnn, a 1-bit mask for bnn-lowmem), and a per-class scale ``scale_out`` (role norm_scale, keeping
its input at the value width) after ``fc2``.

Its vector work (``LayerInfo.vectors``), counted from its code as the numpy layers count theirs:
bias adds and bias-gradient sums (1 op per output element), ReLU (1 each way), the sign with
its straight-through mask (1 forward and 3 backward keeping the real input, 3 and 1 keeping
the mask, as ``layers.binary.Sign``), and the scale (``y * s``: 1; ``sum(g * y)``: 2;
``g * s``: 1).
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.train.gemm import gemm
from accelsim.train.interfaces import (
    ACC_WIDTH,
    ERROR_WIDTH,
    INPUT_WIDTH,
    VALUE_WIDTH,
    GemmShape,
    KeptSpec,
    LayerInfo,
    ParamInfo,
    VectorSpec,
)

VARIANTS = (None, "bnn", "bnn-lowmem")


class FakeParam:
    """A ParamRef over a slice of the front-end's flat buffer."""

    def __init__(self, owner: FakeFrontend, name: str, layer: str, role: str,
                 shape: tuple[int, ...], offset: int):
        self.name, self.layer, self.role, self.shape = name, layer, role, shape
        self._owner, self._offset = owner, offset

    def value(self) -> np.ndarray:
        size = math.prod(self.shape)
        return self._owner.storage[self._offset:self._offset + size].reshape(self.shape)

    def grad(self) -> np.ndarray | None:
        return self._owner.grads.get(self.name)

    def assign(self, x: np.ndarray) -> None:
        assert x.shape == self.shape and x.dtype == np.float32, (self.name, x.shape, x.dtype)
        self.value()[...] = x
        self._owner.assigned.append(self.name)

    def set_grad(self, grad: np.ndarray) -> None:
        assert grad.shape == self.shape, (self.name, grad.shape)
        self._owner.grads[self.name] = grad


class FakeFrontend:
    """fc1 -> act1 -> fc2 (-> scale_out), every parameter in ``storage``."""

    def __init__(self, rng: np.random.Generator, *, features: int = 6, hidden: int = 5,
                 classes: int = 3, variant: str | None = None):
        assert variant in VARIANTS, variant
        self.variant, self.features, self.hidden, self.classes = variant, features, hidden, classes
        binary = variant is not None
        specs = [("fc1.weight", "fc1", "gemm_weight", (hidden, features))]
        specs += [] if binary else [("fc1.bias", "fc1", "bias", (hidden,))]
        specs += [("fc2.weight", "fc2", "gemm_weight", (classes, hidden))]
        specs += ([("scale_out.weight", "scale_out", "norm_scale", (classes,))] if binary
                  else [("fc2.bias", "fc2", "bias", (classes,))])
        size = sum(math.prod(shape) for *_, shape in specs)
        self.storage = rng.uniform(-0.8, 0.8, size).astype(np.float32)  # the framework's memory
        self.grads: dict[str, np.ndarray] = {}
        self.assigned: list[str] = []  # names written through assign, in order
        self.training = True
        self._params: dict[str, FakeParam] = {}
        offset = 0
        for name, layer, role, shape in specs:
            self._params[name] = FakeParam(self, name, layer, role, shape, offset)
            offset += math.prod(shape)
        if binary:
            self._params["scale_out.weight"].value()[...] = 1.0
        self._saved: dict[str, np.ndarray] = {}

    @classmethod
    def build(cls, rng: np.random.Generator, variant: str | None = None) -> FakeFrontend:
        """The model-variant hook: the form the method asks for."""
        return cls(rng, variant=variant)

    def _p(self, name: str) -> np.ndarray | None:
        p = self._params.get(name)
        return None if p is None else p.value()

    # ---- Frontend --------------------------------------------------------------------------
    def params(self) -> list[FakeParam]:
        return list(self._params.values())

    def describe(self, in_shape: tuple[int, ...]) -> tuple[LayerInfo, ...]:
        n, f = in_shape
        h, c = self.hidden, self.classes

        def infos(layer: str) -> tuple[ParamInfo, ...]:
            return tuple(ParamInfo(p.name, p.role, p.shape) for p in self.params()
                         if p.layer == layer)

        def linear(name: str, i: int, o: int, first: bool) -> LayerInfo:
            gemms = [GemmShape("fwd", n, o, i), GemmShape("bwd_weight", i, o, n)]
            gemms += [] if first else [GemmShape("bwd_data", n, i, o)]
            bias = () if self.variant else (
                VectorSpec("fwd", "bias_add", n * o, 1, in_width=VALUE_WIDTH,
                           out_width=VALUE_WIDTH),
                VectorSpec("bwd_weight", "bias_grad", n * o, 1, out_width=ACC_WIDTH,
                           tensor="weight_grads"))
            return LayerInfo(name, "linear", (n, i), (n, o), tuple(gemms),
                             (KeptSpec("activations", n * i, INPUT_WIDTH, is_input=True),),
                             infos(name), VALUE_WIDTH, bias)

        if self.variant is None:
            act = LayerInfo("act1", "relu", (n, h), (n, h), kept=(KeptSpec("mask", n * h, 1),),
                            vectors=(VectorSpec("fwd", "relu", n * h, 1),
                                     VectorSpec("bwd_data", "relu", n * h, 1,
                                                out_width=ERROR_WIDTH)))
        else:
            real = self.variant == "bnn"
            kept = (KeptSpec("sign_input", n * h, INPUT_WIDTH, is_input=True) if real
                    else KeptSpec("mask", n * h, 1))
            act = LayerInfo("act1", "sign", (n, h), (n, h), out_width=1, kept=(kept,),
                            vectors=(VectorSpec("fwd", "sign", n * h, 1 if real else 3,
                                                out_width=1),
                                     VectorSpec("bwd_data", "sign", n * h, 3 if real else 1,
                                                inputs=2 if real else 1,
                                                out_width=ERROR_WIDTH)))
        layers = [linear("fc1", f, h, first=True), act, linear("fc2", h, c, first=False)]
        if self.variant is not None:
            layers.append(LayerInfo(
                "scale_out", "scale", (n, c), (n, c),
                kept=(KeptSpec("normalised", n * c, VALUE_WIDTH),), params=infos("scale_out"),
                out_width=VALUE_WIDTH,
                vectors=(VectorSpec("fwd", "scale", n * c, 1, out_width=VALUE_WIDTH),
                         VectorSpec("bwd_weight", "scale", n * c, 2, inputs=2,
                                    out_width=ACC_WIDTH, tensor="weight_grads"),
                         VectorSpec("bwd_data", "scale", n * c, 1, out_width=ERROR_WIDTH))))
        return tuple(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        s = self._saved
        s["x"] = x
        z = gemm(x, self._p("fc1.weight").T, layer="fc1", phase="fwd")
        if self._p("fc1.bias") is not None:
            z = z + self._p("fc1.bias")
        s["z"] = z
        a = np.maximum(z, 0) if self.variant is None else np.where(z >= 0, 1, -1).astype(z.dtype)
        s["a"] = a
        y = gemm(a, self._p("fc2.weight").T, layer="fc2", phase="fwd")
        if self._p("fc2.bias") is not None:
            y = y + self._p("fc2.bias")
        if self.variant is not None:
            s["y"] = y
            y = y * self._p("scale_out.weight")
        return y

    def backward(self, grad_logits: np.ndarray) -> None:
        s, g = self._saved, grad_logits
        if self.variant is not None:
            self.grads["scale_out.weight"] = (g * s["y"]).sum(axis=0)
            g = g * self._p("scale_out.weight")
        self.grads["fc2.weight"] = np.ascontiguousarray(
            gemm(s["a"].T, g, layer="fc2", phase="bwd_weight").T)
        if "fc2.bias" in self._params:
            self.grads["fc2.bias"] = g.sum(axis=0)
        da = gemm(g, self._p("fc2.weight"), layer="fc2", phase="bwd_data")
        passed = s["z"] > 0 if self.variant is None else np.abs(s["z"]) <= 1
        dz = da * passed
        self.grads["fc1.weight"] = np.ascontiguousarray(
            gemm(s["x"].T, dz, layer="fc1", phase="bwd_weight").T)
        if "fc1.bias" in self._params:
            self.grads["fc1.bias"] = dz.sum(axis=0)

    def train(self) -> None:
        self.training = True

    def eval(self) -> None:
        self.training = False
