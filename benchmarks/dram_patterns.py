"""The nine DRAM request patterns accelsim is compared with DRAMsim3 on (seeded, reproducible).

Each pattern is a request file for ``accelsim dram``: CSV, header ``addr,bytes,op``, the address
in decimal, ``op`` read or write, ``\\n`` line ends. The files are byte for byte the ones the
DRAMsim3 figures in ``peers/dramsim3_results.csv`` were measured on; ``SHA256`` holds their
digests and ``write_patterns(..., check=True)`` verifies them.

| pattern | requests | what |
|---|---|---|
| seq_read / seq_write | 8192 | 1 MiB from address 0 in 128-B requests |
| strided_read_64B_4K | 8192 | 64-B reads every 4 KiB (2 bursts per 8 KB row, half over-fetched) |
| strided_read_128B_1K | 8192 | 128-B reads every 1 KiB (8 bursts per row) |
| block4k_read | 1024 | 4 KiB reads of distinct random 4 KiB blocks of [0, 256 MiB), seed 4004 |
| random64_read / _write | 8192 | 64-B requests in distinct random 128-B lines, seeds 6405 / 6406 |
| mixed_rw | 16384 | 128-B read from A = 0, then 128-B write to B = 128 MiB, alternately |
| mixed_random_rw | 8192 | random 64-B, 5461 reads and 2731 writes shuffled, seed 8008 |

Random patterns never put two requests in the same 128-B burst, so a controller's same-address
shortcuts (write merging, reads served from the write buffer) never apply.

Run: ``python benchmarks/dram_patterns.py DIR`` writes ``DIR/<pattern>.csv`` and checks them.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from collections.abc import Callable
from pathlib import Path

KIB = 1 << 10
MIB = 1 << 20
LINE = 128  # bytes of one LPDDR4 BL16 burst on a 64-bit bus
RANDOM_SPAN = 256 * MIB

Request = tuple[int, int, str]

# sha256 of every file as DRAMsim3 ran it
SHA256 = {
    "seq_read": "9b0ee71b4a72b0322d51a553a05fcfffc4cf04dec4bd8b5a09d68302d66dfcab",
    "seq_write": "4a17d8694fbe30060548dd08d506ba20164da72079de4ba6a7dd21aefd2f5011",
    "strided_read_64B_4K": "4fb2669040cf557d63c2922ff48058de68c995fee6079902c742ff69fd2753cc",
    "strided_read_128B_1K": "f9307ee7d7f3922c245a74580dd9543b34338d914d05e3b9d430e0ce67bf6289",
    "block4k_read": "18dbbaf936dbcfd89b18e53de4f52eccd32b37764a9cbca656a5064713bf63f3",
    "random64_read": "54c6a1dd85a04ad8705108466695dc9f110b6ea64e4b504895f257d2fee5b9f0",
    "random64_write": "bb01fe5825fdf6de253b03618203df7fbee3485d3a1092f8ff5e339c71c60693",
    "mixed_rw": "404b28286c472e64c94574f5de9c59b9a2134e0112cae8474a36bb2a6f9ecfb2",
    "mixed_random_rw": "7115db65e6bb519957c7a3dfbcb33be8440183634e6bf7a4a19a782a47d1bde6",
}
PATTERNS = tuple(SHA256)


def _contiguous(total: int, size: int, op: str, base: int = 0) -> list[Request]:
    return [(base + offset, size, op) for offset in range(0, total, size)]


def _every(stride: int, size: int, count: int, op: str) -> list[Request]:
    return [(k * stride, size, op) for k in range(count)]


def _in_distinct_lines(rng: random.Random, count: int, size: int,
                       op: Callable[[int], str]) -> list[Request]:
    """``count`` requests of ``size`` bytes, one per distinct random 128-B line of the span,
    each at a random ``size``-aligned offset inside its line (``op(k)`` names the k-th one's
    direction). The draws: first all lines (one ``sample``), then one offset per line."""
    lines = rng.sample(range(RANDOM_SPAN // LINE), count)
    slots = LINE // size
    return [(line * LINE + rng.randrange(slots) * size, size, op(k))
            for k, line in enumerate(lines)]


def _interleaved(total: int, size: int, write_base: int) -> list[Request]:
    out: list[Request] = []
    for offset in range(0, total, size):
        out += [(offset, size, "read"), (write_base + offset, size, "write")]
    return out


def _shuffled_mix(seed: int, count: int) -> list[Request]:
    rng = random.Random(seed)
    reads = round(count * 2 / 3)
    ops = ["read"] * reads + ["write"] * (count - reads)
    rng.shuffle(ops)  # the same generator then draws the addresses
    return _in_distinct_lines(rng, count, 64, ops.__getitem__)


def _random_blocks(seed: int, count: int, block: int) -> list[Request]:
    picks = random.Random(seed).sample(range(RANDOM_SPAN // block), count)
    return [(p * block, block, "read") for p in picks]


def patterns() -> dict[str, list[Request]]:
    """Every pattern's requests ``(addr, bytes, op)``, in the order of ``PATTERNS``."""
    return {
        "seq_read": _contiguous(MIB, 128, "read"),
        "seq_write": _contiguous(MIB, 128, "write"),
        "strided_read_64B_4K": _every(4 * KIB, 64, 8192, "read"),
        "strided_read_128B_1K": _every(KIB, 128, 8192, "read"),
        "block4k_read": _random_blocks(4004, 1024, 4 * KIB),
        "random64_read": _in_distinct_lines(random.Random(6405), 8192, 64, lambda k: "read"),
        "random64_write": _in_distinct_lines(random.Random(6406), 8192, 64, lambda k: "write"),
        "mixed_rw": _interleaved(MIB, 128, 128 * MIB),
        "mixed_random_rw": _shuffled_mix(8008, 8192),
    }


def csv_bytes(requests: list[Request]) -> bytes:
    lines = ["addr,bytes,op", *(f"{a},{n},{op}" for a, n, op in requests)]
    return ("\n".join(lines) + "\n").encode("ascii")


def write_patterns(folder: str | Path, check: bool = True) -> dict[str, Path]:
    """Write every pattern to ``folder/<name>.csv``; the paths by name. With ``check``, raise
    ``ValueError`` if a file differs from the one DRAMsim3 was run on."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, requests in patterns().items():
        data = csv_bytes(requests)
        digest = hashlib.sha256(data).hexdigest()
        if check and digest != SHA256[name]:
            raise ValueError(f"{name}: sha256 {digest}, expected {SHA256[name]}")
        path = folder / f"{name}.csv"
        path.write_bytes(data)
        out[name] = path
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="where to write <pattern>.csv")
    args = parser.parse_args(argv)
    for name, path in write_patterns(args.folder).items():
        print(f"{name:22s} {SHA256[name]}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
