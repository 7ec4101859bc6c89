# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the C im2col/col2im kernels (validated and allocated by convcore.functional).

Both run in chunks of (image, channel) tasks with a check for Ctrl-C between them."""
from cython cimport floating

from convcore._cconvcore cimport (
    cc_col2im_batch_range_f32, cc_col2im_batch_range_f64, cc_conv2d_geometry,
    cc_im2col_batch_range_f32, cc_im2col_batch_range_f64,
)

include "_chunks.pxi"


cdef cc_conv2d_geometry _geometry(Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                                  tuple kernel_geom):
    """kernel_geom = (R, S, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, Hout, Wout)."""
    cdef cc_conv2d_geometry g
    g.N, g.C, g.H, g.W = N, C, H, W
    g.K, g.groups = C, 1
    (g.R, g.S, g.stride_h, g.stride_w, g.dil_h, g.dil_w,
     g.pad_top, g.pad_left, g.Hout, g.Wout) = kernel_geom
    return g


def im2col(const floating[:, :, :, ::1] x, floating[:, :, ::1] cols, tuple kernel_geom,
           int n_threads):
    """cols (N, C*R*S, Hout*Wout) = unfold(x)."""
    cdef cc_conv2d_geometry g = _geometry(x.shape[0], x.shape[1], x.shape[2], x.shape[3],
                                          kernel_geom)
    if cols.shape[0] == 0 or cols.shape[1] == 0 or cols.shape[2] == 0:
        return
    cdef Py_ssize_t tasks = g.N * g.C, t0 = 0, t1
    cdef Py_ssize_t step = chunk_items(tasks, <double>g.R * g.S * g.Hout * g.Wout *
                                       NS_PER_ELEMENT, n_threads)
    while t0 < tasks:
        t1 = min(tasks, t0 + step)
        with nogil:
            if floating is float:
                cc_im2col_batch_range_f32(&g, &x[0, 0, 0, 0], &cols[0, 0, 0], t0, t1,
                                          n_threads)
            else:
                cc_im2col_batch_range_f64(&g, &x[0, 0, 0, 0], &cols[0, 0, 0], t0, t1,
                                          n_threads)
        PyErr_CheckSignals()
        t0 = t1


def col2im(const floating[:, :, ::1] cols, floating[:, :, :, ::1] x, tuple kernel_geom,
           int n_threads):
    """x (N, C, H, W) = fold(cols): overlapping entries are summed."""
    cdef cc_conv2d_geometry g = _geometry(x.shape[0], x.shape[1], x.shape[2], x.shape[3],
                                          kernel_geom)
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0 or x.shape[3] == 0:
        return
    cdef Py_ssize_t tasks = g.N * g.C, t0 = 0, t1
    cdef Py_ssize_t step = chunk_items(tasks, (<double>g.R * g.S * g.Hout * g.Wout + g.H * g.W)
                                       * NS_PER_ELEMENT, n_threads)
    while t0 < tasks:
        t1 = min(tasks, t0 + step)
        with nogil:
            if floating is float:
                cc_col2im_batch_range_f32(&g, &cols[0, 0, 0], &x[0, 0, 0, 0], t0, t1,
                                          n_threads)
            else:
                cc_col2im_batch_range_f64(&g, &cols[0, 0, 0], &x[0, 0, 0, 0], t0, t1,
                                          n_threads)
        PyErr_CheckSignals()
        t0 = t1
