# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the C builder of the convolution's CSR matrix (validated by convcore.matrix)."""
import numpy as np

from cython cimport floating
from libc.stdint cimport int64_t

from convcore._cconvcore cimport (
    cc_conv2d_geometry, cc_conv_matrix_fill_f32, cc_conv_matrix_fill_f64,
    cc_conv_matrix_indptr,
)


def conv_matrix_csr(const floating[:, :, :, ::1] w, tuple image_shape, tuple geom,
                    int n_threads):
    """(data, indices, indptr) of the CSR matrix of conv2d for one (C, H, W) image.

    ``geom`` = (groups, sh, sw, dh, dw, pad_top, pad_left, Hout, Wout).
    """
    cdef cc_conv2d_geometry g
    g.N = 1
    g.C, g.H, g.W = image_shape
    g.K, g.R, g.S = w.shape[0], w.shape[2], w.shape[3]
    (g.groups, g.stride_h, g.stride_w, g.dil_h, g.dil_w,
     g.pad_top, g.pad_left, g.Hout, g.Wout) = geom
    indptr_arr = np.empty(g.K * g.Hout * g.Wout + 1, dtype=np.int64)
    cdef int64_t[::1] indptr = indptr_arr
    cdef int64_t nnz
    with nogil:
        nnz = cc_conv_matrix_indptr(&g, &indptr[0])
    dtype = np.float32 if floating is float else np.float64
    data_arr = np.empty(max(nnz, 1), dtype=dtype)
    indices_arr = np.empty(max(nnz, 1), dtype=np.int64)
    cdef floating[::1] data = data_arr
    cdef int64_t[::1] indices = indices_arr
    if w.shape[0] > 0 and nnz > 0:
        with nogil:
            if floating is float:
                cc_conv_matrix_fill_f32(&g, &w[0, 0, 0, 0], &indptr[0], &indices[0], &data[0],
                                        n_threads)
            else:
                cc_conv_matrix_fill_f64(&g, &w[0, 0, 0, 0], &indptr[0], &indices[0], &data[0],
                                        n_threads)
    return data_arr[:nnz], indices_arr[:nnz], indptr_arr
