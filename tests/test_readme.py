"""Every Python snippet of the README runs as written, in order, in one fresh process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_python_snippets() -> None:
    assert len(python_snippets()) >= 3


def test_every_python_snippet_of_the_readme_runs(tmp_path: Path) -> None:
    # one namespace, as a reader pasting the snippets one after another into one session
    program = "\n\n".join(python_snippets())
    (tmp_path / "snippets.py").write_text(program, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "snippets.py"], capture_output=True, text=True, cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
