"""Build hook for the Cython im2col extension; all other metadata is in pyproject.toml.

The kernels split their loops over threads with OpenMP where the compiler supports it
(GCC and Clang: -fopenmp, MSVC: /openmp). Whether it does is probed by compiling and
linking a tiny OpenMP program with the same compiler first; where that fails (Apple's
Clang without libomp, for one) the extension is built serially instead, never a build
error. CS231N_NO_OPENMP=1 forces the serial build; to check it, build with it set and
run staff/tests/test_fast_layers*.py (built_with_openmp in the module then reads False).
"""
import os
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError, LinkError

OPENMP_PROBE = """
#include <omp.h>
int main(void) {
    int threads = 0;
    #pragma omp parallel reduction(+:threads)
    threads += 1;
    return threads == omp_get_max_threads() ? 0 : 1;
}
"""


class build_ext_with_openmp(build_ext):
    """build_ext that adds the compiler's OpenMP flags when a probe program builds with them."""

    def build_extensions(self):
        flags = self.openmp_flags()
        for extension in self.extensions:
            extension.extra_compile_args += flags
            extension.extra_link_args += [] if self.compiler.compiler_type == "msvc" else flags
        super().build_extensions()

    def openmp_flags(self):
        if os.environ.get("CS231N_NO_OPENMP", "") not in ("", "0"):
            print("CS231N_NO_OPENMP is set: building the kernels without OpenMP (serial)")
            return []
        flags = ["/openmp"] if self.compiler.compiler_type == "msvc" else ["-fopenmp"]
        link_flags = [] if self.compiler.compiler_type == "msvc" else flags
        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "openmp_probe.c")
            with open(source, "w") as file:
                file.write(OPENMP_PROBE)
            try:
                objects = self.compiler.compile([source], output_dir=folder, extra_postargs=flags)
                self.compiler.link_executable(objects, "openmp_probe", output_dir=folder,
                                              extra_postargs=link_flags)
            except (CompileError, LinkError):
                print(f"the compiler does not build OpenMP programs with {flags}: "
                      "building the kernels without OpenMP (serial)")
                return []
        print(f"building the kernels with OpenMP ({' '.join(flags)})")
        return flags


extensions = [
    Extension(
        "cs231n.im2col_cython",
        ["cs231n/im2col_cython.pyx"],
        extra_compile_args=["-O3"],
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
      cmdclass={"build_ext": build_ext_with_openmp})
