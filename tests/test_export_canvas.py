"""handgrad export --to canvas: the QTI 1.2 zip read back as Canvas's importer reads it.

The manifest names the assessment (type imsqti_xmlv1p2) and the meta file it depends on; each
numerical_question's answer is Canvas's "exact answer with a margin": the `<varequal>` value,
and margin = `<varlte>` − exact (computed in decimal, as numeric_interaction.rb does).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from handgrad.export import Variant, load_variants
from handgrad.export.canvas import write
from handgrad.export.moodle import tolerance
from tests.test_export_moodle import homework3_by_hand

GOLDEN = Path(__file__).parent / "golden" / "export" / "canvas-homework3"
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"
CANVAS = "{http://canvas.instructure.com/xsd/cccv1p0}"


def read_package(path: Path) -> tuple[dict[str, bytes], ET.Element, ET.Element, ET.Element]:
    """The zip's files, and its assessment and meta as the manifest points to them."""
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = ET.fromstring(files["imsmanifest.xml"])
    (qti,) = [r for r in manifest.iter(f"{CP}resource") if r.get("type") == "imsqti_xmlv1p2"]
    (href,) = [f.get("href") for f in qti.iter(f"{CP}file")]
    (dependency,) = qti.iter(f"{CP}dependency")
    (meta,) = [r for r in manifest.iter(f"{CP}resource")
               if r.get("identifier") == dependency.get("identifierref")]
    assessment = ET.fromstring(files[str(href)]).find(f"{QTI}assessment")
    assert assessment is not None
    return files, manifest, assessment, ET.fromstring(files[str(meta.get("href"))])


def meta_field(item: ET.Element, label: str) -> str | None:
    for field in item.iter(f"{QTI}qtimetadatafield"):
        if field.findtext(f"{QTI}fieldlabel") == label:
            return field.findtext(f"{QTI}fieldentry")
    return None


def answers(assessment: ET.Element) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(exact, margin, lower margin) of each numerical_question, in order."""
    found = []
    for item in assessment.iter(f"{QTI}item"):
        if meta_field(item, "question_type") != "numerical_question":
            continue
        condition = item.find(f".//{QTI}respcondition[@continue='No']/{QTI}conditionvar/{QTI}or")
        assert condition is not None
        exact = Decimal(condition.findtext(f"{QTI}varequal") or "nan")
        lower = Decimal(condition.findtext(f"{QTI}and/{QTI}vargte") or "nan")
        upper = Decimal(condition.findtext(f"{QTI}and/{QTI}varlte") or "nan")
        found.append((exact, upper - exact, exact - lower))
    return found


@pytest.fixture(scope="module")
def homework3() -> list[Variant]:
    return load_variants("homework3")


def test_manifest_items_and_answers(tmp_path, homework3) -> None:
    files, _, assessment, meta = read_package(write(homework3, tmp_path / "quiz.zip"))
    assert len(files) == 3
    assert meta.get("identifier") == assessment.get("ident")
    assert meta.findtext(f"{CANVAS}title") == assessment.get("title") == "Homework 3, Problem 2"
    found = answers(assessment)
    solver = [float(v) for q in homework3[0].asked() for v in np.ravel(q.value)]
    assert len(found) == len(solver) == 64
    assert meta.findtext(f"{CANVAS}points_possible") == "64.0"
    for (exact, margin, below), value, hand in zip(found, solver, homework3_by_hand(),
                                                   strict=True):
        assert float(exact) == value
        assert float(exact) == pytest.approx(hand, abs=1e-12)
        assert margin == below == Decimal(f"{tolerance(value):g}") > 0
    items = list(assessment.iter(f"{QTI}item"))
    assert meta_field(items[0], "question_type") == "text_only_question"
    assert items[1].get("title") == "Homework 3, Problem 2 · homework3 · h1[1]"
    assert items[-1].get("title") == "Homework 3, Problem 2 · homework3 · b2[3]"
    statement = items[0].findtext(f".//{QTI}mattext") or ""
    assert r"\( W_{2} = \begin{bmatrix}" in statement  # TeX for Canvas's MathJax
    feedback = items[1].find(f"{QTI}itemfeedback[@ident='general_fb']")
    assert feedback is not None and r"h_{1} = W_{1}^{\top}x + b_{1} = " in (
        feedback.findtext(f".//{QTI}mattext") or "")


def test_a_roster_folder_gives_one_question_per_student(tmp_path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\ns001,Ada Lovelace\ns002,Alan Turing\n", encoding="utf-8")
    folder = tmp_path / "set"
    subprocess.run([sys.executable, "-m", "handgrad", "generate", "--roster", str(roster),
                    "--seed", "4", "--out", str(folder)], check=True, capture_output=True)
    variants = load_variants(folder)
    _, _, assessment, _ = read_package(write(variants, tmp_path / "quiz.zip"))
    items = list(assessment.iter(f"{QTI}item"))
    statements = [i.get("title") for i in items
                  if meta_field(i, "question_type") == "text_only_question"]
    assert [s.split(" · ")[1:] for s in statements if s] == [["s001"], ["s002"]]
    # every student sees the whole quiz: the students' names appear nowhere in it
    with zipfile.ZipFile(tmp_path / "quiz.zip") as archive:
        assert not any(b"Lovelace" in archive.read(name) for name in archive.namelist())
    expected = [float(v) for variant in variants for q in variant.asked()
                for v in np.ravel(q.value)]
    assert [float(exact) for exact, _, _ in answers(assessment)] == expected


def test_golden_homework3(tmp_path, homework3) -> None:
    files, _, assessment, _ = read_package(write(homework3, tmp_path / "quiz.zip"))
    ident = assessment.get("ident")
    named = {"imsmanifest.xml": files["imsmanifest.xml"],
             "assessment.xml": files[f"{ident}/{ident}.xml"],
             "assessment_meta.xml": files[f"{ident}/assessment_meta.xml"]}
    for name, data in named.items():
        golden = GOLDEN / name
        if os.environ.get("HANDGRAD_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(data)
        assert data.decode("utf-8") == golden.read_text(encoding="utf-8"), f"{name} changed"


def test_same_export_same_bytes_and_cli(tmp_path, homework3) -> None:
    assert (write(homework3, tmp_path / "a.zip").read_bytes()
            == write(homework3, tmp_path / "b.zip").read_bytes())
    done = subprocess.run([sys.executable, "-m", "handgrad", "export", "homework3", "--to",
                           "canvas", "-o", "q.zip"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "q.zip").read_bytes() == (tmp_path / "a.zip").read_bytes()
    again = subprocess.run([sys.executable, "-m", "handgrad", "export", "homework3", "--to",
                            "canvas", "-o", "q.zip"], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr
