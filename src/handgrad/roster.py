"""A class roster: the CSV file that names the students, one row each (`id`, optional `name`
and `email`; any other column is kept and otherwise ignored).

Read strictly, because a student's id becomes part of their file names (`problem-<id>.toml`,
`exam-<id>.md`) and the key that pairs an answer file with its variant: an empty, duplicate or
unsafe id is an error naming its line, and every such line is reported at once so that one
pass fixes the file. Ids that differ only in case are duplicates too: on Windows and macOS they
would name the same file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handgrad.errors import ProblemError
from handgrad.text import quoted, shown

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
ID_RULE = "letters, digits, '.', '_' and '-', starting with a letter or a digit"
MAX_ID_LENGTH = 64  # file names stay well under every file system's limit of 255 bytes
MAX_STUDENTS = 10_000
MAX_ROSTER_BYTES = 5_000_000
MAX_LISTED = 20  # problems listed in one message; the rest are counted
# Windows refuses these as file names whatever the extension, and an answer file is <id>.toml
RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
            *(f"lpt{i}" for i in range(1, 10))}
KNOWN_COLUMNS = ("id", "name", "email")


class RosterError(ProblemError):
    """A roster that cannot be used, with every problem in it, each naming its line."""


@dataclass(frozen=True)
class Student:
    """One row of the roster."""

    id: str
    name: str = ""
    email: str = ""
    line: int = 0  # the line of the roster file the row ends on (1 is the header)
    extra: tuple[str, ...] = ()  # the other columns' cells, in the order of Roster.extra_columns


@dataclass(frozen=True)
class Roster:
    """The students in the file's order, and the names of the columns kept beside id, name and
    email."""

    students: tuple[Student, ...]
    extra_columns: tuple[str, ...] = ()
    source: str = "roster"

    def __iter__(self) -> Iterator[Student]:
        return iter(self.students)

    def __len__(self) -> int:
        return len(self.students)

    def names(self) -> dict[str, str]:
        """{id: name} for every student ('' where the roster gives no name)."""
        return {student.id: student.name for student in self.students}

    def to_csv(self) -> str:
        """The roster as a plain CSV (comma-separated, UTF-8, a header of id, name, email and
        the other columns), which `read_roster` reads back as the same roster."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow((*KNOWN_COLUMNS, *self.extra_columns))
        for student in self.students:
            writer.writerow((student.id, student.name, student.email, *student.extra))
        return buffer.getvalue()


def read_roster(path: str | Path) -> Roster:
    """Read and check a roster file; raises RosterError naming the file and each bad line."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        reason = "is a folder, not a file" if path.is_dir() else "the file does not exist"
        raise RosterError([reason + " (give a CSV file with a column id)"], name)
    if path.stat().st_size > MAX_ROSTER_BYTES:
        raise RosterError([f"larger than {MAX_ROSTER_BYTES:,} bytes: not a class roster"], name)
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError:
        raise RosterError(
            ["not UTF-8 text; save the roster as CSV UTF-8 (in Excel: CSV UTF-8)"], name
        ) from None
    except OSError as error:
        raise RosterError([f"cannot be read: {error.strerror}"], name) from None
    return parse_roster(text, name)


def parse_roster(text: str, source: str = "roster") -> Roster:
    """A roster from CSV text whose first line names the columns (`id` required)."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise RosterError(["the roster is empty; its first line must name the columns, e.g."
                           " id,name,email"], source)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = [cell.strip() for cell in next(reader)]
        columns = {cell.lower(): index for index, cell in reversed(list(enumerate(header)))}
        problems = _header_problems(header, columns)
        if problems:
            raise RosterError(problems, source)
        students = _students(reader, header, columns, problems)
    except csv.Error as error:
        raise RosterError([f"line {reader.line_num}: not valid CSV ({error})"], source) from None
    if not problems and not students:
        problems.append("no students: the roster has a header but no rows")
    if problems:
        listed = problems[:MAX_LISTED]
        if len(problems) > MAX_LISTED:
            listed.append(f"… and {len(problems) - MAX_LISTED} more")
        raise RosterError(listed, source)
    extra = tuple(cell for cell in header if cell.lower() not in KNOWN_COLUMNS)
    return Roster(tuple(students), extra, source)


def _delimiter(text: str) -> str:
    """',' unless the header line uses ';' (Excel in many European locales) or a tab instead."""
    first = text.splitlines()[0]
    for candidate in (",", ";", "\t"):
        if candidate in first:
            return candidate
    return ","


def _header_problems(header: list[str], columns: dict[str, int]) -> list[str]:
    if "id" not in columns:
        found = ", ".join(quoted(cell) for cell in header if cell) or "nothing"
        return [f"line 1: no 'id' column (the header names {found}); the first line must name"
                " the columns, e.g. id,name,email"]
    problems = []
    for known in KNOWN_COLUMNS:
        if sum(cell.lower() == known for cell in header) > 1:
            problems.append(f"line 1: the column '{known}' appears more than once")
    return problems


def _students(
    reader: Any, header: list[str], columns: dict[str, int], problems: list[str]
) -> list[Student]:
    """The rows of a csv.reader (its line_num names each row's line), checked."""
    students: list[Student] = []
    first_line: dict[str, tuple[int, str]] = {}  # casefolded id -> (line, id as written)
    extra_at = [i for i, cell in enumerate(header) if cell.lower() not in KNOWN_COLUMNS]
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # a blank line (a trailing one, or a spacer) is not a student
        if len(students) >= MAX_STUDENTS:
            problems.append(f"line {line}: more than {MAX_STUDENTS:,} students: not one class")
            break
        if len(row) > len(header):
            problems.append(
                f"line {line}: {len(row)} cells but the header names {len(header)} columns"
                ' (a comma inside a name? put the name in quotes: "Lovelace, Ada")'
            )
            continue
        cells = [cell.strip() for cell in row] + [""] * (len(header) - len(row))

        def cell(column: str, cells: list[str] = cells) -> str:
            return cells[columns[column]] if column in columns else ""

        student_id = cell("id")
        problem = _id_problem(student_id)
        if problem:
            problems.append(f"line {line}: {problem}")
            continue
        key = student_id.casefold()
        if key in first_line:
            earlier, written = first_line[key]
            same = "duplicate id" if written == student_id else "an id that differs only in case"
            problems.append(
                f"line {line}: {same} {quoted(student_id)} (also on line {earlier}"
                + ("" if written == student_id else f" as {quoted(written)}: they would name"
                   " the same file on Windows and macOS")
                + "); every student needs an id of their own"
            )
            continue
        first_line[key] = (line, student_id)
        extra = tuple(cells[i] for i in extra_at)
        # a name quoted across lines in the CSV is still one line on a sheet
        name, email = " ".join(cell("name").split()), " ".join(cell("email").split())
        unprintable = next((t for t in (name, email) if shown(t, len(t) + 1) != t), None)
        if unprintable is not None:  # an escape sequence would reach every sheet and terminal
            problems.append(f"line {line}: {quoted(unprintable)} holds control characters")
            continue
        students.append(Student(student_id, name, email, line, extra))
    return students


def _id_problem(student_id: str) -> str:
    """'' for an id that is safe in a file name, else what is wrong with it."""
    if not student_id:
        return "the id is empty; every student needs an id (it names their files)"
    if len(student_id) > MAX_ID_LENGTH:
        return f"the id {quoted(student_id)} is longer than {MAX_ID_LENGTH} characters"
    if not ID_PATTERN.match(student_id):
        return (f"the id {quoted(student_id)} is not safe in a file name; use only {ID_RULE}"
                f"{_offending(student_id)}")
    if student_id.split(".")[0].casefold() in RESERVED:
        return (f"the id {quoted(student_id)} is a device name on Windows ({student_id}.toml"
                " cannot be a file there); add a letter or a digit")
    return ""


def _offending(student_id: str) -> str:
    bad = sorted({c for c in student_id if not re.match(r"[A-Za-z0-9._-]", c)})
    if not bad:
        return ""  # only the first character is wrong ('.', '_' or '-')
    return " (it has " + ", ".join(quoted(c) for c in bad[:5]) + ")"
