"""Every command of examples/README.md runs, and its result is what MATLAB would compute.

The commands run verbatim with bash, in a copy of examples/ (so that the outputs land in a temporary
folder) beside links to bridge/ and matlab/, with ``python3`` meaning this interpreter and the
checkout importable. seed.m is the seed scenario end to end: fprintf -> in.txt ->
``system('python3 -m bridge in.txt out.txt')`` -> load out.txt -> compare with conv.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import bridge
from bridge import _formats as formats
from tests.octave import octave_cli

pytestmark = pytest.mark.slow  # the README's commands, run in a shell
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
README = (EXAMPLES / "README.md").read_text()
COMMANDS = re.findall(r"```sh\n(.*?)```", README, re.S)
COMMANDS = [line for block in COMMANDS for line in block.splitlines() if line.strip()]
OCTAVE_LINE = re.compile(r"^octave-cli ")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A copy of examples/ next to links to the checkout's bridge/ and matlab/."""
    root = tmp_path_factory.mktemp("examples")
    shutil.copytree(EXAMPLES, root / "examples")
    for name in ("bridge", "matlab"):
        (root / name).symlink_to(ROOT / name)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    # A script, not a link: a link to a venv's python would lose the venv.
    (bin_dir / "python3").write_text(f"#!/bin/sh\nexec '{sys.executable}' \"$@\"\n")
    (bin_dir / "python3").chmod(0o755)
    return root


def run_command(workspace: Path, command: str) -> subprocess.CompletedProcess:
    if OCTAVE_LINE.match(command):
        octave_cli()  # skips without Octave (fails under BRIDGE_REQUIRE_OCTAVE)
        command = command.replace("octave-cli ", "octave-cli --norc --quiet ", 1)
    env = dict(os.environ)
    env["PATH"] = f"{workspace / 'bin'}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(ROOT)
    env["BRIDGE_PYTHON"] = sys.executable
    env["TMPDIR"] = str(workspace)  # the wrappers' temporary folders must all be gone after
    return subprocess.run(
        ["bash", "-c", command],
        cwd=workspace,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_readme_lists_a_command_for_every_example():
    for folder in ("signal", "blur", "volume", "matlab", "photo", "cnn"):
        assert any(f"examples/{folder}/" in c for c in COMMANDS), folder


@pytest.mark.parametrize("command", COMMANDS)
def test_example_command_runs(workspace, command):
    done = run_command(workspace, command)
    assert done.returncode == 0, done.stdout + done.stderr
    stray = [
        p.name for p in workspace.iterdir() if p.name not in ("bin", "bridge", "examples", "matlab")
    ]
    assert stray == [], "temporary files left behind"


def _read(path: Path, **options) -> dict[str, np.ndarray]:
    variables, _ = formats.read(path, **options)
    return {name: var.array() for name, var in variables.items()}


def result_of(workspace: Path, name: str, **options) -> tuple[dict, np.ndarray]:
    """(inputs, result C) of one example, running its command first if needed."""
    folder = workspace / "examples" / name
    outputs = list(folder.glob("out.*"))
    if not outputs:
        for command in COMMANDS:
            if f"examples/{name}/out." in command:
                assert run_command(workspace, command).returncode == 0
        outputs = list(folder.glob("out.*"))
    (inp,) = [p for p in folder.glob("in.*")]
    return _read(inp, **options), _read(outputs[0], **options)["C"]


def test_signal_result_is_conv_same(workspace):
    inputs, got = result_of(workspace, "signal")
    np.testing.assert_array_equal(got, bridge.conv(inputs["u"], inputs["v"], "same"))
    assert got.shape == (1, 24)


def test_blur_result_is_conv2_same(workspace):
    inputs, got = result_of(workspace, "blur")
    assert got.shape == inputs["A"].shape == (32, 32)
    np.testing.assert_array_equal(got, bridge.conv2(inputs["A"], inputs["B"], "same"))
    # The bright square's corner is softened: a blur, not an identity.
    assert got[8, 6] < inputs["A"][8, 6] == 1.0


def test_volume_result_is_convn_same(workspace):
    inputs, got = result_of(workspace, "volume", hdf5_order="c")
    assert got.shape == inputs["A"].shape == (20, 16, 8)
    np.testing.assert_array_equal(got, bridge.convn(inputs["A"], inputs["B"], "same"))


def test_photo_result_is_imgaussfilt(workspace):
    inputs, got = result_of(workspace, "photo")
    assert got.dtype == np.uint8 and got.shape == inputs["A"].shape == (240, 320, 3)
    np.testing.assert_array_equal(got, bridge.imgaussfilt(inputs["A"], 2))
    # MATLAB's 9-tap kernel, not OpenCV's 13: each of the sun's two edges on this row is
    # blurred over 4 pixels on each side (OpenCV's would take 6)
    row = got[50, :, 0].astype(int)
    assert np.count_nonzero((row > 110) & (row < 250)) == 2 * (4 + 4)


def test_committed_inputs_are_what_their_scripts_make():
    spec = importlib.util.spec_from_file_location("blur_input", EXAMPLES / "blur" / "make_input.py")
    make_input = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_input)
    committed = scipy.io.loadmat(EXAMPLES / "blur" / "in.mat")
    np.testing.assert_array_equal(committed["A"], make_input.image())
    np.testing.assert_array_equal(committed["B"], make_input.gaussian())


def test_seed_scenario_end_to_end_in_octave(workspace):
    """fprintf -> in.txt -> system('python3 -m bridge in.txt out.txt') -> load -> conv."""
    done = run_command(workspace, "octave-cli examples/signal/seed.m")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "out.txt equals conv(u, v, 'same')" in done.stdout
    # seed.m wrote in.txt with fprintf: the committed file is exactly that.
    written = (workspace / "examples" / "signal" / "in.txt").read_text()
    assert written == (EXAMPLES / "signal" / "in.txt").read_text()


def test_matlab_demo_agrees_with_builtins(workspace):
    done = run_command(workspace, "octave-cli examples/matlab/demo.m")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every wrapper agrees" in done.stdout
    assert done.stdout.count("agrees") == 5
