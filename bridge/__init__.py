"""bridge: MATLAB's own conv, conv2 and convn, for MATLAB users, batch jobs and the shell.

>>> import bridge
>>> bridge.conv([-1, 2, 3, -2, 0, 1, 2], [2, 4, -1, 1], "same").tolist()
[[15.0, 5.0, -9.0, 7.0, 6.0, 7.0, -1.0]]

The public names are imported lazily, so that ``python -m bridge --help`` and the CLI's error
paths do not pay for numpy before they need it.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["BridgeError", "__version__", "conv", "conv2", "convn"]


def __getattr__(name: str):
    if name in ("conv", "conv2", "convn"):
        from bridge import convolution

        return getattr(convolution, name)
    if name == "BridgeError":
        from bridge.errors import BridgeError

        return BridgeError
    raise AttributeError(f"module 'bridge' has no attribute {name!r}")
