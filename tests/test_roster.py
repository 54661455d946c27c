"""roster.py: a class roster read strictly, every bad line named, and written back as read."""

from __future__ import annotations

import pytest

from handgrad.errors import HandgradError
from handgrad.roster import RosterError, parse_roster, read_roster


def test_a_roster_with_names_emails_and_other_columns():
    roster = parse_roster(
        "\ufeffID, Name ,email,section\n"  # Excel's byte-order mark, a header in any case
        "s001,Ada Lovelace,ada@example.org,A\n"
        '\n'  # a blank line is not a student
        ' s002 ,"Turing,\n Alan",,B\n'  # a quoted name across two lines, an id with spaces
        "x-3.b_4\n"  # fewer cells than columns: the rest empty
    )
    assert [s.id for s in roster] == ["s001", "s002", "x-3.b_4"]
    assert roster.names() == {"s001": "Ada Lovelace", "s002": "Turing, Alan", "x-3.b_4": ""}
    assert roster.students[0].email == "ada@example.org"
    assert roster.extra_columns == ("section",)
    assert [s.extra for s in roster] == [("A",), ("B",), ("",)]
    assert [s.line for s in roster] == [2, 5, 6]


def test_the_copy_reads_back_as_the_same_roster():
    roster = parse_roster('id;name;group\ns1;"Lovelace, Ada";7\ns2;Zoë Ñúñez;8\n')  # ';' CSV
    copy = roster.to_csv()
    assert copy.splitlines()[0] == "id,name,email,group"
    again = parse_roster(copy)
    assert again.students == roster.students  # ids, names, emails, other cells and lines
    assert again.extra_columns == roster.extra_columns


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        ("name,email\nAda,a@x\n", ["line 1: no 'id' column", "'name', 'email'"]),
        ("id,name\n,Ada\n", ["line 2: the id is empty"]),
        ("id,name\ns1,Ada\ns2,Bob\ns1,Cy\n", ["line 4: duplicate id 's1' (also on line 2"]),
        ("id\ns1\nS1\n", ["line 3: an id that differs only in case 'S1'", "Windows and macOS"]),
        ("id\na/b\n", ["line 2: the id 'a/b' is not safe in a file name", "'/'"]),
        ("id\n..\n", ["line 2: the id '..' is not safe in a file name"]),
        ("id\n-rf\n", ["line 2: the id '-rf' is not safe", "starting with a letter or a digit"]),
        ("id\nAda Lovelace\n", ["line 2:", "(it has ' ')"]),
        ("id\n" + "x" * 65 + "\n", ["line 2:", "longer than 64 characters"]),
        ("id\nok\nCOM1\n", ["line 3: the id 'COM1' is a device name on Windows"]),
        ("id,name\ns1,Lovelace, Ada\n", ["line 2: 3 cells but the header names 2 columns",
                                         "quotes"]),
        ("id,name\n", ["no students"]),
        ("", ["the roster is empty", "id,name,email"]),
        ("id,id\ns1,s2\n", ["line 1: the column 'id' appears more than once"]),
    ],
)
def test_each_bad_roster_is_an_error_naming_its_line(text, messages):
    with pytest.raises(RosterError) as caught:
        parse_roster(text, "roster.csv")
    message = str(caught.value)
    assert message.startswith("roster.csv: "), message
    for part in messages:
        assert part in message, (part, message)
    assert isinstance(caught.value, HandgradError)  # the CLI's one-line error, exit 2


def test_every_bad_line_is_reported_at_once():
    with pytest.raises(RosterError) as caught:
        parse_roster("id\ns1\n\ns1\nbad id\ns2\n")
    assert caught.value.problems == [
        "line 4: duplicate id 's1' (also on line 2); every student needs an id of their own",
        "line 5: the id 'bad id' is not safe in a file name; use only letters, digits, '.', '_'"
        " and '-', starting with a letter or a digit (it has ' ')",
    ]


def test_roster_files_that_cannot_be_read(tmp_path):
    with pytest.raises(RosterError, match="does not exist"):
        read_roster(tmp_path / "missing.csv")
    with pytest.raises(RosterError, match="is a folder"):
        read_roster(tmp_path)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("id,name\ns1,Zoë\n".encode("latin-1"))
    with pytest.raises(RosterError, match="not UTF-8"):
        read_roster(latin1)
    good = tmp_path / "good.csv"
    good.write_text("id,name\ns1,Zoë\n", encoding="utf-8")
    assert read_roster(good).names() == {"s1": "Zoë"}


def test_a_name_with_control_characters_is_refused_with_its_line():
    # it would reach every exam sheet and the answer key raw (cat exam-A1.md cleared the screen)
    with pytest.raises(RosterError, match=r"line 3: .*holds control characters"):
        parse_roster("id,name\nA0,Ada\nA1,\u001b[2Jevil\n")
