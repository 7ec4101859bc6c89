# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the C builder of the convolution's CSR matrix (validated by convcore.matrix)."""
import numpy as np

from cython cimport floating
from libc.stdint cimport int64_t

from convcore._cconvcore cimport (
    cc_conv2d_geometry, cc_conv_geometry, cc_conv_matrix_fill_range_f32,
    cc_conv_matrix_fill_range_f64,
    cc_conv_matrix_indptr,
)

include "_chunks.pxi"
include "_geometry.pxi"


cdef cc_conv2d_geometry _one_image(object geom) except *:
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    g.N = 1
    return g


def conv_matrix_indptr(const floating[:, :, :, ::1] w, object geom,
                       int64_t[::1] indptr):
    """Fill the K*Hout*Wout + 1 row pointers; return the number of entries."""
    cdef cc_conv2d_geometry g = _one_image(geom)
    cdef int64_t nnz
    with nogil:
        nnz = cc_conv_matrix_indptr(&g, &indptr[0])
    return nnz


def conv_matrix_fill(const floating[:, :, :, ::1] w, object geom,
                     const int64_t[::1] indptr, int64_t[::1] indices, floating[::1] data,
                     int n_threads):
    """Fill the CSR entries of every row, in chunks of rows with a check for Ctrl-C
    between them.  ``geom`` is the ConvGeometry of one image."""
    cdef cc_conv2d_geometry g = _one_image(geom)
    cdef Py_ssize_t rows = g.K * g.Hout * g.Wout, r0 = 0, r1
    cdef Py_ssize_t per_row = (g.C // g.groups) * g.R * g.S
    cdef Py_ssize_t step = chunk_items(rows, per_row * NS_PER_ELEMENT, n_threads)
    if w.shape[0] == 0 or indices.shape[0] == 0:
        return
    while r0 < rows:
        r1 = min(rows, r0 + step)
        with nogil:
            if floating is float:
                cc_conv_matrix_fill_range_f32(&g, &w[0, 0, 0, 0], &indptr[0], &indices[0],
                                              &data[0], r0, r1, n_threads)
            else:
                cc_conv_matrix_fill_range_f64(&g, &w[0, 0, 0, 0], &indptr[0], &indices[0],
                                              &data[0], r0, r1, n_threads)
        PyErr_CheckSignals()
        r0 = r1
