"""Workloads: what to train, on what data, for how long, and each method's parameters.

A workload is a YAML file (``workloads/*.yaml``) checked like hardware configs (``accelsim/spec``):
every key is declared below with its meaning and bounds, unknown keys and bad values are errors
naming the key path, and ``--set KEY.PATH=VALUE`` overrides any key. A workload name without a
path resolves in the project's ``workloads/``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from accelsim.errors import WorkloadError
from accelsim.method_names import canonical_method
from accelsim.presets import shipped_dir
from accelsim.spec.check import build, check_schema
from accelsim.spec.fields import spec
from accelsim.spec.yamlio import apply_overrides, read_yaml, resolve_preset

WORKLOAD_DIR = shipped_dir("workloads")
BNN_FORMATS = ("fixed", "fp")  # a binary method's formats below 32 bits


def method_key(name: str) -> str:
    """The key of a method's section in a workload (``methods.bnn_lowmem``)."""
    return canonical_method(name).replace("-", "_")


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """Which data set, and the loader's own parameters (``accelsim.train.data``)."""

    name: str = spec(doc="Data set: digits, mnist, cifar10, imagenet (an image folder), text, "
                     "synthetic (seeded random samples of a given shape) or npz (your own "
                     "arrays).")
    params: dict = spec(factory=dict, doc="Loader parameters (e.g. upsample, path, context; "
                        "synthetic: shape, classes, train_samples, test_samples; npz: path; "
                        "imagenet: path, size, classes, train_samples, test_samples).")


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Which network: a built-in numpy model by ``name`` (``accelsim.train.models``), or a
    PyTorch model by its factory (``torch``, the torch extra); ``params`` go to the builder."""

    name: str = spec("", doc="Built-in model: mlp, lenet5, cnn, charlm, or Wang et al.'s "
                     "bnn-mlp, bnn-cnv, bnn-binarynet (or give torch).")
    torch: str = spec("", doc="A PyTorch model factory, 'file.py:function' (a path relative "
                      "to the workload's folder) or 'package.module:function', called with "
                      "params; needs pip install 'accelsim[torch]'.")
    params: dict = spec(factory=dict, doc="Builder parameters (e.g. hidden sizes).")


@dataclass(frozen=True, kw_only=True)
class Optimizer:
    """SGD with momentum or Adam, L2 weight decay and a learning-rate schedule, shared by every
    method (each stores the optimizer's state at its own width)."""

    name: str = spec("sgd", choices=("sgd", "adam"), doc="sgd (with momentum) or adam "
                     "(Kingma & Ba 2015).")
    lr: float = spec(0.05, doc="Learning rate.", exclusive_minimum=0, maximum=100)
    momentum: float = spec(0.9, doc="SGD's momentum (0 for plain SGD).", minimum=0,
                           maximum=0.999)
    beta1: float = spec(0.9, doc="Adam's first-moment decay.", minimum=0, maximum=0.9999)
    beta2: float = spec(0.999, doc="Adam's second-moment decay.", minimum=0, maximum=0.99999)
    eps: float = spec(1e-8, doc="Adam's denominator guard.", exclusive_minimum=0, maximum=1)
    weight_decay: float = spec(0.0, doc="L2 weight decay.", minimum=0, maximum=1)
    schedule: str = spec("constant", choices=("constant", "cosine"),
                         doc="Learning-rate schedule over all iterations: constant, or cosine "
                         "decay from lr to 0 (Loshchilov & Hutter 2017).")


@dataclass(frozen=True, kw_only=True)
class Fp32Params:
    """The baseline: everything in 32-bit floating point."""


@dataclass(frozen=True, kw_only=True)
class QatParams:
    """Quantisation-aware training: fp32 master weights plus a quantised copy for the GEMMs."""

    weight_bits: int = spec(8, unit="bits", doc="Quantised weight copy.", minimum=1, maximum=32)
    activation_bits: int = spec(8, unit="bits", doc="Activations entering GEMMs and stored for "
                                "backward.", minimum=1, maximum=32)
    error_bits: int = spec(8, unit="bits", doc="Errors (activation gradients) entering GEMMs.",
                           minimum=1, maximum=32)
    grad_bits: int = spec(32, unit="bits", doc="Stored weight gradients.", minimum=1, maximum=32)


@dataclass(frozen=True, kw_only=True)
class RctParams:
    """RCT/APT: only a quantised model; each layer's width adapts to its Gavg.

    Gavg of a layer is the mean magnitude of its weight updates divided by its quantisation step,
    averaged over ``interval`` iterations. Below ``t_min`` updates underflow, so the layer gains a
    bit; above ``t_max`` it learns comfortably and loses one. APT's ``tradeoff`` divides both
    thresholds by (1 + tradeoff): larger values keep fewer bits, trading accuracy for energy and
    memory.
    """

    init_bits: int = spec(8, unit="bits", doc="Every layer's width at the start.", minimum=2,
                          maximum=32)
    min_bits: int = spec(4, unit="bits", doc="Narrowest a layer may get.", minimum=2, maximum=32)
    max_bits: int = spec(16, unit="bits", doc="Widest a layer may get.", minimum=2, maximum=32)
    t_min: float = spec(0.01, doc="Gavg below which a layer gains a bit.", exclusive_minimum=0,
                        maximum=1e6)
    t_max: float = spec(0.2, doc="Gavg above which a layer loses a bit.", exclusive_minimum=0,
                        maximum=1e6)
    interval: int = spec(20, unit="iterations", doc="Iterations between width decisions.",
                         minimum=1, maximum=1_000_000)
    tradeoff: float = spec(0.0, doc="APT's knob: thresholds are divided by (1 + tradeoff).",
                           minimum=0, maximum=1000)
    gavg: str = spec("step", choices=("step", "gradient"), doc="What Gavg divides by the grid "
                     "step: step (the update applied, lr times the optimizer's direction) or "
                     "gradient (the stored gradient, the papers' wording).")
    noise_budget: float = spec(0.25, doc="Rounding-noise guard: a layer gains a bit when the "
                               "noise its stochastic updates inject per iteration, times the "
                               "iterations so far, exceeds this fraction of its weights' power, "
                               "and never loses one that would break it (0: off).", minimum=0,
                               maximum=1e6)
    grad_bits: int = spec(16, unit="bits", doc="Stored weight gradients.", minimum=2, maximum=32)
    state_bits: int = spec(16, unit="bits", doc="Stored optimizer state (momentum, or Adam's m "
                           "and v).", minimum=2,
                           maximum=32)


@dataclass(frozen=True, kw_only=True)
class BnnParams:
    """Binary network training (Courbariaux & Bengio): +-1 weights and activations in the
    GEMMs, real-valued latent weights, high-precision values kept for backward."""

    input_bits: int = spec(8, unit="bits", doc="The network's input (first GEMM's A operand).",
                           minimum=1, maximum=32)
    activation_bits: int = spec(1, unit="bits", doc="The +-1 activations entering the other "
                                "GEMMs, as stored and multiplied (1: packed bits; 32: floats, "
                                "as a framework's standard BNN keeps them).", minimum=1,
                                maximum=32)
    sign_store: str = spec("real", choices=("real", "mask"), doc="What each Sign keeps for its "
                           "straight-through backward: real (its input, at the value width) or "
                           "mask (the 1-bit |x| <= 1).")
    value_bits: int = spec(32, unit="bits", doc="Real-valued intermediates kept for backward "
                           "(GEMM outputs, batch-norm values, Sign inputs).", minimum=1,
                           maximum=32)
    latent_bits: int = spec(32, unit="bits", doc="Latent (real-valued) weights.", minimum=2,
                            maximum=32)
    latent_format: str = spec("fixed", choices=BNN_FORMATS, doc="Format of latents below 32 "
                              "bits: fixed (point, stochastic rounding) or fp (IEEE half "
                              "precision at 16 bits, nearest).")
    error_bits: int = spec(32, unit="bits", doc="Errors entering GEMMs.", minimum=2, maximum=32)
    error_format: str = spec("fixed", choices=BNN_FORMATS, doc="Format of errors below 32 "
                             "bits: fixed (point, stochastic rounding) or fp (IEEE half "
                             "precision at 16 bits, nearest).")
    grad_bits: int = spec(32, unit="bits", doc="Stored weight gradients (1: signs, scaled "
                          "as grad_scale says).", minimum=1, maximum=32)
    grad_scale: str = spec("mean", choices=("mean", "fan"), doc="Scale of 1-bit weight "
                           "gradients: mean (sign(g) * mean|g| per tensor) or fan (Wang et "
                           "al.: sign(g) / sqrt(fan_in * fan_out), fan_in * fan_out the "
                           "layer's weights).")
    norm_backward: str = spec("sign", choices=("exact", "sign", "paper"), doc="Backward of "
                              "the network's l1 batch norms (layers.L1BatchNorm): exact, sign "
                              "(1 bit, xhat replaced by sign(xhat)) or paper (Wang et al.'s "
                              "custom gradient, with their FP16 statistics and dy).")
    state_bits: int = spec(32, unit="bits", doc="Stored optimizer state (momentum, or Adam's m "
                           "and v).", minimum=2, maximum=32)


@dataclass(frozen=True, kw_only=True)
class BnnLowmemParams(BnnParams):
    """The low-memory variant as Wang et al. publish it: activations kept only in binary form,
    weight gradients as signs over sqrt(fan_in * fan_out), their l1 batch norm's backward,
    latent weights and errors in IEEE half precision, optimizer state at 16 bits."""

    sign_store: str = spec("mask", choices=("real", "mask"), doc="What each Sign keeps for its "
                           "straight-through backward: mask (the 1-bit |x| <= 1) or real.")
    value_bits: int = spec(16, unit="bits", doc="Real-valued intermediates (GEMM outputs).",
                           minimum=1, maximum=32)
    latent_bits: int = spec(16, unit="bits", doc="Latent (real-valued) weights.", minimum=2,
                            maximum=32)
    latent_format: str = spec("fp", choices=BNN_FORMATS, doc="Format of latents below 32 "
                              "bits: fp (IEEE half precision at 16 bits, nearest) or fixed "
                              "(point, stochastic rounding: accelsim's earlier default).")
    error_bits: int = spec(16, unit="bits", doc="Errors entering GEMMs.", minimum=2, maximum=32)
    error_format: str = spec("fp", choices=BNN_FORMATS, doc="Format of errors below 32 bits: "
                             "fp (IEEE half precision at 16 bits, nearest) or fixed (point, "
                             "stochastic rounding: accelsim's earlier default).")
    grad_bits: int = spec(1, unit="bits", doc="Stored weight gradients (1: signs, scaled as "
                          "grad_scale says).", minimum=1, maximum=32)
    grad_scale: str = spec("fan", choices=("mean", "fan"), doc="Scale of 1-bit weight "
                           "gradients: fan (Wang et al.: sign(g) / sqrt(fan_in * fan_out)) or "
                           "mean (sign(g) * mean|g| per tensor: accelsim's earlier default).")
    norm_backward: str = spec("paper", choices=("exact", "sign", "paper"), doc="Backward of "
                              "the network's l1 batch norms: paper (Wang et al.'s custom "
                              "gradient, FP16 statistics and dy), sign (accelsim's earlier "
                              "1-bit backward) or exact.")
    state_bits: int = spec(16, unit="bits", doc="Stored optimizer state (momentum, or Adam's m "
                           "and v).", minimum=2, maximum=32)


@dataclass(frozen=True, kw_only=True)
class Methods:
    """Parameters of each training method."""

    fp32: Fp32Params = spec(doc="FP32 baseline (no parameters).", factory=Fp32Params)
    qat: QatParams = spec(doc="QAT parameters.", factory=QatParams)
    rct: RctParams = spec(doc="RCT/APT parameters.", factory=RctParams)
    bnn: BnnParams = spec(doc="Standard binary network training.", factory=BnnParams)
    bnn_lowmem: BnnLowmemParams = spec(doc="Low-memory binary network training "
                                       "(--method bnn-lowmem).", factory=BnnLowmemParams)


@dataclass(frozen=True, kw_only=True)
class Workload:
    """One training job, as described by ``workloads/*.yaml``."""

    name: str = spec(doc="A label for traces and reports.")
    seed: int = spec(0, doc="Seed of data split, initialisation, shuffling and rounding.",
                     minimum=0, maximum=2**63 - 1)
    dataset: DatasetSpec = spec(doc="The data set.")
    model: ModelSpec = spec(doc="The network.")
    batch_size: int = spec(32, unit="samples", doc="Mini-batch size.", minimum=1,
                           maximum=1 << 20)
    epochs: int = spec(10, doc="Passes over the training set.", minimum=1, maximum=100_000)
    optimizer: Optimizer = spec(doc="Optimizer settings (SGD or Adam).", factory=Optimizer)
    methods: Methods = spec(doc="Per-method parameters.", factory=Methods)


def _check_meaning(values: dict[str, Any], problems: list[str]) -> None:
    model = values["model"]
    if bool(model["name"]) == bool(model["torch"]):
        problems.append("model: give either name (a built-in model) or torch (a PyTorch model "
                        "factory), " + ("not both" if model["name"] else "not neither"))
    for key in ("bnn", "bnn_lowmem"):
        bnn = values["methods"][key]
        for tensor in ("latent", "error"):
            if bnn[f"{tensor}_format"] == "fp" and bnn[f"{tensor}_bits"] not in (16, 32):
                problems.append(f"methods.{key}.{tensor}_bits: the fp format has 16 bits (IEEE "
                                f"half) or 32, got {bnn[f'{tensor}_bits']}")
    rct = values["methods"]["rct"]
    if rct["min_bits"] > rct["max_bits"]:
        problems.append(f"methods.rct.min_bits: {rct['min_bits']} exceeds methods.rct.max_bits "
                        f"{rct['max_bits']}")
    elif not rct["min_bits"] <= rct["init_bits"] <= rct["max_bits"]:
        problems.append(f"methods.rct.init_bits: {rct['init_bits']} is outside "
                        f"[{rct['min_bits']}, {rct['max_bits']}]")
    if rct["t_min"] >= rct["t_max"]:
        problems.append(f"methods.rct.t_min: {rct['t_min']:g} must be below methods.rct.t_max "
                        f"{rct['t_max']:g}")


def workload_from_dict(data: Any, source: str = "") -> Workload:
    problems: list[str] = []
    values = check_schema(Workload, data, "", problems)
    if values is not None and not problems:
        _check_meaning(values, problems)
    if problems:
        where = f"{source}: " if source else ""
        raise WorkloadError(where + "; ".join(problems))
    assert values is not None
    return build(Workload, values)


def resolve_workload_path(name: str | Path) -> Path:
    """A file path as given, or a preset name looked up in ``workloads/``."""
    return resolve_preset(name, WORKLOAD_DIR, "workload", WorkloadError)


def load_workload(name: str | Path, overrides: list[str] | None = None) -> Workload:
    """Load, override and check a workload; raises ``WorkloadError`` naming every problem."""
    path = resolve_workload_path(name)
    text = [_method_spelling(o) for o in overrides or []]
    data = apply_overrides(_method_keys(read_yaml(path, WorkloadError, "workload")), text)
    workload = workload_from_dict(_method_keys(data), str(path))
    return _anchored(workload, path.parent)


def _anchored(workload: Workload, folder: Path) -> Workload:
    """A torch factory given as a relative ``file.py:function`` names a file beside the
    workload: make its path absolute so the workload works from any folder."""
    factory = workload.model.torch
    file, sep, function = factory.rpartition(":")
    if sep and file.endswith(".py") and not Path(file).is_absolute():
        model = replace(workload.model, torch=f"{(folder / file).resolve()}:{function}")
        return replace(workload, model=model)
    return workload


def _method_spelling(override: str) -> str:
    """``methods.bnn-lowmem.x=1`` -> ``methods.bnn_lowmem.x=1``."""
    key, sep, value = override.partition("=")
    parts = key.split(".")
    if len(parts) > 1 and parts[0].strip() == "methods":
        parts[1] = method_key(parts[1])
    return ".".join(parts) + sep + value


def _method_keys(data: Any) -> Any:
    """Accept either spelling of a method's section (``bnn-lowmem`` or ``bnn_lowmem``)."""
    if isinstance(data, dict) and isinstance(data.get("methods"), dict):
        methods: dict = {}
        for key, value in data["methods"].items():
            name = method_key(key) if isinstance(key, str) else key
            if name in methods:
                raise WorkloadError(f"methods.{key}: the same method is given twice")
            methods[name] = value
        data = {**data, "methods": methods}
    return data
