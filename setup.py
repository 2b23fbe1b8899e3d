"""Build hook for the Cython im2col extension; all other metadata is in pyproject.toml.

The extension is a speed-up, never a requirement: cs231n/fast_layers.py runs NumPy code
where it is missing. So before building it, a tiny C file that includes Python.h is
compiled with the compiler the build would use; where that fails (no compiler on the
PATH, CC naming one that does not work, no Python headers) one line says so and the
package installs without the extension. Running the build again once a compiler is
installed (the set-up does so by itself) builds the kernels.

The kernels split their loops over threads with OpenMP where the compiler supports it
(GCC and Clang: -fopenmp, MSVC: /openmp). Whether it does is probed by compiling and
linking a tiny OpenMP program with the same compiler; where that fails (Apple's Clang
without libomp, for one) the extension is built serially instead, never a build error.
CS231N_NO_OPENMP=1 forces the serial build.
"""
import os
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

# Said when the kernels are left out. The slow-down is the wall time of one epoch of
# ConvolutionalNetworks.ipynb's training cell (ThreeLayerConvNet, Adam, batch 50, 2,000
# images) on the NumPy fallback over its time on the compiled kernels: median of 5 paired
# runs with farm-bench on 2 shared cores (ratio 1.22 of wall time, 1.11 of CPU time).
NO_COMPILER_MESSAGE = (
    "cs231n: no working C compiler ({problem}), so the fast layers' compiled kernels are not "
    "built and they run on NumPy instead (same results, ConvolutionalNetworks.ipynb about "
    "1.2 times slower). To build them, install a compiler and run the set-up again: "
    "Windows: Microsoft C++ Build Tools (\"Desktop development with C++\"); "
    "macOS: xcode-select --install; Debian/Ubuntu: sudo apt-get install build-essential python3-dev."
)
COMPILER_PROBE = """
#include <Python.h>
int main(void) { return 0; }
"""

OPENMP_PROBE = """
#include <omp.h>
int main(void) {
    int threads = 0;
    #pragma omp parallel reduction(+:threads)
    threads += 1;
    return threads == omp_get_max_threads() ? 0 : 1;
}
"""


class build_ext_optional_openmp(build_ext):
    """build_ext that builds nothing, saying why, when the compiler cannot build a Python
    extension, and otherwise adds the compiler's OpenMP flags when a probe program
    builds with them."""

    def build_extensions(self):
        problem = self.compiler_problem()
        if problem:
            print(NO_COMPILER_MESSAGE.format(problem=problem), flush=True)
            self.extensions = []
            return
        flags = self.openmp_flags()
        for extension in self.extensions:
            extension.extra_compile_args += flags
            extension.extra_link_args += [] if self.compiler.compiler_type == "msvc" else flags
        super().build_extensions()

    def compiler_problem(self):
        """Why the compiler cannot build a C file that includes Python.h, or None."""
        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "compiler_probe.c")
            with open(source, "w") as file:
                file.write(COMPILER_PROBE)
            try:
                self.compiler.compile([source], output_dir=folder)
            except (CCompilerError, ExecError, PlatformError, OSError) as error:
                # The compiler's own words are in the build log above; the one line
                # names the compiler and the kind of failure.
                command = getattr(self.compiler, "compiler_so", None) or [self.compiler.compiler_type]
                if isinstance(error, PlatformError) or "No such file" in str(error):
                    return f"{command[0]} is not installed"
                return f"{command[0]} could not compile a C file that includes Python.h"
        return None

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
      cmdclass={"build_ext": build_ext_optional_openmp})
