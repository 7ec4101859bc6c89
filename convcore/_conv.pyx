# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the C convolution kernels: typed memoryviews in, GIL released, no checks.

The Python layer (convcore.functional) has validated every argument and allocated
``y``; these functions only unpack pointers and call C.  DirectCall, the plan of a
repeated small call, tells the caller which arrays it can take as they are (it allocates
the output itself), so that those skip the general path's preparation.
"""
import numpy as np

cimport numpy as cnp
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc
from cython cimport floating

from convcore._cconvcore cimport (
    cc_conv_im2col_pack_f32,
    cc_conv_im2col_pack_f64,
    cc_conv_im2col_pack_size,
    cc_conv_im2col_range_f32,
    cc_conv_im2col_range_f64,
    cc_grad_weight_tile_range_f32,
    cc_grad_weight_tile_range_f64,
    cc_conv2d_geometry,
    cc_conv_out_cells,
    cc_conv_taps,
    CC_COPY_MAX_DIMS,
    cc_copy_strided_f32,
    cc_copy_strided_f64,
    cc_conv_direct_pack_f32,
    cc_conv_direct_pack_f64,
    cc_conv_direct_plan,
    cc_conv_direct_plan_make,
    cc_conv_direct_run_f32,
    cc_conv_direct_run_f64,
    cc_conv_geometry,
    cc_gemm_channel_block,
    cc_gemm_tile_columns,
    cc_grad_weight_by_channels,
    cc_grad_weight_columns,
    cc_grad_weight_workspace_per_thread,
    cc_gemm_work_items,
    cc_gemm_workspace_per_thread,
    CC_MATMUL_ROWS,
    cc_matmul,
    cc_matmul_items,
    cc_matmul_plan,
    cc_matmul_range_f32,
    cc_matmul_range_f64,
    cc_matmul_workspace_per_thread,
    cc_simd_active,
    cc_simd_count,
    cc_simd_detect,
    cc_simd_force,
    cc_simd_level, cc_simd_name,
)

include "_chunks.pxi"

cnp.import_array()


cdef void pack_weights(const cc_conv_geometry *g, const cc_conv_direct_plan *plan,
                       const void *w, void *wpack, size_t item, int n_threads) noexcept nogil:
    """The direct kernel's packing of w (float32 when item is 4 bytes, else float64)."""
    if plan.pack_size == 0:
        return
    if item == 4:
        cc_conv_direct_pack_f32(g, plan, <const float *>w, <float *>wpack, n_threads)
    else:
        cc_conv_direct_pack_f64(g, plan, <const double *>w, <double *>wpack, n_threads)


cdef int run_direct(const cc_conv_geometry *g, const cc_conv_direct_plan *plan,
                    const void *x, const void *wpack, Py_ssize_t *rows, const void *b,
                    void *y, size_t item, int n_threads) except -1:
    """Every work item of the plan, in chunks with the GIL released between which Ctrl-C
    is answered (_chunks.pxi); a multiply-add of the direct kernel costs about what one
    of a GEMM does."""
    cdef Py_ssize_t lo = 0, hi
    cdef Py_ssize_t step = chunk_items(plan.items, plan.flops_per_item / 2 * NS_PER_GEMM_MAC,
                                       n_threads)
    while lo < plan.items:
        hi = min(lo + step, plan.items)
        with nogil:
            if item == 4:
                cc_conv_direct_run_f32(g, plan, <const float *>x, <const float *>wpack, rows,
                                       <const float *>b, <float *>y, lo, hi, n_threads)
            else:
                cc_conv_direct_run_f64(g, plan, <const double *>x, <const double *>wpack,
                                       rows, <const double *>b, <double *>y, lo, hi,
                                       n_threads)
        PyErr_CheckSignals()
        lo = hi
    return 0


def direct_pack(const floating[:, :, :, ::1] w, object geom, int n_threads):
    """The weights packed for the direct kernel's register tile at the active SIMD level
    (what conv_direct computes first), as a 1-D array that conv_direct accepts back."""
    cdef cc_conv_geometry g = conv_geometry(geom)
    cdef cc_conv_direct_plan plan
    cc_conv_direct_plan_make(&g, sizeof(floating), &plan)
    cdef floating[::1] wpack
    if floating is float:
        wpack = np.empty(max(plan.pack_size, 1), dtype=np.float32)
    else:
        wpack = np.empty(max(plan.pack_size, 1), dtype=np.float64)
    with nogil:
        pack_weights(&g, &plan, &w[0, 0, 0, 0], &wpack[0], sizeof(floating), n_threads)
    return wpack.base


def conv_direct(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                const floating[::1] bias, floating[:, :, :, ::1] y, object geom,
                int n_threads, const floating[::1] packed=None):
    """y = conv(x, w) + bias by the direct kernel; ``bias`` of length 0 means none.

    ``geom`` is the ConvGeometry of the call; x, w and y are the arrays viewed as
    (N, C, -1, last) etc. (any number of spatial dimensions, flattened but the last).
    ``packed``, when given, is ``direct_pack(w, geom)`` made earlier at the same SIMD
    level, and ``w`` is not read.  The only allocations are the packed weights (unless
    given) and each thread's list of input rows.  Work items run in chunks
    (_chunks.pxi), so Ctrl-C interrupts a long call.
    """
    cdef cc_conv_geometry g = conv_geometry(geom)
    cdef cc_conv_direct_plan plan
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    if y.shape[0] == 0 or y.shape[1] == 0:
        return
    cc_conv_direct_plan_make(&g, sizeof(floating), &plan)
    cdef const floating[::1] wpack = packed
    cdef Py_ssize_t[::1] rows = np.empty(max(n_threads, 1) * max(plan.rows_size, 1),
                                         dtype=np.intp)
    if packed is None:
        wpack = direct_pack(w, geom, n_threads)
    elif packed.shape[0] < max(plan.pack_size, 1):
        raise ValueError("packed weights made for another plan")
    run_direct(&g, &plan, &x[0, 0, 0, 0], &wpack[0], &rows[0], b, &y[0, 0, 0, 0],
               sizeof(floating), n_threads)


def simd_code():
    """The active SIMD level as a small int (a cheap key for tables kept per level)."""
    return <int>cc_simd_active()


cdef class DirectCall:
    """A validated direct convolution kept for repeated calls with the same shapes, dtypes
    and arguments (convcore.functional's path for repeated small calls): its C geometry,
    plan and output shape, made once.

    Called as ``plan(x, weight, bias)``, it returns the new output, or None when these
    arrays are not the kind the plan was made for (C-contiguous, aligned, native arrays
    of its dtype; weights that are not the read-only arrays owning their memory whose
    packed form convcore._packed keeps; the plan's SIMD level active), and the caller
    then takes the general path, which copies or converts them.  Shapes are not looked
    at: the caller's key holds them.  The packed weights and row tables come from
    PyMem_RawMalloc (tracemalloc sees them) and are freed before returning.
    """
    cdef cc_conv_geometry g
    cdef cc_conv_direct_plan plan
    cdef cc_simd_level level
    cdef int n_threads, typenum, ndim
    cdef cnp.npy_intp dims[5]

    def __cinit__(self, object geom, object dtype, tuple shape, int n_threads):
        cdef int d
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)) or len(shape) > 5:
            raise ValueError(f"DirectCall: dtype {dtype} and shape {shape}: float32 or "
                             "float64 and at most 5 dimensions")
        self.g = conv_geometry(geom)
        self.typenum = dtype.num
        cc_conv_direct_plan_make(&self.g, dtype.itemsize, &self.plan)
        self.level = cc_simd_active()
        self.n_threads = max(n_threads, 1)
        self.ndim = len(shape)
        for d in range(self.ndim):
            self.dims[d] = shape[d]

    cdef bint fits(self, object a):
        """An array the kernels read as it is: C-contiguous, aligned, native, our dtype."""
        return (cnp.PyArray_Check(a) and cnp.PyArray_TYPE(a) == self.typenum
                and cnp.PyArray_ISCARRAY_RO(a))

    def __call__(self, object x, object w, object bias):
        if (cc_simd_active() != self.level or not self.fits(x) or not self.fits(w)
                or (not cnp.PyArray_ISWRITEABLE(w) and cnp.PyArray_BASE(w) == NULL)
                or (bias is not None and not self.fits(bias))):
            return None
        cdef cnp.ndarray y = cnp.PyArray_EMPTY(self.ndim, self.dims, self.typenum, 0)
        cdef size_t item = cnp.PyArray_ITEMSIZE(y)
        cdef const void *xp = cnp.PyArray_DATA(<cnp.ndarray>x)
        cdef const void *wp = cnp.PyArray_DATA(<cnp.ndarray>w)
        cdef const void *bp = NULL if bias is None else cnp.PyArray_DATA(<cnp.ndarray>bias)
        cdef void *yp = cnp.PyArray_DATA(y)
        cdef Py_ssize_t *rows = NULL
        cdef void *wpack = NULL
        try:
            rows = <Py_ssize_t *>PyMem_RawMalloc(
                <size_t>(self.n_threads * max(self.plan.rows_size, 1)) * sizeof(Py_ssize_t))
            wpack = PyMem_RawMalloc(<size_t>max(self.plan.pack_size, 1) * item)
            if rows == NULL or wpack == NULL:
                raise MemoryError("the direct kernel's packed weights and row tables")
            with nogil:
                pack_weights(&self.g, &self.plan, wp, wpack, item, self.n_threads)
            run_direct(&self.g, &self.plan, xp, wpack, rows, bp, yp, item, self.n_threads)
        finally:
            PyMem_RawFree(rows)
            PyMem_RawFree(wpack)
        return y


_TILE_ROLES = ("big", "big_narrow", "mid", "short", "one", "one_narrow", "strip", "channels",
               "pointwise")


def direct_plan(object geom, dtype):
    """The register tile the direct kernel would use for ``geom`` at the active SIMD
    level: a dict with the tile's role, output channels (kb), vectors (nv), lanes per
    vector, pixels per tile (tiles vectorised along output channels, else 0) and the
    number of work items."""
    cdef cc_conv_geometry g = conv_geometry(geom)
    cdef cc_conv_direct_plan plan
    cc_conv_direct_plan_make(&g, np.dtype(dtype).itemsize, &plan)
    return {"tile": _TILE_ROLES[plan.tile], "kb": plan.kb, "nv": plan.nv,
            "lanes": plan.lanes, "pix": plan.pix, "items": plan.items, "band": plan.band}



def gemm_plan(object geom):
    """(work items, workspace elements per thread) of the im2col + GEMM path."""
    cdef cc_conv_geometry g = conv_geometry(geom)
    return cc_gemm_work_items(&g), cc_gemm_workspace_per_thread(&g)


def grad_weight_plan(object geom, object dtype):
    """(output cells per unit, workspace elements per thread, whether the parts are
    (K/groups, Cg*taps) matrices rather than their transposes) of the im2col route's
    weight gradient on the GEMM tile."""
    cdef cc_conv_geometry g = conv_geometry(geom)
    cdef int item = np.dtype(dtype).itemsize
    return (cc_grad_weight_columns(&g, item), cc_grad_weight_workspace_per_thread(&g, item),
            bool(cc_grad_weight_by_channels(&g, item)))


def gemm_blocks(object geom):
    """(output channels, output pixels) of one work item of the im2col + GEMM path: each
    item copies the column matrix of its pixels and multiplies it by its channels'
    weights."""
    cdef cc_conv_geometry g = conv_geometry(geom)
    return cc_gemm_channel_block(&g), cc_gemm_tile_columns(&g)


def gemm_packed_size(object geom):
    """Elements of the im2col route's packed weights (for the active ISA's GEMM tile)."""
    cdef cc_conv_geometry g = conv_geometry(geom)
    return cc_conv_im2col_pack_size(&g)


def conv2d_gemm(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                const floating[::1] bias, floating[:, :, :, ::1] y, floating[::1] workspace,
                floating[::1] wpack, object geom, int n_threads):
    """y = conv(x, w) + bias by im2col tiles and the ISA's GEMM tile, interruptible
    between chunks.

    ``workspace`` holds min(n_threads, items) tiles (see gemm_plan), ``wpack`` the packed
    weights (gemm_packed_size), both starting on 64 bytes.  Any number of spatial
    dimensions: the arrays are viewed as (N, C, -1, last) as for conv_direct.
    """
    cdef cc_conv_geometry g = conv_geometry(geom)
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    if y.shape[0] == 0 or y.shape[1] == 0:
        return
    cdef Py_ssize_t items = cc_gemm_work_items(&g), it0 = 0, it1
    cdef double macs = (<double>cc_gemm_channel_block(&g) * cc_gemm_tile_columns(&g)
                        * (g.C // g.groups) * cc_conv_taps(&g))
    cdef Py_ssize_t step = chunk_items(items, macs * NS_PER_GEMM_MAC, n_threads)
    with nogil:
        if floating is float:
            cc_conv_im2col_pack_f32(&g, &w[0, 0, 0, 0], &wpack[0], n_threads)
        else:
            cc_conv_im2col_pack_f64(&g, &w[0, 0, 0, 0], &wpack[0], n_threads)
    PyErr_CheckSignals()
    while it0 < items:
        it1 = min(items, it0 + step)
        with nogil:
            if floating is float:
                cc_conv_im2col_range_f32(&g, &x[0, 0, 0, 0], &wpack[0], b, &y[0, 0, 0, 0],
                                         &workspace[0], it0, it1, n_threads)
            else:
                cc_conv_im2col_range_f64(&g, &x[0, 0, 0, 0], &wpack[0], b, &y[0, 0, 0, 0],
                                         &workspace[0], it0, it1, n_threads)
        PyErr_CheckSignals()
        it0 = it1


def grad_weight_gemm(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] go,
                     floating[:, :, ::1] partials, floating[::1] workspace, object geom,
                     int n_threads):
    """partials (groups * nparts, Kg, Cg*taps), or (groups * nparts, Cg*taps, Kg) when
    grad_weight_plan says so, = the weight gradient of the im2col route in parts on the
    ISA's GEMM tile (cc_grad_weight_tile_range), interruptible: the parts' units go in
    windows, and between windows (and chunks of parts) Python handles pending signals.

    x and go are viewed as (N, C, -1, last) like conv2d_gemm's arrays; ``workspace``
    holds min(n_threads, items) times grad_weight_plan's elements per thread, its start
    aligned to 64 bytes.
    """
    cdef cc_conv_geometry g = conv_geometry(geom)
    cdef Py_ssize_t items = partials.shape[0], it0, it1, k0 = 0, k1
    cdef Py_ssize_t nparts = items // g.groups
    if items == 0 or partials.shape[1] == 0 or partials.shape[2] == 0:
        return
    cdef Py_ssize_t P = cc_grad_weight_columns(&g, <int>sizeof(floating))
    # (cdivision: // truncates, so the ceilings are written out)
    cdef Py_ssize_t units = g.N * ((cc_conv_out_cells(&g) + P - 1) // P)
    cdef Py_ssize_t longest = (units + nparts - 1) // nparts  # units of the longest part
    cdef Py_ssize_t per_thread = (items + n_threads - 1) // n_threads if n_threads > 0 else items
    cdef double unit_ns = <double>P * partials.shape[1] * partials.shape[2] * NS_PER_GEMM_MAC
    # a window of units of every part per call, ~CHUNK_NS for each thread; when a single
    # unit of every part is already more, the parts go in chunks too
    cdef Py_ssize_t kstep = chunk_items(longest, unit_ns * per_thread, 1)
    cdef Py_ssize_t istep = items if kstep > 1 else chunk_items(items, unit_ns, n_threads)
    while k0 < longest:
        k1 = min(longest, k0 + kstep)
        it0 = 0
        while it0 < items:
            it1 = min(items, it0 + istep)
            with nogil:
                if floating is float:
                    cc_grad_weight_tile_range_f32(&g, &x[0, 0, 0, 0], &go[0, 0, 0, 0],
                                                  &partials[0, 0, 0], &workspace[0],
                                                  nparts, k0, k1, it0, it1, n_threads)
                else:
                    cc_grad_weight_tile_range_f64(&g, &x[0, 0, 0, 0], &go[0, 0, 0, 0],
                                                  &partials[0, 0, 0], &workspace[0],
                                                  nparts, k0, k1, it0, it1, n_threads)
            PyErr_CheckSignals()
            it0 = it1
        k0 = k1


MATMUL_ROWS = CC_MATMUL_ROWS  # rows of c per item: b is packed once per item


def matmul_workspace():
    """Elements of one thread's workspace for matmul."""
    return cc_matmul_workspace_per_thread()


def matmul(const floating[:, :, :] a, const floating[:, :, :] b, const floating[::1] bias,
           floating[:, :, ::1] c, floating[::1] workspace, bint accumulate, int n_threads):
    """c[i] = bias + a[i] @ b[i] (bias on each row, first; an empty bias for none), or
    c[i] += a[i] @ b[i] (accumulate), on the ISA's GEMM tile, in chunks of items with
    Ctrl-C checked between them.  a (batch or 1, M, K), b (batch or 1, K, N) and c
    (batch, M, N) with contiguous rows of c; ``workspace`` holds n_threads blocks of
    matmul_workspace() elements, 64-byte aligned (convcore._matmul.matmul)."""
    cdef cc_matmul p
    cdef const floating *bp = &bias[0] if bias.shape[0] > 0 else NULL
    cdef const floating *ap = &a[0, 0, 0] if a.shape[2] > 0 else NULL  # K = 0: not read
    cdef const floating *bq = &b[0, 0, 0] if b.shape[1] > 0 else NULL
    cdef Py_ssize_t item = sizeof(floating)
    p.batch, p.m, p.n, p.k = c.shape[0], c.shape[1], c.shape[2], a.shape[2]
    p.a_rs, p.a_cs = a.strides[1] // item, a.strides[2] // item
    p.b_rs, p.b_cs = b.strides[1] // item, b.strides[2] // item
    p.a_bs = a.strides[0] // item if a.shape[0] > 1 else 0
    p.b_bs = b.strides[0] // item if b.shape[0] > 1 else 0
    p.c_rs, p.c_bs = c.strides[1] // item, c.strides[0] // item
    p.accumulate = accumulate
    cc_matmul_plan(&p, n_threads)
    cdef Py_ssize_t items = cc_matmul_items(&p), it0 = 0, it1
    if items == 0:
        return
    cdef double macs = <double>p.mb * p.nb * (p.k if p.k > 0 else 1)
    cdef Py_ssize_t step = chunk_items(items, macs * NS_PER_GEMM_MAC, n_threads)
    while it0 < items:
        it1 = min(items, it0 + step)
        with nogil:
            if floating is float:
                cc_matmul_range_f32(&p, ap, bq, bp, &c[0, 0, 0],
                                    &workspace[0], it0, it1, n_threads)
            else:
                cc_matmul_range_f64(&p, ap, bq, bp, &c[0, 0, 0],
                                    &workspace[0], it0, it1, n_threads)
        PyErr_CheckSignals()
        it0 = it1


COPY_MAX_DIMS = CC_COPY_MAX_DIMS


def copy_into(object dst, object src, int n_threads):
    """``dst[...] = src`` by the C library's strided copy, its rows shared out among the
    threads.  The caller (convcore.transpose._copy_into) has checked that the two are
    distinct, aligned float32 or float64 arrays of one shape, dtype and at most
    COPY_MAX_DIMS dimensions, ``dst`` writeable."""
    cdef Py_ssize_t shape[CC_COPY_MAX_DIMS]
    cdef Py_ssize_t ss[CC_COPY_MAX_DIMS]
    cdef Py_ssize_t ds[CC_COPY_MAX_DIMS]
    cdef int nd = dst.ndim, d
    cdef Py_ssize_t item = dst.itemsize
    cdef size_t sp = src.ctypes.data, dp = dst.ctypes.data
    for d in range(nd):
        shape[d] = dst.shape[d]
        ss[d] = src.strides[d] // item
        ds[d] = dst.strides[d] // item
    with nogil:
        if item == 4:
            cc_copy_strided_f32(nd, shape, <const float *>sp, ss, <float *>dp, ds, n_threads)
        else:
            cc_copy_strided_f64(nd, shape, <const double *>sp, ss, <double *>dp, ds,
                                n_threads)


include "_geometry.pxi"
include "_simd.pxi"
