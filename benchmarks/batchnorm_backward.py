"""Time the staged and the closed-form batch normalization backward passes side by side.

Usage: ``python benchmarks/batchnorm_backward.py``

For each input shape, both backward passes run on the same cache, alternating rounds so
that load on the machine affects both alike; the best round of each is reported with
the speedup of the closed form (``batchnorm_backward_alt``) over the staged version.
"""
import timeit

import numpy as np

from cs231n.gradient_check import rel_error
from cs231n.layers import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward

SHAPES = [(100, 500), (64, 1024), (512, 256), (4096, 100)]
ROUNDS = 7


def seconds_per_call(function, number):
    return timeit.timeit(function, number=number) / number


def main():
    rng = np.random.default_rng(231)
    print(f"{'shape':>12}  {'staged (us)':>12}  {'closed form (us)':>16}  {'speedup':>8}  {'max rel diff':>12}")
    for N, D in SHAPES:
        x = 5 * rng.standard_normal((N, D)) + 12
        gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
        dout = rng.standard_normal((N, D))
        _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})

        staged = batchnorm_backward(dout, cache)
        closed_form = batchnorm_backward_alt(dout, cache)
        difference = max(rel_error(a, b) for a, b in zip(staged, closed_form))

        number = max(1, 2_000_000 // (N * D))
        staged_times, closed_times = [], []
        for _ in range(ROUNDS):
            staged_times.append(seconds_per_call(lambda: batchnorm_backward(dout, cache), number))
            closed_times.append(seconds_per_call(lambda: batchnorm_backward_alt(dout, cache), number))
        staged_time, closed_time = min(staged_times), min(closed_times)
        print(f"{f'({N}, {D})':>12}  {1e6 * staged_time:12.1f}  {1e6 * closed_time:16.1f}  "
              f"{staged_time / closed_time:7.2f}x  {difference:12.1e}")


if __name__ == "__main__":
    main()
