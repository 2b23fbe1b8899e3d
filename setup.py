"""Build hook for the Cython im2col extension; all other metadata is in pyproject.toml."""
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "cs231n.im2col_cython",
        ["cs231n/im2col_cython.pyx"],
        extra_compile_args=["-O3"],
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}))
