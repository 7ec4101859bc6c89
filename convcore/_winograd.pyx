# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the Winograd kernels in csrc/winograd*.c: pointers in, GIL released, no checks.

convcore.winograd has validated the geometry (3x3 or 3-tap kernel, stride 1, dilation
1), transformed the weights and allocated ``y`` and the workspace.
"""
from cpython.exc cimport PyErr_CheckSignals
from cython cimport floating

from convcore._cconvcore cimport (
    cc_conv2d_geometry, cc_conv_geometry,
    cc_simd_active, cc_simd_count, cc_simd_detect, cc_simd_force, cc_simd_level,
    cc_simd_name,
)



cdef extern from "winograd.h" nogil:
    ctypedef struct cc_wg_layout:
        Py_ssize_t depth, taps
        Py_ssize_t x_image, x_depth, x_channel, x_tap
        Py_ssize_t y_image, y_depth, y_channel
        Py_ssize_t x_extent, y_extent
        Py_ssize_t y_row, y_col
        const Py_ssize_t *y_koff
    cc_wg_layout cc_wg_plain_layout(const cc_conv2d_geometry *g)
    void cc_conv_winograd_strided_f32(const cc_conv2d_geometry *g, const cc_wg_layout *layout,
                                   int m, const float *x, const float *u, Py_ssize_t ukb,
                                   const float *bias,
                                   float *y, float *workspace, Py_ssize_t it_lo,
                                   Py_ssize_t it_hi, int n_threads)
    void cc_conv_winograd_strided_f64(const cc_conv2d_geometry *g, const cc_wg_layout *layout,
                                   int m, const double *x, const double *u, Py_ssize_t ukb,
                                   const double *bias, double *y, double *workspace,
                                   Py_ssize_t it_lo, Py_ssize_t it_hi, int n_threads)
    void cc_winograd_grad_weight_parts_f32(const cc_conv2d_geometry *g, const float *x,
                                           const float *go, float *parts, Py_ssize_t nparts,
                                           Py_ssize_t it_lo, Py_ssize_t it_hi,
                                           float *workspace, int n_threads)
    void cc_winograd_grad_weight_parts_f64(const cc_conv2d_geometry *g, const double *x,
                                           const double *go, double *parts, Py_ssize_t nparts,
                                           Py_ssize_t it_lo, Py_ssize_t it_hi,
                                           double *workspace, int n_threads)
    void cc_winograd_grad_weight_finish_f32(Py_ssize_t K, Py_ssize_t Cg, Py_ssize_t groups,
                                            Py_ssize_t nparts, const float *parts, float *dw,
                                            double *acc, int n_threads)
    void cc_winograd_grad_weight_finish_f64(Py_ssize_t K, Py_ssize_t Cg, Py_ssize_t groups,
                                            Py_ssize_t nparts, const double *parts,
                                            double *dw, double *acc, int n_threads)
    Py_ssize_t cc_winograd_work_items(const cc_conv2d_geometry *g, int m, size_t itemsize)
    Py_ssize_t cc_winograd_workspace_per_thread(const cc_conv2d_geometry *g, int m,
                                                size_t itemsize)
    Py_ssize_t cc_winograd_grad_workspace_per_thread(const cc_conv2d_geometry *g,
                                                     size_t itemsize)
    Py_ssize_t cc_winograd_grad_blocks(const cc_conv2d_geometry *g, size_t itemsize)
    void cc_winograd_weights_f32(int m, Py_ssize_t K, Py_ssize_t Cg, Py_ssize_t groups,
                                 Py_ssize_t R, const float *w, float *u, Py_ssize_t kb,
                                 int n_threads)
    void cc_winograd_weights_f64(int m, Py_ssize_t K, Py_ssize_t Cg, Py_ssize_t groups,
                                 Py_ssize_t R, const double *w, double *u, Py_ssize_t kb,
                                 int n_threads)
    Py_ssize_t cc_winograd_u_block()


cdef extern from "driver/conv_s2w.h" nogil:
    Py_ssize_t cc_s2w_kb()
    Py_ssize_t cc_s2w_items(const cc_conv2d_geometry *g, size_t itemsize)
    Py_ssize_t cc_s2w_workspace_per_thread(const cc_conv2d_geometry *g)
    Py_ssize_t cc_s2w_weights_size(const cc_conv2d_geometry *g, Py_ssize_t kb)
    int cc_s2w_streams(const cc_conv2d_geometry *g, size_t itemsize)
    int cc_s2w_fits(const cc_conv2d_geometry *g, size_t itemsize)
    void cc_s2w_weights_f32(const cc_conv2d_geometry *g, const float *w, float *wt,
                            Py_ssize_t kb)
    void cc_s2w_weights_f64(const cc_conv2d_geometry *g, const double *w, double *wt,
                            Py_ssize_t kb)
    int cc_conv_s2w_f32(const cc_conv2d_geometry *g, const float *x, const float *wt,
                        Py_ssize_t kb, const float *bias, float *y, float *workspace,
                        Py_ssize_t it_lo, Py_ssize_t it_hi, int n_threads)
    int cc_conv_s2w_f64(const cc_conv2d_geometry *g, const double *x, const double *wt,
                        Py_ssize_t kb, const double *bias, double *y, double *workspace,
                        Py_ssize_t it_lo, Py_ssize_t it_hi, int n_threads)


include "_geometry.pxi"
include "_chunks.pxi"


def winograd_plan(object geom, int m, int itemsize):
    """(work items, workspace elements per thread) for the ConvGeometry ``geom``."""
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    return (cc_winograd_work_items(&g, m, itemsize),
            cc_winograd_workspace_per_thread(&g, m, itemsize))


def grad_weight_plan(object geom, int itemsize):
    """(blocks of tiles per group, workspace elements per thread) of the weight gradient
    of the ConvGeometry ``geom`` (its blocks, then the tiled product's panels)."""
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    return (cc_winograd_grad_blocks(&g, itemsize),
            cc_winograd_grad_workspace_per_thread(&g, itemsize))


def u_block():
    """The block height of U's packed layout at the active SIMD level (the rows of its
    GEMM tile)."""
    return cc_winograd_u_block()


def winograd_weights(const floating[:, :, :, ::1] w, floating[::1] u, int m,
                     Py_ssize_t groups, Py_ssize_t kb, int n_threads):
    """u = the transform of w (K, Cg, R, 3), R = 3 or 1, in blocks of kb output channels
    (kb = 1: the plain (groups, AA, Kg, Cg); winograd_impl.h)."""
    with nogil:
        if floating is float:
            cc_winograd_weights_f32(m, w.shape[0], w.shape[1], groups, w.shape[2],
                                    &w[0, 0, 0, 0], &u[0], kb, n_threads)
        else:
            cc_winograd_weights_f64(m, w.shape[0], w.shape[1], groups, w.shape[2],
                                    &w[0, 0, 0, 0], &u[0], kb, n_threads)


cdef void _run_items(const cc_conv2d_geometry *g, const cc_wg_layout *lay, int m,
                     const floating *x, const floating *u, Py_ssize_t ukb, const floating *b,
                     floating *y, floating *workspace, int n_threads) except *:
    """Every work item of the layer, a round of two per thread at a time with Ctrl-C
    checked between rounds (the items are fixed by the shapes: any rounds give the same
    result)."""
    cdef Py_ssize_t items = cc_winograd_work_items(g, m, sizeof(floating)), lo = 0, hi
    cdef Py_ssize_t step = 2 * max(n_threads, 1)
    while lo < items:
        hi = min(items, lo + step)
        with nogil:
            if floating is float:
                cc_conv_winograd_strided_f32(g, lay, m, x, u, ukb, b, y, workspace, lo, hi,
                                             n_threads)
            else:
                cc_conv_winograd_strided_f64(g, lay, m, x, u, ukb, b, y, workspace, lo, hi,
                                             n_threads)
        PyErr_CheckSignals()
        lo = hi


def conv2d_winograd(const floating[:, :, :, ::1] x, const floating[::1] u, Py_ssize_t ukb,
                    const floating[::1] bias, floating[:, :, :, ::1] y,
                    floating[::1] workspace, object geom, int m, int n_threads):
    """y = conv(x, w) + bias from the transformed weights ``u`` (flat, in blocks of ukb
    output channels: winograd_weights).

    ``workspace`` holds min(n_threads, items) blocks (see winograd_plan).  ``bias`` of
    length 0 means none.  Interruptible with Ctrl-C between rounds of work items.
    """
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    cdef cc_wg_layout lay = cc_wg_plain_layout(&g)
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    _run_items(&g, &lay, m, &x[0, 0, 0, 0], &u[0], ukb, b, &y[0, 0, 0, 0], &workspace[0],
               n_threads)


def conv_winograd_strided(const floating[::1] x, const floating[::1] u, Py_ssize_t ukb,
                       const floating[::1] bias, floating[::1] y, floating[::1] workspace,
                       object geom, tuple layout, int m, int n_threads,
                       const Py_ssize_t[::1] koff=None):
    """y = conv(x, w) + bias on images and channels laid out as ``layout`` says: the 13
    integer entries of cc_wg_layout (winograd.h) in order, and ``koff`` (an intp per
    output channel, or None) its y_koff; x and y flat.  As conv2d_winograd otherwise."""
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    cdef cc_wg_layout lay
    (lay.depth, lay.taps, lay.x_image, lay.x_depth, lay.x_channel, lay.x_tap, lay.y_image,
     lay.y_depth, lay.y_channel, lay.x_extent, lay.y_extent, lay.y_row, lay.y_col) = layout
    lay.y_koff = NULL
    if koff is not None:
        lay.y_koff = &koff[0]
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    _run_items(&g, &lay, m, &x[0], &u[0], ukb, b, &y[0], &workspace[0], n_threads)


def grad_weight(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] go,
                floating[:, :, :, ::1] parts, floating[:, :, :, ::1] dw,
                floating[::1] workspace, double[::1] acc, object geom, Py_ssize_t nparts,
                int n_threads):
    """dw (K, Cg, 3, 3) = the weight gradient of the 3x3 stride-1 layer ``geom`` by
    F(4x4, 3x3), summed in ``parts`` (groups * nparts, 36, Kg, Cg): the parts run a round
    of n_threads at a time, with Ctrl-C checked between rounds.  ``workspace`` holds
    n_threads blocks (grad_weight_plan), ``acc`` n_threads * 36 * Cg doubles."""
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    cdef Py_ssize_t total = parts.shape[0], lo = 0, hi
    while lo < total:
        hi = min(total, lo + max(n_threads, 1))
        with nogil:
            if floating is float:
                cc_winograd_grad_weight_parts_f32(&g, &x[0, 0, 0, 0], &go[0, 0, 0, 0],
                                                  &parts[0, 0, 0, 0], nparts, lo, hi,
                                                  &workspace[0], n_threads)
            else:
                cc_winograd_grad_weight_parts_f64(&g, &x[0, 0, 0, 0], &go[0, 0, 0, 0],
                                                  &parts[0, 0, 0, 0], nparts, lo, hi,
                                                  &workspace[0], n_threads)
        PyErr_CheckSignals()
        lo = hi
    with nogil:
        if floating is float:
            cc_winograd_grad_weight_finish_f32(g.K, g.C // g.groups, g.groups, nparts,
                                               &parts[0, 0, 0, 0], &dw[0, 0, 0, 0], &acc[0],
                                               n_threads)
        else:
            cc_winograd_grad_weight_finish_f64(g.K, g.C // g.groups, g.groups, nparts,
                                               &parts[0, 0, 0, 0], &dw[0, 0, 0, 0], &acc[0],
                                               n_threads)


def s2w_plan(object geom, int itemsize):
    """(kb, work items, workspace elements per thread, transformed weights' elements) of
    the stride-2 3x3 layer ``geom`` by polyphase Winograd at the active SIMD level
    (driver/conv_s2w.h)."""
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    cdef Py_ssize_t kb = cc_s2w_kb()
    return (kb, cc_s2w_items(&g, itemsize), cc_s2w_workspace_per_thread(&g),
            cc_s2w_weights_size(&g, kb))


def s2w_streams(object geom, int itemsize):
    """Whether the stride-2 route writes the output of ``geom`` by non-temporal stores
    (where the SIMD level has them)."""
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    return bool(cc_s2w_streams(&g, itemsize))


def s2w_fits(object geom, int itemsize):
    """Whether a chunk's transformed input of ``geom`` stays within the route's budget
    (CC_S2W_T_BYTES; driver/conv_s2w.h)."""
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    return bool(cc_s2w_fits(&g, itemsize))


def s2w_weights(const floating[:, :, :, ::1] w, floating[::1] wt, object geom, Py_ssize_t kb):
    """wt = the stride-2 Winograd transform of w (K, Cg, 3, 3) in blocks of kb channels."""
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    with nogil:
        if floating is float:
            cc_s2w_weights_f32(&g, &w[0, 0, 0, 0], &wt[0], kb)
        else:
            cc_s2w_weights_f64(&g, &w[0, 0, 0, 0], &wt[0], kb)


def conv_s2w(const floating[:, :, :, ::1] x, const floating[::1] wt, Py_ssize_t kb,
             const floating[::1] bias, floating[:, :, :, ::1] y, floating[::1] workspace,
             object geom, int n_threads):
    """y = conv(x, w) + bias of the stride-2 3x3 layer ``geom`` from wt (s2w_weights);
    ``workspace`` holds n_threads times the plan's elements per thread, ``bias`` of
    length 0 means none.  Interruptible with Ctrl-C between chunks of work items."""
    cdef cc_conv2d_geometry g = conv2d_geometry(geom)
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    cdef Py_ssize_t items = cc_s2w_items(&g, sizeof(floating)), lo = 0, hi
    # an item: up to 128 tiles of 2 x 2 outputs for every output channel of its group
    cdef double per_item = 512.0 * (g.K // g.groups) * (g.C // g.groups) * 9 * NS_PER_GEMM_MAC
    cdef Py_ssize_t step = chunk_items(items, per_item, n_threads)
    cdef int status = 0
    while lo < items:
        hi = min(items, lo + step)
        with nogil:
            if floating is float:
                status = cc_conv_s2w_f32(&g, &x[0, 0, 0, 0], &wt[0], kb, b, &y[0, 0, 0, 0],
                                         &workspace[0], lo, hi, n_threads)
            else:
                status = cc_conv_s2w_f64(&g, &x[0, 0, 0, 0], &wt[0], kb, b, &y[0, 0, 0, 0],
                                         &workspace[0], lo, hi, n_threads)
        if status != 0:
            raise RuntimeError(f"no SIMD level this CPU runs has a stride-2 Winograd tile "
                               f"of {kb} channels")
        PyErr_CheckSignals()
        lo = hi


include "_simd.pxi"
