"""Writing a file atomically: all of it or none of it, whatever interrupts the writing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from handgrad.errors import HandgradError


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


class WriteError(HandgradError):
    """A file that cannot be written: `reason` says why, the message names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


def write_file(target: Path, data: str | bytes) -> Path:
    """Write all of `data` (text as UTF-8) to the file `target`, atomically; returns the path
    written. A symbolic link is written through to the file it names, never replaced; anything
    that is not a regular file (a folder, a FIFO, a device) is refused. Errors name the file."""
    named = target
    target = target.expanduser()
    if target.is_symlink():
        target = target.resolve()
    if target.is_dir():
        raise WriteError(named, "is a folder; give a file name")
    if target.exists() and not target.is_file():
        raise WriteError(named, "is not a regular file (a device or a pipe); refused")
    if not target.parent.is_dir():
        raise WriteError(named, f"the folder {target.parent} does not exist")
    payload = data if isinstance(data, bytes) else data.encode("utf-8")
    try:
        atomic_write(target, lambda stream: stream.write(payload))
    except OSError as error:
        raise WriteError(named, f"cannot write ({error.strerror})") from None
    return target
