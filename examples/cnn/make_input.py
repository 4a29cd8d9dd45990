"""Write cnn/in.mat: one filter of a convolutional layer as a single convn job.

The documents bridge grew from computed a CNN layer's output with a hand-written loop over the
output positions, the kernel's rows, columns and channels::

    for i, j: Y[i, j] = sum over a, b, c of X[i + a, j + b, c] * K[a, b, c]

That is a *correlation* of the H x W x C input with the kh x kw x C kernel, 'valid' on every
axis (so the channel axis collapses to 1). MATLAB's ``convn`` convolves, so the kernel is
flipped on every axis first: ``Y = convn(X, flip(flip(flip(K, 1), 2), 3), 'valid')``, one call.
check.py compares bridge's answer with the loop.
"""

import sys
from pathlib import Path

import numpy as np
import scipy.io


def layer(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """An RGB input (32 x 48 x 3) and one 5 x 5 x 3 filter, small integers: exact sums."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, (32, 48, 3)).astype(np.float64)
    K = rng.integers(-4, 5, (5, 5, 3)).astype(np.float64)
    return X, K


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("in.mat")
    X, K = layer()
    job = {"A": X, "B": K[::-1, ::-1, ::-1], "op": "convn", "shape": "valid"}
    scipy.io.savemat(out, job, format="5")
    print(f"wrote {out}")
