"""A run folder (model.npz, run.json, plots) written as one: a reader sees one run, never two.

Writing the files one by one into the folder left, when killed between two of them, a new
model beside the previous run's run.json, and --out over an earlier run left its plots beside
the new model. So a run is written into a fresh hidden folder beside its destination, synced,
and renamed into place: the rename is the one commit point. An earlier run there is replaced
only on request (`force`), and only when the folder holds nothing but a run's files, so that
no file of the user's is ever deleted. Leftovers of a killed writer (hidden `.NAME.PID.*.run`
and `.old` folders) are removed, or the earlier run put back, by the next write to the same
destination once their process is gone.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from handgrad.atomic import ASIDE, STAGING, FolderWriteError, write_folder
from handgrad.errors import HandgradError
from handgrad.train.files import excerpt

RUN_FILES = ("model.npz", "run.json", "curves.png", "confusion.png")


def _is_run_file(entry: Path) -> bool:
    """One of a run's files, or a temporary file that `atomic_write` left while writing one."""
    name = entry.name
    if entry.is_symlink() or not entry.is_file():
        return False
    return name in RUN_FILES or any(
        name.startswith(f".{file}.") and name.endswith(".tmp") for file in RUN_FILES
    )


def check_run_folder(folder: Path, force: bool, option: str = "--out") -> None:
    """Refuse a destination that would lose something: an earlier run without `force`, or
    any file that is not a run's (with or without `force`)."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise HandgradError(f"{option} {folder}: is a file; give a folder")
    try:
        entries = list(folder.iterdir())
    except OSError as error:
        raise HandgradError(f"{option} {folder}: cannot be read ({error.strerror})") from None
    foreign = sorted(entry.name for entry in entries if not _is_run_file(entry))
    if foreign:
        raise HandgradError(
            f"{option} {folder}: holds files that are not a training run's (such as"
            f" '{excerpt(foreign[0])}'); give a new or empty folder"
        )
    if entries and not force:
        held = "a trained model" if (folder / "model.npz").exists() else "an earlier run"
        raise HandgradError(
            f"{option} {folder}: already holds {held}; give another folder, or --force to"
            " replace that run (all of its files)"
        )


def write_run_folder(
    folder: Path, write: Callable[[Path], None], force: bool = False, numbered: bool = False,
    option: str = "--out",
) -> Path:
    """Call `write(staging)` to write a run's files into a fresh folder, then make it `folder`.

    With `numbered`, an existing `folder` is left alone and the run goes to the first free
    `folder-2`, `folder-3`, ...; returns the folder written. Ctrl-C or an error at any point
    leaves the destination as it was (the earlier run, or nothing) and no temporary folder.
    """
    folder = Path(os.path.abspath(folder.expanduser()))
    if folder.is_symlink():  # a link to a folder: the run goes where it points, the link stays
        folder = folder.resolve()
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise HandgradError(
            f"{option} {folder}: cannot make the folder {parent} ({error.strerror})"
        ) from None
    _tidy(folder)
    if not numbered:
        check_run_folder(folder, force, option)
    try:
        return write_folder(
            folder, write,
            # it may have been filled since the first check
            replace=lambda earlier: check_run_folder(earlier, force, option),
            place=(lambda staging: _rename_to_free(staging, folder)) if numbered else None,
        )
    except FolderWriteError as error:
        raise HandgradError(f"{option} {folder}: {error.reason}") from None


def _rename_to_free(staging: Path, folder: Path) -> Path:
    """Rename `staging` to `folder`, or `folder-2`, `folder-3`, ...: the first that is free."""
    for number in range(1, 10_000):
        candidate = folder if number == 1 else folder.with_name(f"{folder.name}-{number}")
        if candidate.exists():
            continue
        try:
            os.rename(staging, candidate)  # atomic: another run taking the name makes it fail
            return candidate
        except OSError:
            continue
    raise HandgradError(f"{folder}: no free run folder name beside it")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _tidy(folder: Path) -> None:
    """Remove what a killed writer to `folder` left; if it was killed between moving the
    earlier run aside and renaming the new one in, put the earlier run back."""
    for entry in folder.parent.glob(f".{glob.escape(folder.name)}.*"):
        parts = entry.name[len(folder.name) + 2 :].split(".")
        if len(parts) != 3 or not parts[0].isdigit() or f".{parts[2]}" not in (STAGING, ASIDE):
            continue  # not one of ours
        if int(parts[0]) == os.getpid() or _alive(int(parts[0])) or not entry.is_dir():
            continue
        if f".{parts[2]}" == ASIDE and not folder.exists():
            # on failure it stays where it is rather than deleted: the only copy of that run
            with contextlib.suppress(OSError):
                os.rename(entry, folder)
            continue
        shutil.rmtree(entry, ignore_errors=True)

