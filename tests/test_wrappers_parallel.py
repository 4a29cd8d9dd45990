"""Several MATLAB processes calling the wrappers at once (what parfor workers do).

Four octave-cli processes share one TMPDIR and each makes many calls at the same time: every
result must be right (no process may read another's files) and no temporary file may remain.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.octave import octave_cli

pytestmark = [pytest.mark.octave, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = 4
CALLS = 4

# Each process draws its own data (seeded by its number), so a mix-up of files between processes
# shows as a wrong result. octave-cli exits 0 after an error in --eval code only if caught, so
# the script decides its status itself.
SCRIPT = """
addpath('{matlab}');
rand('seed', {seed});
ok = true;
for k = 1:{calls}
  n = 2 + mod(k + {seed}, 5);
  u = rand(1, n + 3); v = rand(n, 1); A = rand(n + 1, 4); B = single(rand(2, 3));
  V = rand(3, 2, n);
  switch mod(k, 3)
    case 0
      got = bridge_conv(u, v, 'same'); want = conv(u, v, 'same');
    case 1
      got = bridge_conv2(A, B); want = conv2(A, B);
    otherwise
      got = bridge_convn(V, u(1:2), 'valid'); want = convn(V, u(1:2), 'valid');
  end
  if ~isequal(size(got), size(want)) || ~strcmp(class(got), class(want)) || ...
     max(abs(got(:) - want(:))) > 1e-5 * max(1, max(abs(want(:))))
    fprintf('process {seed}: call %d differs\\n', k);
    ok = false;
  end
end
if ok
  fprintf('process {seed}: %d calls correct\\n', {calls});
else
  exit(1);
end
"""


def test_four_octave_processes_at_once(tmp_path):
    octave = octave_cli()
    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(shared_tmp), BRIDGE_PYTHON=sys.executable)
    procs = []
    for seed in range(1, PROCESSES + 1):
        code = SCRIPT.format(matlab=ROOT / "matlab", seed=seed, calls=CALLS)
        procs.append(
            subprocess.Popen(
                [octave, "--norc", "--quiet", "--no-history", "--eval", code],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=tmp_path,
            )
        )
    for seed, proc in enumerate(procs, start=1):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
        assert f"process {seed}: {CALLS} calls correct" in out
    assert list(shared_tmp.iterdir()) == []
