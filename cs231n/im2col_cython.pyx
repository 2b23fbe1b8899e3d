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
num_threads. The planes go out in shrinking blocks to whichever thread is free (OpenMP's
guided schedule), so that a thread that shares its core with another program takes less
of the work instead of holding the others up. Built without OpenMP (see setup.py) the
same loops run serially.

conv_forward and conv_backward split a whole convolution over chunks of samples instead:
each chunk is one thread's job, from lowering its samples into the thread's own columns
to multiplying them with a single-threaded BLAS product (SciPy's, see use_blas). A chunk
of products is enough work for a thread, where the BLAS splitting one small product over
its own threads is not.

Bounds checking is off. Every kernel first checks, in constant time, that its arrays'
shapes agree with the geometry it is given (raising ValueError otherwise), and every
index it then forms stays within those shapes; max_pool_backward also checks each stored
winner against the plane size, since that index comes from data, not from a shape.
"""
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
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
    for plane_index in prange(N * C, nogil=True, schedule="guided", num_threads=team):
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
    for plane_index in prange(N * C, nogil=True, schedule="guided", num_threads=team):
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
    for plane_index in prange(N * C, nogil=True, schedule="guided", num_threads=team):
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
    for plane_index in prange(N * C, nogil=True, schedule="guided", num_threads=team):
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
    for row in prange(A * B, nogil=True, schedule="guided", num_threads=team):
        a = row // B
        b = row % B
        if shifted:
            amount = shift[a]
            for p in range(P):
                out[b, a, p] = source[a, b, p] + amount
        else:
            memcpy(&out[b, a, 0], &source[a, b, 0], P * sizeof(floating))


# The BLAS's matrix products as SciPy's cython_blas exports them: Fortran's column-major
# sgemm and dgemm, every argument by pointer. NULL until use_blas sets them.
ctypedef void (*_sgemm_t)(char *, char *, int *, int *, int *, float *, float *, int *,
                          float *, int *, float *, float *, int *) noexcept nogil
ctypedef void (*_dgemm_t)(char *, char *, int *, int *, int *, double *, double *, int *,
                          double *, int *, double *, double *, int *) noexcept nogil
cdef _sgemm_t _sgemm = NULL
cdef _dgemm_t _dgemm = NULL


def use_blas(sgemm, dgemm):
    """Give conv_forward and conv_backward their products: scipy.linalg.cython_blas's
    sgemm and dgemm capsules (its __pyx_capi__), whose names are their C signatures.

    The kernels call them from several threads at once, one product per thread, so the
    library behind them should run each call on one thread (fast_layers.py sees to it).
    """
    global _sgemm, _dgemm
    _sgemm = <_sgemm_t>PyCapsule_GetPointer(sgemm, PyCapsule_GetName(sgemm))
    _dgemm = <_dgemm_t>PyCapsule_GetPointer(dgemm, PyCapsule_GetName(dgemm))


cdef void _product(bint transpose_a, bint transpose_b, int rows, int columns, int inner,
                   const floating *a, const floating *b, floating *c) noexcept nogil:
    """c (rows, columns) = op(a) @ op(b), every matrix row-major and contiguous, op(m) the
    transpose of m where asked (a then holds (inner, rows), b (columns, inner)).

    A row-major matrix is its transpose in column-major order, so the Fortran product
    computes c.T = op(b).T @ op(a).T: b comes first, with the same transposition flags.
    Leading dimensions are at least 1, as the BLAS requires even of empty matrices.
    """
    cdef char op_a = b'T' if transpose_a else b'N'
    cdef char op_b = b'T' if transpose_b else b'N'
    cdef int lda = max(1, rows if transpose_a else inner)
    cdef int ldb = max(1, inner if transpose_b else columns)
    cdef int ldc = max(1, columns)
    cdef floating one = 1, zero = 0
    if floating is float:
        _sgemm(&op_b, &op_a, &columns, &rows, &inner, &one, <float *>b, &ldb,
               <float *>a, &lda, &zero, c, &ldc)
    else:
        _dgemm(&op_b, &op_a, &columns, &rows, &inner, &one, <double *>b, &ldb,
               <double *>a, &lda, &zero, c, &ldc)


cdef void _lower_chunk(const floating *images, Py_ssize_t size, Py_ssize_t C, floating *cols,
                       floating *padded, Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad,
                       Py_ssize_t field_height, Py_ssize_t field_width, Py_ssize_t stride,
                       Py_ssize_t out_h, Py_ssize_t out_w) noexcept nogil:
    """Columns (C * HH * WW, size, H' * W') of size consecutive images (C, H, W)."""
    cdef Py_ssize_t s, c, positions = out_h * out_w
    cdef Py_ssize_t row_step = size * positions, fields = field_height * field_width
    for s in range(size):
        for c in range(C):
            _im2col_plane(images + (s * C + c) * H * W, padded,
                          cols + c * fields * row_step + s * positions, row_step, H, W, pad,
                          field_height, field_width, stride, out_h, out_w)


cdef int _check_conv(tuple x_shape, tuple w_shape, tuple out_shape, Py_ssize_t field_height,
                     Py_ssize_t field_width, Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t step,
                     Py_ssize_t *out_h, Py_ssize_t *out_w) except -1:
    """ValueError unless w is (F, C * HH * WW) and out (N, F, H' * W') for x (N, C, H, W)
    and the sizes fit the BLAS's int; RuntimeError before use_blas. Sets H' and W'."""
    N, C, H, W = x_shape
    out_h[0] = _output_size(H, field_height, stride, pad)
    out_w[0] = _output_size(W, field_width, stride, pad)
    F = w_shape[0]
    expected = (F, C * field_height * field_width), (N, F, out_h[0] * out_w[0])
    if (w_shape, out_shape) != expected or step < 1:
        raise ValueError(f"filters {w_shape}, output {out_shape} and chunks of {step} "
                         f"samples do not match images {x_shape} with {field_height}x"
                         f"{field_width} windows, stride {stride}, pad {pad}: expected "
                         f"{expected} and at least one sample")
    if max(F, w_shape[1], min(step, N) * out_h[0] * out_w[0]) > 2147483647:
        raise ValueError(f"a chunk of {step} samples is too large for the BLAS's int sizes")
    if _sgemm == NULL:
        raise RuntimeError("use_blas has not been called")
    return 0


cdef Py_ssize_t _aligned(Py_ssize_t values) noexcept nogil:
    """values rounded up to a positive multiple of 64: the size of one thread's part of a
    shared buffer, so that the parts start on cache lines of their own."""
    return (max(values, 1) + 63) // 64 * 64


def conv_forward(const floating[:, :, :, ::1] x, const floating[:, ::1] w,
                 const floating[::1] bias, floating[:, :, ::1] out,
                 Py_ssize_t field_height, Py_ssize_t field_width, Py_ssize_t stride,
                 Py_ssize_t pad, Py_ssize_t step, Py_ssize_t num_threads=1):
    """out (N, F, H' * W') = x (N, C, H, W) convolved with the filter matrix w
    (F, C * HH * WW), plus bias (F,), step samples at a time.

    Each chunk of samples is one thread's whole job: it lowers the chunk into its own
    columns, multiplies them by w in one single-threaded product and writes the chunk's
    output with its biases. The chunks go to whichever thread is free (a thread slowed by
    another program on its core takes fewer), and none depends on which thread ran it.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = w.shape[0], K = w.shape[1]
    cdef Py_ssize_t out_h, out_w
    _check_conv((N, C, H, W), (F, K), (out.shape[0], out.shape[1], out.shape[2]),
                field_height, field_width, stride, pad, step, &out_h, &out_w)
    if bias.shape[0] != F:
        raise ValueError(f"{bias.shape[0]} biases for {F} filters")
    cdef Py_ssize_t positions = out_h * out_w
    cdef Py_ssize_t num_chunks = (N + step - 1) // step
    cdef int team = _team_size(num_threads, num_chunks, K * N * positions)
    cdef Py_ssize_t padded_size = _aligned((H + 2 * pad) * (W + 2 * pad))
    cdef Py_ssize_t cols_size = _aligned(K * min(step, N) * positions)
    cdef Py_ssize_t work_size = cols_size + _aligned(F * min(step, N) * positions)
    cdef floating *padded_planes = <floating *>calloc(team * padded_size, sizeof(floating))
    cdef floating *work = <floating *>malloc(team * work_size * sizeof(floating))
    if padded_planes == NULL or work == NULL:
        free(padded_planes)
        free(work)
        raise MemoryError()
    cdef Py_ssize_t chunk, start, size, s, f, p, thread
    cdef floating amount
    cdef floating *cols
    cdef floating *product
    cdef floating *target
    cdef const floating *source
    for chunk in prange(num_chunks, nogil=True, schedule="dynamic", num_threads=team):
        thread = threadid()
        cols = work + thread * work_size
        product = cols + cols_size
        start = chunk * step
        size = min(step, N - start)
        _lower_chunk(&x[start, 0, 0, 0], size, C, cols, padded_planes + thread * padded_size,
                     H, W, pad, field_height, field_width, stride, out_h, out_w)
        _product(False, False, <int>F, <int>(size * positions), <int>K, &w[0, 0], cols, product)
        # The (F, size, P) product to the (size, F, P) output, biases added on the way.
        for f in range(F):
            amount = bias[f]
            for s in range(size):
                source = product + (f * size + s) * positions
                target = &out[start + s, f, 0]
                for p in range(positions):
                    target[p] = source[p] + amount
    free(work)
    free(padded_planes)


# The backward pass's filter gradient is summed over chunks in chunk order, whichever
# thread computed each: the chunks go this many at a time, each product to its own slot,
# and the slots are then added onto dw in order. More chunks at a time wait less on the
# slowest, but each holds F * C * HH * WW values.
cdef enum:
    CHUNKS_PER_ROUND = 32


def conv_backward(const floating[:, :, :, ::1] x, const floating[:, ::1] w,
                  const floating[:, :, ::1] dout, floating[:, ::1] dw,
                  floating[:, :, :, ::1] dx, Py_ssize_t field_height, Py_ssize_t field_width,
                  Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t step,
                  Py_ssize_t num_threads=1):
    """Add the gradients of conv_forward for the upstream gradient dout (N, F, H' * W')
    onto dw (F, C * HH * WW) and, unless it is None, dx (N, C, H, W).

    As in conv_forward, each chunk is one thread's job, from its columns to its products;
    the result does not depend on the number of threads (see CHUNKS_PER_ROUND).
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = w.shape[0], K = w.shape[1]
    cdef Py_ssize_t out_h, out_w
    _check_conv((N, C, H, W), (F, K), (dout.shape[0], dout.shape[1], dout.shape[2]),
                field_height, field_width, stride, pad, step, &out_h, &out_w)
    cdef Py_ssize_t positions = out_h * out_w
    cdef bint input_gradient = dx is not None
    if (dw.shape[0], dw.shape[1]) != (F, K) or (
            input_gradient and (dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]) != (N, C, H, W)):
        raise ValueError(f"the filter gradient {(dw.shape[0], dw.shape[1])} must be {(F, K)} "
                         f"and the input gradient {(N, C, H, W)}")
    cdef Py_ssize_t num_chunks = (N + step - 1) // step
    cdef int team = _team_size(num_threads, num_chunks, K * N * positions)
    cdef Py_ssize_t fields = field_height * field_width
    cdef Py_ssize_t padded_size = _aligned((H + 2 * pad) * (W + 2 * pad))
    cdef Py_ssize_t cols_size = _aligned(K * min(step, N) * positions)
    cdef Py_ssize_t dout_size = _aligned(F * min(step, N) * positions)
    cdef Py_ssize_t work_size = 2 * cols_size + dout_size + padded_size
    # The zero-bordered planes of the lowering must stay zero outside their insides;
    # the planes of col2im's sums are cleared by each use, so they go with the rest.
    cdef floating *padded_planes = <floating *>calloc(team * padded_size, sizeof(floating))
    cdef floating *work = <floating *>malloc(team * work_size * sizeof(floating))
    cdef floating *slots = <floating *>malloc(
        max(1, min(CHUNKS_PER_ROUND, num_chunks) * F * K) * sizeof(floating))
    if padded_planes == NULL or work == NULL or slots == NULL:
        free(padded_planes)
        free(work)
        free(slots)
        raise MemoryError()
    cdef Py_ssize_t first, last, chunk, start, size, s, c, f, k, thread
    cdef floating *cols
    cdef floating *chunk_dout
    cdef floating *dcols
    cdef floating *sum_plane
    cdef floating *slot
    cdef floating *gradient
    for first in range(0, num_chunks, CHUNKS_PER_ROUND):
        last = min(first + CHUNKS_PER_ROUND, num_chunks)
        for chunk in prange(first, last, nogil=True, schedule="dynamic", num_threads=team):
            thread = threadid()
            cols = work + thread * work_size
            chunk_dout = cols + cols_size
            dcols = chunk_dout + dout_size
            sum_plane = dcols + cols_size
            start = chunk * step
            size = min(step, N - start)
            _lower_chunk(&x[start, 0, 0, 0], size, C, cols, padded_planes + thread * padded_size,
                         H, W, pad, field_height, field_width, stride, out_h, out_w)
            # The chunk's upstream gradient as one (F, n H' W') matrix, in the columns' order.
            for f in range(F):
                for s in range(size):
                    memcpy(chunk_dout + (f * size + s) * positions, &dout[start + s, f, 0],
                           positions * sizeof(floating))
            # (F, n P) @ (n P, K) to the chunk's slot, and (K, F) @ (F, n P).
            _product(False, True, <int>F, <int>K, <int>(size * positions), chunk_dout, cols,
                     slots + (chunk - first) * F * K)
            if input_gradient:
                _product(True, False, <int>K, <int>(size * positions), <int>F, &w[0, 0],
                         chunk_dout, dcols)
                for s in range(size):
                    for c in range(C):
                        _col2im_plane(dcols + c * fields * size * positions + s * positions,
                                      size * positions, sum_plane, &dx[start + s, c, 0, 0],
                                      H, W, pad, field_height, field_width, stride, out_h,
                                      out_w)
        # Each row of dw is one thread's, its slots added in chunk order.
        for f in prange(F, nogil=True, schedule="static", num_threads=team):
            gradient = &dw[f, 0]
            for chunk in range(first, last):
                slot = slots + ((chunk - first) * F + f) * K
                for k in range(K):
                    gradient[k] += slot[k]
    free(slots)
    free(work)
    free(padded_planes)
