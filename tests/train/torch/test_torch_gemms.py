"""Every GEMM of a torch model reaches the observers, in all three phases, with exact shapes:
the MACs of each phase equal an independent count (forward hooks on the torch modules and the
attention's formula), and ``describe`` lists the same GEMMs by shape alone."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch_models  # noqa: E402
from helpers_torch import Ops, one_thread  # noqa: E402, F401
from torch import nn  # noqa: E402

from accelsim.train.gemm import observing  # noqa: E402
from accelsim.train.torch_frontend import TorchFrontend  # noqa: E402

CASES = {  # factory, input shape (no batch axis)
    "lenet5": (torch_models.lenet5, (1, 32, 32)),
    "convnet": (torch_models.convnet, (3, 12, 12)),
    "attention": (torch_models.attention, (5, 16)),
}
BATCH = 4


def hooked_macs(model: nn.Module) -> tuple[Counter, list]:
    """MACs of every Conv2d and Linear call by formula, and those whose input has no
    gradient (their bwd_data does not run)."""
    seen: Counter = Counter()
    no_input_grad: list[int] = []

    def hook(module, args, out):
        x = args[0]
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs = out.numel() * module.in_channels // module.groups * kh * kw
        else:
            macs = out.numel() * module.in_features
        seen["fwd"] += macs
        if not x.requires_grad:
            no_input_grad.append(macs)

    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            module.register_forward_hook(hook)
    return seen, no_input_grad


def attention_macs(shape: tuple[int, ...], model: torch_models.AttentionNet) -> int:
    time = shape[0]
    heads, head_dim = model.attention.heads, model.attention.head_dim
    return 2 * BATCH * heads * time * time * head_dim  # q @ k^T and softmax @ v


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_phase_matches_an_independent_count(name):
    factory, shape = CASES[name]
    model = factory()
    frontend = TorchFrontend(model, shape)
    counted, no_input_grad = hooked_macs(model)
    x = np.random.default_rng(0).standard_normal((BATCH, *shape)).astype(np.float32)
    seen = Ops()
    with observing(seen):
        logits = frontend.forward(x)
        frontend.backward(np.ones_like(logits) / logits.size)
    fwd = counted["fwd"] + (attention_macs(shape, model) if name == "attention" else 0)
    macs = seen.macs()
    assert macs["fwd"] == fwd
    assert macs["bwd_weight"] == fwd
    assert macs["bwd_data"] == fwd - sum(no_input_grad)
    # the first GEMM layer reads the input (no gradient), unless a norm with parameters
    # precedes it (the attention block's layer norm): then only that norm skips bwd_data
    assert bool(no_input_grad) == (name != "attention")
    # describe says the same, from shapes alone
    described = frontend.describe((BATCH, *shape))
    by_shape = Counter()
    for info in described:
        for g in info.gemms:
            by_shape[g.phase] += g.m * g.n * g.k
    assert by_shape == macs
    recorded = [(op.layer, op.phase, op.m, op.n, op.k, op.a_elements, op.c_elements)
                for op in seen.ops if op.phase == "fwd"]
    assert recorded == [(i.name, g.phase, g.m, g.n, g.k, g.a_elements, g.c_elements)
                        for i in described for g in i.gemms if g.phase == "fwd"]


def test_grouped_and_depthwise_convolutions_are_one_gemm_per_group():
    model = torch_models.convnet()
    frontend = TorchFrontend(model, (3, 12, 12))
    seen = Ops()
    with observing(seen):
        logits = frontend.forward(np.zeros((BATCH, 3, 12, 12), np.float32))
        frontend.backward(np.ones_like(logits))
    fwd = Counter(op.layer for op in seen.ops if op.phase == "fwd")
    assert fwd["block2.depthwise"] == 12 and fwd["grouped"] == 4  # groups = 12 and 4
    assert fwd["block2.shortcut"] == math.gcd(8, 12)
    depthwise = next(op for op in seen.ops if op.layer == "block2.depthwise")
    # per group: P = 4*6*6 pixels, 1 output channel, K = 1*3*3; A reads its channel's map
    assert (depthwise.m, depthwise.n, depthwise.k) == (BATCH * 36, 1, 9)
    assert depthwise.a_elements == BATCH * 12 * 12
    grouped = next(op for op in seen.ops if op.layer == "grouped" and op.phase == "bwd_data")
    assert (grouped.m, grouped.n, grouped.k) == (BATCH * 36, 3 * 9, 4)


def test_attention_matmuls_are_batched_gemms_named_by_their_module():
    model = torch_models.attention()
    frontend = TorchFrontend(model, (5, 16))
    seen = Ops()
    with observing(seen):
        logits = frontend.forward(np.zeros((BATCH, 5, 16), np.float32))
        frontend.backward(np.ones_like(logits))
    ops = Counter((op.layer, op.phase, op.m, op.n, op.k) for op in seen.ops
                  if "matmul" in op.layer)
    heads = BATCH * 2  # batch x heads products of [5, 8] @ [8, 5], then [5, 5] @ [5, 8]
    assert ops == {("attention.matmul0", "fwd", 5, 5, 8): heads,
                   ("attention.matmul0", "bwd_weight", 8, 5, 5): heads,
                   ("attention.matmul0", "bwd_data", 5, 8, 5): heads,
                   ("attention.matmul1", "fwd", 5, 8, 5): heads,
                   ("attention.matmul1", "bwd_weight", 5, 8, 5): heads,
                   ("attention.matmul1", "bwd_data", 5, 5, 8): heads}
    query = [op for op in seen.ops if op.layer == "attention.query"]
    assert [(op.phase, op.m, op.n, op.k) for op in query] == [  # Linear on [batch, time, 16]
        ("fwd", BATCH * 5, 16, 16), ("bwd_weight", 16, 16, BATCH * 5),
        ("bwd_data", BATCH * 5, 16, 16)]


def test_scaled_dot_product_attention_is_spelled_out():
    class Sdpa(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 24)
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            q, k, v = self.proj(x).chunk(3, dim=-1)
            mixed = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.head(mixed.mean(1))

    model = Sdpa()
    x = torch.randn(2, 4, 8)
    expected = model(x)
    frontend = TorchFrontend(model, (4, 8))
    seen = Ops()
    with observing(seen):
        out = frontend.forward(x.numpy())
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert list(dict.fromkeys(op.layer for op in seen.ops)) == ["proj", "matmul0", "matmul1", "head"]
    kinds = [info.kind for info in frontend.describe((2, 4, 8))]
    assert kinds == ["linear", "matmul", "mul", "masked_fill", "softmax", "matmul", "mean",
                     "linear"]


def test_resnet18_describes_fast_and_counts_its_multiply_accumulates():
    import time

    from accelsim.zoo import resnet18

    frontend = TorchFrontend(resnet18(), (3, 224, 224))
    start = time.perf_counter()
    layers = frontend.describe((8, 3, 224, 224))
    assert time.perf_counter() - start < 3.0
    fwd = sum(g.m * g.n * g.k for info in layers for g in info.gemms if g.phase == "fwd")
    assert fwd == 8 * 1_814_073_344  # He et al.'s Table 1 figure, per image (accelsim.zoo)
    assert layers[0].name == "stem.0" and layers[0].in_shape == (8, 3, 224, 224)
    assert [i.name for i in layers if i.kind == "add"] == [
        f"stages.{s}.{b}.add0" for s in range(4) for b in range(2)]
