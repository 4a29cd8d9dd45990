"""Compare cnn/out.mat (bridge's convn) with the CNN layer's loop, written out plainly."""

import sys
from pathlib import Path

import numpy as np
import scipy.io

sys.path.insert(0, str(Path(__file__).parent))
from make_input import layer


def loop(X: np.ndarray, K: np.ndarray) -> np.ndarray:
    rows, cols, channels = X.shape
    kh, kw, kc = K.shape
    assert channels == kc, (channels, kc)  # one output channel: the kernel spans the input's
    Y = np.zeros((rows - kh + 1, cols - kw + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            total = 0.0
            for a in range(kh):
                for b in range(kw):
                    for c in range(kc):
                        total += X[i + a, j + b, c] * K[a, b, c]
            Y[i, j] = total
    return Y


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    got = scipy.io.loadmat(folder / "out.mat")["C"]
    want = loop(*layer())
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.array_equal(got, want), "bridge's convn differs from the loop"
    print(f"out.mat ({got.shape[0]}x{got.shape[1]}) equals the layer's loop")
