"""Trace records: the only contract between the training front-ends and the simulator.

Each op kind is a frozen dataclass registered under its ``op`` name with the trace version that
introduced it (``@op_kind``). Its fields are declared once, with their bounds or choices in
the field metadata (``bounded``, ``one_of``, ``text``), and one generic reader checks any kind
from those declarations; a kind adds only the checks that span fields (``check``). An unknown
``op`` is an error listing the kinds the file's version allows. Simulation and energy look kinds
up by the same name in their own registries (``accelsim.sim.kinds``, ``accelsim.energy``).

Version 1 (``docs/trace-format.md``): a header line, then one JSON object per op, a ``gemm``
C[m,n] += A[m,k].B[k,n] or a ``transfer`` between DRAM and the chip. Optional fields were added
with defaults, so every version-1 trace stays valid. Version 2 adds ``vector``: element-wise and
reduction work (batch norm, activations, pooling, softmax and loss, quantisation, residual adds,
the optimizer update) for the machine's vector unit. Reading and writing versions are separate:
a reader accepts every version in ``READABLE_VERSIONS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from accelsim.errors import TraceError, clip, shown

FORMAT = "accelsim-trace"
WRITE_VERSION = 2  # the version this accelsim writes
READABLE_VERSIONS = (1, 2)  # the versions it reads
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
MAX_OPS_PER_ELEMENT = 1 << 16  # operations a vector record does per element
# What a vector record works on, unless it says: activations forward, errors backward, the
# weights in the update.
VECTOR_TENSORS = {"fwd": "activations", "bwd_data": "errors", "bwd_weight": "errors",
                  "update": "weights"}

# What A, B and C of a GEMM hold in each phase, unless the record says otherwise.
OPERAND_TENSORS = {
    "fwd": ("activations", "weights", "activations"),
    "bwd_data": ("errors", "weights", "errors"),
    "bwd_weight": ("activations", "errors", "weight_grads"),
    "update": ("weight_grads", "weights", "weights"),
}


# ---- field declarations ------------------------------------------------------------------------

def bounded(minimum: int, maximum: int, default: Any = dataclasses.MISSING) -> Any:
    """An integer field in [minimum, maximum]."""
    return field(default=default, metadata={"check": ("int", minimum, maximum)})


def one_of(choices: tuple[str, ...], default: Any = dataclasses.MISSING) -> Any:
    """A string field holding one of ``choices``."""
    return field(default=default, metadata={"check": ("choice", choices)})


def flag(default: bool = False) -> Any:
    """A JSON ``true`` or ``false``."""
    return field(default=default, metadata={"check": ("flag",)})


def text(default: Any = dataclasses.MISSING) -> Any:
    """A non-empty name of at most ``MAX_NAME`` characters."""
    return field(default=default, metadata={"check": ("text",)})


def _int(value: Any, name: str, where: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TraceError(f"{where}: field '{name}' must be an integer, got {shown(value)}")
    if not minimum <= value <= maximum:
        raise TraceError(f"{where}: field '{name}' must be from {minimum} to {maximum:,}, got "
                         f"{shown(value)}")
    return value


def _choice(value: Any, name: str, where: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise TraceError(f"{where}: field '{name}' is {shown(value)}, expected one of "
                         f"{', '.join(choices)}")
    return value


def _text(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME:
        raise TraceError(f"{where}: field '{name}' must be a non-empty string of at most "
                         f"{MAX_NAME} characters, got {shown(value)}")
    return value


def _flag(value: Any, name: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise TraceError(f"{where}: field '{name}' must be true or false, got {shown(value)}")
    return value


def _checker(name: str, how: tuple) -> Callable[[Any, str], Any]:
    kind = how[0]
    if kind == "flag":
        return lambda value, where: _flag(value, name, where)
    if kind == "int":
        return lambda value, where: _int(value, name, where, how[1], how[2])
    if kind == "choice":
        return lambda value, where: _choice(value, name, where, how[1])
    return lambda value, where: _text(value, name, where)


# ---- the registry ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Record:
    """Base of every op kind: ``iter``, ``layer`` and ``count`` are common to all."""

    op: ClassVar[str] = ""
    since: ClassVar[int] = 1  # the trace version that introduced the kind
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    FIELDS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {}

    @classmethod
    def check(cls, values: dict[str, Any], where: str) -> None:
        """Checks that span fields (each field's own bounds are already checked)."""

    def signature(self) -> tuple:
        """What the simulator's cost depends on (not iteration, layer, phase or count).
        Worked out once per record (the replay asks for it at every op of every placed
        iteration) and kept beside its fields; neither it nor ``place`` depends on ``iter``,
        so a record the reader re-stamps with another iteration keeps both."""
        known = self.__dict__.get("_signature")
        if known is None:
            known = self.__dict__["_signature"] = self._signature()
        return known

    def _signature(self) -> tuple:
        raise NotImplementedError

    def place(self) -> tuple:
        """``_place``, worked out once per record (as ``signature``)."""
        known = self.__dict__.get("_place_key")
        if known is None:
            known = self.__dict__["_place_key"] = self._place()
        return known

    @cached_property
    def work(self) -> tuple:
        """(``place``, ``signature``, ``count``): what makes this record and one of another
        iteration the same work (``replay.work_of``). Kept in the record once worked out
        (``cached_property`` writes past the frozen dataclass), so the replay reads it as a
        plain attribute at every op of every iteration, and re-stamped copies keep it."""
        return (self.place(), self.signature(), self.count)  # type: ignore[attr-defined]

    def _place(self) -> tuple:
        """Where the report's breakdowns put it (layer, phase, kind, tensors): with
        ``signature`` and ``count``, all that makes two records of different iterations the
        same work."""
        raise NotImplementedError

    def operand_tensors(self) -> dict[str, str]:
        """The tensor each priced operand holds (``a``, ``b``, ``c`` or ``transfer``), for the
        by-tensor breakdowns."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """The few fields that say what the op is, for timelines and logs."""
        raise NotImplementedError


KINDS: dict[str, type[Record]] = {}
R = TypeVar("R", bound=type[Record])


def op_kind(name: str, since: int = 1) -> Callable[[R], R]:
    """Register a record class under its ``op`` name, readable from trace version ``since``."""

    def register(cls: R) -> R:
        if name in KINDS:
            raise ValueError(f"op kind {name!r} registered twice")
        cls.op, cls.since = name, since
        declared = dataclasses.fields(cls)
        cls.REQUIRED = tuple(f.name for f in declared
                             if f.default is dataclasses.MISSING
                             and f.default_factory is dataclasses.MISSING)
        cls.FIELDS = {f.name: _checker(f.name, f.metadata["check"]) for f in declared}
        KINDS[name] = cls
        return cls

    return register


def kinds_for(version: int) -> tuple[str, ...]:
    """The op kinds a trace of ``version`` may hold."""
    return tuple(name for name, cls in KINDS.items() if cls.since <= version)


@dataclass(frozen=True)
class Header:
    workload: str = ""
    method: str = ""
    seed: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    version: int = WRITE_VERSION  # of the file it was read from

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": WRITE_VERSION, "workload": self.workload,
                "method": self.method, "seed": self.seed, "meta": self.meta}


# ---- the kinds -------------------------------------------------------------------------------

@op_kind("gemm", since=1)
@dataclass(frozen=True)
class Gemm(Record):
    """C[m,n] += A[m,k].B[k,n]; A streams, B is stationary-eligible, acc_bits the accumulator."""

    iter: int = bounded(0, MAX_COUNT)
    layer: str = text()
    phase: str = one_of(PHASES)
    m: int = bounded(1, MAX_DIM)
    n: int = bounded(1, MAX_DIM)
    k: int = bounded(1, MAX_DIM)
    a_bits: int = bounded(1, MAX_BITS)
    b_bits: int = bounded(1, MAX_BITS)
    acc_bits: int = bounded(1, 64)
    count: int = bounded(1, MAX_COUNT, default=1)
    c_bits: int | None = bounded(1, MAX_BITS, default=None)  # width C is written to DRAM at
    dtype: str = one_of(DTYPES, default="int")  # "fp" prices the MACs as floating point
    a_tensor: str | None = one_of(TENSORS, default=None)  # defaults by phase (OPERAND_TENSORS)
    b_tensor: str | None = one_of(TENSORS, default=None)
    c_tensor: str | None = one_of(TENSORS, default=None)
    # distinct elements of each operand in DRAM when the GEMM views a smaller tensor (a
    # convolution's im2col matrix is a view of its feature map); default the view's size
    a_elements: int | None = bounded(1, MAX_ELEMENTS, default=None)
    b_elements: int | None = bounded(1, MAX_ELEMENTS, default=None)
    c_elements: int | None = bounded(1, MAX_ELEMENTS, default=None)

    @classmethod
    def check(cls, values: dict[str, Any], where: str) -> None:
        views = {"a": ("m", "k"), "b": ("k", "n"), "c": ("m", "n")}
        for operand, (d0, d1) in views.items():
            name = f"{operand}_elements"
            if values.get(name) is not None:
                _int(values[name], name, where, 1, values[d0] * values[d1])

    @property
    def out_bits(self) -> int:
        return self.c_bits if self.c_bits is not None else self.acc_bits

    def tensors(self) -> tuple[str, str, str]:
        a, b, c = OPERAND_TENSORS[self.phase]
        return (self.a_tensor or a, self.b_tensor or b, self.c_tensor or c)

    def operand_tensors(self) -> dict[str, str]:
        return dict(zip(("a", "b", "c"), self.tensors(), strict=True))

    def summary(self) -> dict[str, Any]:
        return {"m": self.m, "n": self.n, "k": self.k, "a_bits": self.a_bits,
                "b_bits": self.b_bits}

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k

    def footprint(self, operand: str) -> int:
        """Distinct elements of operand a, b or c in DRAM."""
        view = {"a": self.m * self.k, "b": self.k * self.n, "c": self.m * self.n}[operand]
        given = getattr(self, f"{operand}_elements")
        return view if given is None else given

    def _signature(self) -> tuple:
        return ("gemm", self.m, self.n, self.k, self.a_bits, self.b_bits, self.acc_bits,
                self.out_bits, self.dtype, self.a_elements, self.b_elements, self.c_elements)

    def _place(self) -> tuple:
        return ("gemm", self.layer, self.phase, self.a_tensor, self.b_tensor, self.c_tensor)


@op_kind("transfer", since=1)
@dataclass(frozen=True)
class Transfer(Record):
    """A tensor moved between DRAM and the chip, ``elements`` values of ``bits`` each."""

    iter: int = bounded(0, MAX_COUNT)
    layer: str = text()
    tensor: str = one_of(TENSORS)
    dir: str = one_of(DIRECTIONS)
    elements: int = bounded(1, MAX_ELEMENTS)
    bits: int = bounded(1, MAX_BITS)
    count: int = bounded(1, MAX_COUNT, default=1)
    phase: str | None = one_of(PHASES, default=None)  # the phase it belongs to, for reports

    @property
    def bytes(self) -> int:
        return (self.elements * self.bits + 7) // 8

    def operand_tensors(self) -> dict[str, str]:
        return {"transfer": self.tensor}

    def summary(self) -> dict[str, Any]:
        return {"tensor": self.tensor, "dir": self.dir, "bytes": self.bytes}

    def _signature(self) -> tuple:
        return ("transfer", self.dir, self.bytes)

    def _place(self) -> tuple:
        return ("transfer", self.layer, self.phase, self.tensor)


@op_kind("vector", since=2)
@dataclass(frozen=True)
class Vector(Record):
    """Element-wise or reduction work on the vector unit: ``elements`` outputs, each reading
    ``inputs`` values of ``in_bits`` and costing ``ops`` operations, written at ``out_bits``.

    ``kind`` names the work (``batchnorm``, ``relu``, ``maxpool``, ``softmax``, ``quantize``,
    ``sgd_update``, ...): reports group by it; the price follows from the sizes alone.

    ``fused``: the work is applied to values already passing through the chip (a GEMM's output
    tiles on their way out, values a ``transfer`` record brings in or takes out), so it moves
    no DRAM bytes of its own; otherwise (the default) it is a pass of its own that streams its
    inputs from DRAM and its outputs back."""

    iter: int = bounded(0, MAX_COUNT)
    layer: str = text()
    phase: str = one_of(PHASES)
    kind: str = text()
    elements: int = bounded(1, MAX_ELEMENTS)
    in_bits: int = bounded(1, MAX_BITS)
    out_bits: int = bounded(1, MAX_BITS)
    ops: int = bounded(1, MAX_OPS_PER_ELEMENT)
    count: int = bounded(1, MAX_COUNT, default=1)
    inputs: int = bounded(1, 16, default=1)  # values read per element (2 for a residual add)
    dtype: str = one_of(DTYPES, default="int")  # "fp" prices the operations as floating point
    tensor: str | None = one_of(TENSORS, default=None)  # default by phase (VECTOR_TENSORS)
    fused: bool = flag()

    @property
    def target(self) -> str:
        return self.tensor or VECTOR_TENSORS[self.phase]

    @property
    def read_bytes(self) -> int:
        return (self.elements * self.inputs * self.in_bits + 7) // 8

    @property
    def write_bytes(self) -> int:
        return (self.elements * self.out_bits + 7) // 8

    def operand_tensors(self) -> dict[str, str]:
        return {"vector": self.target}

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "elements": self.elements, "in_bits": self.in_bits,
                "out_bits": self.out_bits, "ops": self.ops}

    def _signature(self) -> tuple:
        return ("vector", self.elements, self.inputs, self.in_bits, self.out_bits, self.ops,
                self.dtype, self.fused)

    def _place(self) -> tuple:
        return ("vector", self.layer, self.phase, self.kind, self.tensor)


Op = Gemm | Transfer | Vector


def without_count(op: Op) -> Op:
    return replace(op, count=1)


# ---- reading and writing records ---------------------------------------------------------------

def op_from_json(rec: Any, where: str, version: int = WRITE_VERSION) -> Op:
    """Validate one parsed trace line and build its record; ``where`` is ``file:line`` and
    ``version`` the file's (it decides which kinds exist)."""
    if not isinstance(rec, dict):
        raise TraceError(f"{where}: expected a JSON object, got {type(rec).__name__}")
    kind = rec.get("op")
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None or cls.since > version:
        raise TraceError(f"{where}: unknown op {shown(kind)}, expected one of "
                         f"{', '.join(kinds_for(version))} (trace version {version})")
    missing = [f for f in cls.REQUIRED if f not in rec]
    if missing:
        raise TraceError(f"{where}: {kind} record is missing field(s) {', '.join(missing)}")
    unknown = [str(name) for name in rec if name not in cls.FIELDS and name != "op"]
    if unknown:
        raise TraceError(f"{where}: {kind} record has unknown field(s) "
                         f"{clip(', '.join(sorted(unknown)))}")
    values = {name: check(rec[name], where) for name, check in cls.FIELDS.items()
              if name in rec and (rec[name] is not None or name in cls.REQUIRED)}
    cls.check(values, where)
    return cls(**values)  # type: ignore[return-value]


def op_to_json(op: Op) -> dict[str, Any]:
    """The record as a JSON object, optional fields omitted when at their defaults."""
    out: dict[str, Any] = {"op": op.op}
    for f in dataclasses.fields(op):
        value = getattr(op, f.name)
        if f.name in op.REQUIRED or f.name == "count" or value != f.default:
            out[f.name] = value
    return out
