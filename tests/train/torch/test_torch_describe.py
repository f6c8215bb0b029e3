"""``describe`` by shape alone: it touches no parameter, buffer or random state, names layers
by module, gives each parameter its role, and prices the operations it knows; parameters are
zero-copy views written in place."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch_models  # noqa: E402
from helpers_torch import one_thread  # noqa: E402, F401
from torch import nn  # noqa: E402

from accelsim.train.torch_frontend import TorchFrontend  # noqa: E402


class Mixed(nn.Module):
    """Token ids -> embedding + position, a gated MLP with dropout and a learned scale, group
    norm on a 2-D view, pooling, a classifier; ``act`` is called twice."""

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.position = nn.Parameter(torch.zeros(1, 6, 8))
        self.fc = nn.Linear(8, 8)
        self.act = nn.GELU()
        self.drop = nn.Dropout(0.1)
        self.scale = nn.Parameter(torch.ones(8))
        self.norm = nn.GroupNorm(2, 8)
        self.pool = nn.AvgPool2d(2)
        self.head = nn.Linear(8, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) + self.position
        x = self.drop(self.act(self.fc(x))) * torch.sigmoid(x) * self.scale
        x = self.act(x)
        x = x.masked_fill(x.abs() > 100, 0.0)
        image = self.norm(x.transpose(1, 2).reshape(-1, 8, 2, 3))
        return self.head(torch.tanh(self.pool(image).flatten(1)))


def test_describe_touches_nothing_and_needs_no_data():
    model = torch_models.convnet()
    frontend = TorchFrontend(model, (3, 12, 12))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    layers = frontend.describe((64, 3, 12, 12))
    assert layers[0].in_shape == (64, 3, 12, 12) and layers[-1].out_shape == (64, 10)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)
    assert frontend.describe((64, 3, 12, 12)) is layers  # cached per shape


def test_layers_roles_and_the_operations_priced():
    frontend = TorchFrontend(Mixed(), (6,))
    assert frontend.input_dtype == torch.int64
    layers = frontend.describe((4, 6))
    assert [(i.name, i.kind) for i in layers] == [
        ("embed", "embedding"), ("position", "add"), ("fc", "linear"), ("act", "gelu"),
        ("drop", "dropout"), ("sigmoid0", "sigmoid"), ("mul0", "mul"), ("scale", "mul"),
        ("act:1", "gelu"), ("masked_fill0", "masked_fill"), ("norm", "groupnorm"),
        ("pool", "avgpool2d"), ("tanh0", "tanh"), ("head", "linear")]
    roles = {p.name: p.role for p in frontend.params()}
    assert roles == {"embed.weight": "embedding", "position": "embedding",
                     "fc.weight": "gemm_weight", "fc.bias": "bias", "scale": "norm_scale",
                     "norm.weight": "norm_scale", "norm.bias": "norm_shift",
                     "head.weight": "gemm_weight", "head.bias": "bias"}
    assert [p.name for p in frontend.params()][:3] == ["embed.weight", "position", "fc.weight"]
    by_name = {i.name: i for i in layers}
    kept = {i.name: [k.what for k in i.kept] for i in layers}
    assert kept["drop"] == ["mask"] and kept["act"] == ["input"] and kept["tanh0"] == ["output"]
    assert [v.kind for v in by_name["position"].vectors] == ["add", "bias_grad"]
    assert kept["mul0"] == ["input", "input"] and kept["scale"] == ["input"]
    assert [(v.phase, v.ops) for v in by_name["scale"].vectors] == [("fwd", 1),
                                                                   ("bwd_data", 1),
                                                                   ("bwd_weight", 2)]
    assert not any(g.phase == "bwd_data" for g in by_name["embed"].gemms)
    assert [k.elements for k in by_name["norm"].kept] == [4 * 6 * 8, 2 * 4 * 2]


def test_parameters_are_zero_copy_views_written_in_place():
    model = torch_models.lenet5()
    frontend = TorchFrontend(model, (1, 32, 32))
    p = frontend.params()[0]
    assert (p.name, p.layer, p.role, p.shape) == ("conv1.weight", "conv1", "gemm_weight",
                                                  (6, 1, 5, 5))
    tensor = model.conv1.weight
    assert np.shares_memory(p.value(), tensor.detach().numpy())
    p.assign(np.full(p.shape, 0.5, np.float32))
    assert model.conv1.weight is tensor and torch.all(tensor == 0.5)
    with pytest.raises(ValueError, match="cannot assign float64"):
        p.assign(np.zeros(p.shape))
    p.set_grad(np.ones(p.shape, np.float32))
    assert torch.equal(tensor.grad, torch.ones(6, 1, 5, 5)) and p.grad().shape == p.shape
