"""generate --roster: a variant per student drawn from (seed, id) alone, never two alike; the
class folder written whole or not at all; exam sheets in the course's words."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess

import numpy as np
import pytest

from handgrad import generate as generating
from handgrad.errors import HandgradError
from handgrad.generate import GenerateSettings, generate_class, hand_friendly, write_class
from handgrad.grade import grade_file
from handgrad.problem import load_problem, validate_problem
from handgrad.roster import parse_roster
from tests.test_fuzz import run_in_process
from tests.test_grade import _cli

JARGON = ("in_out", "out_in", "layout", "fused", "reduction", "fan_in", "fan_out",
          "together:", "subgradient")


def roster_of(*ids: str, names: dict[str, str] | None = None):
    names = names or {}
    text = io.StringIO()
    csv.writer(text).writerows([("id", "name"), *((i, names.get(i, "")) for i in ids)])
    return parse_roster(text.getvalue())


def variants(roster, **settings) -> dict[str, dict]:
    return {v.student.id: v.document for v in generate_class(roster, GenerateSettings(**settings))}


def numbers_of(document: dict) -> str:
    """A variant's given numbers (x, y, the parameters): students who share them share a
    forward pass, whatever their ε or η."""
    return json.dumps([document["params"], document["data"]], sort_keys=True)


# ------------------------------------------------------------------------------ drawing


def test_adding_or_removing_a_student_changes_nobody_elses_variant():
    ids = [f"s{i:03d}" for i in range(20)]
    before = variants(roster_of(*ids), seed=5)
    after = variants(roster_of(*ids[:10], "newcomer", *ids[10:], "late-2"), seed=5)
    fewer = variants(roster_of(*ids[::2]), seed=5)
    shuffled = variants(roster_of(*reversed(ids)), seed=5)
    for student in ids:
        assert after[student] == before[student], student
        assert shuffled[student] == before[student], student
    for student in ids[::2]:
        assert fewer[student] == before[student], student


def test_each_variant_is_drawn_from_the_seed_and_the_id_as_documented():
    # a student alone in a class draws from default_rng(SHA-256 of "seed:id"): the first
    # well-posed draw of that generator, computed here without generate_class
    (alone,) = generate_class(roster_of("ada"), GenerateSettings(seed=11))
    digest = hashlib.sha256(b"11:ada").digest()
    rng = np.random.default_rng(int.from_bytes(digest, "big"))
    settings = GenerateSettings(seed=11)
    while True:
        document = generating._draw(rng, settings, "Variant ada", generating.HOMEWORK_KIND)
        if not hand_friendly(validate_problem(document, "ada")):
            break
    assert alone.document == document


def test_different_ids_and_seeds_give_different_variants():
    ids = [f"student{i}" for i in range(40)]
    drawn = variants(roster_of(*ids), seed=1)
    assert len({numbers_of(d) for d in drawn.values()}) == 40
    other_seed = variants(roster_of(*ids), seed=2)
    assert sum(drawn[i] != other_seed[i] for i in ids) >= 39
    for document in drawn.values():
        assert hand_friendly(validate_problem(document, "v")) == []


def test_a_collision_is_redrawn_by_the_student_whose_id_hashes_higher():
    # a tiny space (a 1-1-2 network, values in -1..1, one ε and η: 832 well-posed variants)
    # makes collisions likely among 60 students; this seed has some
    settings = {"seed": 3, "layers": (1, 1, 2), "low": -1, "high": 1, "epsilons": (0.1,),
                "learning_rates": (0.1,)}
    ids = [f"s{i}" for i in range(60)]
    together = variants(roster_of(*ids), **settings)
    assert len({numbers_of(d) for d in together.values()}) == 60  # never two alike
    alone = {i: variants(roster_of(i), **settings)[i] for i in ids}
    moved = [i for i in ids if together[i] != alone[i]]
    assert moved, "no collision: the test needs a smaller space"
    rank = {i: hashlib.sha256(f"3:{i}".encode()).digest() for i in ids}
    for student in moved:
        # someone hashing lower kept the variant this student drew first
        keepers = [i for i in ids if numbers_of(together[i]) == numbers_of(alone[student])]
        assert len(keepers) == 1 and rank[keepers[0]] < rank[student], student
    for student in set(ids) - set(moved):
        assert together[student] == alone[student]


def test_too_few_variants_for_the_class_is_a_clear_error():
    settings = GenerateSettings(layers=(1, 1, 2), low=-1, high=1, max_draws=30)
    with pytest.raises(HandgradError, match="fewer well-posed variants than the class"):
        generate_class(roster_of(*(f"s{i}" for i in range(400))), settings)


# -------------------------------------------------------------------------- the folder

NAMES = {"s001": "Ada Lovelace", "s002": "Turing, Alan", "x-3": "Zoë Ñúñez"}


def write(folder, output_format="markdown", force=False, seed=2026, **settings):
    roster = roster_of(*NAMES, names=NAMES)
    drawn = generate_class(roster, GenerateSettings(seed=seed, **settings))
    return write_class(drawn, roster, folder, output_format, force)


def test_the_folder_for_a_roster(tmp_path):
    written = write(tmp_path / "class")
    names = sorted(p.name for p in (tmp_path / "class").iterdir())
    assert names == sorted(p.name for p in written)
    expected = {"roster.csv", "answer-key.md"}
    for student in NAMES:
        expected |= {f"problem-{student}.toml", f"answer-{student}.json", f"exam-{student}.md"}
    assert set(names) == expected
    assert (tmp_path / "class" / "roster.csv").read_text() == (
        'id,name,email\ns001,Ada Lovelace,\ns002,"Turing, Alan",\nx-3,Zoë Ñúñez,\n'
    )
    key = (tmp_path / "class" / "answer-key.md").read_text()
    assert all(f"## {i} · {n}" in key for i, n in NAMES.items())
    for student in NAMES:  # each key is its variant's worked answer: it grades as all correct
        problem = load_problem(tmp_path / "class" / f"problem-{student}.toml")
        report = grade_file(problem, tmp_path / "class" / f"answer-{student}.json")
        assert report.summary["correct"] == 18, student
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    latex = write(tmp_path / "tex", "latex")
    assert {p.name for p in latex} == expected | {f"exam-{s}.tex" for s in NAMES} | {
        "answer-key.tex"}
    as_json = write(tmp_path / "json", "json")
    assert {p.name for p in as_json} == {n for n in expected if not n.endswith(".md")}


def test_the_same_seed_gives_byte_identical_files(tmp_path):
    write(tmp_path / "one", activations=("relu", "tanh"), batch=2)
    write(tmp_path / "two", activations=("relu", "tanh"), batch=2)
    one = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert one == sorted(p.name for p in (tmp_path / "two").iterdir())
    for name in one:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_a_failure_midway_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    from handgrad.render import exam

    calls = []
    real = exam.exam_markdown

    def failing(sheet):
        calls.append(sheet.student_id)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second sheet is written
        return real(sheet)

    monkeypatch.setattr(exam, "exam_markdown", failing)
    with pytest.raises(KeyboardInterrupt):
        write(tmp_path / "class")
    assert list(tmp_path.iterdir()) == []  # no class folder, no staging folder
    monkeypatch.setattr(exam, "exam_markdown", real)
    write(tmp_path / "class")
    before = {p.name: p.read_bytes() for p in (tmp_path / "class").iterdir()}
    calls.clear()
    monkeypatch.setattr(exam, "exam_markdown", failing)
    with pytest.raises(KeyboardInterrupt):
        write(tmp_path / "class", force=True, seed=7)
    assert {p.name: p.read_bytes() for p in (tmp_path / "class").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["class"]


def test_a_non_empty_folder_is_refused_unless_forced_and_never_emptied(tmp_path):
    write(tmp_path / "class", seed=1)
    first = (tmp_path / "class" / "problem-s001.toml").read_text()
    with pytest.raises(HandgradError, match=r"is not empty .* --force"):
        write(tmp_path / "class", seed=2)
    assert (tmp_path / "class" / "problem-s001.toml").read_text() == first
    (tmp_path / "class" / "exam-gone.md").write_text("a student no longer on the roster")
    write(tmp_path / "class", force=True, seed=2)
    assert (tmp_path / "class" / "problem-s001.toml").read_text() != first
    assert not (tmp_path / "class" / "exam-gone.md").exists()  # replaced as a whole
    (tmp_path / "class" / "notes.txt").write_text("mine")
    with pytest.raises(HandgradError, match=r"did not write \(notes.txt\)"):
        write(tmp_path / "class", force=True, seed=3)
    assert (tmp_path / "class" / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("")
    with pytest.raises(HandgradError, match="is a file"):
        write(tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    write(empty)
    assert (empty / "roster.csv").exists()


# ------------------------------------------------------------------------ the exam sheet


def hand_in_rows(sheet: str) -> list[tuple[str, str]]:
    """(name, shape) of each row of the sheet's hand-in tables."""
    rows = [line for line in sheet.splitlines() if line.startswith("| ") and "`" in line]
    return [(row.split("`")[1], row.split("|")[4].strip()) for row in rows]


def sheet_for(tmp_path, student="s002", **settings) -> str:
    write(tmp_path / "class", **settings)
    return (tmp_path / "class" / f"exam-{student}.md").read_text()


def test_an_exam_sheet_names_the_student_the_problem_and_what_to_hand_in(tmp_path):
    sheet = sheet_for(tmp_path)
    problem = load_problem(tmp_path / "class" / "problem-s002.toml")
    assert "**Name:** Turing, Alan · **Student id:** s002" in sheet
    assert "Name your answer file **s002.toml**" in sheet
    # the course's language: h = W1ᵀx + b1 and W1 is d × n, with the sizes
    assert r"h_{1} = W_{1}^{\top} x + b_{1} \in \mathbb{R}^{n}" in sheet
    assert r"$W_{1} \in \mathbb{R}^{d \times n}$ (2 × 3)" in sheet
    assert r"y^{s}_i = (1 - \varepsilon) y_i + \frac{\varepsilon}{q}" in sheet
    eps = problem.spec.loss.label_smoothing
    assert f"\\varepsilon = {eps:g}$" in sheet
    assert f"\\eta = {problem.spec.optimizer.learning_rate:g}$" in sheet
    w1 = " \\\\ ".join(" & ".join(f"{v:g}" for v in row) for row in problem.params["W1"])
    assert f"W_{{1}} = \\begin{{bmatrix}} {w1} \\end{{bmatrix}}" in sheet
    rows = [line for line in sheet.splitlines() if line.startswith("| ") and "`" in line]
    assert hand_in_rows(sheet) == [
        ("forward.h1", "3"), ("forward.a1", "3"), ("forward.z", "3"), ("forward.yhat", "3"),
        ("forward.ys", "3"), ("forward.loss", "number"), ("backward.dz", "3"),
        ("backward.dW2", "3 × 3"), ("backward.db2", "3"), ("backward.da1", "3"),
        ("backward.dh1", "3"), ("backward.dW1", "2 × 3"), ("backward.db1", "3"),
        ("update.W1", "2 × 3"), ("update.b1", "3"), ("update.W2", "3 × 3"),
        ("update.b2", "3"), ("update.loss", "number"),
    ]
    assert [r.split("`")[1] for r in rows if "(optional)" in r] == ["forward.ys", "update.loss"]
    assert all(r.rstrip().endswith("| |") for r in rows)  # the answer column is left blank
    assert "## Your work" in sheet
    assert not [word for word in JARGON if word in sheet]
    assert "ŷ − yˢ" not in sheet and r"\hat{y} - y^{s}" not in sheet  # no answer given away


def test_sheets_of_other_kinds_speak_the_same_language(tmp_path):
    sheet = sheet_for(tmp_path, layouts=("out_in",), batch=2, smoothings=("others",),
                      activations=("tanh",), steps=2)
    assert r"h_{1} = W_{1} x + b_{1}" in sheet and r"\mathbb{R}^{n \times d}$ (3 × 2)" in sheet
    assert "the loss is averaged over the B instances" in sheet
    assert r"L = \frac{1}{B} \sum_{b=1}^{B} L_b" in sheet
    assert r"\frac{\varepsilon (1 - y_i)}{q - 1}" in sheet and "every other class" in sheet
    assert r"\tanh(h) = " in sheet and "2 steps of gradient descent" in sheet
    shapes = dict(hand_in_rows(sheet))  # a batch: one row per instance
    assert shapes["forward.h1"] == "2 × 3" and shapes["forward.yhat"] == "2 × 3"
    assert shapes["forward.losses"] == "2" and shapes["backward.dW1"] == "3 × 2"  # as W1
    assert "### After 2 steps" in sheet and "mean" not in sheet
    assert not [word for word in JARGON if word in sheet]
    regression = sheet_for(tmp_path / "r", outputs=("identity",), activations=("identity",))
    assert r"\hat{y} = z" in regression and r"\tfrac{1}{2} \sum_{i=1}^{q}" in regression
    assert "no activation function" in regression and "cross-entropy" not in regression


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")
def test_pdf_sheets_compile_and_carry_the_student(tmp_path):
    written = write(tmp_path / "class", "pdf")
    pdfs = sorted(p.name for p in written if p.suffix == ".pdf")
    assert pdfs == ["answer-key.pdf", "exam-s001.pdf", "exam-s002.pdf", "exam-x-3.pdf"]
    data = (tmp_path / "class" / "exam-s001.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "class" / "exam-s001.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout
        for part in ("Ada Lovelace", "s001", "backward.dW2", "Your work", "Hand in"):
            assert part in text, part


# --------------------------------------------------------------------- the command line


def handgrad_in_process(capsys, *args: str) -> tuple[int, str]:
    """The command line in this process (a subprocess costs half a second): status, stderr."""
    code, _, err = run_in_process(capsys, list(args))
    return code, err


def test_generate_roster_cli(tmp_path):
    (tmp_path / "roster.csv").write_text("id,name\ns1,Ada\ns2,Bob\n")
    done = _cli("generate", "--roster", "roster.csv", "--seed", "4", "--out", "class",
                "-f", "latex", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote 11 files for 2 students to class/" in done.stderr
    assert (tmp_path / "class" / "exam-s2.tex").exists()


def test_generate_roster_cli_errors_name_the_problem_and_write_nothing(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roster.csv").write_text("id,name\ns1,Ada\ns2,Bob\n")
    assert handgrad_in_process(capsys, "generate", "--roster", "roster.csv", "--out", "class",
                               "-f", "json")[0] == 0
    code, err = handgrad_in_process(capsys, "generate", "--roster", "roster.csv", "--out",
                                    "class")
    assert code == 2 and "--out class: is not empty" in err and "--force" in err
    (tmp_path / "bad.csv").write_text("id,name\ns1,Ada\ns1,Bob\n,Cy\n")
    for args, message in [
        (("--roster", "bad.csv"), "line 3: duplicate id 's1' (also on line 2"),
        (("--roster", "bad.csv"), "line 4: the id is empty"),
        (("--roster", "missing.csv"), "missing.csv: the file does not exist"),
        (("--roster", "roster.csv", "-k", "3"), "--count: with --roster"),
        (("--force",), "--force: applies only with --roster"),
        (("--roster", "roster.csv", "--output", "sigmoid", "--loss", "cross_entropy"),
         "cross-entropy compares probabilities"),
    ]:
        code, err = handgrad_in_process(capsys, "generate", *args, "--out", "new")
        assert code == 2 and message in err, (args, err)
        assert err.startswith("handgrad: error: ") and "Traceback" not in err
        assert not (tmp_path / "new").exists()
