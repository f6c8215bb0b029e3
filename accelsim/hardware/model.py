"""The typed hardware description: array, on-chip buffers, DRAM interface, clock, energy table.

Every key is declared here once, with its unit (also in its name), default and bounds; the
validator, ``accelsim schema`` and ``docs/hardware-config.md`` are all derived from these classes.
Defaults describe a plausible 45 nm edge training accelerator; sources are cited per key and in
``docs/energy.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.spec.fields import spec

DATAFLOWS = ("os", "ws", "is")
PRECISION_MODES = ("fixed", "bit_fusion", "bit_serial")
TIMINGS = ("native", "scalesim")
DRAM_MODELS = ("lpddr4", "fixed_bandwidth")
BUFFERS = ("ifmap", "filter", "ofmap")
BUFFER_OF = {"a": "ifmap", "b": "filter", "c": "ofmap"}  # which SRAM holds each GEMM operand

# Upper bounds that keep every accepted machine's simulation bounded in time (and physical):
MAX_TCK = 1_000_000  # a DRAM timing parameter, in DRAM clock cycles
MAX_ENERGY = 1e9  # any per-action energy (pJ) or power (mW)


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


@dataclass(frozen=True, kw_only=True)
class Buffers:
    """The three operand SRAMs, named as in SCALE-Sim: ifmap holds A, filter B, ofmap C."""

    ifmap: Buffer = spec(doc="Holds the streamed operand A of C = A.B.", factory=Buffer)
    filter: Buffer = spec(doc="Holds operand B.", factory=Buffer)
    ofmap: Buffer = spec(doc="Holds outputs and partial sums C at accumulator width (twice "
                         "as many banks by default: partial sums are read and written each "
                         "cycle at 32 bits).", factory=lambda: Buffer(banks=16))


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
    trefi_tck: int = spec(6247, unit="tCK", doc="Average refresh interval (3.9 us).",
                         minimum=1, maximum=MAX_TCK)
    trfc_tck: int = spec(288, unit="tCK", doc="All-bank refresh duration (180 ns).",
                         minimum=1, maximum=MAX_TCK)

    @property
    def tck_ns(self) -> float:
        return 2000.0 / self.data_rate_mtps


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


@dataclass(frozen=True, kw_only=True)
class Dram:
    """The off-chip memory interface. Exactly one model section matches ``model``."""

    model: str = spec("lpddr4", choices=DRAM_MODELS, doc="Which DRAM model prices transfers.")
    lpddr4: Lpddr4 | None = spec(None, doc="Timing of the lpddr4 model (defaults if omitted).")
    fixed_bandwidth: FixedBandwidth | None = spec(None, doc="The fixed_bandwidth model "
                                                  "(defaults if omitted).")


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


@dataclass(frozen=True, kw_only=True)
class DramEnergy:
    """DRAM energy: per bit moved, per activate, refresh and background power."""

    read_pj_per_bit: float = spec(8.0, unit="pJ/bit", minimum=0, maximum=MAX_ENERGY,
                                  doc="LPDDR4 read, about 8 pJ/bit (Accelergy CACTI plug-in; "
                                  "Timeloop charges 512 pJ per 64 bits).")
    write_pj_per_bit: float = spec(8.0, unit="pJ/bit", minimum=0, maximum=MAX_ENERGY, doc="LPDDR4 write.")
    activate_pj: float = spec(2000.0, unit="pJ", minimum=0, maximum=MAX_ENERGY,
                              doc="One ACT+PRE pair across the interface (four x16 dies, "
                              "IDD0-style estimate).")
    refresh_pj: float = spec(24000.0, unit="pJ", minimum=0, maximum=MAX_ENERGY,
                             doc="One all-bank refresh across the interface.")
    background_mw: float = spec(20.0, unit="mW", minimum=0, maximum=MAX_ENERGY,
                                doc="Standby power while the accelerator runs.")


@dataclass(frozen=True, kw_only=True)
class StaticEnergy:
    """Leakage of the logic outside the SRAMs."""

    array_leakage_mw: float = spec(5.0, unit="mW", minimum=0, maximum=MAX_ENERGY,
                                   doc="Leakage of the PE array and control.")


@dataclass(frozen=True, kw_only=True)
class Energy:
    """The energy table: per-action energies and static power."""

    mac: MacEnergy = spec(doc="MAC energies.", factory=MacEnergy)
    sram: SramEnergy = spec(doc="SRAM energies.", factory=SramEnergy)
    dram: DramEnergy = spec(doc="DRAM energies.", factory=DramEnergy)
    static: StaticEnergy = spec(doc="Static power.", factory=StaticEnergy)


@dataclass(frozen=True, kw_only=True)
class Hardware:
    """A whole accelerator: what ``configs/*.yaml`` describes."""

    name: str = spec("accelerator", doc="A label for reports.")
    clock_mhz: float = spec(500.0, unit="MHz", doc="Array clock; one simulator cycle.",
                            minimum=1, maximum=100_000)
    array: Array = spec(doc="The systolic array (rows and cols are required).")
    buffers: Buffers = spec(doc="The on-chip SRAMs.", factory=Buffers)
    dram: Dram = spec(doc="The DRAM interface.", factory=Dram)
    energy: Energy = spec(doc="The energy table.", factory=Energy)

    @property
    def cycle_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    def buffer(self, name: str) -> Buffer:
        return getattr(self.buffers, name)
