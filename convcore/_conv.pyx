# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Bridge to the C convolution kernels: typed memoryviews in, GIL released, no checks.

The Python layer (convcore.functional) has validated every argument and allocated
``y``; these functions only unpack pointers and call C.
"""
import numpy as np

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm

from convcore._cconvcore cimport (
    CC_SIMD_AVX2, CC_SIMD_AVX512, CC_SIMD_GENERIC, cc_conv2d_direct_f32,
    cc_conv2d_direct_f64, cc_conv2d_direct_pack_size_f32, cc_conv2d_direct_pack_size_f64,
    cc_conv2d_gemm_f32, cc_conv2d_gemm_f64, cc_conv2d_geometry, cc_dgemm_fn,
    cc_gemm_workspace_per_thread, cc_sgemm_fn, cc_simd_active, cc_simd_detect, cc_simd_force,
    cc_simd_level, cc_simd_name,
)


cdef cc_conv2d_geometry make_geometry(tuple xshape, tuple wshape, tuple geom):
    """geom = (groups, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, Hout, Wout)."""
    cdef cc_conv2d_geometry g
    g.N, g.C, g.H, g.W = xshape
    g.K, g.R, g.S = wshape[0], wshape[2], wshape[3]
    (g.groups, g.stride_h, g.stride_w, g.dil_h, g.dil_w,
     g.pad_top, g.pad_left, g.Hout, g.Wout) = geom
    return g


def conv2d_direct(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                  const floating[::1] bias, floating[:, :, :, ::1] y, tuple geom,
                  int n_threads):
    """y = conv(x, w) + bias by the direct kernel; ``bias`` of length 0 means none.

    The only allocation is the repacked copy of the weights the register tiles read.
    """
    cdef cc_conv2d_geometry g = make_geometry(
        (x.shape[0], x.shape[1], x.shape[2], x.shape[3]),
        (w.shape[0], 0, w.shape[2], w.shape[3]), geom)
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    if y.shape[0] == 0 or y.shape[1] == 0:
        return
    cdef floating[::1] wpack
    if floating is float:
        wpack = np.empty(cc_conv2d_direct_pack_size_f32(&g), dtype=np.float32)
    else:
        wpack = np.empty(cc_conv2d_direct_pack_size_f64(&g), dtype=np.float64)
    with nogil:
        if floating is float:
            cc_conv2d_direct_f32(&g, &x[0, 0, 0, 0], &w[0, 0, 0, 0], b, &y[0, 0, 0, 0],
                                 &wpack[0], n_threads)
        else:
            cc_conv2d_direct_f64(&g, &x[0, 0, 0, 0], &w[0, 0, 0, 0], b, &y[0, 0, 0, 0],
                                 &wpack[0], n_threads)


def gemm_workspace_bytes(tuple xshape, tuple wshape, tuple geom, int itemsize, int n_threads):
    """Bytes of workspace conv2d_gemm allocates (bounded; independent of the batch)."""
    cdef cc_conv2d_geometry g = make_geometry(xshape, wshape, geom)
    return cc_gemm_workspace_per_thread(&g) * itemsize * n_threads


def conv2d_gemm(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                const floating[::1] bias, floating[:, :, :, ::1] y, tuple geom,
                int n_threads):
    """y = conv(x, w) + bias by im2col tiles and BLAS gemm; BLAS must be single-threaded."""
    cdef cc_conv2d_geometry g = make_geometry(
        (x.shape[0], x.shape[1], x.shape[2], x.shape[3]),
        (w.shape[0], 0, w.shape[2], w.shape[3]), geom)
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    if y.shape[0] == 0 or y.shape[1] == 0:
        return
    cdef Py_ssize_t per_thread = cc_gemm_workspace_per_thread(&g)
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] ws = np.empty(max(per_thread * n_threads, 1), dtype=dtype)
    with nogil:
        if floating is float:
            cc_conv2d_gemm_f32(&g, &x[0, 0, 0, 0], &w[0, 0, 0, 0], b, &y[0, 0, 0, 0],
                               &ws[0], <cc_sgemm_fn>sgemm, n_threads)
        else:
            cc_conv2d_gemm_f64(&g, &x[0, 0, 0, 0], &w[0, 0, 0, 0], b, &y[0, 0, 0, 0],
                               &ws[0], <cc_dgemm_fn>dgemm, n_threads)


_LEVELS = {"generic": CC_SIMD_GENERIC, "avx2": CC_SIMD_AVX2, "avx512": CC_SIMD_AVX512}


def simd_level():
    """SIMD level the direct kernels use now ('avx512', 'avx2' or 'generic')."""
    return cc_simd_name(cc_simd_active()).decode()


def simd_detected():
    """Best SIMD level this CPU supports."""
    return cc_simd_name(cc_simd_detect()).decode()


def force_simd(str level):
    """Use at most ``level`` (for testing the other kernels on this CPU)."""
    cc_simd_force(<cc_simd_level>_LEVELS[level])
