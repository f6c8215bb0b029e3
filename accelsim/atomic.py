"""Atomic file writes: a temporary file in the same directory, renamed into place.

Readers never see a half-written file, and a run that fails leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` all at once."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.chmod(tmp, output_mode())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: str | Path, flag: str, directory: bool = True) -> None:
    """Fail before any work if ``path`` cannot be created or written, creating nothing.

    The nearest existing ancestor must be a directory in which a file can be made (a file is
    made there and removed at once): so ``--out /proc/x``, ``--out a_file/sub`` or a read-only
    folder fail in a second, not after an hour of simulation, and leave nothing behind."""
    from accelsim.errors import UsageError, clip

    path = Path(path)
    where = f"{flag} {clip(str(path))}"
    try:
        if path.exists():
            if directory and not path.is_dir():
                raise UsageError(f"{where}: is a file, expected a directory")
            if not directory and path.is_dir():
                raise UsageError(f"{where}: is a directory; give a file name")
        ancestor = path if directory and path.is_dir() else path.parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise UsageError(f"{where}: {ancestor} is a file, not a directory")
        fd, probe = tempfile.mkstemp(dir=ancestor, prefix=".accelsim-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{where}: cannot write there ({exc.strerror or exc})") from None


def output_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file (0o666 less the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
