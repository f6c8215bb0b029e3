"""Reading and writing trace files (JSON Lines, gzip-compressed when the name ends in ``.gz``).

The reader validates as it goes and names the file and line of the first bad record. The writer
folds identical consecutive ops into one record with ``count`` and writes atomically (a temporary
file renamed into place), so a failed run never leaves a half-written trace behind.
"""

from __future__ import annotations

import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from accelsim.atomic import new_temp_file
from accelsim.errors import TraceError, clip, shown
from accelsim.trace.records import (
    FORMAT,
    MAX_COUNT,
    READABLE_VERSIONS,
    Header,
    Op,
    op_from_json,
    op_to_json,
    without_count,
)


def _open_text(path: Path) -> IO[str]:
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if magic == b"\x1f\x8b":
        import gzip  # only compressed traces need it

        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


MAX_LINE_BYTES = 1 << 20  # one record is about 200 bytes


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"field {shown(key)} appears twice")
        out[key] = value
    return out


def parse_json_line(line: str, where: str, what: str = "") -> Any:
    """One JSON value; every way it can be bad is a ``TraceError`` naming ``where``."""
    subject = f"{what} is " if what else ""
    try:
        return json.loads(line, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{where}: {subject}not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise TraceError(f"{where}: {subject}nested too deeply") from None
    except ValueError as exc:  # a duplicate field, or an integer of thousands of digits
        raise TraceError(f"{where}: {subject}not a valid record ({clip(str(exc), 120)})") \
            from None


def _parse_header(line: str, where: str) -> Header:
    rec = parse_json_line(line, where, "header")
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise TraceError(f"{where}: not an accelsim trace (the first line must be a header with "
                         f"\"format\": \"{FORMAT}\")")
    version = rec.get("version")
    if isinstance(version, str) and version.strip().isdigit():
        raise TraceError(f"{where}: header field 'version' must be a number, got the string "
                         f"{shown(version)} (write {version.strip()} without quotes)")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise TraceError(f"{where}: trace version {shown(version)} is not supported "
                         f"(this accelsim reads version "
                         f"{', '.join(map(str, READABLE_VERSIONS))})")
    seed = rec.get("seed")
    meta = rec.get("meta") or {}
    if not isinstance(meta, dict):
        raise TraceError(f"{where}: header field 'meta' must be an object")
    return Header(workload=str(rec.get("workload", ""))[:200],
                  method=str(rec.get("method", ""))[:200],
                  seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
                  meta=meta, version=version)


def _lines(stream: IO[str], path: Path) -> Iterator[str]:
    """Lines of at most ``MAX_LINE_BYTES`` characters (a file with no newline is not read
    whole into memory)."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise TraceError(f"{path}:{number}: line longer than "
                             f"{MAX_LINE_BYTES:,} characters; not an accelsim trace")
        yield line


def _at_iteration(op: Op, iteration: int) -> Op:
    """``replace(op, iter=iteration)`` for a record already validated, without running the
    dataclass machinery again (a tenth of the time: this is the reader's inner loop)."""
    new = object.__new__(type(op))
    fields = new.__dict__
    fields.update(op.__dict__)
    fields["iter"] = iteration
    return new


class _Records:
    """Validated records by line text, for the lines that repeat (a training trace is the same
    iteration again and again, only its ``iter`` differing). A line the writer wrote,
    ``{"op":KIND,"iter":N,REST``, is looked up by (KIND, REST): the first such line was parsed
    and validated whole, and a later one differs only in N, which is checked here as the
    reader would check it (a JSON integer in bounds). Any other form is parsed whole. Bounded:
    past ``LIMIT`` distinct lines nothing new is kept."""

    LIMIT = 1 << 16

    def __init__(self, version: int):
        self.version = version
        self._known: dict[tuple[str, str], Op] = {}

    def parse(self, line: str, where: str) -> Op:
        head, sep, rest = line.partition(',"iter":')
        if sep and head.startswith('{"op":"') and head.find('"', 7) == len(head) - 1:
            digits, comma, tail = rest.partition(",")
            if comma and digits.isascii() and digits.isdigit() and \
                    (digits == "0" or digits[0] != "0") and len(digits) <= 13:
                known = self._known.get((head, tail))
                if known is not None:
                    n = int(digits)
                    if n == known.iter:
                        return known
                    if n <= MAX_COUNT:
                        return _at_iteration(known, n)
        op = op_from_json(parse_json_line(line, where), where, self.version)
        if sep and len(self._known) < self.LIMIT:
            digits, comma, tail = rest.partition(",")
            if comma and digits == str(op.iter):
                # what the replay asks of every record, worked out once: copies keep it
                op.work  # noqa: B018 (worked out now, kept by the copies)
                self._known[(head, tail)] = op
        return op


class TraceReader:
    """A trace file read lazily: ``header`` at once, the ops as they are iterated (one line in
    memory at a time, validated records shared between repeated lines). Use as a context
    manager, or iterate it to the end; errors are ``TraceError`` naming file and line."""

    def __init__(self, path: str | Path):
        self.path = path = Path(path)
        try:
            if path.is_dir():
                raise TraceError(f"{path}: is a directory, expected a trace file")
            self._stream = _open_text(path)
        except OSError as exc:
            raise TraceError(f"{path}: cannot read trace: {exc.strerror or exc}") from None
        self._lines = _lines(self._stream, path)
        self._number = 0
        first = self._next_line()
        if first is None:
            self.close()
            raise TraceError(f"{path}:1: empty file, expected a trace header")
        try:
            self.header = _parse_header(first, f"{path}:1")
        except TraceError:
            self.close()
            raise

    def _next_line(self) -> str | None:
        try:
            line = next(self._lines, None)
        except UnicodeDecodeError as exc:
            self.close()
            raise TraceError(f"{self.path}: not UTF-8 text (byte {exc.object[exc.start]:#04x}); "
                             "not an accelsim trace") from None
        except (OSError, EOFError, zlib.error) as exc:
            self.close()
            raise TraceError(f"{self.path}: cannot read trace: {clip(str(exc), 120)}") from None
        except TraceError:
            self.close()
            raise
        if line is not None:
            self._number += 1
        return line

    def __iter__(self) -> Iterator[Op]:
        records = _Records(self.header.version)
        try:
            while (line := self._next_line()) is not None:
                if line.strip():
                    yield records.parse(line, f"{self.path}:{self._number}")
        finally:
            self.close()

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def read_trace(path: str | Path) -> tuple[Header, list[Op]]:
    """The header and every op of a trace file; raises ``TraceError`` naming file and line."""
    reader = TraceReader(path)
    return reader.header, list(reader)


def fold_repeats(ops: Iterable[Op]) -> Iterator[Op]:
    """Merge runs of identical consecutive ops into one op whose ``count`` is their sum."""
    pending: Op | None = None
    for op in ops:
        if pending is not None and without_count(pending) == without_count(op):
            pending = replace(pending, count=pending.count + op.count)
            continue
        if pending is not None:
            yield pending
        pending = op
    if pending is not None:
        yield pending


class TraceWriter:
    """Write a trace op by op, folding repeats; the file appears only when closed cleanly."""

    def __init__(self, path: str | Path, header: Header):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = new_temp_file(self.path.parent, f".{self.path.name}.")
        os.close(fd)
        self._tmp = Path(tmp)
        self._file: IO[bytes] | None = None
        if self.path.suffix == ".gz":
            # No file name and mtime=0 in the gzip header: identical traces, identical bytes.
            self._file = open(self._tmp, "wb")  # noqa: SIM115 (closed in close/abort)
            import gzip

            raw = gzip.GzipFile(filename="", mode="wb", fileobj=self._file, mtime=0)
            self._out: IO[str] = io.TextIOWrapper(raw, encoding="utf-8")
        else:
            self._out = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115
        self._write(header.to_json())
        self._pending: Op | None = None
        self.ops_written = 0

    def _write(self, rec: dict[str, Any]) -> None:
        self._out.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def add(self, op: Op) -> None:
        p = self._pending
        if p is not None and without_count(p) == without_count(op):
            self._pending = replace(p, count=p.count + op.count)
            return
        self._flush()
        self._pending = op

    def _flush(self) -> None:
        if self._pending is not None:
            self._write(op_to_json(self._pending))
            self.ops_written += 1
            self._pending = None

    def _close_streams(self) -> None:
        self._out.close()
        if self._file is not None:
            self._file.close()

    def close(self) -> None:
        self._flush()
        self._close_streams()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._close_streams()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_trace(path: str | Path, header: Header, ops: Iterable[Op]) -> int:
    """Write a whole trace; returns the number of records written after folding."""
    with TraceWriter(path, header) as writer:
        for op in ops:
            writer.add(op)
    return writer.ops_written
