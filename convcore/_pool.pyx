# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the C pooling kernels: typed memoryviews in, GIL released, no checks.

convcore.pooling has validated the arguments and allocated every output.  Arrays are
(planes, H, W) views of the NCHW data; ``geom`` is
(kh, kw, sh, sw, ph, pw, dh, dw, Hout, Wout).  Empty arrays never reach these functions.
"""
from cython cimport floating
from libc.stdint cimport int64_t

from convcore._cconvcore cimport (
    cc_adaptive_avg_pool2d_f32, cc_adaptive_avg_pool2d_f64, cc_adaptive_max_pool2d_f32,
    cc_adaptive_max_pool2d_f64, cc_avg_pool2d_backward_f32, cc_avg_pool2d_backward_f64,
    cc_avg_pool2d_f32, cc_avg_pool2d_f64, cc_max_pool2d_backward_f32,
    cc_max_pool2d_backward_f64, cc_max_pool2d_f32, cc_max_pool2d_f64, cc_pool2d_geometry,
    cc_avg_pool2d_nhwc_f32, cc_avg_pool2d_nhwc_f64, cc_max_pool2d_nhwc_f32,
    cc_max_pool2d_nhwc_f64,
    cc_simd_active, cc_simd_detect, cc_simd_force, cc_simd_level, cc_simd_name,
    CC_SIMD_AVX2, CC_SIMD_AVX512, CC_SIMD_GENERIC,
)


cdef cc_pool2d_geometry _geometry(Py_ssize_t planes, Py_ssize_t H, Py_ssize_t W, tuple geom):
    cdef cc_pool2d_geometry g
    g.planes, g.H, g.W = planes, H, W
    g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.Hout, g.Wout = geom
    return g


def max_pool(const floating[:, :, ::1] x, floating[:, :, ::1] y, int64_t[:, :, ::1] indices,
             tuple geom, int n_threads):
    """y = max over windows; ``indices`` may be None."""
    cdef cc_pool2d_geometry g = _geometry(x.shape[0], x.shape[1], x.shape[2], geom)
    cdef int64_t *ip = &indices[0, 0, 0] if indices is not None else NULL
    with nogil:
        if floating is float:
            cc_max_pool2d_f32(&g, &x[0, 0, 0], &y[0, 0, 0], ip, n_threads)
        else:
            cc_max_pool2d_f64(&g, &x[0, 0, 0], &y[0, 0, 0], ip, n_threads)


def avg_pool(const floating[:, :, ::1] x, floating[:, :, ::1] y, bint count_include_pad,
             Py_ssize_t divisor_override, tuple geom, int n_threads):
    """y = window means; ``divisor_override`` 0 means none."""
    cdef cc_pool2d_geometry g = _geometry(x.shape[0], x.shape[1], x.shape[2], geom)
    with nogil:
        if floating is float:
            cc_avg_pool2d_f32(&g, &x[0, 0, 0], &y[0, 0, 0], count_include_pad,
                              divisor_override, n_threads)
        else:
            cc_avg_pool2d_f64(&g, &x[0, 0, 0], &y[0, 0, 0], count_include_pad,
                              divisor_override, n_threads)


def max_pool_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                  int64_t[:, :, :, ::1] indices, tuple geom, int n_threads):
    """Channels-last max pool: x (N, H, W, C), y and ``indices`` (may be None) (N, Ho, Wo, C)."""
    cdef cc_pool2d_geometry g = _geometry(x.shape[0], x.shape[1], x.shape[2], geom)
    cdef int64_t *ip = &indices[0, 0, 0, 0] if indices is not None else NULL
    cdef Py_ssize_t C = x.shape[3]
    with nogil:
        if floating is float:
            cc_max_pool2d_nhwc_f32(&g, C, &x[0, 0, 0, 0], &y[0, 0, 0, 0], ip, n_threads)
        else:
            cc_max_pool2d_nhwc_f64(&g, C, &x[0, 0, 0, 0], &y[0, 0, 0, 0], ip, n_threads)


def avg_pool_nhwc(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                  bint count_include_pad, Py_ssize_t divisor_override, tuple geom,
                  int n_threads):
    """Channels-last average pool: x (N, H, W, C), y (N, Ho, Wo, C)."""
    cdef cc_pool2d_geometry g = _geometry(x.shape[0], x.shape[1], x.shape[2], geom)
    cdef Py_ssize_t C = x.shape[3]
    with nogil:
        if floating is float:
            cc_avg_pool2d_nhwc_f32(&g, C, &x[0, 0, 0, 0], &y[0, 0, 0, 0], count_include_pad,
                                   divisor_override, n_threads)
        else:
            cc_avg_pool2d_nhwc_f64(&g, C, &x[0, 0, 0, 0], &y[0, 0, 0, 0], count_include_pad,
                                   divisor_override, n_threads)


def max_pool_backward(const floating[:, :, ::1] grad_out, const int64_t[:, :, ::1] indices,
                      floating[:, :, ::1] grad_in, tuple geom, int n_threads):
    """grad_in = scatter-add of grad_out at the argmax indices."""
    cdef cc_pool2d_geometry g = _geometry(grad_in.shape[0], grad_in.shape[1],
                                          grad_in.shape[2], geom)
    with nogil:
        if floating is float:
            cc_max_pool2d_backward_f32(&g, &grad_out[0, 0, 0], &indices[0, 0, 0],
                                       &grad_in[0, 0, 0], n_threads)
        else:
            cc_max_pool2d_backward_f64(&g, &grad_out[0, 0, 0], &indices[0, 0, 0],
                                       &grad_in[0, 0, 0], n_threads)


def avg_pool_backward(const floating[:, :, ::1] grad_out, floating[:, :, ::1] grad_in,
                      bint count_include_pad, Py_ssize_t divisor_override, tuple geom,
                      int n_threads):
    """grad_in = each output's gradient / divisor spread over its window."""
    cdef cc_pool2d_geometry g = _geometry(grad_in.shape[0], grad_in.shape[1],
                                          grad_in.shape[2], geom)
    with nogil:
        if floating is float:
            cc_avg_pool2d_backward_f32(&g, &grad_out[0, 0, 0], &grad_in[0, 0, 0],
                                       count_include_pad, divisor_override, n_threads)
        else:
            cc_avg_pool2d_backward_f64(&g, &grad_out[0, 0, 0], &grad_in[0, 0, 0],
                                       count_include_pad, divisor_override, n_threads)


def adaptive_avg_pool(const floating[:, :, ::1] x, floating[:, :, ::1] y, int n_threads):
    """y (planes, Hout, Wout) = means over PyTorch's adaptive windows."""
    with nogil:
        if floating is float:
            cc_adaptive_avg_pool2d_f32(x.shape[0], x.shape[1], x.shape[2], y.shape[1],
                                       y.shape[2], &x[0, 0, 0], &y[0, 0, 0], n_threads)
        else:
            cc_adaptive_avg_pool2d_f64(x.shape[0], x.shape[1], x.shape[2], y.shape[1],
                                       y.shape[2], &x[0, 0, 0], &y[0, 0, 0], n_threads)


def adaptive_max_pool(const floating[:, :, ::1] x, floating[:, :, ::1] y,
                      int64_t[:, :, ::1] indices, int n_threads):
    """y = maxima over PyTorch's adaptive windows; ``indices`` may be None."""
    cdef int64_t *ip = &indices[0, 0, 0] if indices is not None else NULL
    with nogil:
        if floating is float:
            cc_adaptive_max_pool2d_f32(x.shape[0], x.shape[1], x.shape[2], y.shape[1],
                                       y.shape[2], &x[0, 0, 0], &y[0, 0, 0], ip, n_threads)
        else:
            cc_adaptive_max_pool2d_f64(x.shape[0], x.shape[1], x.shape[2], y.shape[1],
                                       y.shape[2], &x[0, 0, 0], &y[0, 0, 0], ip, n_threads)


include "_simd.pxi"
