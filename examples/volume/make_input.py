"""Write volume/in.h5: a 3-D volume and a 3x3x3 box kernel, for convn(A, B, 'same'), with h5py.

HDF5 inputs are generated rather than committed (*.h5 is git-ignored). The datasets are written
the way numpy code writes them (C order: a MATLAB 20x16x8 array is an HDF5 (20,16,8) dataset), so
the job runs with --hdf5-order c. The request is in root attributes. From MATLAB, h5write stores
arrays in its own (reversed) order, which is bridge's default:

    h5create('in.h5', '/A', size(A)); h5write('in.h5', '/A', A);
    h5create('in.h5', '/B', size(B)); h5write('in.h5', '/B', B);
    h5writeatt('in.h5', '/', 'op', 'convn'); h5writeatt('in.h5', '/', 'shape', 'same');
"""

import sys
from pathlib import Path

import h5py
import numpy as np


def volume(shape=(20, 16, 8)) -> np.ndarray:
    """A bright ball in a dark box, with a little fixed-seed noise."""
    grid = np.indices(shape, dtype=float)
    centre = (np.array(shape, dtype=float) - 1)[:, None, None, None] / 2
    radius = np.sqrt(((grid - centre) ** 2).sum(axis=0))
    ball = (radius < min(shape) / 3).astype(float)
    return ball + 0.05 * np.random.default_rng(7).standard_normal(shape)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("in.h5")
    with h5py.File(out, "w") as f:
        f["A"] = volume()
        f["B"] = np.full((3, 3, 3), 1 / 27)
        f.attrs["op"] = "convn"
        f.attrs["shape"] = "same"
    print(f"wrote {out}")
