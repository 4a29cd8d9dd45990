"""The optional C extensions, built at install: the direct sum's loop
(bridge/kernels/_direct_c.c) and the watchdog of bridge's processes (bridge/job/_watchdog.c).

``optional=True``: without a C compiler or Python's headers the install still succeeds; the
direct sum uses numba (the ``[fast]`` extra) or numpy instead, and the watchdog a Python thread
(which cannot run while a read holds the GIL; bridge/job/process.py). Everything else is in
pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "bridge.kernels._direct_c",
            ["bridge/kernels/_direct_c.c"],
            # No contraction to fused multiply-add: each product is rounded, as in numpy.
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math"],
            optional=True,
        ),
        Extension(
            "bridge.job._watchdog",
            ["bridge/job/_watchdog.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
