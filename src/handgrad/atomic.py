"""Writing a file atomically: all of it or none of it, whatever interrupts the writing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write` on a temporary file beside `target`, sync it, and rename it over `target`.

    A crash or Ctrl-C before the rename leaves `target` as it was and no temporary file behind.
    The file gets the mode a plain open() would give it (mkstemp makes it private, 0600).
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                         dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
