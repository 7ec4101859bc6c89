# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the C pooling kernels: typed memoryviews in, GIL released, no checks.

convcore.pooling has validated the arguments and allocated every output.  Arrays are
(planes, D, H, W) views of the NC(D)HW data (D = 1 for 1-D and 2-D pools); ``geom`` is
the call's convcore._geometry.PoolGeometry (sizes as (depth, height, width)).  The
channels-last functions are 2-D: x (N, H, W, C), the geometry of depth 1.
Empty arrays never reach these functions.
Every kernel runs in chunks of planes (images for channels-last) with a check for Ctrl-C
between them; planes are independent, so the chunks do not change the result.
"""
from cython cimport floating
from libc.stdint cimport int64_t

from convcore._cconvcore cimport (
    cc_avg_pool2d_backward_f32, cc_avg_pool2d_backward_f64,
    cc_avg_pool2d_f32, cc_avg_pool2d_f64, cc_max_pool2d_backward_f32,
    cc_max_pool2d_backward_f64, cc_max_pool2d_f32, cc_max_pool2d_f64, cc_pool2d_geometry,
    cc_avg_pool2d_nhwc_rows_f32, cc_avg_pool2d_nhwc_rows_f64, cc_max_pool2d_nhwc_rows_f32,
    cc_max_pool2d_nhwc_rows_f64, cc_adaptive_avg_pool3d_f32, cc_adaptive_avg_pool3d_f64,
    cc_adaptive_max_pool3d_f32, cc_adaptive_max_pool3d_f64, cc_max_unpool_f32,
    cc_max_unpool_f64,
    cc_simd_active, cc_simd_count, cc_simd_detect, cc_simd_force, cc_simd_level,
    cc_simd_name,
)

include "_chunks.pxi"


include "_geometry.pxi"


cdef Py_ssize_t _row_step(Py_ssize_t rows, const cc_pool2d_geometry *g, Py_ssize_t C,
                          int n_threads):
    """Output rows per chunk of a channels-last pool: a row costs its window taps and
    kh input rows."""
    cdef double taps = <double>g.kh * g.kw * g.Wout * C
    return chunk_items(rows, taps * NS_PER_MAC + <double>g.kh * g.W * C * NS_PER_ELEMENT,
                       n_threads)


cdef Py_ssize_t _plane_step(Py_ssize_t planes, const cc_pool2d_geometry *g, int n_threads):
    """Planes per chunk: a plane costs its window taps plus its input cells."""
    cdef double taps = <double>g.kd * g.kh * g.kw * g.Dout * g.Hout * g.Wout
    return chunk_items(planes, taps * NS_PER_MAC + <double>g.D * g.H * g.W * NS_PER_ELEMENT,
                       n_threads)


def max_pool(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, int64_t[:, :, :, ::1] indices,
             object geom, int n_threads):
    """y = max over windows; ``indices`` may be None."""
    cdef cc_pool2d_geometry g = pool_geometry(geom, x.shape[0])
    cdef Py_ssize_t planes = x.shape[0], p0 = 0, p1
    cdef Py_ssize_t step = _plane_step(planes, &g, n_threads)
    cdef int64_t *ip
    while p0 < planes:
        p1 = min(planes, p0 + step)
        g.planes = p1 - p0
        ip = &indices[p0, 0, 0, 0] if indices is not None else NULL
        with nogil:
            if floating is float:
                cc_max_pool2d_f32(&g, &x[p0, 0, 0, 0], &y[p0, 0, 0, 0], ip, n_threads)
            else:
                cc_max_pool2d_f64(&g, &x[p0, 0, 0, 0], &y[p0, 0, 0, 0], ip, n_threads)
        PyErr_CheckSignals()
        p0 = p1


def avg_pool(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, bint count_include_pad,
             Py_ssize_t divisor_override, object geom, int n_threads):
    """y = window means; ``divisor_override`` 0 means none."""
    cdef cc_pool2d_geometry g = pool_geometry(geom, x.shape[0])
    cdef Py_ssize_t planes = x.shape[0], p0 = 0, p1
    cdef Py_ssize_t step = _plane_step(planes, &g, n_threads)
    while p0 < planes:
        p1 = min(planes, p0 + step)
        g.planes = p1 - p0
        with nogil:
            if floating is float:
                cc_avg_pool2d_f32(&g, &x[p0, 0, 0, 0], &y[p0, 0, 0, 0], count_include_pad,
                                  divisor_override, n_threads)
            else:
                cc_avg_pool2d_f64(&g, &x[p0, 0, 0, 0], &y[p0, 0, 0, 0], count_include_pad,
                                  divisor_override, n_threads)
        PyErr_CheckSignals()
        p0 = p1


def max_pool_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                  int64_t[:, :, :, ::1] indices, object geom, int n_threads):
    """Channels-last max pool: x (N, H, W, C), y and ``indices`` (may be None) (N, Ho, Wo, C)."""
    cdef cc_pool2d_geometry g = pool_geometry(geom, x.shape[0])
    cdef Py_ssize_t C = x.shape[3], rows = x.shape[0] * g.Hout, r0 = 0, r1
    cdef Py_ssize_t step = _row_step(rows, &g, C, n_threads)
    cdef int64_t *ip = &indices[0, 0, 0, 0] if indices is not None else NULL
    while r0 < rows:
        r1 = min(rows, r0 + step)
        with nogil:
            if floating is float:
                cc_max_pool2d_nhwc_rows_f32(&g, C, &x[0, 0, 0, 0], &y[0, 0, 0, 0], ip, r0, r1,
                                            n_threads)
            else:
                cc_max_pool2d_nhwc_rows_f64(&g, C, &x[0, 0, 0, 0], &y[0, 0, 0, 0], ip, r0, r1,
                                            n_threads)
        PyErr_CheckSignals()
        r0 = r1


def avg_pool_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                  bint count_include_pad, Py_ssize_t divisor_override, object geom,
                  int n_threads):
    """Channels-last average pool: x (N, H, W, C), y (N, Ho, Wo, C)."""
    cdef cc_pool2d_geometry g = pool_geometry(geom, x.shape[0])
    cdef Py_ssize_t C = x.shape[3], rows = x.shape[0] * g.Hout, r0 = 0, r1
    cdef Py_ssize_t step = _row_step(rows, &g, C, n_threads)
    while r0 < rows:
        r1 = min(rows, r0 + step)
        with nogil:
            if floating is float:
                cc_avg_pool2d_nhwc_rows_f32(&g, C, &x[0, 0, 0, 0], &y[0, 0, 0, 0],
                                            count_include_pad, divisor_override, r0, r1,
                                            n_threads)
            else:
                cc_avg_pool2d_nhwc_rows_f64(&g, C, &x[0, 0, 0, 0], &y[0, 0, 0, 0],
                                            count_include_pad, divisor_override, r0, r1,
                                            n_threads)
        PyErr_CheckSignals()
        r0 = r1


def max_pool_backward(const floating[:, :, :, ::1] grad_out, const int64_t[:, :, :, ::1] indices,
                      floating[:, :, :, ::1] grad_in, object geom, int n_threads):
    """grad_in = scatter-add of grad_out at the argmax indices."""
    cdef cc_pool2d_geometry g = pool_geometry(geom, grad_in.shape[0])
    cdef Py_ssize_t planes = grad_in.shape[0], p0 = 0, p1
    cdef Py_ssize_t step = _plane_step(planes, &g, n_threads)
    while p0 < planes:
        p1 = min(planes, p0 + step)
        g.planes = p1 - p0
        with nogil:
            if floating is float:
                cc_max_pool2d_backward_f32(&g, &grad_out[p0, 0, 0, 0], &indices[p0, 0, 0, 0],
                                           &grad_in[p0, 0, 0, 0], n_threads)
            else:
                cc_max_pool2d_backward_f64(&g, &grad_out[p0, 0, 0, 0], &indices[p0, 0, 0, 0],
                                           &grad_in[p0, 0, 0, 0], n_threads)
        PyErr_CheckSignals()
        p0 = p1


def avg_pool_backward(const floating[:, :, :, ::1] grad_out, floating[:, :, :, ::1] grad_in,
                      bint count_include_pad, Py_ssize_t divisor_override, object geom,
                      int n_threads):
    """grad_in = each output's gradient / divisor spread over its window."""
    cdef cc_pool2d_geometry g = pool_geometry(geom, grad_in.shape[0])
    cdef Py_ssize_t planes = grad_in.shape[0], p0 = 0, p1
    cdef Py_ssize_t step = _plane_step(planes, &g, n_threads)
    while p0 < planes:
        p1 = min(planes, p0 + step)
        g.planes = p1 - p0
        with nogil:
            if floating is float:
                cc_avg_pool2d_backward_f32(&g, &grad_out[p0, 0, 0, 0], &grad_in[p0, 0, 0, 0],
                                           count_include_pad, divisor_override, n_threads)
            else:
                cc_avg_pool2d_backward_f64(&g, &grad_out[p0, 0, 0, 0], &grad_in[p0, 0, 0, 0],
                                           count_include_pad, divisor_override, n_threads)
        PyErr_CheckSignals()
        p0 = p1


cdef Py_ssize_t _adaptive_step(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] y,
                               int n_threads):
    """Planes per chunk of an adaptive pool: each output window covers at most
    ceil(L / Lout) + 1 cells along each dimension."""
    cdef double taps = 1
    cdef int d
    for d in range(1, 4):
        taps *= (x.shape[d] // y.shape[d] + 2) * y.shape[d]
    return chunk_items(x.shape[0], taps * NS_PER_MAC + <double>x.shape[1] * x.shape[2]
                       * x.shape[3] * NS_PER_ELEMENT, n_threads)


def adaptive_avg_pool(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, int n_threads):
    """y (planes, Dout, Hout, Wout) = means over PyTorch's adaptive windows."""
    cdef Py_ssize_t planes = x.shape[0], p0 = 0, p1
    cdef Py_ssize_t step = _adaptive_step(x, y, n_threads)
    while p0 < planes:
        p1 = min(planes, p0 + step)
        with nogil:
            if floating is float:
                cc_adaptive_avg_pool3d_f32(p1 - p0, x.shape[1], x.shape[2], x.shape[3],
                                           y.shape[1], y.shape[2], y.shape[3], &x[p0, 0, 0, 0],
                                           &y[p0, 0, 0, 0], n_threads)
            else:
                cc_adaptive_avg_pool3d_f64(p1 - p0, x.shape[1], x.shape[2], x.shape[3],
                                           y.shape[1], y.shape[2], y.shape[3], &x[p0, 0, 0, 0],
                                           &y[p0, 0, 0, 0], n_threads)
        PyErr_CheckSignals()
        p0 = p1


def adaptive_max_pool(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                      int64_t[:, :, :, ::1] indices, int n_threads):
    """y = maxima over PyTorch's adaptive windows; ``indices`` may be None."""
    cdef Py_ssize_t planes = x.shape[0], p0 = 0, p1
    cdef Py_ssize_t step = _adaptive_step(x, y, n_threads)
    cdef int64_t *ip
    while p0 < planes:
        p1 = min(planes, p0 + step)
        ip = &indices[p0, 0, 0, 0] if indices is not None else NULL
        with nogil:
            if floating is float:
                cc_adaptive_max_pool3d_f32(p1 - p0, x.shape[1], x.shape[2], x.shape[3],
                                           y.shape[1], y.shape[2], y.shape[3], &x[p0, 0, 0, 0],
                                           &y[p0, 0, 0, 0], ip, n_threads)
            else:
                cc_adaptive_max_pool3d_f64(p1 - p0, x.shape[1], x.shape[2], x.shape[3],
                                           y.shape[1], y.shape[2], y.shape[3], &x[p0, 0, 0, 0],
                                           &y[p0, 0, 0, 0], ip, n_threads)
        PyErr_CheckSignals()
        p0 = p1


def max_unpool(const floating[:, ::1] x, const int64_t[:, ::1] indices, floating[:, ::1] y,
               int n_threads):
    """y (planes, out_plane) = zeros but for y[p, indices[p, i]] = x[p, i]."""
    cdef Py_ssize_t planes = x.shape[0], p0 = 0, p1
    cdef Py_ssize_t step = chunk_items(planes, (x.shape[1] * NS_PER_MAC
                                                + y.shape[1] * NS_PER_ELEMENT), n_threads)
    while p0 < planes:
        p1 = min(planes, p0 + step)
        with nogil:
            if floating is float:
                cc_max_unpool_f32(p1 - p0, x.shape[1], y.shape[1], &x[p0, 0], &indices[p0, 0],
                                  &y[p0, 0], n_threads)
            else:
                cc_max_unpool_f64(p1 - p0, x.shape[1], y.shape[1], &x[p0, 0], &indices[p0, 0],
                                  &y[p0, 0], n_threads)
        PyErr_CheckSignals()
        p0 = p1


include "_simd.pxi"
