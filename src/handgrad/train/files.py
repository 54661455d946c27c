"""Reading a user's files with bounded work: regular files only, text up to a size, NPZ headers
checked before any array is allocated.

A FIFO given as a data or model file would block the first read forever, and a device such as
`/dev/zero` never ends, so every input is opened without blocking and checked to be a regular
file before a byte is read. A `.npz` member's header declares its shape, and NumPy allocates that
shape before it reads the data, so a 100-byte file can claim terabytes: the headers are read
first, each must agree with the bytes the member really holds, and the caller checks the shapes
it expects before `load` reads an array.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np

from handgrad.errors import HandgradError
from handgrad.text import EXCERPT, shown

MAX_MEMBERS = 10_000  # arrays in one .npz: a model of L weight layers has 2L + 3
_HEADER_LIMIT = 10_000  # bytes of an .npy header, NumPy's own default bound


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refusal(path: Path, mode: int, what: str) -> str:
    kind = _kind(mode)
    described = kind if kind.startswith("not") else f"is {kind}, not a regular file"
    return f"{path}: {described}; give a {what}"


def check_regular(path: Path, error: type[HandgradError], what: str) -> None:
    """Refuse (with `error`) a path that is missing or not a regular file, before choosing how
    to read it; `open_regular` checks again on the file it opens."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except OSError as err:
        raise error(f"{path}: cannot be read ({err.strerror})") from None
    if not stat.S_ISREG(mode):
        raise error(_refusal(path, mode, what))


def open_regular(path: Path, error: type[HandgradError], what: str) -> BinaryIO:
    """Open `path` for reading if it is a regular file (after symbolic links); else `error`.

    O_NONBLOCK makes open() itself return at once on a FIFO without a writer (a plain open
    would wait for one); fstat on the open descriptor then judges the very file that will be
    read, so a file swapped for a FIFO between a check and the open cannot slip through.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except OSError as err:
        raise error(f"{path}: cannot be read ({err.strerror})") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise error(_refusal(path, mode, what))
    os.set_blocking(descriptor, True)  # a regular file never blocks; reads behave as usual
    return os.fdopen(descriptor, "rb")


def bounded_lines(text: IO[str], limit: int, error: type[HandgradError], name: str,
                  ) -> Iterator[str]:
    """The lines of `text`, refusing (with `error`) more than `limit` characters in all.

    readline is bounded too, so one endless line (a gzip bomb of a single row) is refused after
    `limit` characters instead of being read whole first.
    """
    remaining = limit
    while True:
        line = text.readline(remaining + 1)
        if not line:
            return
        remaining -= len(line)
        if remaining < 0:
            raise error(
                f"{name}: more than {limit // 2**20:,} MiB of text, more than handgrad reads"
                " from a CSV file; save large data as an .npz file (arrays X and y)"
            )
        yield line


@dataclass(frozen=True)
class ArrayHeader:
    """What an .npy member declares: its shape and dtype, and the bytes its data take."""

    shape: tuple[int, ...]
    dtype: np.dtype
    nbytes: int


class NpzArchive:
    """An .npz file read member by member: `headers` first (nothing allocated), then `load`.

    Every member must be a NumPy array (`NAME.npy`) without Python objects, and its declared
    size must be what the zip member holds: a header that claims more than the file has is
    refused before NumPy would allocate it. `limit` bounds the bytes of all arrays together
    (compressed members can expand; stored ones cannot exceed the file).
    """

    def __init__(
        self, path: Path, error: type[HandgradError], what: str, limit: int,
        unreadable: str = "not a readable .npz archive ({reason})",
    ) -> None:
        self.path, self.error = path, error
        self._stream = open_regular(path, error, what)
        try:
            self._zip = zipfile.ZipFile(self._stream)
            self.headers = self._read_headers(limit)
        except HandgradError:
            self.close()
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            self.close()
            raise error(f"{path}: {unreadable.format(reason=err)}") from None

    def _read_headers(self, limit: int) -> dict[str, ArrayHeader]:
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise self.error(f"{self.path}: {len(infos):,} arrays, more than an .npz file of"
                             f" handgrad's holds ({MAX_MEMBERS:,} at most)")
        size = os.fstat(self._stream.fileno()).st_size
        headers: dict[str, ArrayHeader] = {}
        total = 0
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise self.error(f"{self.path}: '{excerpt(info.filename)}' is not a NumPy array")
            key = info.filename[: -len(".npy")]
            if info.compress_type == zipfile.ZIP_STORED and info.file_size > size:
                raise self.error(f"{self.path}: array '{excerpt(key)}' claims more bytes than"
                                 " the file has (a truncated or damaged file)")
            with self._zip.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(
                        member, max_header_size=_HEADER_LIMIT)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(
                        member, max_header_size=_HEADER_LIMIT)
                else:
                    raise self.error(f"{self.path}: array '{excerpt(key)}' has .npy format"
                                     f" {version}, which handgrad does not read")
                offset = member.tell()
            if dtype.hasobject:
                raise self.error(f"{self.path}: array '{excerpt(key)}' holds Python objects"
                                 " (pickles), which handgrad never loads")
            nbytes = math.prod(shape) * dtype.itemsize  # Python ints: a lie cannot overflow
            if info.file_size != offset + nbytes:
                raise self.error(
                    f"{self.path}: array '{excerpt(key)}' claims shape {excerpt(shape)}"
                    f" ({nbytes:,} bytes of {dtype}) but holds {info.file_size - offset:,}"
                    " bytes (a damaged or forged file)")
            total += nbytes
            headers[key] = ArrayHeader(tuple(shape), dtype, nbytes)
        if total > limit:
            raise self.error(f"{self.path}: its arrays take {total:,} bytes, more than handgrad"
                             f" reads ({limit:,} at most)")
        return headers

    def load(self, key: str) -> np.ndarray:
        """The array `key`, whose header `headers[key]` the caller has accepted."""
        try:
            with self._zip.open(f"{key}.npy") as member:
                return np.lib.format.read_array(member, allow_pickle=False,
                                                max_header_size=_HEADER_LIMIT)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise self.error(f"{self.path}: array '{excerpt(key)}' cannot be read ({err})"
                             ) from None

    def close(self) -> None:
        if hasattr(self, "_zip"):
            self._zip.close()
        self._stream.close()

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def excerpt(value: object, limit: int = EXCERPT) -> str:
    """`value`'s str() as inert text of at most `limit` characters (`handgrad.text.shown`): a
    message quotes an excerpt of what a file holds, never all of it, never an escape sequence."""
    return shown(str(value), limit)
