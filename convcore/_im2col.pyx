# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the C im2col/col2im kernels (validated and allocated by convcore.functional).

Any number of spatial dimensions: the images are passed flattened, (N, C, cells).  Both
run in chunks of (image, channel) tasks with a check for Ctrl-C between them."""
from cython cimport floating

from convcore._cconvcore cimport (
    cc_col2im_batch_range_f32, cc_col2im_batch_range_f64, cc_conv2d_geometry, cc_conv_geometry,
    cc_conv_out_cells, cc_conv_taps, cc_im2col_batch_range_f32, cc_im2col_batch_range_f64,
)

include "_chunks.pxi"
include "_geometry.pxi"


cdef cc_conv_geometry _unfold(object geom, Py_ssize_t N, Py_ssize_t C) except *:
    """The struct of an unfold's geometry (its batch, channels and K are the arrays')."""
    cdef cc_conv_geometry g = conv_geometry(geom)
    g.N, g.C, g.K, g.groups = N, C, C, 1
    return g


def im2col(const floating[:, :, ::1] x, floating[:, :, ::1] cols, object geom,
           int n_threads):
    """cols (N, C*taps, out cells) = unfold(x), x (N, C, in cells)."""
    cdef cc_conv_geometry g = _unfold(geom, x.shape[0], x.shape[1])
    if cols.shape[0] == 0 or cols.shape[1] == 0 or cols.shape[2] == 0:
        return
    cdef Py_ssize_t tasks = g.N * g.C, t0 = 0, t1
    cdef Py_ssize_t step = chunk_items(tasks, <double>cc_conv_taps(&g) * cc_conv_out_cells(&g)
                                       * NS_PER_ELEMENT, n_threads)
    while t0 < tasks:
        t1 = min(tasks, t0 + step)
        with nogil:
            if floating is float:
                cc_im2col_batch_range_f32(&g, &x[0, 0, 0], &cols[0, 0, 0], t0, t1, n_threads)
            else:
                cc_im2col_batch_range_f64(&g, &x[0, 0, 0], &cols[0, 0, 0], t0, t1, n_threads)
        PyErr_CheckSignals()
        t0 = t1


def col2im(const floating[:, :, ::1] cols, floating[:, :, ::1] x, object geom,
           int n_threads):
    """x (N, C, in cells) = fold(cols): overlapping entries are summed."""
    cdef cc_conv_geometry g = _unfold(geom, x.shape[0], x.shape[1])
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        return
    cdef Py_ssize_t tasks = g.N * g.C, t0 = 0, t1
    cdef Py_ssize_t step = chunk_items(tasks, (<double>cc_conv_taps(&g) * cc_conv_out_cells(&g)
                                               + x.shape[2]) * NS_PER_ELEMENT, n_threads)
    while t0 < tasks:
        t1 = min(tasks, t0 + step)
        with nogil:
            if floating is float:
                cc_col2im_batch_range_f32(&g, &cols[0, 0, 0], &x[0, 0, 0], t0, t1, n_threads)
            else:
                cc_col2im_batch_range_f64(&g, &cols[0, 0, 0], &x[0, 0, 0], t0, t1, n_threads)
        PyErr_CheckSignals()
        t0 = t1
