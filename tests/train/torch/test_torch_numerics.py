"""The torch front-end computes what torch computes: outputs and every gradient match plain
autograd (fp32), and an observer that quantises the operands changes a convolution exactly as
quantising its im2col patches would (the feature map is handed over instead of the patches)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch_models  # noqa: E402
from helpers_torch import Ops, one_thread  # noqa: E402, F401
from torch import nn  # noqa: E402

from accelsim.train.gemm import GemmObserver, observing  # noqa: E402
from accelsim.train.layers.conv import im2col  # noqa: E402
from accelsim.train.quant import quantise  # noqa: E402
from accelsim.train.torch_frontend import TorchFrontend  # noqa: E402

CASES = {"lenet5": (torch_models.lenet5, (1, 32, 32)),
         "convnet": (torch_models.convnet, (3, 12, 12)),
         "attention": (torch_models.attention, (5, 16))}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_plain_autograd(name):
    factory, shape = CASES[name]
    torch.manual_seed(0)
    model = factory()
    reference = copy.deepcopy(model)
    frontend = TorchFrontend(model, shape)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, *shape)).astype(np.float32)
    with observing(Ops()):
        logits = frontend.forward(x)
        grad = rng.standard_normal(logits.shape).astype(np.float32)
        frontend.backward(grad)
    expected = reference(torch.from_numpy(x))
    expected.backward(torch.from_numpy(grad))
    np.testing.assert_allclose(logits, expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    grads = {p.name: p.grad() for p in frontend.params()}
    for pname, p in reference.named_parameters():
        np.testing.assert_allclose(grads[pname], p.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=pname)
    # backward overwrites: a second pass gives the same gradients, not twice them
    with observing(Ops()):
        frontend.forward(x)
        frontend.backward(grad)
    for p in frontend.params():
        np.testing.assert_allclose(p.grad(), grads[p.name], rtol=1e-5, atol=1e-6)


class Quantising(GemmObserver):
    """Puts every operand on a 4-bit grid (one scale per tensor), as a method's quantiser."""

    def operands(self, op, a, b):
        return op, quantise(a, 4).values, quantise(b, 4).values


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(3, 1, 1), (1, 2, 0), (2, 3, 0)])
def test_a_quantised_convolution_is_the_quantised_patch_product(kernel, stride, padding):
    """Stride 2 with a 1x1 kernel (and 3 with 2x2) skips rows: the largest value sits in
    a row no patch reads, so the grid must come from the patches' values only."""
    conv = nn.Conv2d(3, 4, kernel, stride, padding, bias=False)
    frontend = TorchFrontend(conv, (3, 7, 7))
    x = np.random.default_rng(2).uniform(-1, 1, (2, 3, 7, 7)).astype(np.float32)
    x[:, :, 1, 1] = 5.0  # in a skipped row when stride > kernel
    with observing(Quantising()):
        out = frontend.forward(x)
    cols = im2col(x, kernel, kernel, stride, padding)  # [K, P]
    weight = conv.weight.detach().numpy().reshape(4, -1)
    expected = quantise(cols.T, 4).values @ quantise(weight.T, 4).values  # [P, O]
    o = out.shape[1]
    np.testing.assert_allclose(out.transpose(0, 2, 3, 1).reshape(-1, o), expected, rtol=1e-5,
                               atol=1e-6)
