"""atomic.py: every file write is all or nothing, never replaces a link or a special file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from handgrad.atomic import WriteError, atomic_write, write_file


def test_a_new_file_and_a_replaced_one(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    assert write_file(path, "one") == path
    write_file(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]  # no temporary left


def test_an_interrupted_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")

    def half(stream) -> None:
        stream.write(b"ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_link_is_written_through_and_kept(tmp_path: Path) -> None:
    target, link = tmp_path / "target.txt", tmp_path / "link.txt"
    target.write_text("old")
    link.symlink_to(target)
    write_file(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


@pytest.mark.parametrize("kind", ["folder", "fifo", "missing folder"])
def test_what_is_not_a_file_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "thing"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path = tmp_path / "nowhere" / "thing"
    with pytest.raises(WriteError) as caught:
        write_file(path, "x")
    assert str(path) in str(caught.value)
    if kind == "fifo":
        assert path.is_fifo()
