/* convcore C library: public interface.
 *
 * Plain C99 kernels on NCHW arrays.  Every function assumes its arguments were
 * validated by the caller (sizes consistent, pointers valid, buffers
 * C-contiguous and non-overlapping) and reports no errors.  No Python headers.
 */
#ifndef CONVCORE_H
#define CONVCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Geometry of one 2-D convolution (a 1-D one is H = R = 1). */
typedef struct {
    ptrdiff_t N, C, H, W;         /* input  (N, C, H, W) */
    ptrdiff_t K, R, S;            /* weight (K, C / groups, R, S) */
    ptrdiff_t groups;
    ptrdiff_t stride_h, stride_w;
    ptrdiff_t dil_h, dil_w;
    ptrdiff_t pad_top, pad_left;  /* bottom/right padding is implied by Hout, Wout */
    ptrdiff_t Hout, Wout;
    int pad_mode;                 /* cc_pad_mode: what the padding reads */
} cc_conv2d_geometry;

/* ---- Border modes: what an input index outside [0, n) reads ----
 * CC_PAD_ZEROS: a zero; CC_PAD_REFLECT: the mirror image without repeating the edge
 * (-1 -> 1, n -> n - 2; needs padding < n); CC_PAD_REPLICATE: the nearest edge value;
 * CC_PAD_CIRCULAR: index mod n (needs padding <= n).  The Python layer checks the
 * padding against these rules before any kernel runs. */
typedef enum { CC_PAD_ZEROS = 0, CC_PAD_REFLECT = 1, CC_PAD_REPLICATE = 2,
               CC_PAD_CIRCULAR = 3 } cc_pad_mode;

/* The index in [0, n) that index i reads under `mode`, or -1 for a zero. */
static inline ptrdiff_t cc_pad_index(ptrdiff_t i, ptrdiff_t n, int mode)
{
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case CC_PAD_REFLECT:
        return i < 0 ? -i : 2 * (n - 1) - i;
    case CC_PAD_REPLICATE:
        return i < 0 ? 0 : n - 1;
    case CC_PAD_CIRCULAR:
        return ((i % n) + n) % n;
    default:
        return -1;
    }
}

/* Geometry of one convolution over nd = 1, 2 or 3 spatial dimensions, outermost first
 * (depth, height, width).  Input (N, C, *in), weight (K, C / groups, *kernel), output
 * (N, K, *out); pad[] is the leading padding of each dimension (the trailing padding is
 * implied by out[]). */
#define CC_MAX_DIMS 3
typedef struct {
    int nd;
    ptrdiff_t N, C, K, groups;
    ptrdiff_t in[CC_MAX_DIMS], kernel[CC_MAX_DIMS], out[CC_MAX_DIMS];
    ptrdiff_t stride[CC_MAX_DIMS], dilation[CC_MAX_DIMS], pad[CC_MAX_DIMS];
    int pad_mode;               /* cc_pad_mode: what the padding reads */
} cc_conv_geometry;

/* Kernel taps, input cells and output cells of one channel. */
static inline ptrdiff_t cc_conv_taps(const cc_conv_geometry *g)
{
    ptrdiff_t n = 1;
    for (int d = 0; d < g->nd; d++)
        n *= g->kernel[d];
    return n;
}

static inline ptrdiff_t cc_conv_in_cells(const cc_conv_geometry *g)
{
    ptrdiff_t n = 1;
    for (int d = 0; d < g->nd; d++)
        n *= g->in[d];
    return n;
}

static inline ptrdiff_t cc_conv_out_cells(const cc_conv_geometry *g)
{
    ptrdiff_t n = 1;
    for (int d = 0; d < g->nd; d++)
        n *= g->out[d];
    return n;
}

/* A 1x1 kernel at stride 1 without padding: each output cell reads the same input cell,
 * so the input's channels are the rows of its column matrix. */
static inline int cc_conv_pointwise(const cc_conv_geometry *g)
{
    for (int d = 0; d < g->nd; d++)
        if (g->kernel[d] != 1 || g->stride[d] != 1 || g->pad[d] != 0 || g->out[d] != g->in[d])
            return 0;
    return 1;
}

/* The N-d geometry of a 2-D one (a 1-D one is H = R = 1). */
cc_conv_geometry cc_conv_geometry_from_2d(const cc_conv2d_geometry *g);

/* SIMD level of the kernels chosen at run time: the index of its row in the library's
 * table of ISAs, from the portable level (0) up.  The constants name the x86-64 build's
 * rows; an AArch64 build has level 0 only (cc_simd_count). */
typedef enum { CC_SIMD_GENERIC = 0, CC_SIMD_AVX2 = 1, CC_SIMD_AVX512 = 2 } cc_simd_level;

int cc_simd_count(void);                   /* the levels of this build: 0 .. count - 1 */
cc_simd_level cc_simd_detect(void);        /* the best level the CPU runs */
cc_simd_level cc_simd_active(void);        /* what the kernels use */
void cc_simd_force(cc_simd_level level);   /* clamp to <= detected (testing) */
const char *cc_simd_name(cc_simd_level level); /* "generic", "avx2", ...; "unknown" */
int cc_openmp_enabled(void);
int cc_openmp_max_threads(void);
/* Start n - 1 threads that all exist at once, then join them: returns how many could be
 * created (n - 1 when all could).  A thread count the system refuses (RLIMIT_NPROC, a
 * cgroup's pids limit) makes libgomp abort the process, so it is probed first. */
int cc_threads_probe(int n);
/* Release the calling thread's OpenMP thread pool (before fork()); 1 if done. */
int cc_openmp_release(void);

/* ---- Direct convolution over 1, 2 or 3 spatial dimensions ----
 *
 * A plan fixes, for one geometry, the ISA's micro-kernel and register tile and the work
 * items (image, group, band of output rows, block of output channels).  The items do
 * not depend on the thread count, and each output is summed in the same order whichever
 * thread computes it, so results are bitwise the same for any n_threads.  Callers may
 * run the items in chunks (to answer signals between them); every item must be run
 * once for y to be complete.  wpack holds the weights packed for the tile
 * (plan->pack_size elements), filled once by cc_conv_direct_pack_*. */
typedef struct {
    const void *isa;        /* the ISA's kernel table (internal) */
    int tile;               /* which of its tiles (internal) */
    int kb;                 /* output channels per register tile */
    int nv, lanes;          /* vectors per tile row, elements per vector */
    int pix;                /* tiles along output channels: pixels per tile (else 0) */
    ptrdiff_t nkb;          /* channel blocks per group */
    ptrdiff_t kchunks;      /* channel blocks split into this many items */
    ptrdiff_t nbands;       /* bands of output rows per image (within one plane); */
    ptrdiff_t band;         /* output rows per band (pointwise plans: stretches of pixels
                               per image, pixels per stretch; plans with cols: stretches
                               of the one output row per image, columns per stretch) */
    int flat;               /* each band runs as one virtual row (internal) */
    int cols;               /* each item a stretch of output columns (internal) */
    ptrdiff_t items;        /* N * groups * nbands * kchunks */
    ptrdiff_t pack_size;    /* elements of wpack */
    ptrdiff_t rows_size;    /* elements of a thread's row table (a band's rows, or the
                               one row's, x outer taps) */
    double flops_per_item;  /* about 2 * MACs of one item (for chunking) */
} cc_conv_direct_plan;

void cc_conv_direct_plan_make(const cc_conv_geometry *g, int real_bytes,
                              cc_conv_direct_plan *plan);
void cc_conv_direct_pack_f32(const cc_conv_geometry *g, const cc_conv_direct_plan *plan,
                             const float *w, float *wpack, int n_threads);
void cc_conv_direct_pack_f64(const cc_conv_geometry *g, const cc_conv_direct_plan *plan,
                             const double *w, double *wpack, int n_threads);
/* rows_ws: max(n_threads, 1) * plan->rows_size elements of scratch, where each thread
 * lists the input rows its band of output rows reads. */
void cc_conv_direct_run_f32(const cc_conv_geometry *g, const cc_conv_direct_plan *plan,
                            const float *x, const float *wpack, ptrdiff_t *rows_ws,
                            const float *bias, float *y, ptrdiff_t item_lo, ptrdiff_t item_hi,
                            int n_threads);
void cc_conv_direct_run_f64(const cc_conv_geometry *g, const cc_conv_direct_plan *plan,
                            const double *x, const double *wpack, ptrdiff_t *rows_ws,
                            const double *bias, double *y, ptrdiff_t item_lo,
                            ptrdiff_t item_hi, int n_threads);

/* The 2-D direct convolution in one call: y = conv(x, w) + bias (bias may be NULL).  No
 * workspace besides wpack, which receives the weights repacked for the register tiles and must hold
 * cc_conv2d_direct_pack_size_*(g) elements (about the size of w). */
ptrdiff_t cc_conv2d_direct_pack_size_f32(const cc_conv2d_geometry *g);
ptrdiff_t cc_conv2d_direct_pack_size_f64(const cc_conv2d_geometry *g);
void cc_conv2d_direct_f32(const cc_conv2d_geometry *g, const float *x, const float *w,
                          const float *bias, float *y, float *wpack, int n_threads);
void cc_conv2d_direct_f64(const cc_conv2d_geometry *g, const double *x, const double *w,
                          const double *bias, double *y, double *wpack, int n_threads);

/* im2col of one image (C, *in) into rows [row0, row0 + nrows) x columns [p0, p0 + np) of
 * the column matrix of shape (C * taps, out cells), 1, 2 or 3 spatial dimensions, written
 * densely as nrows x np (ld = np).  Row (c, *kernel index), column the output position,
 * both row-major.  Padding cells are written as zeros. */
void cc_im2col_f32(const cc_conv_geometry *g, const float *x_image, ptrdiff_t row0,
                   ptrdiff_t nrows, ptrdiff_t p0, ptrdiff_t np, float *cols);
void cc_im2col_f64(const cc_conv_geometry *g, const double *x_image, ptrdiff_t row0,
                   ptrdiff_t nrows, ptrdiff_t p0, ptrdiff_t np, double *cols);

/* col2im of one image: x_image (C, *in) = sum of the column matrix (C * taps, out cells)
 * scattered back; x_image is overwritten (not accumulated into). */
void cc_col2im_f32(const cc_conv_geometry *g, const float *cols, float *x_image);
void cc_col2im_f64(const cc_conv_geometry *g, const double *cols, double *x_image);

/* Whole-batch im2col / col2im, parallel over (image, channel). */
void cc_im2col_batch_f32(const cc_conv_geometry *g, const float *x, float *cols, int n_threads);
void cc_im2col_batch_f64(const cc_conv_geometry *g, const double *x, double *cols, int n_threads);
void cc_col2im_batch_f32(const cc_conv_geometry *g, const float *cols, float *x, int n_threads);
void cc_col2im_batch_f64(const cc_conv_geometry *g, const double *cols, double *x, int n_threads);
/* The same on tasks [t0, t1) of the N*C tasks (image n = t / C, channel c = t % C), so a
 * caller can run a batch in chunks and check for interrupts between them. */
void cc_im2col_batch_range_f32(const cc_conv_geometry *g, const float *x, float *cols,
                               ptrdiff_t t0, ptrdiff_t t1, int n_threads);
void cc_im2col_batch_range_f64(const cc_conv_geometry *g, const double *x, double *cols,
                               ptrdiff_t t0, ptrdiff_t t1, int n_threads);
void cc_col2im_batch_range_f32(const cc_conv_geometry *g, const float *cols, float *x,
                               ptrdiff_t t0, ptrdiff_t t1, int n_threads);
void cc_col2im_batch_range_f64(const cc_conv_geometry *g, const double *cols, double *x,
                               ptrdiff_t t0, ptrdiff_t t1, int n_threads);


/* Columns per im2col tile, output channels per block, workspace (elements per thread,
 * a multiple of 16) and the number of work items (image, group, tile of output cells,
 * channel block) of the GEMM path, fixed by the geometry and the active ISA's tile rows:
 * more threads than items idle. */
ptrdiff_t cc_gemm_tile_columns(const cc_conv_geometry *g);
ptrdiff_t cc_gemm_channel_block(const cc_conv_geometry *g);
ptrdiff_t cc_gemm_workspace_per_thread(const cc_conv_geometry *g);
ptrdiff_t cc_gemm_work_items(const cc_conv_geometry *g);
/* The weight gradient on the GEMM tile (cc_grad_weight_tile_range), for elements of
 * real_bytes at the active ISA: output cells per unit (image, tile of cells), workspace
 * elements per thread, and the layout of its parts: 1 for (K/groups x Cg*taps) matrices,
 * 0 for their transposes (the layout whose tiles compute fewer padded products). */
ptrdiff_t cc_grad_weight_columns(const cc_conv_geometry *g, int real_bytes);
ptrdiff_t cc_grad_weight_workspace_per_thread(const cc_conv_geometry *g, int real_bytes);
int cc_grad_weight_by_channels(const cc_conv_geometry *g, int real_bytes);

/* im2col + GEMM over 1, 2 or 3 spatial dimensions on the active ISA's GEMM tile
 * (driver/conv_im2col.c): each output summed from its bias in the order of the column
 * rows, so the result does not depend on n_threads.  The weights are packed for the
 * tile into wpack (cc_conv_im2col_pack_size(g) elements) by cc_conv_im2col_pack_*;
 * workspace holds min(n_threads, cc_gemm_work_items(g)) * cc_gemm_workspace_per_thread(g)
 * elements.  cc_conv_im2col_* packs and runs every item. */
ptrdiff_t cc_conv_im2col_pack_size(const cc_conv_geometry *g);
void cc_conv_im2col_pack_f32(const cc_conv_geometry *g, const float *w, float *wpack,
                             int n_threads);
void cc_conv_im2col_pack_f64(const cc_conv_geometry *g, const double *w, double *wpack,
                             int n_threads);
/* Items [it0, it1) only (the workspace holds min(n_threads, it1 - it0) tiles). */
void cc_conv_im2col_range_f32(const cc_conv_geometry *g, const float *x, const float *wpack,
                              const float *bias, float *y, float *workspace, ptrdiff_t it0,
                              ptrdiff_t it1, int n_threads);
void cc_conv_im2col_range_f64(const cc_conv_geometry *g, const double *x, const double *wpack,
                              const double *bias, double *y, double *workspace,
                              ptrdiff_t it0, ptrdiff_t it1, int n_threads);
void cc_conv_im2col_f32(const cc_conv_geometry *g, const float *x, const float *w,
                        const float *bias, float *y, float *workspace, float *wpack,
                        int n_threads);
void cc_conv_im2col_f64(const cc_conv_geometry *g, const double *x, const double *w,
                        const double *bias, double *y, double *workspace, double *wpack,
                        int n_threads);

/* The weight gradient of an im2col + GEMM layer in parts, on the active ISA's GEMM tile
 * (driver/conv_im2col.c): item it = grp * nparts + q (it in [it0, it1) of
 * groups * nparts) writes partials[it] (Kg x CgRS, row-major, or its transpose) =
 * the sum over part q's (image, column tile) units of its group (the units of a group,
 * N * column tiles, split into nparts consecutive ranges) of grad_output's tile times
 * the column tile's transpose.  A call sums units [k0, k1) of each part (counted from
 * the part's first): k0 = 0 starts the sum, a later window adds to it, so the caller
 * can split a long part and check for signals between windows.  The caller adds the
 * parts in order, so the sum is the same for any thread count and any windows.  go is
 * (N, K, out cells).  The parts are (K/groups x CgRS) or their transposes, as
 * cc_grad_weight_by_channels says; the workspace holds min(n_threads, items) *
 * cc_grad_weight_workspace_per_thread elements; the units have cc_grad_weight_columns
 * output cells. */
void cc_grad_weight_tile_range_f32(const cc_conv_geometry *g, const float *x,
                                   const float *go, float *partials, float *workspace,
                                   ptrdiff_t nparts, ptrdiff_t k0, ptrdiff_t k1, ptrdiff_t it0,
                                   ptrdiff_t it1, int n_threads);
void cc_grad_weight_tile_range_f64(const cc_conv_geometry *g, const double *x,
                                   const double *go, double *partials, double *workspace,
                                   ptrdiff_t nparts, ptrdiff_t k0, ptrdiff_t k1, ptrdiff_t it0,
                                   ptrdiff_t it1, int n_threads);

/* A batch of products C[b] = A[b] B[b] (plus bias[j] on column j, summed first, when
 * bias is not NULL), or C[b] += A[b] B[b] (accumulate; bias ignored), in row-major
 * terms (C is m x n, A m x k, B k x n), on the active ISA's GEMM tile (driver/matmul.c):
 * any element strides for A and B (a batch stride 0 shares one matrix), C's columns
 * contiguous.  Items: batch x blocks of rows x blocks of columns of C (cc_matmul_plan),
 * each element summed over the whole k in order by one thread, so the result does not
 * depend on the blocks, the chunks of items or the thread count.  k = 0 sets C to the bias
 * or zero (or leaves it, accumulating).  The workspace holds cc_matmul_workspace_per_thread
 * elements per thread, 64-byte aligned. */
#define CC_MATMUL_ROWS 264
#define CC_MATMUL_COLS 256
typedef struct {
    ptrdiff_t batch, m, n, k;
    ptrdiff_t a_rs, a_cs, a_bs; /* elements between A's rows, columns, batch entries */
    ptrdiff_t b_rs, b_cs, b_bs;
    ptrdiff_t c_rs, c_bs;
    int accumulate;
    ptrdiff_t mb, nb; /* rows and columns of C per item: set by cc_matmul_plan */
} cc_matmul;
/* Blocks of at most CC_MATMUL_ROWS x CC_MATMUL_COLS, even in size, split further (rows
 * first) while a team of n_threads would have fewer items than threads (which thread
 * sums an element and in which block never changes its bits). */
void cc_matmul_plan(cc_matmul *p, int n_threads);
ptrdiff_t cc_matmul_items(const cc_matmul *p);
ptrdiff_t cc_matmul_workspace_per_thread(void);
void cc_matmul_range_f32(const cc_matmul *p, const float *a, const float *b,
                         const float *bias, float *c, float *workspace, ptrdiff_t it0,
                         ptrdiff_t it1, int n_threads);
void cc_matmul_range_f64(const cc_matmul *p, const double *a, const double *b,
                         const double *bias, double *c, double *workspace, ptrdiff_t it0,
                         ptrdiff_t it1, int n_threads);

/* ---- The convolution as a matrix (CSR) ----
 * indptr (K*Hout*Wout + 1 entries) receives the row pointers; returns the number of
 * entries: the (output, input) pairs the kernel touches inside the image. */
int64_t cc_conv_matrix_indptr(const cc_conv2d_geometry *g, int64_t *indptr);
/* indices and data (nnz entries each) of the rows described by indptr. */
void cc_conv_matrix_fill_f32(const cc_conv2d_geometry *g, const float *w, const int64_t *indptr,
                             int64_t *indices, float *data, int n_threads);
void cc_conv_matrix_fill_f64(const cc_conv2d_geometry *g, const double *w, const int64_t *indptr,
                             int64_t *indices, double *data, int n_threads);
/* Rows [row0, row1) only. */
void cc_conv_matrix_fill_range_f32(const cc_conv2d_geometry *g, const float *w,
                                   const int64_t *indptr, int64_t *indices, float *data,
                                   ptrdiff_t row0, ptrdiff_t row1, int n_threads);
void cc_conv_matrix_fill_range_f64(const cc_conv2d_geometry *g, const double *w,
                                   const int64_t *indptr, int64_t *indices, double *data,
                                   ptrdiff_t row0, ptrdiff_t row1, int n_threads);

/* ---- Pooling (NCHW / NCDHW planes; a 2-D pool is D = kd = 1, a 1-D one also H = kh = 1) ---- */

typedef struct {
    ptrdiff_t planes;             /* N * C */
    ptrdiff_t H, W, Hout, Wout;
    ptrdiff_t kh, kw, sh, sw, ph, pw, dh, dw;  /* avg pooling: dh = dw = 1 */
    /* Depth of a 3-D pool: a window is kd planes of 2-D windows, the indices flat per
     * (D, H, W) volume (id * H + ih) * W + iw.  2-D: D = Dout = kd = sd = dd = 1, pd = 0
     * (the channels-last kernels are 2-D only). */
    ptrdiff_t D, Dout, kd, sd, pd, dd;
} cc_pool2d_geometry;

/* y = max over each window (padding never wins; NaN propagates); indices (may be NULL)
 * receive the flat argmax (id * H + ih) * W + iw per plane, first maximum in row-major
 * order.  x is (planes, D, H, W), y (planes, Dout, Hout, Wout). */
void cc_max_pool2d_f32(const cc_pool2d_geometry *g, const float *x, float *y,
                       int64_t *indices, int n_threads);
void cc_max_pool2d_f64(const cc_pool2d_geometry *g, const double *x, double *y,
                       int64_t *indices, int n_threads);
/* y = window sum / divisor: divisor_override if non-zero, else the window's cells inside
 * the padded input (count_include_pad) or inside the input. */
void cc_avg_pool2d_f32(const cc_pool2d_geometry *g, const float *x, float *y,
                       int count_include_pad, ptrdiff_t divisor_override, int n_threads);
void cc_avg_pool2d_f64(const cc_pool2d_geometry *g, const double *x, double *y,
                       int count_include_pad, ptrdiff_t divisor_override, int n_threads);

/* Gradients with respect to x (grad_in is overwritten). */
void cc_max_pool2d_backward_f32(const cc_pool2d_geometry *g, const float *grad_out,
                                const int64_t *indices, float *grad_in, int n_threads);
void cc_max_pool2d_backward_f64(const cc_pool2d_geometry *g, const double *grad_out,
                                const int64_t *indices, double *grad_in, int n_threads);
void cc_avg_pool2d_backward_f32(const cc_pool2d_geometry *g, const float *grad_out,
                                float *grad_in, int count_include_pad,
                                ptrdiff_t divisor_override, int n_threads);
void cc_avg_pool2d_backward_f64(const cc_pool2d_geometry *g, const double *grad_out,
                                double *grad_in, int count_include_pad,
                                ptrdiff_t divisor_override, int n_threads);

/* The same on channels-last data: g->planes is N, x is (N, H, W, C), y (N, Hout, Wout, C),
 * indices (may be NULL) as y, holding ih * W + iw as the NCHW kernels do. */
void cc_max_pool2d_nhwc_f32(const cc_pool2d_geometry *g, ptrdiff_t C, const float *x, float *y,
                            int64_t *indices, int n_threads);
void cc_max_pool2d_nhwc_f64(const cc_pool2d_geometry *g, ptrdiff_t C, const double *x,
                            double *y, int64_t *indices, int n_threads);
void cc_avg_pool2d_nhwc_f32(const cc_pool2d_geometry *g, ptrdiff_t C, const float *x, float *y,
                            int count_include_pad, ptrdiff_t divisor_override, int n_threads);
void cc_avg_pool2d_nhwc_f64(const cc_pool2d_geometry *g, ptrdiff_t C, const double *x,
                            double *y, int count_include_pad, ptrdiff_t divisor_override,
                            int n_threads);
/* Output rows [r0, r1) of the planes * Hout rows only (row = n * Hout + oh). */
void cc_max_pool2d_nhwc_rows_f32(const cc_pool2d_geometry *g, ptrdiff_t C, const float *x,
                                 float *y, int64_t *indices, ptrdiff_t r0, ptrdiff_t r1,
                                 int n_threads);
void cc_max_pool2d_nhwc_rows_f64(const cc_pool2d_geometry *g, ptrdiff_t C, const double *x,
                                 double *y, int64_t *indices, ptrdiff_t r0, ptrdiff_t r1,
                                 int n_threads);
void cc_avg_pool2d_nhwc_rows_f32(const cc_pool2d_geometry *g, ptrdiff_t C, const float *x,
                                 float *y, int count_include_pad, ptrdiff_t divisor_override,
                                 ptrdiff_t r0, ptrdiff_t r1, int n_threads);
void cc_avg_pool2d_nhwc_rows_f64(const cc_pool2d_geometry *g, ptrdiff_t C, const double *x,
                                 double *y, int count_include_pad, ptrdiff_t divisor_override,
                                 ptrdiff_t r0, ptrdiff_t r1, int n_threads);

/* Adaptive pooling, PyTorch's windows: [floor(i*L/n), ceil((i+1)*L/n)). */
void cc_adaptive_avg_pool2d_f32(ptrdiff_t planes, ptrdiff_t H, ptrdiff_t W, ptrdiff_t Hout,
                                ptrdiff_t Wout, const float *x, float *y, int n_threads);
void cc_adaptive_avg_pool2d_f64(ptrdiff_t planes, ptrdiff_t H, ptrdiff_t W, ptrdiff_t Hout,
                                ptrdiff_t Wout, const double *x, double *y, int n_threads);
void cc_adaptive_max_pool2d_f32(ptrdiff_t planes, ptrdiff_t H, ptrdiff_t W, ptrdiff_t Hout,
                                ptrdiff_t Wout, const float *x, float *y, int64_t *indices,
                                int n_threads);
void cc_adaptive_max_pool2d_f64(ptrdiff_t planes, ptrdiff_t H, ptrdiff_t W, ptrdiff_t Hout,
                                ptrdiff_t Wout, const double *x, double *y, int64_t *indices,
                                int n_threads);
/* The same over (planes, D, H, W) volumes, indices flat per volume (the 2-D functions
 * are these with D = Dout = 1). */
void cc_adaptive_avg_pool3d_f32(ptrdiff_t planes, ptrdiff_t D, ptrdiff_t H, ptrdiff_t W,
                                ptrdiff_t Dout, ptrdiff_t Hout, ptrdiff_t Wout, const float *x,
                                float *y, int n_threads);
void cc_adaptive_avg_pool3d_f64(ptrdiff_t planes, ptrdiff_t D, ptrdiff_t H, ptrdiff_t W,
                                ptrdiff_t Dout, ptrdiff_t Hout, ptrdiff_t Wout, const double *x,
                                double *y, int n_threads);
void cc_adaptive_max_pool3d_f32(ptrdiff_t planes, ptrdiff_t D, ptrdiff_t H, ptrdiff_t W,
                                ptrdiff_t Dout, ptrdiff_t Hout, ptrdiff_t Wout, const float *x,
                                float *y, int64_t *indices, int n_threads);
void cc_adaptive_max_pool3d_f64(ptrdiff_t planes, ptrdiff_t D, ptrdiff_t H, ptrdiff_t W,
                                ptrdiff_t Dout, ptrdiff_t Hout, ptrdiff_t Wout, const double *x,
                                double *y, int64_t *indices, int n_threads);

/* Max unpooling (any number of spatial dimensions): y (planes, out_plane) is zero but
 * for y[p, indices[p, i]] = x[p, i], i in [0, in_plane), in order (a repeated index
 * keeps the last value).  Indices must lie in [0, out_plane). */
void cc_max_unpool_f32(ptrdiff_t planes, ptrdiff_t in_plane, ptrdiff_t out_plane,
                       const float *x, const int64_t *indices, float *y, int n_threads);
void cc_max_unpool_f64(ptrdiff_t planes, ptrdiff_t in_plane, ptrdiff_t out_plane,
                       const double *x, const int64_t *indices, double *y, int n_threads);

/* ---- Strided copy ----
 * dst = src over a box of nd <= CC_COPY_MAX_DIMS dimensions of `shape`, each array given
 * by its strides in elements (views of any layout; the two must not overlap): NumPy's
 * `dst[...] = src`, its rows along the last dimension shared out among n_threads. */
#define CC_COPY_MAX_DIMS 8
void cc_copy_strided_f32(int nd, const ptrdiff_t *shape, const float *src,
                         const ptrdiff_t *src_strides, float *dst, const ptrdiff_t *dst_strides,
                         int n_threads);
void cc_copy_strided_f64(int nd, const ptrdiff_t *shape, const double *src,
                         const ptrdiff_t *src_strides, double *dst,
                         const ptrdiff_t *dst_strides, int n_threads);

#ifdef __cplusplus
}
#endif
#endif /* CONVCORE_H */
