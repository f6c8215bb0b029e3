"""``accelsim dram``: a request file priced on a machine's DRAM. ``--json`` prints exactly one
JSON object with the documented keys; text output works; every bad request file, and a machine
without an LPDDR4 model, is a one-line error with exit status 2; the request reader, fed raw
bytes or mutated files, raises nothing but ``RequestsError``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.replay.requests import MAX_ADDRESS, MAX_REQUEST_BYTES, RequestsError, read_requests

KEYS = {"time_ns", "bytes_requested", "bytes_moved", "bandwidth_gb_s", "row_hits", "row_misses",
        "row_conflicts", "activates", "refreshes", "energy_pj"}
PARTS = {"total", "activate", "read", "write", "refresh", "background"}
QUICK, THOROUGH = 300, 10_000


def run(capsys, *argv):
    code = main(["dram", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def requests_csv(tmp_path):
    path = tmp_path / "req.csv"
    path.write_text("addr,bytes,op\n0,64,read\n8192,256,write\n65536,128,read\n")
    return path


def test_json_is_exactly_one_object_with_the_documented_keys(capsys, requests_csv):
    code, out, err = run(capsys, "--requests", str(requests_csv), "--json")
    assert code == 0 and err == ""
    doc, end = json.JSONDecoder().raw_decode(out)
    assert out[end:].strip() == "" and out.count("\n") == 1
    assert set(doc) == KEYS and set(doc["energy_pj"]) == PARTS
    e = doc["energy_pj"]
    assert e["total"] == pytest.approx(sum(v for k, v in e.items() if k != "total"))
    assert doc["bytes_requested"] == 64 + 256 + 128
    assert doc["bytes_moved"] == 128 * 4  # the 64-B read costs a whole burst
    bursts = doc["bytes_moved"] // 128
    assert doc["row_hits"] + doc["row_misses"] + doc["row_conflicts"] == bursts
    assert doc["bandwidth_gb_s"] == pytest.approx(doc["bytes_moved"] / doc["time_ns"])
    assert doc["refreshes"] == 0 and doc["activates"] == 3


def test_one_read_prices_by_hand(capsys, tmp_path):
    """tRCD + CL + BL/2 = 29 + 32 + 8 tCK of 0.625 ns; one ACT, one read burst."""
    path = tmp_path / "one.csv"
    path.write_text("addr,bytes,op\n100,8,read\n")
    _, out, _ = run(capsys, "--requests", str(path), "--json")
    doc = json.loads(out)
    assert doc["time_ns"] == pytest.approx(69 * 0.625)
    assert (doc["row_misses"], doc["activates"], doc["bytes_moved"]) == (1, 1, 128)
    e = doc["energy_pj"]
    assert e["activate"] == pytest.approx(4706.1, abs=0.1) and e["write"] == 0
    assert e["background"] == pytest.approx(148.2 * doc["time_ns"], rel=1e-3)  # mW x ns


def test_text_output(capsys, requests_csv):
    code, out, err = run(capsys, "--requests", str(requests_csv))
    assert code == 0 and err == ""
    assert out.startswith("edge-16x16: 3 requests in ") and "GB/s" in out
    for key in KEYS - {"time_ns", "bandwidth_gb_s"}:
        assert f"  {key}" in out, key
    assert "activate" in out and "background" in out


def test_set_changes_the_timing(capsys, requests_csv):
    _, out, _ = run(capsys, "--requests", str(requests_csv), "--json")
    _, slower, _ = run(capsys, "--requests", str(requests_csv), "--json",
                       "--set", "dram.lpddr4.trcd_tck=60")
    assert json.loads(slower)["time_ns"] > json.loads(out)["time_ns"]


def test_the_console_script_prints_one_json_object(requests_csv):
    proc = subprocess.run([sys.executable, "-m", "accelsim.cli", "dram", "--requests",
                           str(requests_csv), "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stderr == ""
    assert set(json.loads(proc.stdout)) == KEYS


BAD_FILES = {
    "missing-header": (b"0,64,read\n", "expected the header 'addr,bytes,op'"),
    "wrong-header": (b"address,size,op\n0,64,read\n", "expected the header 'addr,bytes,op'"),
    "non-numeric-addr": (b"addr,bytes,op\nzero,64,read\n", "addr must be a whole number"),
    "hex-addr": (b"addr,bytes,op\n0x40,64,read\n", "addr must be a whole number"),
    "negative-addr": (b"addr,bytes,op\n-128,64,read\n", "addr must be a whole number"),
    "negative-bytes": (b"addr,bytes,op\n0,-64,read\n", "bytes must be a whole number"),
    "zero-bytes": (b"addr,bytes,op\n0,0,read\n", "bytes must be from 1"),
    "huge-bytes": (f"addr,bytes,op\n0,{MAX_REQUEST_BYTES + 1},read\n".encode(),
                   "bytes must be from 1"),
    "bad-op": (b"addr,bytes,op\n0,64,fetch\n", "op must be read or write, got 'fetch'"),
    "capital-op": (b"addr,bytes,op\n0,64,READ\n", "op must be read or write"),
    "empty": (b"", "expected the header 'addr,bytes,op'"),
    "header-only": (b"addr,bytes,op\n", "no requests after the header"),
    "huge-address": (b"addr,bytes,op\n" + str(10**15).encode() + b",64,read\n",
                     "addr must be from 0 to"),
    "ends-past-the-top": (f"addr,bytes,op\n{MAX_ADDRESS - 64},128,read\n".encode(),
                          "ends past address"),
    "two-fields": (b"addr,bytes,op\n0,64\n", "expected 3 fields addr,bytes,op, got 2"),
    "four-fields": (b"addr,bytes,op\n0,64,read,1\n", "expected 3 fields addr,bytes,op, got 4"),
    "binary-junk": (bytes(range(256)) * 4, "not UTF-8 text (byte 0x80 at offset 128)"),
    "nul-bytes": (b"addr,bytes,op\n0,64,read\x00\x00\n", "holds a NUL byte"),
    "not-utf8": (b"addr,bytes,op\n0,64,r\xe9ad\n", "not UTF-8 text"),
    "float-bytes": (b"addr,bytes,op\n0,64.0,read\n", "bytes must be a whole number"),
}


def _one_line_error(code, out, err, message):
    assert code == 2 and out == ""
    assert err.startswith("accelsim: error: ") and err.count("\n") == 1, err
    assert message in err, err


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_request_files_are_one_line_errors(capsys, tmp_path, name):
    data, message = BAD_FILES[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    _one_line_error(*run(capsys, "--requests", str(path), "--json"), message)


def test_errors_name_the_file_and_line(capsys, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("addr,bytes,op\n0,64,read\n\n128,64,erase\n")
    _, _, err = run(capsys, "--requests", str(path))
    assert f"{path}:4: op must be read or write" in err


def test_a_directory_and_a_missing_file_are_one_line_errors(capsys, tmp_path):
    _one_line_error(*run(capsys, "--requests", str(tmp_path)), "is a directory")
    _one_line_error(*run(capsys, "--requests", str(tmp_path / "none.csv")), "cannot read")


def test_a_fixed_bandwidth_machine_is_a_one_line_error(capsys, requests_csv):
    _one_line_error(*run(capsys, "--hw", "scalesim-like", "--requests", str(requests_csv)),
                    "accelsim dram needs dram.model: lpddr4")


def test_a_bad_set_is_a_one_line_error(capsys, requests_csv):
    _one_line_error(*run(capsys, "--requests", str(requests_csv),
                         "--set", "dram.lpddr4.trcd_tck=0"), "trcd_tck")


def test_a_superscript_digit_is_a_clean_error(tmp_path):
    """str.isdigit() takes '²', which int() refuses: the reader checks ASCII digits."""
    path = tmp_path / "r.csv"
    path.write_text("addr,bytes,op\n\u00b2,64,read\n", encoding="utf-8")
    with pytest.raises(RequestsError):
        read_requests(path)


# ---- fuzzing the reader -----------------------------------------------------------------------


CELLS = st.sampled_from(["0", "64", "128", "read", "write", "", " ", "-1", "1e3", "0x10",
                         str(MAX_ADDRESS), str(MAX_ADDRESS - 1), str(10**25), "READ", "  64  ",
                         "\t", "\"read\"", "1_000", "٣", "+5"]) | st.text(max_size=12)
GOOD_LINES = ["0,64,read", "8192,128,write", "12345,4000,read", "1099511627000,128,write"]


@st.composite
def mutated_files(draw) -> bytes:
    """A valid request file with lines replaced, cut, joined, or given random cells."""
    lines = ["addr,bytes,op", *draw(st.lists(st.sampled_from(GOOD_LINES), max_size=5))]
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(0, len(lines) - 1))
        how = draw(st.integers(0, 4))
        if how == 0:
            lines[k] = ",".join(draw(st.lists(CELLS, min_size=0, max_size=5)))
        elif how == 1:
            lines[k] = lines[k][: draw(st.integers(0, len(lines[k])))]
        elif how == 2:
            cells = lines[k].split(",")
            cells[draw(st.integers(0, len(cells) - 1))] = draw(CELLS)
            lines[k] = ",".join(cells)
        elif how == 3:
            lines.insert(k, draw(st.text(max_size=30)))
        else:
            lines[k] = lines[k] + draw(st.sampled_from(["\r", ",", " ", "\x00", "\ufeff"]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return ending.join(lines).encode("utf-8", "surrogatepass")


INPUTS = (st.binary(max_size=400) | mutated_files()
          | st.binary(max_size=200).map(lambda b: b"addr,bytes,op\n" + b))


def _fuzz(tmp_path_factory, examples: int) -> None:
    path = tmp_path_factory.mktemp("fuzz-requests") / "r.csv"

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(INPUTS)
    def fuzz(data):
        path.write_bytes(data)
        try:
            requests = read_requests(path)
        except RequestsError as exc:
            message = str(exc)
            assert "\n" not in message and len(message) < 2000, message[:500]
            return
        assert requests
        for addr, size, write in requests:
            assert addr >= 0 and 1 <= size <= MAX_REQUEST_BYTES and addr + size <= MAX_ADDRESS
            assert isinstance(write, bool)

    fuzz()


def test_the_reader_raises_only_its_own_error(tmp_path_factory):
    _fuzz(tmp_path_factory, QUICK)


@pytest.mark.slow
def test_the_reader_raises_only_its_own_error_thoroughly(tmp_path_factory):
    _fuzz(tmp_path_factory, THOROUGH)
