"""The typed hardware description: array, on-chip buffers, DRAM interface, clock, energy table.

Every key is declared here once, with its unit (also in its name), default and bounds; the
validator, ``accelsim schema`` and ``docs/hardware-config.md`` are all derived from these classes.
Defaults describe a plausible 45 nm edge training accelerator; sources are cited per key and in
``docs/energy.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from accelsim.spec.fields import spec

T = TypeVar("T")

DATAFLOWS = ("os", "ws", "is")
PRECISION_MODES = ("fixed", "bit_fusion", "bit_serial")
TIMINGS = ("native", "scalesim")
DRAM_MODELS = ("lpddr4", "fixed_bandwidth")
BUFFERS = ("ifmap", "filter", "ofmap")
BUFFER_OF = {"a": "ifmap", "b": "filter", "c": "ofmap"}  # which SRAM holds each GEMM operand



def hashed_once(cls: type[T]) -> type[T]:
    """A frozen description whose hash is worked out once per object. Machines are looked up
    by value in the simulator's caches for every op priced (``sim.ops.machine_key``, the
    planner's), and hashing a nested description field by field each time is a tenth of a
    sweep point's bookkeeping. The hash kept is left out of pickles: a string's hash differs
    between processes, and sweep workers receive machines pickled."""
    generated = cls.__hash__

    def __hash__(self: Any) -> int:
        known = self.__dict__.get("_hash")
        if known is None:
            known = generated(self)
            object.__setattr__(self, "_hash", known)
        return known

    def __getstate__(self: Any) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_hash", None)
        return state

    cls.__hash__ = __hash__  # type: ignore[assignment]
    cls.__getstate__ = __getstate__  # type: ignore[attr-defined]
    return cls


# Upper bounds that keep every accepted machine's simulation bounded in time (and physical):
MAX_TCK = 1_000_000  # a DRAM timing parameter, in DRAM clock cycles
MAX_ENERGY = 1e9  # any per-action energy (pJ) or power (mW)


@hashed_once
@dataclass(frozen=True, kw_only=True)
class Array:
    """The systolic GEMM array and how its throughput scales with operand width."""

    rows: int = spec(doc="PE rows of the systolic array.", minimum=1, maximum=4096)
    cols: int = spec(doc="PE columns of the systolic array.", minimum=1, maximum=4096)
    dataflow: str = spec("ws", doc="What stays in the PEs: outputs (os), weights/B (ws) or "
                         "inputs/A (is).", choices=DATAFLOWS)
    precision_scaling: str = spec(
        "fixed", choices=PRECISION_MODES,
        doc="How time depends on operand width. fixed: one MAC per PE per cycle up to "
        "native_bits (narrower operands save energy and traffic, not time; wider ones take "
        "ceil(a/native)*ceil(b/native) cycles). bit_fusion: Bit Fusion bricks, operands rounded "
        "up to a power of two >= fusion_min_bits, (native/a)*(native/b) MACs per PE per cycle. "
        "bit_serial: Stripes style, the streamed operand's bits take one cycle each. "
        "1-bit x 1-bit operands run as XNOR and popcount: native_bits^2 per PE per cycle "
        "in bit_fusion, one cycle per beat in bit_serial, no speed-up in fixed.")
    native_bits: int = spec(8, unit="bits", doc="Operand width one PE multiplies per cycle.",
                            minimum=1, maximum=32)
    fusion_min_bits: int = spec(2, unit="bits", doc="Bit Fusion brick width: the narrowest "
                                "operand a fused PE splits into (bit_fusion only).",
                                minimum=1, maximum=32, power_of_two=True)
    timing: str = spec("native", choices=TIMINGS,
                       doc="native: accelsim's cycle model (partial folds use only the PEs they "
                       "need; OS drains its outputs). scalesim: SCALE-Sim 3.0's counting (every "
                       "fold pays the full array, OS has no drain, reports the last cycle's "
                       "0-based index), for side-by-side comparison.")


@hashed_once
@dataclass(frozen=True, kw_only=True)
class Buffer:
    """One on-chip SRAM feeding (ifmap, filter) or draining (ofmap) the array."""

    size_kib: float = spec(64.0, unit="KiB", doc="Capacity.", exclusive_minimum=0,
                            maximum=1 << 20)
    banks: int = spec(8, doc="Independent banks; the array side reads all banks per cycle, and "
                      "access energy scales with the bank size.", minimum=1, maximum=1024)
    bank_width_bits: int = spec(128, unit="bits", doc="Bits one bank moves per port per cycle.",
                                minimum=8, maximum=4096)
    ports: int = spec(2, doc="1: DMA fills and array accesses share the port bandwidth; 2: they "
                      "proceed in parallel.", choices=(1, 2))
    double_buffered: bool = spec(True, doc="Split into two halves so the DMA fills the next "
                                 "tile while the array works on the current one.")

    @property
    def size_bytes(self) -> int:
        return int(self.size_kib * 1024)

    @property
    def bits_per_cycle(self) -> int:
        return self.banks * self.bank_width_bits


@hashed_once
@dataclass(frozen=True, kw_only=True)
class Buffers:
    """The three operand SRAMs, named as in SCALE-Sim: ifmap holds A, filter B, ofmap C."""

    ifmap: Buffer = spec(doc="Holds the streamed operand A of C = A.B.", factory=Buffer)
    filter: Buffer = spec(doc="Holds operand B.", factory=Buffer)
    ofmap: Buffer = spec(doc="Holds outputs and partial sums C at accumulator width (twice "
                         "as many banks by default: partial sums are read and written each "
                         "cycle at 32 bits).", factory=lambda: Buffer(banks=16))


@hashed_once
@dataclass(frozen=True, kw_only=True)
class Lpddr4:
    """LPDDR4-class timing. Defaults: LPDDR4-3200, 8 Gb x16 dies (Ramulator's table), four
    dies ganged as one 64-bit interface (25.6 GB/s, Jetson Nano class)."""

    data_rate_mtps: float = spec(3200.0, unit="MT/s", doc="Transfers per second per pin; "
                                 "tCK = 2000 / data_rate_mtps ns.", minimum=100,
                                 maximum=100_000)
    bus_width_bits: int = spec(64, unit="bits", doc="Data bus width of the whole interface.",
                               minimum=8, maximum=4096, power_of_two=True)
    burst_length: int = spec(16, unit="beats", doc="Beats per burst (BL16).", minimum=2,
                             maximum=256, power_of_two=True)
    banks: int = spec(8, doc="Banks per rank.", minimum=1, maximum=1024, power_of_two=True)
    row_bytes: int = spec(8192, unit="bytes", doc="Row (page) size across the interface: "
                          "2 KB per x16 die times four dies.", minimum=64,
                          maximum=1 << 24, power_of_two=True)
    trcd_tck: int = spec(29, unit="tCK", doc="ACT to column command.",
                         minimum=1, maximum=MAX_TCK)
    cl_tck: int = spec(32, unit="tCK", doc="Read latency.",
                         minimum=1, maximum=MAX_TCK)
    cwl_tck: int = spec(18, unit="tCK", doc="Write latency (Ramulator LPDDR4 table).",
                         minimum=1, maximum=MAX_TCK)
    trp_tck: int = spec(27, unit="tCK", doc="Precharge (per bank).",
                         minimum=1, maximum=MAX_TCK)
    tras_tck: int = spec(68, unit="tCK", doc="ACT to PRE, minimum.",
                         minimum=1, maximum=MAX_TCK)
    trrd_tck: int = spec(16, unit="tCK", doc="ACT to ACT, different banks.",
                         minimum=1, maximum=MAX_TCK)
    tfaw_tck: int = spec(64, unit="tCK", doc="Four-activate window.",
                         minimum=1, maximum=MAX_TCK)
    twr_tck: int = spec(28, unit="tCK", doc="Write recovery before PRE.",
                         minimum=1, maximum=MAX_TCK)
    twtr_tck: int = spec(16, unit="tCK", doc="Write to read turnaround.",
                         minimum=1, maximum=MAX_TCK)
    trtp_tck: int = spec(14, unit="tCK", doc="Read to PRE.",
                         minimum=1, maximum=MAX_TCK)
    tccd_tck: int = spec(8, unit="tCK", doc="Column to column command spacing.",
                         minimum=1, maximum=MAX_TCK)
    trtw_tck: int = spec(23, unit="tCK", doc="Read to write column spacing: CL + BL/2 + 1 "
                         "- CWL, so the write's data follows the read's on the bus (DRAMsim3's "
                         "LPDDR4 value).", minimum=1, maximum=MAX_TCK)
    trefi_tck: int = spec(6247, unit="tCK", doc="Average refresh interval (3.9 us).",
                         minimum=1, maximum=MAX_TCK)
    trfc_tck: int = spec(288, unit="tCK", doc="All-bank refresh duration (180 ns).",
                         minimum=1, maximum=MAX_TCK)

    @property
    def tck_ns(self) -> float:
        return 2000.0 / self.data_rate_mtps


@hashed_once
@dataclass(frozen=True, kw_only=True)
class FixedBandwidth:
    """SCALE-Sim's convention: a DRAM interface that moves a fixed number of words per array
    cycle after a fixed latency, with no banks, rows or refresh."""

    words_per_cycle: float = spec(10.0, unit="words/cycle", doc="Interface bandwidth in words "
                                  "per array clock cycle (SCALE-Sim's Bandwidth).",
                                  minimum=0.001, maximum=1e9)
    word_bits: int = spec(8, unit="bits", doc="Bits per word (SCALE-Sim: one byte).", minimum=1,
                           maximum=1024)
    latency_cycles: int = spec(0, unit="cycles", doc="Fixed latency added to every request.",
                               minimum=0, maximum=MAX_TCK)


@hashed_once
@dataclass(frozen=True, kw_only=True)
class Dram:
    """The off-chip memory interface. Exactly one model section matches ``model``."""

    model: str = spec("lpddr4", choices=DRAM_MODELS, doc="Which DRAM model prices transfers.")
    lpddr4: Lpddr4 | None = spec(None, doc="Timing of the lpddr4 model (defaults if omitted).")
    fixed_bandwidth: FixedBandwidth | None = spec(None, doc="The fixed_bandwidth model "
                                                  "(defaults if omitted).")


@hashed_once
@dataclass(frozen=True, kw_only=True)
class MacEnergy:
    """Multiply-accumulate energy. Integer multiply E(g) = quadratic*g^2 + linear*g pJ with
    g = sqrt(a_bits*b_bits) (QKeras' fit to Horowitz ISSCC 2014, 45 nm: 0.2 pJ at 8 bit,
    3.1 pJ at 32 bit); integer add add_pj_per_bit * acc_bits (0.1 pJ at 32 bit)."""

    mult_pj_quadratic: float = spec(0.002994791667, unit="pJ/bit^2", minimum=0, maximum=MAX_ENERGY,
                                    doc="Quadratic term of the integer multiplier energy.")
    mult_pj_linear: float = spec(0.001041666667, unit="pJ/bit", minimum=0, maximum=MAX_ENERGY,
                                 doc="Linear term of the integer multiplier energy.")
    add_pj_per_bit: float = spec(0.003125, unit="pJ/bit", minimum=0, maximum=MAX_ENERGY,
                                 doc="Integer accumulator energy per accumulator bit.")
    binary_mac_pj: float = spec(0.005, unit="pJ", minimum=0, maximum=MAX_ENERGY,
                                doc="A 1-bit x 1-bit MAC as binary arithmetic: one XNOR and one "
                                "full-adder stage of the popcount tree (about a seventh of "
                                "Horowitz's 8-bit add, 0.03 pJ).")
    fp16_mult_pj: float = spec(1.1, unit="pJ", minimum=0, maximum=MAX_ENERGY, doc="FP16 multiply (Horowitz).")
    fp16_add_pj: float = spec(0.4, unit="pJ", minimum=0, maximum=MAX_ENERGY, doc="FP16 add (Horowitz).")
    fp32_mult_pj: float = spec(3.7, unit="pJ", minimum=0, maximum=MAX_ENERGY, doc="FP32 multiply (Horowitz).")
    fp32_add_pj: float = spec(0.9, unit="pJ", minimum=0, maximum=MAX_ENERGY, doc="FP32 add (Horowitz).")


@hashed_once
@dataclass(frozen=True, kw_only=True)
class SramEnergy:
    """SRAM access energy per 64 bits, scaled with bank size as (bank/32 KiB)^size_exponent
    (CACTI 7, 45 nm HP: 14.9 pJ per 64-bit read at 32 KB, about size^0.45)."""

    read_pj_per_64b_at_32kib: float = spec(14.9, unit="pJ", minimum=0, maximum=MAX_ENERGY,
                                           doc="Read energy per 64 bits of a 32 KiB bank.")
    write_pj_per_64b_at_32kib: float = spec(14.9, unit="pJ", minimum=0, maximum=MAX_ENERGY,
                                            doc="Write energy per 64 bits of a 32 KiB bank.")
    size_exponent: float = spec(0.45, minimum=0, maximum=2,
                                doc="Exponent of the bank-size scaling.")
    leakage_mw_per_kib: float = spec(0.05, unit="mW/KiB", minimum=0, maximum=MAX_ENERGY,
                                     doc="Leakage per KiB (45 nm HP is about 1 mW/KiB; low-power "
                                     "edge processes are some 20x lower).")


@hashed_once
@dataclass(frozen=True, kw_only=True)
class DramEnergy:
    """DRAM energy from datasheet currents, per device, the way DRAMPower and DRAMsim3 price
    commands: ACT+PRE ``VDD (IDD0 tRC - IDD3N tRAS - IDD2N tRP)``, a read or write burst
    ``VDD (IDD4R|W - IDD3N) BL/2``, a refresh ``VDD (IDD5 - IDD3N) tRFC`` and active-standby
    background ``VDD IDD3N`` (open-page rows stay open), times ``devices``; the I/O rail
    (VDDQ) adds its read and write burst currents. Defaults: LPDDR4-3200 8 Gb x16
    (DRAMSys memspec JEDEC_8Gb_LPDDR4-3200_16bit, tukl-msd/DRAMSys@3ff9a99, the same values as
    its Micron LPDDR4 file); the two core rails (VDD1 1.8 V, VDD2 1.1 V) are folded into one
    current at VDD = 1.1 V, I = I_VDD2 + I_VDD1 x 1.8 / 1.1. The fixed_bandwidth DRAM model
    prices its bits with these currents at the lpddr4 defaults' burst timing."""

    devices: int = spec(4, doc="DRAM dies that switch together (four x16 dies make the "
                        "64-bit interface).", minimum=1, maximum=64)
    vdd_v: float = spec(1.1, unit="V", doc="Core supply the currents are given at.",
                        exclusive_minimum=0, maximum=5)
    idd0_ma: float = spec(50.727, unit="mA", minimum=0, maximum=10_000,
                          doc="One bank activate-precharge current (45 + 3.5 x 1.8/1.1).")
    idd2n_ma: float = spec(30.273, unit="mA", minimum=0, maximum=10_000,
                           doc="Precharge standby current (27 + 2.0 x 1.8/1.1).")
    idd3n_ma: float = spec(33.682, unit="mA", minimum=0, maximum=10_000,
                           doc="Active standby current (30 + 2.25 x 1.8/1.1).")
    idd4r_ma: float = spec(278.682, unit="mA", minimum=0, maximum=10_000,
                           doc="Burst read current (275 + 2.25 x 1.8/1.1).")
    idd4w_ma: float = spec(213.682, unit="mA", minimum=0, maximum=10_000,
                           doc="Burst write current (210 + 2.25 x 1.8/1.1).")
    idd5_ma: float = spec(106.364, unit="mA", minimum=0, maximum=10_000,
                          doc="All-bank refresh burst current (90 + 10 x 1.8/1.1).")
    vddq_v: float = spec(1.1, unit="V", doc="I/O supply.", minimum=0, maximum=5)
    iddq4r_ma: float = spec(150.0, unit="mA", minimum=0, maximum=10_000,
                            doc="I/O current while read data is on the bus (0 leaves the I/O "
                            "out, as DRAMsim3 does).")
    iddq4w_ma: float = spec(55.0, unit="mA", minimum=0, maximum=10_000,
                            doc="I/O current while write data is on the bus.")


@hashed_once
@dataclass(frozen=True, kw_only=True)
class StaticEnergy:
    """Leakage of the logic outside the SRAMs."""

    array_leakage_mw: float = spec(5.0, unit="mW", minimum=0, maximum=MAX_ENERGY,
                                   doc="Leakage of the PE array and control.")


@hashed_once
@dataclass(frozen=True, kw_only=True)
class Energy:
    """The energy table: per-action energies and static power."""

    mac: MacEnergy = spec(doc="MAC energies.", factory=MacEnergy)
    sram: SramEnergy = spec(doc="SRAM energies.", factory=SramEnergy)
    dram: DramEnergy = spec(doc="DRAM energies.", factory=DramEnergy)
    static: StaticEnergy = spec(doc="Static power.", factory=StaticEnergy)


@hashed_once
@dataclass(frozen=True, kw_only=True)
class Vector:
    """The vector (SIMD) unit that runs the non-GEMM work of training (batch norm,
    activations, pooling, softmax, quantisation, the optimizer update): ``lanes`` ALUs doing
    ``ops_per_lane_per_cycle`` operations each cycle, streaming through one SRAM. An operation
    costs ``int_op_pj_per_bit x bits`` in fixed point (Horowitz's 32-bit add is 0.1 pJ, a
    multiply 3.1 pJ: a vector op mixes both) or ``fp16_op_pj``/``fp32_op_pj`` in floating point
    (Horowitz's adds and multiplies averaged), at the wider of its input and output widths."""

    lanes: int = spec(16, doc="Vector ALUs.", minimum=1, maximum=65_536)
    ops_per_lane_per_cycle: int = spec(4, doc="Operations each lane completes per cycle: a "
                                       "pipelined post-processing lane (a multiply, an add, a "
                                       "compare and a round per element per cycle, as NVDLA's "
                                       "SDP and Gemmini's output scaling do); 1 for a plain "
                                       "SIMD ALU.",
                                       minimum=1, maximum=64)
    sram: str = spec("ofmap", choices=BUFFERS, doc="The SRAM the unit streams its operands "
                     "through (it shares it with the array).")
    int_op_pj_per_bit: float = spec(0.025, unit="pJ/bit", minimum=0, maximum=MAX_ENERGY,
                                    doc="A fixed-point operation, per bit of width (0.8 pJ at "
                                    "32 bits: between Horowitz's add and multiply).")
    fp16_op_pj: float = spec(0.75, unit="pJ", minimum=0, maximum=MAX_ENERGY,
                             doc="An FP16 operation (Horowitz: add 0.4, multiply 1.1).")
    fp32_op_pj: float = spec(2.3, unit="pJ", minimum=0, maximum=MAX_ENERGY,
                             doc="An FP32 operation (Horowitz: add 0.9, multiply 3.7).")


@hashed_once
@dataclass(frozen=True, kw_only=True)
class Schedule:
    """How consecutive ops share the machine."""

    overlap_ops: bool = spec(True, doc="Let an op's first loads run while the op before it "
                             "still computes and its last write-backs while the next one "
                             "computes, under the one DRAM channel; false runs ops strictly one "
                             "after the other, each from empty buffers (as SCALE-Sim does).")


@hashed_once
@dataclass(frozen=True, kw_only=True)
class Hardware:
    """A whole accelerator: what ``configs/*.yaml`` describes."""

    name: str = spec("accelerator", doc="A label for reports.")
    clock_mhz: float = spec(500.0, unit="MHz", doc="Array clock; one simulator cycle.",
                            minimum=1, maximum=100_000)
    array: Array = spec(doc="The systolic array (rows and cols are required).")
    buffers: Buffers = spec(doc="The on-chip SRAMs.", factory=Buffers)
    dram: Dram = spec(doc="The DRAM interface.", factory=Dram)
    vector: Vector = spec(doc="The vector unit.", factory=Vector)
    schedule: Schedule = spec(doc="How ops follow each other.", factory=Schedule)
    energy: Energy = spec(doc="The energy table.", factory=Energy)

    @property
    def cycle_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    def buffer(self, name: str) -> Buffer:
        return getattr(self.buffers, name)
