"""The exceptions accelsim raises. Only the CLI catches them, prints one line and exits 2.

Every message names what is wrong and where (a YAML key path, a trace line, a CLI flag) and the
bad value, so a user can fix the input without reading a traceback.
"""


MAX_SHOWN = 80  # characters of a bad value echoed in a message
MAX_PROBLEMS = 10  # problems listed in one message


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` cut to about ``limit`` characters: a message names a bad value, it never
    reprints a huge one (a 400-digit number, an expanded YAML alias, a binary line)."""
    if value is None or isinstance(value, bool):  # as the YAML or JSON the user wrote
        return {None: "null", True: "true", False: "false"}[value]
    try:
        text = repr(value)
    except ValueError:  # an int too long for repr (sys.int_info.str_digits_check_threshold)
        text = f"<an integer of about {value.bit_length() * 0.30103:.0f} digits>"  # type: ignore[attr-defined]
    return text if len(text) <= limit else text[:limit - 3] + "..."


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to about ``limit`` characters."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


_CONTROL = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t"}


class AccelsimError(Exception):
    """Base of every error accelsim raises on purpose (bad input, impossible requests).

    Its text is always one line: control characters a bad input smuggled in (a key holding a
    newline, a binary file's bytes) are shown escaped."""

    def __str__(self) -> str:
        return super().__str__().translate(_CONTROL)


class ConfigError(AccelsimError):
    """A hardware configuration is malformed or describes an impossible machine.

    Carries every problem found, each as ``key.path: message``, so one run shows them all.
    """

    def __init__(self, problems: list[str] | str, source: str = ""):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        super().__init__(join_problems(self.problems, source))


def join_problems(problems: list[str], source: str = "") -> str:
    """Problems as one line: the first ``MAX_PROBLEMS``, then how many more."""
    where = f"{source}: " if source else ""
    listed = problems[:MAX_PROBLEMS]
    more = len(problems) - len(listed)
    return where + "; ".join(listed) + (f"; and {more} more problem(s)" if more else "")


class TraceError(AccelsimError):
    """A trace file is malformed: wrong header, unknown op, missing field, bad value."""


class WorkloadError(AccelsimError):
    """A workload description (model, data set, method parameters) is malformed."""


class SimulationError(AccelsimError):
    """An op this machine cannot run (nothing fits its buffers), or one too large to simulate
    within the simulator's stated limits."""


class UsageError(AccelsimError):
    """A command-line argument is malformed (for example a bad ``--set KEY=VALUE``)."""
