"""The trace contract: round trips, folding of repeats, gzip, and every malformed-input path."""

import gzip
import json

import pytest

from accelsim.errors import TraceError
from accelsim.trace import Gemm, Header, Transfer, fold_repeats, read_trace, write_trace
from accelsim.trace.synthetic import lenet5_mnist, training_trace

HEADER = '{"format": "accelsim-trace", "version": 1, "workload": "w", "method": "rct", "seed": 0, "meta": {}}'
GEMM = {"op": "gemm", "iter": 0, "layer": "conv1", "phase": "fwd", "m": 6272, "n": 6, "k": 25,
        "a_bits": 8, "b_bits": 8, "acc_bits": 32, "count": 1}
XFER = {"op": "transfer", "iter": 0, "layer": "conv1", "tensor": "weights", "dir": "read",
        "elements": 150, "bits": 8, "count": 1}


def write_lines(tmp_path, *records, header=HEADER, name="t.jsonl"):
    path = tmp_path / name
    lines = [header] + [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_architecture_example_parses(tmp_path):
    header, ops = read_trace(write_lines(tmp_path, GEMM, XFER))
    assert header.method == "rct" and header.seed == 0
    g, t = ops
    assert isinstance(g, Gemm) and (g.m, g.n, g.k, g.out_bits) == (6272, 6, 25, 32)
    assert g.tensors() == ("activations", "weights", "activations")
    assert isinstance(t, Transfer) and t.bytes == 150


def test_footprints_default_to_the_view(tmp_path):
    _, (g,) = read_trace(write_lines(tmp_path, {**GEMM, "a_elements": 2048}))
    assert (g.footprint("a"), g.footprint("b"), g.footprint("c")) == (2048, 150, 6272 * 6)


def test_round_trip_and_folding(tmp_path):
    ops = training_trace(lenet5_mnist(4), 3)
    doubled = [op for op in ops for _ in range(2)]
    path = tmp_path / "t.jsonl.gz"
    written = write_trace(path, Header("lenet", "int8", 1), doubled)
    assert written == len(ops)  # each pair of identical neighbours folded into one record
    with gzip.open(path, "rt") as f:
        assert json.loads(f.readline())["format"] == "accelsim-trace"
    _, back = read_trace(path)
    assert [op.count for op in back] == [2] * len(ops)
    assert list(fold_repeats(doubled)) == back


def test_writer_is_deterministic_and_atomic(tmp_path):
    ops = training_trace(lenet5_mnist(2), 2)
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    write_trace(a, Header("w", "m", 0), ops)
    write_trace(b, Header("w", "m", 0), ops)
    assert a.read_bytes() == b.read_bytes()

    def broken():
        yield ops[0]
        raise RuntimeError("training crashed")

    with pytest.raises(RuntimeError):
        write_trace(tmp_path / "c.jsonl", Header(), broken())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl.gz", "b.jsonl.gz"]


BAD = [
    ([], r"t\.jsonl:1: empty file"),
    (["not json"], r"t\.jsonl:1: header is not valid JSON"),
    (['{"format": "other", "version": 1}'], r":1: not an accelsim trace"),
    (['{"format": "accelsim-trace", "version": 3}'], r":1: trace version 3 is not supported"),
    ([HEADER, "{oops"], r"t\.jsonl:2: not valid JSON"),
    ([HEADER, "[1, 2]"], r":2: expected a JSON object"),
    ([HEADER, {**GEMM, "op": ["gemm"]}], r":2: unknown op \['gemm'\]"),
    (['{"format": "accelsim-trace", "version": true}'], r":1: trace version true is not supported"),
    ([HEADER, {**GEMM, "op": "conv"}], r":2: unknown op 'conv', expected one of gemm, transfer"),
    ([HEADER, {k: v for k, v in GEMM.items() if k != "k"}], r":2: gemm record is missing field\(s\) k"),
    ([HEADER, {**GEMM, "flops": 3}], r":2: gemm record has unknown field\(s\) flops"),
    ([HEADER, {**GEMM, "m": -5}], r":2: field 'm' must be from 1 to 2,147,483,648, got -5"),
    ([HEADER, {**GEMM, "m": 0}], r":2: field 'm' must be from 1 to 2,147,483,648, got 0"),
    ([HEADER, {**GEMM, "n": 2.5}], r":2: field 'n' must be an integer, got 2\.5"),
    ([HEADER, {**GEMM, "k": True}], r":2: field 'k' must be an integer, got true"),
    ([HEADER, {**GEMM, "a_bits": 0}], r":2: field 'a_bits' must be from 1 to 32, got 0"),
    ([HEADER, {**GEMM, "b_bits": 33}], r":2: field 'b_bits' must be from 1 to 32, got 33"),
    ([HEADER, {**GEMM, "phase": "backward"}], r":2: field 'phase' is 'backward', expected one of"),
    ([HEADER, {**GEMM, "iter": -1}], r":2: field 'iter' must be from 0 to"),
    ([HEADER, {**GEMM, "count": 0}], r":2: field 'count' must be from 1 to"),
    ([HEADER, {**GEMM, "layer": ""}], r":2: field 'layer' must be a non-empty string"),
    ([HEADER, {**GEMM, "dtype": "bf16"}], r":2: field 'dtype' is 'bf16'"),
    ([HEADER, {**GEMM, "a_tensor": "kv_cache"}], r":2: field 'a_tensor' is 'kv_cache'"),
    ([HEADER, {**GEMM, "a_elements": 6272 * 25 + 1}], r":2: field 'a_elements' must be from 1 to 156,800"),
    ([HEADER, {**GEMM, "c_elements": 0}], r":2: field 'c_elements' must be from 1 to"),
    ([HEADER, {**GEMM, "b_elements": 151}], r":2: field 'b_elements' must be from 1 to 150"),
    ([HEADER, {**GEMM, "c_bits": 0}], r":2: field 'c_bits' must be from 1 to 32, got 0"),
    ([HEADER, {**GEMM, "acc_bits": 65}], r":2: field 'acc_bits' must be from 1 to 64, got 65"),
    ([HEADER, {**XFER, "phase": "train"}], r":2: field 'phase' is 'train', expected one of"),
    ([HEADER, {**XFER, "bits": 0}], r":2: field 'bits' must be from 1 to 32, got 0"),
    ([HEADER, {**XFER, "tensor": "bias"}], r":2: field 'tensor' is 'bias', expected one of weights"),
    ([HEADER, {**XFER, "dir": "copy"}], r":2: field 'dir' is 'copy', expected one of read, write"),
    ([HEADER, {**XFER, "elements": -150}], r":2: field 'elements' must be from 1 to"),
    ([HEADER, GEMM, {k: v for k, v in XFER.items() if k != "dir"}],
     r":3: transfer record is missing field\(s\) dir"),
    (['{"format": "accelsim-trace", "version": 1, "meta": 3}'], r":1: header field 'meta'"),
]


@pytest.mark.parametrize(("lines", "message"), BAD)
def test_bad_traces_name_file_and_line(tmp_path, lines, message):
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in lines)
                    + ("\n" if lines else ""))
    with pytest.raises(TraceError, match=message):
        read_trace(path)


def test_missing_trace_file(tmp_path):
    with pytest.raises(TraceError, match=r"cannot read trace: No such file"):
        read_trace(tmp_path / "none.jsonl")


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(HEADER.encode())[:-8] + b"garbage!")
    with pytest.raises(TraceError, match=r"cannot read trace"):
        read_trace(path)
