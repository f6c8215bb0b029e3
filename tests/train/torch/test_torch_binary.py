"""The binary form of a torch network is the numpy models' binary form: a Sign before every
GEMM layer but the first, batch norms (l1 for bnn-lowmem) and a norm on the logits; its Sign and
l1 batch norm compute what the numpy layers compute, forward and backward."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers_torch import one_thread  # noqa: E402, F401
from torch import nn  # noqa: E402

from accelsim.train.layers.binary import L1BatchNorm2d, Sign, configure_l1_norms  # noqa: E402
from accelsim.train.numpy_frontend import NumpyFrontend  # noqa: E402
from accelsim.train.torch_frontend import TorchFrontend  # noqa: E402
from accelsim.train.torch_frontend.binary import L1BatchNorm, sign  # noqa: E402


def mlp(num_classes: int = 3) -> nn.Module:
    """accelsim's numpy ``mlp`` as written for a binary network: no biases, a batch norm."""
    return nn.Sequential(OrderedDict(
        flatten=nn.Flatten(), fc1=nn.Linear(6, 16, bias=False), bn1=nn.BatchNorm1d(16),
        relu1=nn.ReLU(), fc2=nn.Linear(16, num_classes, bias=False)))


@pytest.mark.parametrize("variant", ["bnn", "bnn-lowmem"])
def test_the_binary_form_describes_as_the_numpy_one(tmp_path, variant):
    path = tmp_path / "binary_mlp.py"
    path.write_text("from test_torch_binary import mlp\n\ndef build(num_classes):\n"
                    "    return mlp(num_classes)\n")
    frontend = TorchFrontend.build(f"{path}:build", {}, (1, 2, 3), 3, np.random.default_rng(0),
                                   variant=variant)
    numpy = NumpyFrontend.build("mlp", {"hidden": 16}, (1, 2, 3), 3, np.random.default_rng(0),
                                variant=variant)
    shape = (8, 1, 2, 3)
    ours = [i._replace(name=i.name.replace("fc2.sign", "sign1")) for i in
            frontend.describe(shape)]
    assert ours == list(numpy.describe(shape))
    assert [(p.name, p.role) for p in frontend.params()] == [
        ("fc1.weight", "gemm_weight"), ("bn1.weight", "norm_scale"), ("bn1.bias", "norm_shift"),
        ("fc2.weight", "gemm_weight"), ("bn_out.weight", "norm_scale"),
        ("bn_out.bias", "norm_shift")]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    logits = frontend.forward(x)
    frontend.backward(np.ones_like(logits))
    assert all(p.grad() is not None for p in frontend.params())


@pytest.mark.parametrize("store", ["real", "mask"])
def test_sign_matches_the_numpy_sign(store):
    x = np.array([[-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]], np.float32)
    grad = np.arange(1, 8, dtype=np.float32)[None]
    layer = Sign(store=store)
    want_y, want_dx = layer.forward(x), layer.backward(grad)
    xt = torch.from_numpy(x).requires_grad_()
    y = sign(xt, "sign", store)
    y.backward(torch.from_numpy(grad))
    np.testing.assert_array_equal(y.detach().numpy(), want_y)
    np.testing.assert_array_equal(xt.grad.numpy(), want_dx)


@pytest.mark.parametrize("mode", ["exact", "sign", "paper"])
def test_l1_batch_norm_matches_the_numpy_one(mode):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    grad = rng.standard_normal(x.shape).astype(np.float32)
    gamma, beta = np.array([1.5, 0.5, 2.0], np.float32), np.array([0.1, -0.2, 0.3], np.float32)
    layer = L1BatchNorm2d(3, backward=mode)
    configure_l1_norms([layer], mode)
    layer.weight.value[:], layer.bias.value[:] = gamma, beta
    want_y, want_dx = layer.forward(x), layer.backward(grad)
    norm = L1BatchNorm(3, backward=mode)
    with torch.no_grad():
        norm.weight.copy_(torch.from_numpy(gamma))
        norm.bias.copy_(torch.from_numpy(beta))
    xt = torch.from_numpy(x).requires_grad_()
    y = norm(xt)
    y.backward(torch.from_numpy(grad))
    np.testing.assert_allclose(y.detach().numpy(), want_y, atol=1e-6)
    np.testing.assert_allclose(xt.grad.numpy(), want_dx, atol=1e-5)
    np.testing.assert_allclose(norm.weight.grad.numpy(), layer.weight.grad, atol=1e-5)
    np.testing.assert_allclose(norm.bias.grad.numpy(), layer.bias.grad, atol=1e-5)
    np.testing.assert_allclose(norm.running_abs_dev.numpy(), layer.running_abs_dev, atol=1e-6)


def test_a_method_configures_the_signs_and_l1_norms(tmp_path):
    path = tmp_path / "binary_mlp.py"
    path.write_text("from test_torch_binary import mlp\n\ndef build(num_classes):\n"
                    "    return mlp(num_classes)\n")
    frontend = TorchFrontend.build(f"{path}:build", {}, (1, 2, 3), 3, np.random.default_rng(0),
                                   variant="bnn-lowmem")
    shape = (8, 1, 2, 3)
    by_name = {i.name: i for i in frontend.describe(shape)}
    assert [k.what for k in by_name["fc2.sign"].kept] == ["mask"]
    assert by_name["bn1"].kept[1] == (by_name["bn1"].kept[1])._replace(elements=2 * 16, width=32)
    frontend.configure_signs("real", 2)
    frontend.configure_l1_norms("paper")
    by_name = {i.name: i for i in frontend.describe(shape)}
    assert [k.what for k in by_name["fc2.sign"].kept] == ["sign_input"]
    assert by_name["fc2.sign"].out_width == 2
    statistics = by_name["bn1"].kept[1]
    assert (statistics.elements, statistics.width) == (3 * 16, 16)  # Wang et al.'s FP16
    assert [v.ops for v in by_name["bn1"].vectors] == [11, 5, 9]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    logits = frontend.forward(x)
    frontend.backward(np.ones_like(logits))
    with pytest.raises(Exception, match="sign_store: must be one of real, mask, got 'bits'"):
        frontend.configure_signs("bits")
