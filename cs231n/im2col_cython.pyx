# cython: boundscheck=False, wraparound=False, cdivision=True
"""Compiled im2col/col2im kernels used by cs231n.fast_layers."""


def im2col(const double[:, :, :, ::1] x_padded, Py_ssize_t field_height,
           Py_ssize_t field_width, Py_ssize_t stride, double[:, ::1] cols):
    """Copy every receptive field of x_padded (N, C, Hp, Wp) into a column of cols.

    cols has shape (C * field_height * field_width, N * out_h * out_w); column index
    runs over (out row, out col, sample) with the sample fastest.
    """
    cdef Py_ssize_t N = x_padded.shape[0], C = x_padded.shape[1]
    cdef Py_ssize_t out_h = (x_padded.shape[2] - field_height) // stride + 1
    cdef Py_ssize_t out_w = (x_padded.shape[3] - field_width) // stride + 1
    cdef Py_ssize_t c, i, j, yy, xx, n, row, col
    with nogil:
        for c in range(C):
            for i in range(field_height):
                for j in range(field_width):
                    row = (c * field_height + i) * field_width + j
                    for yy in range(out_h):
                        for xx in range(out_w):
                            for n in range(N):
                                col = (yy * out_w + xx) * N + n
                                cols[row, col] = x_padded[n, c, stride * yy + i, stride * xx + j]
