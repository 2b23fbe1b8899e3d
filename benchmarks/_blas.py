"""The BLAS a benchmark measures: the environment its timed children get, and its name.

Some machines (CI runners, build hosts) set OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE,
which pin OpenBLAS to an older kernel family (Haswell) and cache size than it picks
for the processor on its own. Users do not set them, so the timed child processes run
without them by default; the machine's setting can be measured as well, for reference.
Only the children's environment changes: tests and CI keep the machine's settings.
"""
import os

KERNEL_FORCING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def users_environment():
    """This process's environment without the variables that force an OpenBLAS kernel."""
    return {name: value for name, value in os.environ.items()
            if name not in KERNEL_FORCING_VARIABLES}


def forced_kernel_settings():
    """The kernel-forcing variables this process has, as NAME=value words, or 'none'."""
    settings = [f"{name}={os.environ[name]}" for name in KERNEL_FORCING_VARIABLES
                if name in os.environ]
    return " ".join(settings) or "none"


def blas_line():
    """NumPy's BLAS as threadpoolctl sees it: library, version, kernel and thread limit.

    Call it after NumPy is imported (threadpoolctl reports the libraries loaded so far).
    """
    import numpy  # noqa: F401  (loads the BLAS that threadpoolctl is to describe)
    from threadpoolctl import threadpool_info

    libraries = [info for info in threadpool_info() if info["user_api"] == "blas"]
    if not libraries:
        return "BLAS: none found by threadpoolctl"
    return "BLAS: " + "; ".join(
        f"{info['internal_api']} {info.get('version')}, kernel {info.get('architecture')}, "
        f"{info['num_threads']} threads ({os.path.basename(info['filepath'])})"
        for info in libraries)
