"""The examples in the README and in docstrings run and give what they show."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import bridge
import bridge.convolution

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module", [bridge, bridge.convolution], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_readme_python_examples():
    result = doctest.testfile(
        str(ROOT / "README.md"), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow
def test_readme_first_command_runs_the_example_job(tmp_path):
    """The README's first command, minus its pip install (the suite runs installed)."""
    import shlex
    import subprocess
    import sys

    lines = (ROOT / "README.md").read_text().splitlines()
    command = next(line.strip() for line in lines if "-m bridge examples/" in line)
    steps = [shlex.split(step) for step in command.split("&&")]
    assert steps[0][:4] == ["python3", "-m", "pip", "install"]
    out = tmp_path / "blurred.mat"
    for step in steps[1:]:
        argv = [sys.executable if a == "python3" else a for a in step]
        argv = [str(out) if a == "/tmp/blurred.mat" else a for a in argv]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    import scipy.io

    C = scipy.io.loadmat(out)["C"]
    job = scipy.io.loadmat(ROOT / "examples" / "blur" / "in.mat")
    assert C.shape == job["A"].shape  # 'same'
    np.testing.assert_allclose(C, bridge.conv2(job["A"], job["B"], "same"), rtol=0, atol=0)
    assert "C " in done.stdout and "double" in done.stdout  # what 'bridge vars' listed
