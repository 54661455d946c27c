"""Writing a file, or a folder of files, atomically: all of it or none of it, whatever
interrupts the writing."""

from __future__ import annotations

import contextlib
import os
import shutil
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


# ------------------------------------------------------------------ a folder written as one

STAGING, ASIDE = ".run", ".old"  # suffixes of write_folder's hidden folders beside the folder


class FolderWriteError(OSError):
    """One of `write_folder`'s own steps failed (making the hidden folder, renaming it into
    place): the OSError's errno and strerror, with `reason`, a sentence naming the step."""

    def __init__(self, error: OSError, reason: str) -> None:
        super().__init__(error.errno, error.strerror)
        self.reason = reason


def hidden_folder(folder: Path, suffix: str) -> Path:
    """A fresh empty folder `.NAME.PID.XXXX<suffix>` beside `folder`, with the mode a plain
    mkdir would give it (mkdtemp makes it private, 0700). The process id in the name lets a
    later writer tell a killed writer's leftovers from a running one's."""
    made = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}.", suffix=suffix,
                                 dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(made, 0o777 & ~umask)
    return made


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk, so that a crash after a rename keeps the files."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems cannot sync a folder
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_folder(
    folder: Path,
    write: Callable[[Path], object],
    *,
    replace: Callable[[Path], object] | None = None,
    place: Callable[[Path], Path] | None = None,
) -> Path:
    """Call `write(staging)` on a fresh hidden folder beside `folder`, sync it, and rename it to
    `folder`: all of the folder or none of it, whatever interrupts the writing. Returns the
    folder written.

    An absent or empty `folder` is simply replaced by the rename. A non-empty one is replaced
    only when `replace` is given: `replace(folder)` is called first and raises to refuse (it
    holds files that are not the caller's); then the folder is moved aside, the new one renamed
    in and the old one deleted. `place(staging)`, when given, renames the staging folder itself
    (to a name of the caller's choosing) and returns where it went, instead of all that.

    On any failure, Ctrl-C included, the earlier folder is put back and no hidden folder is
    left. The steps of its own that fail raise `FolderWriteError`, an OSError.
    """
    try:
        staging = hidden_folder(folder, STAGING)
    except OSError as error:
        raise FolderWriteError(error, f"cannot write in {folder.parent} ({error.strerror})"
                               ) from None
    try:
        write(staging)
        sync_folder(staging)
        folder = place(staging) if place is not None else _rename_in(staging, folder, replace)
        sync_folder(folder.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _rename_in(staging: Path, folder: Path, replace: Callable[[Path], object] | None) -> Path:
    """Rename `staging` to `folder`; an earlier folder there is moved aside first, put back if
    the rename fails, and deleted once the new one is in place."""
    try:
        os.rename(staging, folder)  # absent, or an empty folder, which rename replaces
        return folder
    except OSError as error:
        if not folder.is_dir() or replace is None:
            raise FolderWriteError(error, f"cannot write ({error.strerror})") from None
    replace(folder)  # raises when the folder must be kept
    aside = hidden_folder(folder, ASIDE)
    os.rename(folder, aside)  # replaces the empty folder mkdtemp made
    try:
        os.rename(staging, folder)
    except BaseException:
        os.rename(aside, folder)  # the earlier folder back in place
        raise
    shutil.rmtree(aside, ignore_errors=True)
    return folder
