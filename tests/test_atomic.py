"""atomic.py: every file write is all or nothing, never replaces a link or a special file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from handgrad.atomic import FolderWriteError, WriteError, atomic_write, write_file, write_folder


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


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _writer(files: dict[str, bytes]):
    def write(staging: Path) -> None:
        for name, data in files.items():
            write_file(staging / name, data)
    return write


def test_write_folder_makes_a_new_folder_with_a_plain_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        out = write_folder(tmp_path / "out", _writer({"a": b"1", "b": b"2"}))
    finally:
        os.umask(umask)
    assert out == tmp_path / "out" and _tree(out) == {"a": b"1", "b": b"2"}
    assert out.stat().st_mode & 0o777 == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no hidden folder left


def test_write_folder_replaces_only_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_folder(out, _writer({"old": b"old"}))
    with pytest.raises(FolderWriteError) as refused:
        write_folder(out, _writer({"new": b"new"}))  # no `replace`: refused
    assert refused.value.reason.startswith("cannot write (")
    assert _tree(out) == {"old": b"old"}

    def refuse(folder: Path) -> None:
        raise ValueError(f"{folder} holds foreign files")

    with pytest.raises(ValueError, match="foreign"):
        write_folder(out, _writer({"new": b"new"}), replace=refuse)
    assert _tree(out) == {"old": b"old"}
    seen: list[Path] = []
    write_folder(out, _writer({"new": b"new"}), replace=seen.append)
    assert seen == [out] and _tree(out) == {"new": b"new"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_interrupted_write_leaves_the_earlier_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_folder(out, _writer({"a": b"1", "b": b"2"}))
    before = _tree(out)

    def interrupted(staging: Path) -> None:
        write_file(staging / "a", b"changed")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_folder(out, interrupted, replace=lambda folder: None)
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_interruption_after_moving_aside_puts_it_back(tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    write_folder(out, _writer({"a": b"1"}))
    before = _tree(out)
    real_rename, calls = os.rename, []

    def rename(source, target) -> None:
        calls.append((Path(source).name, Path(target).name))
        if len(calls) == 3:  # staging refused, the earlier folder moved aside; now staging in
            raise KeyboardInterrupt
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        write_folder(out, _writer({"a": b"2"}), replace=lambda folder: None)
    assert calls[1][0] == "out" and calls[1][1].endswith(".old")
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
