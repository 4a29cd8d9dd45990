"""Write photo/in.mat: a 240x320 RGB uint8 "photo" and the request imgaussfilt(A, 2).

The documents bridge grew from blurred a photo with OpenCV::

    blurred = cv2.GaussianBlur(photo, (0, 0), 2)

which is not MATLAB's ``imgaussfilt(photo, 2)``: OpenCV derives the kernel's size from sigma
(13 taps for 8-bit images, 17 for float ones), pads with BORDER_REFLECT_101 (the edge sample not
repeated; MATLAB has no such option) and rounds its 8-bit arithmetic its own way. MATLAB uses
``2*ceil(2*sigma)+1`` = 9 taps, 'replicate' padding, computes in double and rounds half away
from zero into uint8. This job asks for MATLAB's answer. From MATLAB:

    A = imread('photo.png'); op = 'imgaussfilt'; sigma = 2;
    save('in.mat', 'A', 'op', 'sigma', '-v7');
"""

import sys
from pathlib import Path

import numpy as np
import scipy.io


def photo(rows: int = 240, cols: int = 320) -> np.ndarray:
    """Sky, a sun, a house and grass: flat colours with hard edges that a blur softens."""
    r, c = np.mgrid[0:rows, 0:cols]
    img = np.zeros((rows, cols, 3), np.uint8)
    img[...] = (110, 170, 235)  # sky
    img[r > rows * 0.65] = (60, 150, 50)  # grass
    img[(r - 50) ** 2 + (c - 260) ** 2 < 25**2] = (250, 220, 60)  # sun
    img[(r > 100) & (r < 180) & (c > 60) & (c < 170)] = (200, 80, 60)  # walls
    img[(r > 140) & (r < 180) & (c > 100) & (c < 125)] = (90, 50, 30)  # door
    img[(r > 110) & (r < 130) & (c > 135) & (c < 160)] = (255, 255, 255)  # window
    return img


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("in.mat")
    scipy.io.savemat(out, {"A": photo(), "op": "imgaussfilt", "sigma": 2.0}, format="5")
    print(f"wrote {out}")
