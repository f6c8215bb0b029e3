"""The bad-input contract, checked the same way for every command: ``main(argv)`` within 30 s,
exit 2, one line on standard error starting ``accelsim: error:`` and naming what is wrong, no
traceback (the corpus in test_bad_inputs.py, the trace command's in test_trace_command.py)."""

from __future__ import annotations

import signal

import pytest

from accelsim.cli import main

SECONDS = 30


class _Timeout(Exception):
    pass


def _alarm(*_: object) -> None:
    raise _Timeout


def assert_one_clean_line(name: str, argv: list[str], expect: str, capsys) -> None:
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS)
    try:
        code = main(argv)
    except _Timeout:
        pytest.fail(f"{name}: still running after {SECONDS} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code}; stdout {out[-300:]!r}; stderr {err[-300:]!r}"
    assert err.startswith("accelsim: error: ") and err.count("\n") == 1, err[:600]
    assert "Traceback" not in err and len(err) < 2000, err[:600]
    assert expect in err, err
