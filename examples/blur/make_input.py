"""Write blur/in.mat: a 32x32 test image and a 7x7 Gaussian kernel, for conv2(A, B, 'same').

in.mat is committed (8 KB); this script is how it was made. The same job from MATLAB:

    A = ...; B = ...; op = 'conv2'; shape = 'same';
    save('in.mat', 'A', 'B', 'op', 'shape', '-v7');
"""

import sys
from pathlib import Path

import numpy as np
import scipy.io


def image(n: int = 32) -> np.ndarray:
    """A bright square and a diagonal line on a dark ramp: edges that a blur visibly softens."""
    rows, cols = np.mgrid[0:n, 0:n]
    img = cols / (n - 1) * 0.25
    img[8:20, 6:18] = 1.0
    img[rows == cols] = 0.75
    return img


def gaussian(size: int = 7, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    kernel = np.outer(g, g)
    return kernel / kernel.sum()


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("in.mat")
    jobs = {"A": image(), "B": gaussian(), "op": "conv2", "shape": "same"}
    scipy.io.savemat(out, jobs, format="5", do_compression=True)
    print(f"wrote {out}")
