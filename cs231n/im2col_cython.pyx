# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernels behind cs231n.fast_layers.

Columns are laid out as cols[k, n, p]: input value k of the receptive field of output
pixel p of sample n, with k running over (channel, field row, field column) and p over
(output row, output column). Viewed as a (K, N * H' * W') matrix, the columns of a
whole batch are then one matrix product with the (F, K) filter matrix: one large
product keeps the BLAS kernel (and every BLAS thread) busier than a product per sample,
which for small images is a thin (K, H' * W') slab.

Zero padding is materialised for one channel plane at a time only (a small buffer per
thread that stays in the L1 or L2 cache), so that the inner loops are plain strided
copies and sums.

Every kernel splits its work over (sample, channel) planes with OpenMP (prange, the GIL
released), num_threads at a time. A plane's values are read and written by the one
thread that owns the plane, in the same order whatever the thread count, so no two
threads write the same memory and the results are bitwise identical for any
num_threads. Built without OpenMP (see setup.py) the same loops run serially.

Bounds checking is off. Every kernel first checks, in constant time, that its arrays'
shapes agree with the geometry it is given (raising ValueError otherwise), and every
index it then forms stays within those shapes; max_pool_backward also checks each stored
winner against the plane size, since that index comes from data, not from a shape.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset

cdef extern from *:
    """
    #ifdef _OPENMP
    #define CS231N_BUILT_WITH_OPENMP 1
    #else
    #define CS231N_BUILT_WITH_OPENMP 0
    #endif
    """
    int CS231N_BUILT_WITH_OPENMP

# False for the serial build (no OpenMP compiler support, or CS231N_NO_OPENMP=1), where
# num_threads is accepted and ignored.
built_with_openmp = bool(CS231N_BUILT_WITH_OPENMP)


cdef Py_ssize_t _output_size(Py_ssize_t size, Py_ssize_t field, Py_ssize_t stride,
                             Py_ssize_t pad) except -1:
    """Number of window positions along one axis; ValueError for an invalid geometry."""
    if stride < 1 or pad < 0 or field < 1 or field > size + 2 * pad:
        raise ValueError(f"invalid window geometry: size {size}, window {field}, "
                         f"stride {stride}, pad {pad}")
    return (size + 2 * pad - field) // stride + 1


cdef int _check_columns(tuple image_shape, tuple cols_shape, Py_ssize_t field_height,
                        Py_ssize_t field_width, Py_ssize_t stride, Py_ssize_t pad) except -1:
    """ValueError unless cols_shape is (C * HH * WW, N, H' * W') for images (N, C, H, W)."""
    N, C, H, W = image_shape
    out_h = _output_size(H, field_height, stride, pad)
    out_w = _output_size(W, field_width, stride, pad)
    expected = (C * field_height * field_width, N, out_h * out_w)
    if cols_shape != expected:
        raise ValueError(f"columns of shape {cols_shape} do not match images {image_shape} "
                         f"with {field_height}x{field_width} windows, stride {stride}, "
                         f"pad {pad}: expected {expected}")
    return 0


# Waking a team of threads that wait passively (fast_layers.py sets OMP_WAIT_POLICY) and
# joining it costs tens of microseconds, about as long as moving this many values; with
# fewer values per thread, extra threads cost more than they save. Measured on 2 cores:
# with 8,192 the 2-thread conv forward + backward took up to 1.9x its 1-thread time,
# with this value about the same as at 1 thread, never more.
cdef enum:
    MIN_VALUES_PER_THREAD = 262144


cdef int _team_size(Py_ssize_t num_threads, Py_ssize_t num_planes,
                    Py_ssize_t num_values) except -1:
    """Threads worth starting for num_values over num_planes: at most num_threads."""
    if num_threads < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    return <int>max(1, min(num_threads, num_planes, num_values // MIN_VALUES_PER_THREAD))


cdef void _im2col_plane(const floating *plane, floating *padded, floating *row,
                        Py_ssize_t row_step, Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad,
                        Py_ssize_t field_height, Py_ssize_t field_width, Py_ssize_t stride,
                        Py_ssize_t out_h, Py_ssize_t out_w) noexcept nogil:
    """Write the HH * WW rows that one channel plane (H, W) contributes, row_step apart.

    With padding, the plane is first copied inside the zero border of padded.
    """
    cdef Py_ssize_t i, j, oy, ox, y
    cdef Py_ssize_t plane_w = W + 2 * pad
    cdef const floating *source
    cdef floating *target
    if pad:
        for y in range(H):
            memcpy(padded + (y + pad) * plane_w + pad, plane + y * W, W * sizeof(floating))
        plane = padded
    for i in range(field_height):
        for j in range(field_width):
            target = row + (i * field_width + j) * row_step
            for oy in range(out_h):
                source = plane + (oy * stride + i) * plane_w + j
                if stride == 1:
                    for ox in range(out_w):
                        target[ox] = source[ox]
                else:
                    for ox in range(out_w):
                        target[ox] = source[ox * stride]
                target += out_w


def im2col(const floating[:, :, :, ::1] x, floating[:, :, ::1] cols,
           Py_ssize_t field_height, Py_ssize_t field_width,
           Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t num_threads=1):
    """Fill cols (C * HH * WW, N, H' * W') with the receptive fields of x (N, C, H, W)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    _check_columns((N, C, H, W), (cols.shape[0], cols.shape[1], cols.shape[2]),
                   field_height, field_width, stride, pad)
    cdef Py_ssize_t out_h = (H + 2 * pad - field_height) // stride + 1
    cdef Py_ssize_t out_w = (W + 2 * pad - field_width) // stride + 1
    cdef Py_ssize_t padded_size = (H + 2 * pad) * (W + 2 * pad)
    cdef Py_ssize_t row_step = N * out_h * out_w, fields = field_height * field_width
    cdef Py_ssize_t plane_index, n, c
    cdef int team = _team_size(num_threads, N * C, cols.shape[0] * row_step)
    # One zero-padded copy of the current channel plane per thread, so that every row
    # of every column is a plain strided copy without bounds tests; borders stay zero.
    cdef floating *padded_planes = <floating *>calloc(team * max(padded_size, 1),
                                                      sizeof(floating))
    if padded_planes == NULL:
        raise MemoryError()
    for plane_index in prange(N * C, nogil=True, schedule="static", num_threads=team):
        n = plane_index // C
        c = plane_index % C
        _im2col_plane(&x[n, c, 0, 0], padded_planes + threadid() * padded_size,
                      &cols[c * fields, n, 0], row_step, H, W, pad, field_height,
                      field_width, stride, out_h, out_w)
    free(padded_planes)


cdef void _col2im_plane(const floating *row, Py_ssize_t row_step, floating *padded,
                        floating *plane, Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad,
                        Py_ssize_t field_height, Py_ssize_t field_width, Py_ssize_t stride,
                        Py_ssize_t out_h, Py_ssize_t out_w) noexcept nogil:
    """Add the HH * WW rows of one channel plane (row_step apart) onto the plane (H, W).

    The sums go to the zero-padded scratch plane first, then its inside onto plane.
    """
    cdef Py_ssize_t i, j, oy, ox, y, xx
    cdef Py_ssize_t padded_w = W + 2 * pad
    cdef const floating *source
    cdef floating *target
    memset(padded, 0, (H + 2 * pad) * padded_w * sizeof(floating))
    for i in range(field_height):
        for j in range(field_width):
            source = row + (i * field_width + j) * row_step
            for oy in range(out_h):
                target = padded + (oy * stride + i) * padded_w + j
                if stride == 1:
                    for ox in range(out_w):
                        target[ox] += source[ox]
                else:
                    for ox in range(out_w):
                        target[ox * stride] += source[ox]
                source += out_w
    for y in range(H):
        target = plane + y * W
        source = padded + (y + pad) * padded_w + pad
        for xx in range(W):
            target[xx] += source[xx]


def col2im(const floating[:, :, ::1] cols, floating[:, :, :, ::1] dx,
           Py_ssize_t field_height, Py_ssize_t field_width,
           Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t num_threads=1):
    """Add every column entry of cols (C * HH * WW, N, H' * W') back onto dx (N, C, H, W).

    dx must hold zeros (or the gradient to accumulate onto) on entry.
    """
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    _check_columns((N, C, H, W), (cols.shape[0], cols.shape[1], cols.shape[2]),
                   field_height, field_width, stride, pad)
    cdef Py_ssize_t out_h = (H + 2 * pad - field_height) // stride + 1
    cdef Py_ssize_t out_w = (W + 2 * pad - field_width) // stride + 1
    cdef Py_ssize_t padded_size = (H + 2 * pad) * (W + 2 * pad)
    cdef Py_ssize_t row_step = N * out_h * out_w, fields = field_height * field_width
    cdef Py_ssize_t plane_index, n, c
    cdef int team = _team_size(num_threads, N * C, cols.shape[0] * row_step)
    # Sums land on a zero-padded plane (one per thread) first, so that every row is
    # added without bounds tests; what fell on the padding is dropped when the plane is
    # added onto dx. Each dx value is the sum of its plane's rows in one fixed order.
    cdef floating *padded_planes = <floating *>malloc(team * max(padded_size, 1) *
                                                      sizeof(floating))
    if padded_planes == NULL:
        raise MemoryError()
    for plane_index in prange(N * C, nogil=True, schedule="static", num_threads=team):
        n = plane_index // C
        c = plane_index % C
        _col2im_plane(&cols[c * fields, n, 0], row_step, padded_planes + threadid() * padded_size,
                      &dx[n, c, 0, 0], H, W, pad, field_height, field_width, stride,
                      out_h, out_w)
    free(padded_planes)


cdef void _max_pool_plane(const floating *plane, floating *pooled, int *winners,
                          Py_ssize_t W, Py_ssize_t pool_height, Py_ssize_t pool_width,
                          Py_ssize_t stride, Py_ssize_t out_h, Py_ssize_t out_w,
                          bint relu) noexcept nogil:
    """Window maxima of one plane into pooled, their positions (y * W + x) into winners."""
    cdef Py_ssize_t oy, ox, y, xx, origin, best_index
    cdef floating best, value
    cdef const floating *window
    cdef bint take
    for oy in range(out_h):
        for ox in range(out_w):
            origin = oy * stride * W + ox * stride
            window = plane + origin
            best = window[0]
            best_index = origin
            for y in range(pool_height):
                for xx in range(pool_width):
                    value = window[y * W + xx]
                    # best != best once it is NaN: nothing replaces it then;
                    # value != value takes the first NaN seen.
                    take = (best == best) & ((value > best) | (value != value))
                    # Which value wins is random in real data, so the winner moves by
                    # arithmetic rather than a branch (a mispredicted branch costs more
                    # than the comparison itself) and its value is read back.
                    best_index += (origin + y * W + xx - best_index) * take
                    best = window[best_index - origin]
            if relu and not best > 0:
                best_index = -1
                if best == best:
                    best = 0
            pooled[oy * out_w + ox] = best
            winners[oy * out_w + ox] = <int>best_index


def max_pool_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                     int[:, :, :, ::1] argmax, Py_ssize_t pool_height,
                     Py_ssize_t pool_width, Py_ssize_t stride, bint relu=False,
                     Py_ssize_t num_threads=1):
    """Window maxima of x into out (N, C, H', W'); argmax gets each winner's y * W + x.

    Ties go to the first maximum in row-major order within the window. A NaN wins
    over every number and the first NaN wins over later ones, as with np.argmax, so
    the result matches the naive layer and the NumPy fallback.

    With relu, the result is that of max pooling a ReLU's output (a maximum that is
    not positive becomes 0, a NaN stays NaN) and windows whose ReLU would pass no
    gradient get the winner -1, which max_pool_backward skips.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t out_h = out.shape[2], out_w = out.shape[3]
    cdef Py_ssize_t plane_index, n, c
    expected = (N, C, _output_size(x.shape[2], pool_height, stride, 0),
                _output_size(W, pool_width, stride, 0))
    out_shape = (out.shape[0], out.shape[1], out.shape[2], out.shape[3])
    argmax_shape = (argmax.shape[0], argmax.shape[1], argmax.shape[2], argmax.shape[3])
    if out_shape != expected or argmax_shape != expected:
        raise ValueError(f"pooled output {out_shape} and winners {argmax_shape} must both "
                         f"be {expected} for input {(N, C, x.shape[2], W)}")
    if x.shape[2] * W > 2147483647:
        raise ValueError(f"planes of {x.shape[2]}x{W} pixels are too large for int winners")
    cdef int team = _team_size(num_threads, N * C, N * C * x.shape[2] * W)
    for plane_index in prange(N * C, nogil=True, schedule="static", num_threads=team):
        n = plane_index // C
        c = plane_index % C
        _max_pool_plane(&x[n, c, 0, 0], &out[n, c, 0, 0], &argmax[n, c, 0, 0], W,
                        pool_height, pool_width, stride, out_h, out_w, relu)


cdef int _unpool_plane(const floating *dout, const int *winners, floating *dx,
                       Py_ssize_t pooled_size, Py_ssize_t plane_size) noexcept nogil:
    """Add dout onto each window's winner in one dx plane; 1 (and stop) on a bad winner."""
    cdef Py_ssize_t p, winner
    for p in range(pooled_size):
        winner = winners[p]
        if winner == -1:
            continue
        # One unsigned comparison catches other negative winners too.
        if <size_t>winner >= <size_t>plane_size:
            return 1
        dx[winner] += dout[p]
    return 0


def max_pool_backward(const floating[:, :, :, ::1] dout, const int[:, :, :, ::1] argmax,
                      floating[:, :, ::1] dx, Py_ssize_t num_threads=1):
    """Add each dout entry onto its window's winner in dx, viewed as (N, C, H * W).

    A winner of -1 (a window behind a ReLU that passes no gradient) gets nothing.
    ValueError when the shapes disagree or a winner lies outside the plane; dx may be
    partly updated then.
    """
    cdef Py_ssize_t N = dout.shape[0], C = dout.shape[1]
    cdef Py_ssize_t out_h = dout.shape[2], out_w = dout.shape[3]
    cdef Py_ssize_t plane = dx.shape[2]
    cdef Py_ssize_t plane_index, n, c
    cdef Py_ssize_t bad_planes = 0
    dout_shape = (N, C, out_h, out_w)
    argmax_shape = (argmax.shape[0], argmax.shape[1], argmax.shape[2], argmax.shape[3])
    if argmax_shape != dout_shape or (dx.shape[0], dx.shape[1]) != (N, C):
        raise ValueError(f"dout {dout_shape}, winners {argmax_shape} and dx "
                         f"{(dx.shape[0], dx.shape[1], plane)} do not agree")
    cdef int team = _team_size(num_threads, N * C, N * C * out_h * out_w)
    # Overlapping windows can share a winner, but only within their own plane, which
    # one thread owns; the count of bad planes is a reduction, safe to share.
    for plane_index in prange(N * C, nogil=True, schedule="static", num_threads=team):
        n = plane_index // C
        c = plane_index % C
        bad_planes += _unpool_plane(&dout[n, c, 0, 0], &argmax[n, c, 0, 0], &dx[n, c, 0],
                                    out_h * out_w, plane)
    if bad_planes:
        raise ValueError(f"a pooling winner lies outside planes of {plane} pixels")



def swap_leading_axes(const floating[:, :, ::1] source, floating[:, :, ::1] out,
                      const floating[::1] shift=None, Py_ssize_t num_threads=1):
    """out[b, a, p] = source[a, b, p], plus shift[a] when given, in one pass.

    The conv layers' change of layout: the forward pass moves a chunk's (F, n, P) product
    to the (n, F, P) output with the biases as shift; the backward pass moves the upstream
    gradient (n, F, P) to the columns' (F, n, P) order.
    """
    cdef Py_ssize_t A = source.shape[0], B = source.shape[1], P = source.shape[2]
    cdef Py_ssize_t row, a, b, p
    cdef bint shifted = shift is not None
    cdef floating amount
    if (out.shape[0], out.shape[1], out.shape[2]) != (B, A, P) or (
            shifted and shift.shape[0] != A):
        raise ValueError(f"source {(A, B, P)}, output {(out.shape[0], out.shape[1], out.shape[2])}"
                         f" and shift {None if not shifted else (shift.shape[0],)} do not agree")
    cdef int team = _team_size(num_threads, A * B, A * B * P)
    for row in prange(A * B, nogil=True, schedule="static", num_threads=team):
        a = row // B
        b = row % B
        if shifted:
            amount = shift[a]
            for p in range(P):
                out[b, a, p] = source[a, b, p] + amount
        else:
            memcpy(&out[b, a, 0], &source[a, b, 0], P * sizeof(floating))
