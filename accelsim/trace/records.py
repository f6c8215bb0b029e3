"""Trace records: the only contract between the training front-end and the simulator.

Version 1 (``docs/trace-format.md``): a header line, then one JSON object per op, either a
``gemm`` C[m,n] += A[m,k].B[k,n] or a ``transfer`` between DRAM and the chip. Field names of
version 1 are fixed; fields marked optional below were added with defaults, so every version-1
trace stays valid.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from accelsim.errors import TraceError, clip, shown

FORMAT = "accelsim-trace"
WRITE_VERSION = 1  # the version this accelsim writes
READABLE_VERSIONS = (1,)  # the versions it reads
PHASES = ("fwd", "bwd_data", "bwd_weight", "update")
TENSORS = ("weights", "master_weights", "weight_grads", "activations", "errors",
           "optimizer_state", "inputs")
DIRECTIONS = ("read", "write")
DTYPES = ("int", "fp")
MAX_BITS = 32
# Upper bounds on sizes and counts: far beyond any real network (ResNet-50 at batch 4096 has
# GEMM dimensions near 2^26), and they keep the arithmetic of any accepted record bounded.
MAX_DIM = 1 << 31  # a GEMM dimension
MAX_ELEMENTS = 1 << 40  # elements of a tensor
MAX_COUNT = 1 << 40  # repeats of one record, and iterations
MAX_NAME = 200  # characters of a layer name

# What A, B and C of a GEMM hold in each phase, unless the record says otherwise.
OPERAND_TENSORS = {
    "fwd": ("activations", "weights", "activations"),
    "bwd_data": ("errors", "weights", "errors"),
    "bwd_weight": ("activations", "errors", "weight_grads"),
    "update": ("weight_grads", "weights", "weights"),
}


@dataclass(frozen=True)
class Header:
    workload: str = ""
    method: str = ""
    seed: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": WRITE_VERSION, "workload": self.workload,
                "method": self.method, "seed": self.seed, "meta": self.meta}


@dataclass(frozen=True)
class Gemm:
    """C[m,n] += A[m,k].B[k,n]; A streams, B is stationary-eligible, acc_bits the accumulator."""

    iter: int
    layer: str
    phase: str
    m: int
    n: int
    k: int
    a_bits: int
    b_bits: int
    acc_bits: int
    count: int = 1
    c_bits: int | None = None  # optional: width C is written to DRAM at (default acc_bits)
    dtype: str = "int"  # optional: "fp" prices the MACs as floating point
    a_tensor: str | None = None  # optional: defaults by phase (OPERAND_TENSORS)
    b_tensor: str | None = None
    c_tensor: str | None = None
    # optional: distinct elements of each operand in DRAM when the GEMM views a smaller tensor
    # (a convolution's im2col matrix is a view of its feature map); default the view's size
    a_elements: int | None = None
    b_elements: int | None = None
    c_elements: int | None = None

    op: ClassVar[str] = "gemm"
    REQUIRED: ClassVar[tuple[str, ...]] = ("iter", "layer", "phase", "m", "n", "k", "a_bits",
                                          "b_bits", "acc_bits")

    @property
    def out_bits(self) -> int:
        return self.c_bits if self.c_bits is not None else self.acc_bits

    def tensors(self) -> tuple[str, str, str]:
        a, b, c = OPERAND_TENSORS[self.phase]
        return (self.a_tensor or a, self.b_tensor or b, self.c_tensor or c)

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k

    def footprint(self, operand: str) -> int:
        """Distinct elements of operand a, b or c in DRAM."""
        view = {"a": self.m * self.k, "b": self.k * self.n, "c": self.m * self.n}[operand]
        given = getattr(self, f"{operand}_elements")
        return view if given is None else given

    def signature(self) -> tuple:
        """What the simulator's cost depends on (not iteration, layer, phase or count)."""
        return ("gemm", self.m, self.n, self.k, self.a_bits, self.b_bits, self.acc_bits,
                self.out_bits, self.dtype, self.a_elements, self.b_elements, self.c_elements)


@dataclass(frozen=True)
class Transfer:
    """A tensor moved between DRAM and the chip, ``elements`` values of ``bits`` each."""

    iter: int
    layer: str
    tensor: str
    dir: str
    elements: int
    bits: int
    count: int = 1
    phase: str | None = None  # optional: the phase the transfer belongs to, for reports

    op: ClassVar[str] = "transfer"
    REQUIRED: ClassVar[tuple[str, ...]] = ("iter", "layer", "tensor", "dir", "elements", "bits")

    @property
    def bytes(self) -> int:
        return (self.elements * self.bits + 7) // 8

    def signature(self) -> tuple:
        return ("transfer", self.dir, self.bytes)


Op = Gemm | Transfer
OP_TYPES: dict[str, type[Gemm] | type[Transfer]] = {"gemm": Gemm, "transfer": Transfer}


def without_count(op: Op) -> Op:
    return replace(op, count=1)


def _int(rec: dict, name: str, where: str, minimum: int, maximum: int) -> int:
    value = rec[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TraceError(f"{where}: field '{name}' must be an integer, got {shown(value)}")
    if not minimum <= value <= maximum:
        raise TraceError(f"{where}: field '{name}' must be from {minimum} to {maximum:,}, got "
                         f"{shown(value)}")
    return value


def _choice(rec: dict, name: str, where: str, choices: tuple[str, ...]) -> str:
    value = rec[name]
    if not isinstance(value, str) or value not in choices:
        raise TraceError(f"{where}: field '{name}' is {shown(value)}, expected one of "
                         f"{', '.join(choices)}")
    return value


def op_from_json(rec: Any, where: str) -> Op:
    """Validate one parsed trace line and build its record; ``where`` is ``file:line``."""
    if not isinstance(rec, dict):
        raise TraceError(f"{where}: expected a JSON object, got {type(rec).__name__}")
    kind = rec.get("op")
    cls = OP_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise TraceError(f"{where}: unknown op {shown(kind)}, expected one of "
                         f"{', '.join(OP_TYPES)}")
    missing = [f for f in cls.REQUIRED if f not in rec]
    if missing:
        raise TraceError(f"{where}: {kind} record is missing field(s) {', '.join(missing)}")
    known = {f.name for f in dataclasses.fields(cls)} | {"op"}
    unknown = sorted(set(rec) - known)
    if unknown:
        raise TraceError(f"{where}: {kind} record has unknown field(s) "
                         f"{clip(', '.join(unknown))}")
    common: dict[str, Any] = {"iter": _int(rec, "iter", where, 0, MAX_COUNT),
              "count": _int(rec, "count", where, 1, MAX_COUNT) if "count" in rec else 1}
    layer = rec["layer"]
    if not isinstance(layer, str) or not layer or len(layer) > MAX_NAME:
        raise TraceError(f"{where}: field 'layer' must be a non-empty string of at most "
                         f"{MAX_NAME} characters, got {shown(layer)}")
    if cls is Gemm:
        opt: dict[str, Any] = {}
        if rec.get("c_bits") is not None:
            opt["c_bits"] = _int(rec, "c_bits", where, 1, MAX_BITS)
        if "dtype" in rec:
            opt["dtype"] = _choice(rec, "dtype", where, DTYPES)
        for t in ("a_tensor", "b_tensor", "c_tensor"):
            if rec.get(t) is not None:
                opt[t] = _choice(rec, t, where, TENSORS)
        views = {"a": ("m", "k"), "b": ("k", "n"), "c": ("m", "n")}
        for operand, (d0, d1) in views.items():
            name = f"{operand}_elements"
            if rec.get(name) is not None:
                size = _int(rec, d0, where, 1, MAX_DIM) * _int(rec, d1, where, 1, MAX_DIM)
                opt[name] = _int(rec, name, where, 1, size)
        return Gemm(layer=layer, phase=_choice(rec, "phase", where, PHASES),
                    m=_int(rec, "m", where, 1, MAX_DIM), n=_int(rec, "n", where, 1, MAX_DIM),
                    k=_int(rec, "k", where, 1, MAX_DIM),
                    a_bits=_int(rec, "a_bits", where, 1, MAX_BITS),
                    b_bits=_int(rec, "b_bits", where, 1, MAX_BITS),
                    acc_bits=_int(rec, "acc_bits", where, 1, 64), **common, **opt)
    phase = _choice(rec, "phase", where, PHASES) if rec.get("phase") is not None else None
    return Transfer(layer=layer, tensor=_choice(rec, "tensor", where, TENSORS),
                    dir=_choice(rec, "dir", where, DIRECTIONS),
                    elements=_int(rec, "elements", where, 1, MAX_ELEMENTS),
                    bits=_int(rec, "bits", where, 1, MAX_BITS), phase=phase, **common)


def op_to_json(op: Op) -> dict[str, Any]:
    """The record as a JSON object, optional fields omitted when at their defaults."""
    out: dict[str, Any] = {"op": op.op}
    for name, f in op.__dataclass_fields__.items():
        value = getattr(op, name)
        if name in op.REQUIRED or name == "count" or value != f.default:
            out[name] = value
    return out
