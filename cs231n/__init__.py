"""Helper package for the CS231n Assignment 2 notebooks.

Importing it sets how idle worker threads wait, before the libraries that read it are
loaded (the notebooks import this package first, before NumPy): threads that spin while
idle keep a core from the threads that need it next. The compiled fast layers'
OpenMP threads and NumPy's OpenBLAS threads take turns on the same cores, layer after
layer, so each one's idle threads must sleep at once rather than spin. Measured with
the course's conv benchmark on two cores: a conv forward + backward
right after a NumPy product took 50 ms on two threads with OpenBLAS's default spinning,
28 ms with its threads sleeping (51 ms on one thread), and one ConvNet epoch went from
560 to 730 images/s. Either setting you make yourself (in the environment) is kept.
"""
import os

# OpenMP (the fast layers' kernels): idle threads sleep instead of spinning.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# OpenBLAS (NumPy's BLAS): its idle threads spin for 2**n cycles before they sleep, 2**28
# by default (about a tenth of a second, longer than most layers); 2**4 is its least.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
