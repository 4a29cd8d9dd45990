"""The optional C loop of the direct sum (bridge/kernels/_direct_c.c), built at install.

``optional=True``: without a C compiler or Python's headers the install still succeeds, and the
direct sum uses numba (the ``[fast]`` extra) or numpy instead. Everything else is in
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
        )
    ]
)
