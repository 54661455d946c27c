"""handgrad export --to moodle: the Moodle XML read back with Moodle's own rules.

The Cloze parser below is a line-for-line port of Moodle's (question/type/multianswer/
questiontype.php: ANSWER_REGEX, ANSWER_ALTERNATIVE_REGEX, NUMERICAL_ALTERNATIVE_REGEX and the
loop of qtype_multianswer_extract_question), so a blank it cannot find, a tolerance it cannot
read, or a title that breaks a sub-question fails here as it would on import. The seed's answers
are recomputed by hand in NumPy, not taken from the engine.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from handgrad.errors import HandgradError
from handgrad.export import Variant, load_variants
from handgrad.export.moodle import cloze_feedback, tolerance, write
from handgrad.generate import toml_text
from handgrad.problem import load_problem, read_document

GOLDEN = Path(__file__).parent / "golden" / "export"

# --- Moodle's Cloze syntax, ported from PCRE (Python wants one fixed width per lookbehind).
_FRACTION = r"=|%(-?[0-9]+(?:[.,][0-9]*)?)%"
_ANSWER = r".+?(?<!\\)(?<!&)(?<!&amp;)(?=[~#}]|$)"
_FEEDBACK = r".*?(?<!\\)(?=[~}]|$)"
_ALTERNATIVE = f"({_FRACTION})?({_ANSWER})(#({_FEEDBACK}))?"
_TYPES = (
    "(NUMERICAL|NM)|(MULTICHOICE|MC)|(MULTICHOICE_V|MCV)|(MULTICHOICE_H|MCH)|"
    "(SHORTANSWER|SA|MW)|(SHORTANSWER_C|SAC|MWC)|(MULTICHOICE_S|MCS)|(MULTICHOICE_VS|MCVS)|"
    "(MULTICHOICE_HS|MCHS)|(MULTIRESPONSE|MR)|(MULTIRESPONSE_H|MRH)|(MULTIRESPONSE_S|MRS)|"
    "(MULTIRESPONSE_HS|MRHS)"
)
ANSWER_REGEX = re.compile(
    r"\{([0-9]*):(" + _TYPES + "):(" + _ALTERNATIVE + "(~" + _ALTERNATIVE + r")*)\}", re.S
)
_NUMBER = r"-?(([0-9]+[.,]?[0-9]*|[.,][0-9]+)([eE][-+]?[0-9]+)?)"
NUMERICAL_ALTERNATIVE = re.compile(f"^({_NUMBER})(:{_NUMBER})?$", re.S)


def extract_cloze(text: str) -> list[dict[str, object]]:
    """Moodle's qtype_multianswer_extract_question: each sub-question's type, mark, answers."""
    found = []
    while match := ANSWER_REGEX.search(text):
        sub: dict[str, object] = {"mark": match.group(1) or "1",
                                  "numerical": bool(match.group(3)), "answers": []}
        remaining = match.group(16)
        while alt := re.search("~?" + _ALTERNATIVE, remaining, re.S):
            feedback = html.unescape(alt.group(5) or "").replace("\\}", "}").replace("\\#", "#")
            answer = alt.group(3)
            number = NUMERICAL_ALTERNATIVE.search(answer)
            assert sub["numerical"] and number, f"not a NUMERICAL answer: {match.group(0)!r}"
            sub["answers"].append({  # type: ignore[attr-defined]
                "correct": alt.group(1) == "=", "value": number.group(1),
                "tolerance": number.group(6), "feedback": feedback})
            remaining = remaining.split(alt.group(0), 1)[1]
        found.append(sub)
        text = text.replace(match.group(0), f"{{#{len(found)}}}", 1)
    return found


def homework3_by_hand() -> list[float]:
    """The seed (homework3.toml) worked in plain NumPy, every asked entry in the course's order."""
    W1 = np.array([[-5, 2, 2], [-5, 2, -1]], float)
    b1 = np.array([-3, -2, -3], float)
    W2 = np.array([[3, -4, 1], [-2, -4, -2], [-4, -2, 3]], float)
    b2 = np.array([4, 5, 5], float)
    x, y, eps, eta = np.array([0, 2], float), np.array([1, 0, 0], float), 0.3, 0.1
    h1 = W1.T @ x + b1  # h = W1ᵀx + b1 = (-13, 2, -5)
    a1 = np.maximum(h1, 0)  # (0, 2, 0)
    z = W2.T @ a1 + b2  # (0, -3, 1)
    yhat = np.exp(z) / np.exp(z).sum()
    ys = (1 - eps) * y + eps / 3  # (0.8, 0.1, 0.1)
    loss = -(ys * np.log(yhat)).sum()
    dz = yhat - ys  # softmax + cross-entropy, Σ yˢ = 1
    dW2, db2 = np.outer(a1, dz), dz
    da1 = W2 @ dz
    dh1 = da1 * (h1 > 0)
    dW1, db1 = np.outer(x, dh1), dh1
    order = [h1, a1, z, yhat, loss, dz, dW2, db2, da1, dh1, dW1, db1,
             W1 - eta * dW1, b1 - eta * db1, W2 - eta * dW2, b2 - eta * db2]
    return [float(v) for array in order for v in np.ravel(array)]


def questions(path: Path) -> list[ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "quiz"
    assert root[0].get("type") == "category"
    return [q for q in root if q.get("type") == "cloze"]


@pytest.fixture(scope="module")
def homework3() -> list[Variant]:
    return load_variants("homework3")


def test_every_blank_is_the_solvers_value_with_its_tolerance(tmp_path, homework3) -> None:
    (question,) = questions(write(homework3, tmp_path / "quiz.xml"))
    assert question.findtext("questiontext[@format='html']/text")
    subs = extract_cloze(question.findtext("questiontext/text") or "")
    asked = homework3[0].asked()
    solver = [float(v) for q in asked for v in np.ravel(q.value)]
    by_hand = homework3_by_hand()
    assert len(subs) == len(solver) == len(by_hand) == 13 + 30 + 21  # forward, backward, update
    for sub, value, hand in zip(subs, solver, by_hand, strict=True):
        assert sub["numerical"] and sub["mark"] == "1"
        (answer,) = sub["answers"]  # type: ignore[misc]
        assert answer["correct"]
        assert float(answer["value"]) == value  # exactly the solver's float
        assert float(answer["value"]) == pytest.approx(hand, abs=1e-12)
        assert answer["tolerance"] is not None
        assert float(answer["tolerance"]) == tolerance(value) >= 0.02
    labels = [sub["answers"][0]["feedback"] for sub in subs]  # type: ignore[index]
    assert labels[:3] == ["h1[1]", "h1[2]", "h1[3]"]
    assert "∂L&#x2F;∂W2[2, 1]" not in labels and "∂L/∂W2[2, 1]" in labels


def test_blanks_are_grouped_and_labelled_in_the_courses_order(tmp_path, homework3) -> None:
    (question,) = questions(write(homework3, tmp_path / "quiz.xml"))
    text = question.findtext("questiontext/text") or ""
    headings = re.findall(r"<h4>(.*?)</h4>", text)
    assert headings == ["Forward pass", "Backward pass", "Update"]
    assert r"\( \frac{\partial L}{\partial W_{2}} = " in text  # each table labelled in TeX
    assert r"\( x = \begin{bmatrix} 0 \\ 2 \end{bmatrix} \)" in text  # the given values
    assert r"\varepsilon = 0.3" in text and r"\eta = 0.1" in text
    # the statement in the homework's words, not the solver's conventions
    assert r"W_{1} \in \mathbb{R}^{d \times n}" in text
    for jargon in ("in_out", "fan_in", "subgradient"):
        assert jargon not in text
    feedback = question.findtext("generalfeedback[@format='html']/text") or ""
    assert "<h3>Worked solution: Homework 3, Problem 2</h3>" in feedback
    assert r"\[ \hat{y} = \operatorname{softmax}\left(z\right) = " in feedback
    assert question.findtext("name/text") == "Homework 3, Problem 2 · homework3"


def test_cloze_feedback_round_trips_every_special_character() -> None:
    text = 'A <&}#~"/\\ {1:NUMERICAL:=5} title'
    (sub,) = extract_cloze(f"before {{1:NUMERICAL:=1.5:0.02#{cloze_feedback(text)}}} after")
    (answer,) = sub["answers"]  # type: ignore[misc]
    assert (answer["value"], answer["tolerance"]) == ("1.5", "0.02")
    assert html.unescape(answer["feedback"]) == text  # Moodle shows the feedback as HTML


def test_a_hostile_title_is_escaped_for_xml_html_and_cloze(tmp_path) -> None:
    title = 'Net <&}#~" {1:NUMERICAL:=5} /\\ ]]> end'
    document = read_document(Path(load_variants("homework3")[0].problem.source))
    problem = tmp_path / "hostile.toml"
    problem.write_text(toml_text({**document, "title": title}), encoding="utf-8")
    variants = load_variants(problem)
    (question,) = questions(write(variants, tmp_path / "quiz.xml"))
    assert question.findtext("name/text") == f"{title} · hostile"
    text = question.findtext("questiontext/text") or ""
    subs = extract_cloze(text)
    assert len(subs) == sum(int(np.size(q.value)) for q in variants[0].asked())
    heading = re.search(r"<h3>(.*?)</h3>", text, re.S)
    assert heading and html.unescape(heading.group(1)) == f"{title} · hostile"
    feedback = question.findtext("generalfeedback/text") or ""
    assert html.unescape(feedback).count(title) == 1


def test_a_roster_folder_gives_one_question_per_student(tmp_path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\ns001,Ada Lovelace\ns002,Alan Turing\ns003,Grace Hopper\n",
                      encoding="utf-8")
    folder = tmp_path / "set"
    subprocess.run([sys.executable, "-m", "handgrad", "generate", "--roster", str(roster),
                    "--seed", "3", "--out", str(folder)], check=True, capture_output=True)
    variants = load_variants(folder)
    found = questions(write(variants, tmp_path / "quiz.xml"))
    assert [q.findtext("idnumber") for q in found] == ["s001", "s002", "s003"]
    names = [q.findtext("name/text") or "" for q in found]
    assert [n.split(" · ")[1:] for n in names] == [["s001"], ["s002"], ["s003"]]
    # every student of a quiz may see every question: the students' names appear nowhere
    assert "Lovelace" not in (tmp_path / "quiz.xml").read_text(encoding="utf-8")
    for question, variant in zip(found, variants, strict=True):
        values = [float(a["answers"][0]["value"])  # type: ignore[index]
                  for a in extract_cloze(question.findtext("questiontext/text") or "")]
        assert values == [float(v) for q in variant.asked() for v in np.ravel(q.value)]


def test_a_value_no_number_can_hold_is_refused_and_nothing_written(tmp_path, homework3) -> None:
    (variant,) = homework3
    solution = variant.solution
    broken = tuple(dataclasses.replace(q, value=np.full(np.shape(q.value), np.inf))
                   if q.key == "z" else q for q in solution.quantities)
    bad = dataclasses.replace(variant, solution=dataclasses.replace(solution, quantities=broken))
    out = tmp_path / "quiz.xml"
    with pytest.raises(HandgradError, match="z is not finite"):
        write([variant, bad], out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(HandgradError, match="no problems"):
        write([], out)


def test_golden_homework3(tmp_path, homework3) -> None:
    text = write(homework3, tmp_path / "quiz.xml").read_text(encoding="utf-8")
    golden = GOLDEN / "moodle-homework3.xml"
    if os.environ.get("HANDGRAD_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), "moodle-homework3.xml changed"


def _handgrad(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "handgrad", *args], cwd=cwd,
                          capture_output=True, text=True)


def test_cli_end_to_end(tmp_path) -> None:
    done = _handgrad("export", "homework3", "--to", "moodle", "-o", "x.xml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(questions(tmp_path / "x.xml")) == 1
    before = (tmp_path / "x.xml").read_bytes()
    again = _handgrad("export", "homework3", "--to", "moodle", "-o", "x.xml", cwd=tmp_path)
    assert again.returncode == 2
    assert "x.xml" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.stderr
    assert (tmp_path / "x.xml").read_bytes() == before
    forced = _handgrad("export", "homework3", "--to", "moodle", "-o", "x.xml", "--force",
                       cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr


def test_control_characters_in_a_title_leave_the_xml_readable(tmp_path) -> None:
    """XML 1.0 forbids them anywhere (CDATA too): one made Moodle's file unreadable."""
    document = load_problem("homework3").to_dict()
    document["title"] = "bell\u0007 esc\u001b[31m <&}#~\" {1:NUMERICAL:=5} ]]> end"
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    (question,) = questions(write(load_variants(path), tmp_path / "quiz.xml"))  # parses
    assert "bell esc[31m" in (question.findtext("name/text") or "")
    with pytest.raises(HandgradError, match=r"\.xml"):
        write(load_variants(path), tmp_path / "quiz.zip")
