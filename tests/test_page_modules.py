"""The playground page's ES modules, unit-tested with Node's own runner (`node --test tests/js/`),
run here so that the README's one test command runs them too."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_page_modules_pass_their_node_tests() -> None:
    result = subprocess.run(
        ["node", "--test", "tests/js/"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    passed = re.search(r"^# pass (\d+)", output, re.M)
    failed = re.search(r"^# fail (\d+)", output, re.M)
    assert passed and int(passed.group(1)) >= 30, output[-2000:]
    assert failed and int(failed.group(1)) == 0
