"""Build of gymctl's compiled kernels.

Every ``.pyx`` file under ``kernels/`` and ``equipment_adapters/`` becomes an extension
module of the same dotted name, compiled against numpy's headers with the optimisations the
kernels are written for: no bounds or wraparound checks, C division. The kernels are written
so that these are safe (each one validates its input in its Python wrapper).
"""

from __future__ import annotations

from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
COMPILED_PACKAGES = ("kernels", "equipment_adapters")
DIRECTIVES = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "embedsignature": True,
}


def _extensions() -> list[Extension]:
    extensions = []
    for package in COMPILED_PACKAGES:
        for source in sorted((HERE / package).rglob("*.pyx")):
            relative = source.relative_to(HERE)
            extensions.append(
                Extension(
                    ".".join(relative.with_suffix("").parts),
                    [str(relative)],
                    include_dirs=[numpy.get_include()],
                    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                    extra_compile_args=["-O3"],
                )
            )
    return cythonize(extensions, compiler_directives=DIRECTIVES, quiet=True)


setup(ext_modules=_extensions())
