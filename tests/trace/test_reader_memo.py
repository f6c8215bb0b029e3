"""The reader's memory of repeated lines: a line that differs from an earlier one only in its
iteration number reads exactly as a full parse would read it, errors included."""

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.errors import TraceError
from accelsim.trace import Header, read_trace, write_trace
from accelsim.trace.io import TraceReader
from accelsim.trace.records import MAX_COUNT
from accelsim.trace.synthetic import lenet5_mnist, narrowing_trace


def lines_of(tmp_path, body: list[str]):
    path = tmp_path / "t.jsonl"
    path.write_text('{"format":"accelsim-trace","version":2}\n' + "".join(body))
    return path


@pytest.fixture(scope="module")
def canonical(tmp_path_factory):
    path = tmp_path_factory.mktemp("memo") / "t.jsonl.gz"
    write_trace(path, Header("lenet5"), narrowing_trace(lenet5_mnist(8), 6))
    with gzip.open(path, "rt") as f:
        return f.read().splitlines(keepends=True)


def full_parse(path):
    """The reference: every line parsed and validated whole (no memory)."""
    from accelsim.trace import io

    saved = io._Records.LIMIT
    io._Records.LIMIT = 0
    try:
        return read_trace(path)
    finally:
        io._Records.LIMIT = saved


def test_a_trace_reads_the_same_with_and_without_memory(tmp_path, canonical):
    path = lines_of(tmp_path, canonical[1:])
    assert read_trace(path) == full_parse(path)


def test_records_read_from_memory_name_their_work_as_a_full_parse_does(tmp_path, canonical):
    """A re-stamped record keeps the work key of the record it copies (worked out once, not
    per iteration): it must be the one its own fields give."""
    path = lines_of(tmp_path, canonical[1:])
    fresh = full_parse(path)[1]
    for op, reference in zip(read_trace(path)[1], fresh, strict=True):
        assert op.work == (reference._place(), reference._signature(), reference.count)


VARIANTS = ["7", "0", "007", "01", "-1", "1.0", "1e3", str(MAX_COUNT), str(MAX_COUNT + 1),
            "99999999999999999", "true", '"3"', "null", " 3", "３"]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 200), st.sampled_from(VARIANTS))
def test_an_iteration_number_is_checked_as_a_full_parse_checks_it(tmp_path_factory, canonical,
                                                                    index, variant):
    body = canonical[1:]
    line = body[index % len(body)]
    head, _, rest = line.partition('"iter":')
    changed = head + '"iter":' + variant + rest[rest.index(","):]
    path = lines_of(tmp_path_factory.mktemp("v"), [line, changed])

    def outcome(read):
        try:
            return read(path)
        except TraceError as exc:
            return str(exc)

    assert outcome(read_trace) == outcome(full_parse)


def test_the_reader_streams(tmp_path, canonical):
    path = lines_of(tmp_path, canonical[1:])
    reader = TraceReader(path)
    assert reader.header.workload == ""
    first = next(iter(reader))
    assert first.iter == 0
    reader.close()


def test_a_bad_line_after_good_ones_names_its_line(tmp_path, canonical):
    body = [*canonical[1:4], '{"op":"gemm","iter":3,"layer":\n']
    with pytest.raises(TraceError, match=r"t.jsonl:5: "):
        read_trace(lines_of(tmp_path, body))
