"""The zoo's networks are the ones the papers describe: parameter and multiply-accumulate counts
(forward hooks on every convolution and Linear layer, at batch 1) against the published figures,
output shapes, seeded determinism, attention a tracer can see, and the workloads that ship them."""

from __future__ import annotations

import importlib

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

from accelsim.presets import names  # noqa: E402
from accelsim.train.data import dataset_shape  # noqa: E402
from accelsim.train.workload import load_workload  # noqa: E402
from accelsim.zoo import char_transformer, mobilenet_v2, resnet18, resnet20  # noqa: E402

ZOO_WORKLOADS = ("resnet20-cifar10", "mobilenetv2-cifar10", "resnet18-imagenet",
                 "transformer-text")


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def forward_macs(model: nn.Module, x: torch.Tensor) -> tuple[int, torch.Tensor]:
    """Multiply-accumulates of every Conv2d and Linear in one forward pass, from forward hooks:
    each output element of a convolution costs (in_channels / groups) x kernel area, each of a
    Linear in_features."""
    total = 0

    def count(module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += output.numel() * module.in_channels // module.groups * kh * kw
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return total, out


class MatmulRecorder(TorchFunctionMode):
    """What a TorchFunctionMode tracer sees: every torch function called, and the operand
    shapes of each matrix product between two activations."""

    def __init__(self) -> None:
        super().__init__()
        self.funcs: list[str] = []
        self.matmuls: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        self.funcs.append(name)
        if name in ("matmul", "__matmul__"):  # a @ b arrives as TensorBase.matmul
            self.matmuls.append((tuple(args[0].shape), tuple(args[1].shape)))
        return func(*args, **(kwargs or {}))


def image(side: int, batch: int = 1) -> torch.Tensor:
    return torch.rand(batch, 3, side, side, generator=torch.Generator().manual_seed(1))


# ---- counts against the papers ----------------------------------------------------------------

def test_resnet18_has_torchvisions_exact_counts():
    """Table 1's ResNet-18: 11,689,512 parameters (torchvision's resnet18, 1000 classes) and
    1.814 G multiply-accumulates per 224x224 image ("1.8 x 10^9 FLOPs")."""
    model = resnet18(num_classes=1000)
    assert parameters(model) == 11_689_512
    macs, out = forward_macs(model, image(224))
    assert macs == 1_814_073_344
    assert out.shape == (1, 1000)


def test_resnet20_matches_the_cifar_paper():
    """§4.2 and Table 6: ResNet-20 has 0.27 M parameters; about 41 M MACs per 32x32 image."""
    model = resnet20(num_classes=10)
    assert parameters(model) == 269_722
    assert parameters(model) == pytest.approx(0.27e6, rel=0.01)
    macs, out = forward_macs(model, image(32))
    assert macs == 40_551_040
    assert macs == pytest.approx(41e6, rel=0.02)
    assert out.shape == (1, 10)
    # Option A (zero padding) adds nothing; option B's two projections add 2,752 parameters.
    projected = resnet20(num_classes=10, shortcut="B")
    assert parameters(projected) == 269_722 + 2_752
    assert forward_macs(projected, image(32))[0] == 40_813_184


@pytest.mark.parametrize(("factory", "depth"), [(resnet20, 20), (resnet18, 18)])
def test_resnet_depth_counts_weighted_layers_on_the_main_path(factory, depth):
    """The name is the number of convolutions and FC layers a sample passes through, not
    counting the 1x1 projection shortcuts."""
    model = factory()
    main = [m for m in model.modules()
            if isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1))]
    assert len(main) == depth


def test_mobilenet_v2_matches_the_paper_at_224_and_is_adapted_at_32():
    """With the paper's strides at 224x224 and 1000 classes: Table 3's 3.4 M parameters
    (3,504,872, as torchvision's mobilenet_v2) and 300 M multiply-adds. The 32x32 adaptation
    changes only strides, so its parameters are those with a 10-way classifier, and its last
    feature map is 4x4. (The 224x224 network runs on torch's meta device: shapes only.)"""
    with torch.device("meta"):
        paper = mobilenet_v2(num_classes=1000, paper_strides=True)
        assert parameters(paper) == 3_504_872
        macs, out = forward_macs(paper, torch.empty(1, 3, 224, 224))
    assert macs == 300_774_272
    assert macs == pytest.approx(300e6, rel=0.01)
    assert out.shape == (1, 1000)

    cifar = mobilenet_v2(num_classes=10)
    assert parameters(cifar) == 3_504_872 - 1281 * 1000 + 1281 * 10 == 2_236_682
    maps = []
    hook = cifar.head.register_forward_hook(lambda _m, _i, output: maps.append(output.shape))
    macs, out = forward_macs(cifar, image(32))
    hook.remove()
    assert macs == 87_976_448
    assert out.shape == (1, 10)
    assert maps == [(1, 1280, 4, 4)]


def test_transformer_counts_and_its_attention_is_visible_to_a_tracer():
    """Linear layers by hooks, the two attention products by a TorchFunctionMode, which sees
    q @ k^T and softmax @ v per block and no fused attention kernel."""
    model = char_transformer(num_classes=100, context=32).eval()
    assert parameters(model) == 115_044
    ids = torch.randint(0, 100, (1, 32), generator=torch.Generator().manual_seed(2))
    linear_macs, _ = forward_macs(model, ids)
    assert linear_macs == 3_152_128
    recorder = MatmulRecorder()
    with torch.no_grad(), recorder:
        out = model(ids)
    assert out.shape == (1, 100)
    heads, time, head_dim = 4, 32, 16
    assert recorder.matmuls == [((1, heads, time, head_dim), (1, heads, head_dim, time)),
                                ((1, heads, time, time), (1, heads, time, head_dim))] * 2
    attention_macs = sum(a[0] * a[1] * a[2] * a[3] * b[3] for a, b in recorder.matmuls)
    assert linear_macs + attention_macs == 3_414_272
    assert "softmax" in recorder.funcs and "layer_norm" in recorder.funcs
    assert not {"scaled_dot_product_attention", "multi_head_attention_forward"} & set(
        recorder.funcs)


# ---- behaviour ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("build", "x", "shape"), [
    (lambda: resnet20(num_classes=7), image(32, 2), (2, 7)),
    (lambda: mobilenet_v2(num_classes=7, width=0.5), image(32, 2), (2, 7)),
    (lambda: char_transformer(num_classes=7, context=8), torch.zeros(2, 8, dtype=torch.long),
     (2, 7)),
    (lambda: char_transformer(num_classes=7, context=8), torch.zeros(2, 3, dtype=torch.long),
     (2, 7)),
])
def test_output_shapes(build, x, shape):
    model = build().eval()
    with torch.no_grad():
        assert model(x).shape == shape


def test_the_transformer_is_causal():
    """A position's hidden state depends on it and earlier positions only."""
    model = char_transformer(num_classes=20, context=10).eval()
    ids = torch.randint(0, 20, (1, 10), generator=torch.Generator().manual_seed(3))
    changed = ids.clone()
    changed[0, 6:] = (changed[0, 6:] + 1) % 20
    with torch.no_grad():
        before, after = model.features(ids), model.features(changed)
    assert torch.equal(before[:, :6], after[:, :6])
    assert not torch.allclose(before[:, 6:], after[:, 6:])


@pytest.mark.parametrize("build", [
    lambda: resnet20(), lambda: mobilenet_v2(),
    lambda: char_transformer(num_classes=30, context=16)], ids=["resnet20", "mobilenet_v2",
                                                                "char_transformer"])
def test_torch_manual_seed_fixes_the_weights(build):
    def weights(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return build().state_dict()

    first, again, other = weights(0), weights(0), weights(1)
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first
               if first[k].is_floating_point() and first[k].numel() > 1)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: resnet20(num_classes=0), r"num_classes must be an integer >= 1, got 0"),
    (lambda: resnet18(num_classes=True), r"num_classes must be an integer >= 1, got True"),
    (lambda: resnet20(shortcut="C"), r"shortcut must be one of \('A', 'B'\), got 'C'"),
    (lambda: mobilenet_v2(num_classes=2.5), r"num_classes must be an integer >= 1, got 2\.5"),
    (lambda: mobilenet_v2(width=0), r"width must be a number > 0, got 0"),
    (lambda: mobilenet_v2(paper_strides="yes"), r"paper_strides must be true or false"),
    (lambda: char_transformer(num_classes=10, context=0), r"context must be an integer >= 1"),
    (lambda: char_transformer(num_classes=10, context=8, dim=30, heads=4),
     r"dim 30 must be a multiple of heads 4"),
])
def test_bad_arguments_are_named(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_the_transformer_refuses_a_window_longer_than_its_context():
    model = char_transformer(num_classes=10, context=8)
    with pytest.raises(ValueError, match=r"input has 9 positions, more than context=8"):
        model(torch.zeros(1, 9, dtype=torch.long))


# ---- workloads ----------------------------------------------------------------------------------

def build_from(factory: str, params: dict, classes: int) -> nn.Module:
    """As the torch front-end builds a workload's model: the factory called with the params
    and, unless they set it, ``num_classes`` = the data set's class count."""
    module, _, function = factory.partition(":")
    return getattr(importlib.import_module(module), function)(
        **{"num_classes": classes, **params})


@pytest.mark.parametrize("name", ZOO_WORKLOADS)
def test_every_zoo_workload_loads_and_its_model_fits_its_data(name):
    """Each preset loads, names a zoo factory that builds from its params, and the network
    takes the data set's samples (by the loader's shape reader, without loading data) and
    gives one score per class. On torch's meta device: shapes only, no arithmetic."""
    assert name in names("workloads")
    workload = load_workload(name)
    assert workload.name == name and workload.model.torch.startswith("accelsim.zoo.")
    shape = dataset_shape(workload.dataset.name, workload.dataset.params)
    integer = workload.dataset.name == "text"
    with torch.device("meta"), torch.no_grad():
        model = build_from(workload.model.torch, workload.model.params, shape.classes).eval()
        x = torch.empty(2, *shape.input_shape, dtype=torch.long if integer else torch.float32)
        assert model(x).shape == (2, shape.classes)


def test_zoo_workloads_train_as_the_literature_does():
    sgd = {n: load_workload(n) for n in ZOO_WORKLOADS if n != "transformer-text"}
    assert {n: (w.batch_size, w.optimizer.name, w.optimizer.lr, w.optimizer.momentum)
            for n, w in sgd.items()} == {"resnet20-cifar10": (128, "sgd", 0.1, 0.9),
                                         "mobilenetv2-cifar10": (128, "sgd", 0.1, 0.9),
                                         "resnet18-imagenet": (256, "sgd", 0.1, 0.9)}
    text = load_workload("transformer-text")
    assert (text.optimizer.name, text.optimizer.lr, text.batch_size) == ("adam", 0.001, 64)
