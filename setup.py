"""The optional C extensions, built at install: the direct sum's loop
(bridge/_kernels/_direct_c.c) and the watchdog of bridge's processes (bridge/_job/_watchdog.c).

``optional=True``: without a C compiler or Python's headers the install still succeeds; the
direct sum uses numba (the ``[fast]`` extra) or numpy instead, and the watchdog a Python thread
(which cannot run while a read holds the GIL; bridge/_job/process.py). Everything else is in
pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "bridge._kernels._direct_c",
            ["bridge/_kernels/_direct_c.c"],
            # No contraction to fused multiply-add: each product is rounded, as in numpy.
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math"],
            optional=True,
        ),
        Extension(
            "bridge._job._watchdog",
            ["bridge/_job/_watchdog.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)


# --- issue 19: the compiled client of the warm worker, for the MATLAB wrappers -------------------
# matlab/private/bridge_client.c is built next to its source (a checkout installed with
# `pip install -e .` or `python setup.py build_ext --inplace`) where a C compiler works, so that
# the wrappers need not build it on first use. Optional, like the C loop: without a compiler the
# install still succeeds and the wrappers build it (or start Python) themselves.
def _build_matlab_client() -> None:
    import os
    import shutil
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.join(here, "matlab", "private", "bridge_client.c")
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not (os.path.isfile(source) and cc and os.name == "posix"):
        return
    target = os.path.join(here, "matlab", "private", "bridge_client")
    try:
        subprocess.run([cc, "-O2", "-o", target + ".tmp", source], check=True, timeout=120)
        os.replace(target + ".tmp", target)
    except (OSError, subprocess.SubprocessError):
        with contextlib.suppress(OSError):
            os.unlink(target + ".tmp")


if __name__ == "__main__":
    import contextlib
    import sys

    builds = ("build_ext", "build", "develop", "install", "editable_wheel", "bdist_wheel")
    if any(arg in builds for arg in sys.argv):
        _build_matlab_client()
