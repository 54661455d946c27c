"""A Gradescope autograder zip: `setup.sh` and `run_autograder` at its root (Gradescope's
autograder specification), the vendored grader, and every variant.

Gradescope unpacks the zip into /autograder/source, runs setup.sh once when it builds the image
(here: NumPy, nothing else), and for each submission runs /autograder/run_autograder with the
student's files in /autograder/submission and /autograder/submission_metadata.json beside them;
it reads /autograder/results/results.json (`score`, `output`, `tests`: name, score, max_score,
output). `run_autograder` runs `handgrad.export.runtime` on it; AUTOGRADER_ROOT replaces
/autograder for testing anywhere else.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from handgrad.atomic import write_file
from handgrad.errors import HandgradError
from handgrad.export import Variant
from handgrad.export.vendor import vendored_files

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: NumPy is all
# handgrad's grader needs (the grader itself is in this zip, under handgrad/).
set -euo pipefail
apt-get install -y python3 python3-pip
python3 -m pip install numpy || python3 -m pip install --break-system-packages numpy
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission; it writes $ROOT/results/results.json.
# AUTOGRADER_ROOT replaces /autograder (to try the autograder outside Gradescope).
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export PYTHONPATH="$ROOT/source${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m handgrad.export.runtime "$ROOT"
"""


def _emails(variants: list[Variant]) -> dict[str, str]:
    """{roster id: email} from the roster beside a `--roster` set's problem files."""
    folders = {Path(v.problem.source).parent for v in variants}
    emails: dict[str, str] = {}
    for folder in folders:
        roster = folder / "roster.csv"
        if roster.is_file():
            from handgrad.roster import read_roster

            emails.update({s.id: s.email for s in read_roster(roster)})
    return emails


def variants_index(variants: list[Variant]) -> dict[str, Any]:
    """handgrad_variants.json: each variant's id, name, email and problem document."""
    if not variants:
        raise HandgradError("Gradescope export: no problems to export")
    from handgrad.export.runtime import set_title

    emails = _emails(variants)
    return {  # the set's title; each variant's report is headed by the variant's own title
        "title": set_title({v.id: v.problem.spec.title or "" for v in variants}),
        "tolerance": {"rtol": 1e-3, "decimals": "auto"},
        "variants": [{"id": v.id, "name": v.name, "email": emails.get(v.id, ""),
                      "problem": v.document} for v in variants],
    }


def archive(variants: list[Variant]) -> bytes:
    """The autograder zip's bytes (fixed timestamps: the same variants give the same zip)."""
    index = variants_index(variants)
    files: dict[str, str | bytes] = {
        "setup.sh": SETUP_SH,
        "run_autograder": RUN_AUTOGRADER,
        "handgrad_variants.json": json.dumps(index, indent=2, ensure_ascii=False) + "\n",
    }
    files.update(vendored_files(""))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            executable = name in ("setup.sh", "run_autograder")
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(info, content)
    return buffer.getvalue()


def write(variants: list[Variant], output: Path) -> Path:
    """Write the autograder zip `output` atomically (all of it or nothing)."""
    if output.suffix.lower() != ".zip":
        raise HandgradError(f"-o {output}: Gradescope takes the autograder as a .zip file")
    return write_file(output, archive(variants))
