"""bridge: MATLAB's own convolution and filtering, for MATLAB users, batch jobs and the shell.

Functions (each with MATLAB's sizes, offsets, orientation, classes and error identifiers):

* :func:`conv`, :func:`conv2`, :func:`convn`: MATLAB's convolutions;
* :func:`filter2`, :func:`xcorr2`: 2-D correlation and cross-correlation;
* :func:`imfilter`, :func:`fspecial`, :func:`imgaussfilt`, :func:`imgaussfilt3`: the Image
  Processing Toolbox's filtering (N-D, every boundary option, integer images rounded and
  saturated as MATLAB does).

Errors are :class:`BridgeError` subclasses that also inherit the fitting builtin (``ValueError``,
``TypeError``, ...), each with ``.identifier`` (MATLAB's where MATLAB has one).

>>> import bridge
>>> bridge.conv([-1, 2, 3, -2, 0, 1, 2], [2, 4, -1, 1], "same").tolist()
[[15.0, 5.0, -9.0, 7.0, 6.0, 7.0, -1.0]]

The names are imported on first use, so that ``python -m bridge --help`` and the command line's
error paths do not pay for numpy before they need it. Everything else in the package (the
command line, the job layer, the formats, the kernels) is bridge's own, not an API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Public name -> the module that defines it.
_PUBLIC = {
    "conv": "bridge.convolution",
    "conv2": "bridge.convolution",
    "convn": "bridge.convolution",
    "filter2": "bridge.filtering",
    "xcorr2": "bridge.filtering",
    "imfilter": "bridge.filtering",
    "fspecial": "bridge.filtering",
    "imgaussfilt": "bridge.filtering",
    "imgaussfilt3": "bridge.filtering",
    "BridgeError": "bridge.errors",
    "MatlabArgumentError": "bridge.errors",
    "ShapeParameterError": "bridge.errors",
    "NotVectorError": "bridge.errors",
    "DimensionError": "bridge.errors",
    "InputTypeError": "bridge.errors",
    "FileFormatError": "bridge.errors",
    "VariableError": "bridge.errors",
    "JobError": "bridge.errors",
    "UsageError": "bridge.errors",
    "OutputError": "bridge.errors",
    "FilterArgumentError": "bridge.errors",
    "FilterTypeError": "bridge.errors",
}

__all__ = ["__version__", *_PUBLIC]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports on use
    # ruff: noqa: F401
    from bridge.convolution import conv, conv2, convn
    from bridge.errors import (
        BridgeError,
        DimensionError,
        FileFormatError,
        FilterArgumentError,
        FilterTypeError,
        InputTypeError,
        JobError,
        MatlabArgumentError,
        NotVectorError,
        OutputError,
        ShapeParameterError,
        UsageError,
        VariableError,
    )
    from bridge.filtering import filter2, fspecial, imfilter, imgaussfilt, imgaussfilt3, xcorr2


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'bridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
