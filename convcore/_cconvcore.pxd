# Declarations of the C library in csrc/convcore.h.
from libc.stdint cimport int64_t

cdef extern from "convcore.h" nogil:
    ctypedef struct cc_conv2d_geometry:
        Py_ssize_t N, C, H, W
        Py_ssize_t K, R, S
        Py_ssize_t groups
        Py_ssize_t stride_h, stride_w
        Py_ssize_t dil_h, dil_w
        Py_ssize_t pad_top, pad_left
        Py_ssize_t Hout, Wout
        int pad_mode

    enum: CC_MAX_DIMS
    ctypedef struct cc_conv_geometry:
        int nd
        Py_ssize_t N, C, K, groups
        Py_ssize_t in_ "in"[3]
        Py_ssize_t kernel[3]
        Py_ssize_t out[3]
        Py_ssize_t stride[3]
        Py_ssize_t dilation[3]
        Py_ssize_t pad[3]
        int pad_mode
    Py_ssize_t cc_conv_taps(const cc_conv_geometry *g)
    Py_ssize_t cc_conv_in_cells(const cc_conv_geometry *g)
    Py_ssize_t cc_conv_out_cells(const cc_conv_geometry *g)

    ctypedef struct cc_conv_direct_plan:
        int tile, kb, nv, lanes, pix
        Py_ssize_t items
        Py_ssize_t pack_size
        Py_ssize_t rows_size
        Py_ssize_t band
        double flops_per_item

    void cc_conv_direct_plan_make(const cc_conv_geometry *g, int real_bytes,
                                  cc_conv_direct_plan *plan)
    void cc_conv_direct_pack_f32(const cc_conv_geometry *g, const cc_conv_direct_plan *plan,
                                 const float *w, float *wpack, int n_threads)
    void cc_conv_direct_pack_f64(const cc_conv_geometry *g, const cc_conv_direct_plan *plan,
                                 const double *w, double *wpack, int n_threads)
    void cc_conv_direct_run_f32(const cc_conv_geometry *g, const cc_conv_direct_plan *plan,
                                const float *x, const float *wpack, Py_ssize_t *rows_ws,
                                const float *bias, float *y, Py_ssize_t item_lo,
                                Py_ssize_t item_hi, int n_threads)
    void cc_conv_direct_run_f64(const cc_conv_geometry *g, const cc_conv_direct_plan *plan,
                                const double *x, const double *wpack, Py_ssize_t *rows_ws,
                                const double *bias, double *y, Py_ssize_t item_lo,
                                Py_ssize_t item_hi, int n_threads)

    ctypedef int cc_simd_level  # the row of the C library's table of ISAs

    int cc_simd_count()
    cc_simd_level cc_simd_detect()
    cc_simd_level cc_simd_active()
    void cc_simd_force(cc_simd_level level)
    const char *cc_simd_name(cc_simd_level level)
    int cc_openmp_enabled()
    int cc_openmp_max_threads()
    int cc_threads_probe(int n)
    int cc_openmp_release()

    Py_ssize_t cc_conv2d_direct_pack_size_f32(const cc_conv2d_geometry *g)
    Py_ssize_t cc_conv2d_direct_pack_size_f64(const cc_conv2d_geometry *g)
    void cc_conv2d_direct_f32(const cc_conv2d_geometry *g, const float *x, const float *w,
                              const float *bias, float *y, float *wpack, int n_threads)
    void cc_conv2d_direct_f64(const cc_conv2d_geometry *g, const double *x, const double *w,
                              const double *bias, double *y, double *wpack, int n_threads)

    void cc_im2col_batch_f32(const cc_conv_geometry *g, const float *x, float *cols,
                             int n_threads)
    void cc_im2col_batch_f64(const cc_conv_geometry *g, const double *x, double *cols,
                             int n_threads)
    void cc_col2im_batch_f32(const cc_conv_geometry *g, const float *cols, float *x,
                             int n_threads)
    void cc_col2im_batch_f64(const cc_conv_geometry *g, const double *cols, double *x,
                             int n_threads)
    void cc_im2col_batch_range_f32(const cc_conv_geometry *g, const float *x, float *cols,
                                   Py_ssize_t t0, Py_ssize_t t1, int n_threads)
    void cc_im2col_batch_range_f64(const cc_conv_geometry *g, const double *x,
                                   double *cols, Py_ssize_t t0, Py_ssize_t t1, int n_threads)
    void cc_col2im_batch_range_f32(const cc_conv_geometry *g, const float *cols, float *x,
                                   Py_ssize_t t0, Py_ssize_t t1, int n_threads)
    void cc_col2im_batch_range_f64(const cc_conv_geometry *g, const double *cols,
                                   double *x, Py_ssize_t t0, Py_ssize_t t1, int n_threads)

    Py_ssize_t cc_gemm_workspace_per_thread(const cc_conv_geometry *g)
    Py_ssize_t cc_gemm_work_items(const cc_conv_geometry *g)
    Py_ssize_t cc_grad_weight_columns(const cc_conv_geometry *g, int real_bytes)
    Py_ssize_t cc_grad_weight_workspace_per_thread(const cc_conv_geometry *g, int real_bytes)
    int cc_grad_weight_by_channels(const cc_conv_geometry *g, int real_bytes)
    Py_ssize_t cc_gemm_channel_block(const cc_conv_geometry *g)
    Py_ssize_t cc_gemm_tile_columns(const cc_conv_geometry *g)
    void cc_grad_weight_tile_range_f32(const cc_conv_geometry *g, const float *x,
                                       const float *go, float *partials, float *workspace,
                                       Py_ssize_t nparts, Py_ssize_t k0, Py_ssize_t k1,
                                       Py_ssize_t it0, Py_ssize_t it1, int n_threads)
    void cc_grad_weight_tile_range_f64(const cc_conv_geometry *g, const double *x,
                                       const double *go, double *partials,
                                       double *workspace, Py_ssize_t nparts, Py_ssize_t k0,
                                       Py_ssize_t k1, Py_ssize_t it0, Py_ssize_t it1,
                                       int n_threads)
    Py_ssize_t cc_conv_im2col_pack_size(const cc_conv_geometry *g)
    void cc_conv_im2col_pack_f32(const cc_conv_geometry *g, const float *w, float *wpack,
                                 int n_threads)
    void cc_conv_im2col_pack_f64(const cc_conv_geometry *g, const double *w, double *wpack,
                                 int n_threads)
    void cc_conv_im2col_range_f32(const cc_conv_geometry *g, const float *x, const float *wpack,
                                  const float *bias, float *y, float *workspace,
                                  Py_ssize_t it0, Py_ssize_t it1, int n_threads)
    void cc_conv_im2col_range_f64(const cc_conv_geometry *g, const double *x,
                                  const double *wpack, const double *bias, double *y,
                                  double *workspace, Py_ssize_t it0, Py_ssize_t it1,
                                  int n_threads)

    enum:
        CC_MATMUL_ROWS
    ctypedef struct cc_matmul:
        Py_ssize_t batch, m, n, k
        Py_ssize_t a_rs, a_cs, a_bs
        Py_ssize_t b_rs, b_cs, b_bs
        Py_ssize_t c_rs, c_bs
        int accumulate
        Py_ssize_t mb, nb
    void cc_matmul_plan(cc_matmul *p, int n_threads)
    Py_ssize_t cc_matmul_items(const cc_matmul *p)
    Py_ssize_t cc_matmul_workspace_per_thread()
    void cc_matmul_range_f32(const cc_matmul *p, const float *a, const float *b,
                             const float *bias, float *c, float *workspace, Py_ssize_t it0,
                             Py_ssize_t it1, int n_threads)
    void cc_matmul_range_f64(const cc_matmul *p, const double *a, const double *b,
                             const double *bias, double *c, double *workspace,
                             Py_ssize_t it0, Py_ssize_t it1, int n_threads)

    ctypedef struct cc_pool2d_geometry:
        Py_ssize_t planes
        Py_ssize_t H, W, Hout, Wout
        Py_ssize_t kh, kw, sh, sw, ph, pw, dh, dw
        Py_ssize_t D, Dout, kd, sd, pd, dd

    void cc_max_pool2d_f32(const cc_pool2d_geometry *g, const float *x, float *y,
                           int64_t *indices, int n_threads)
    void cc_max_pool2d_f64(const cc_pool2d_geometry *g, const double *x, double *y,
                           int64_t *indices, int n_threads)
    void cc_avg_pool2d_f32(const cc_pool2d_geometry *g, const float *x, float *y,
                           int count_include_pad, Py_ssize_t divisor_override, int n_threads)
    void cc_avg_pool2d_f64(const cc_pool2d_geometry *g, const double *x, double *y,
                           int count_include_pad, Py_ssize_t divisor_override, int n_threads)
    void cc_max_pool2d_nhwc_f32(const cc_pool2d_geometry *g, Py_ssize_t C, const float *x,
                                float *y, int64_t *indices, int n_threads)
    void cc_max_pool2d_nhwc_f64(const cc_pool2d_geometry *g, Py_ssize_t C, const double *x,
                                double *y, int64_t *indices, int n_threads)
    void cc_max_pool2d_nhwc_rows_f32(const cc_pool2d_geometry *g, Py_ssize_t C, const float *x,
                                     float *y, int64_t *indices, Py_ssize_t r0, Py_ssize_t r1,
                                     int n_threads)
    void cc_max_pool2d_nhwc_rows_f64(const cc_pool2d_geometry *g, Py_ssize_t C,
                                     const double *x, double *y, int64_t *indices,
                                     Py_ssize_t r0, Py_ssize_t r1, int n_threads)
    void cc_avg_pool2d_nhwc_rows_f32(const cc_pool2d_geometry *g, Py_ssize_t C, const float *x,
                                     float *y, int count_include_pad,
                                     Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1,
                                     int n_threads)
    void cc_avg_pool2d_nhwc_rows_f64(const cc_pool2d_geometry *g, Py_ssize_t C,
                                     const double *x, double *y, int count_include_pad,
                                     Py_ssize_t divisor_override, Py_ssize_t r0, Py_ssize_t r1,
                                     int n_threads)
    void cc_avg_pool2d_nhwc_f32(const cc_pool2d_geometry *g, Py_ssize_t C, const float *x,
                                float *y, int count_include_pad, Py_ssize_t divisor_override,
                                int n_threads)
    void cc_avg_pool2d_nhwc_f64(const cc_pool2d_geometry *g, Py_ssize_t C, const double *x,
                                double *y, int count_include_pad, Py_ssize_t divisor_override,
                                int n_threads)
    void cc_max_pool2d_backward_f32(const cc_pool2d_geometry *g, const float *grad_out,
                                    const int64_t *indices, float *grad_in, int n_threads)
    void cc_max_pool2d_backward_f64(const cc_pool2d_geometry *g, const double *grad_out,
                                    const int64_t *indices, double *grad_in, int n_threads)
    void cc_avg_pool2d_backward_f32(const cc_pool2d_geometry *g, const float *grad_out,
                                    float *grad_in, int count_include_pad,
                                    Py_ssize_t divisor_override, int n_threads)
    void cc_avg_pool2d_backward_f64(const cc_pool2d_geometry *g, const double *grad_out,
                                    double *grad_in, int count_include_pad,
                                    Py_ssize_t divisor_override, int n_threads)
    void cc_adaptive_avg_pool2d_f32(Py_ssize_t planes, Py_ssize_t H, Py_ssize_t W,
                                    Py_ssize_t Hout, Py_ssize_t Wout, const float *x, float *y,
                                    int n_threads)
    void cc_adaptive_avg_pool2d_f64(Py_ssize_t planes, Py_ssize_t H, Py_ssize_t W,
                                    Py_ssize_t Hout, Py_ssize_t Wout, const double *x,
                                    double *y, int n_threads)
    void cc_adaptive_max_pool2d_f32(Py_ssize_t planes, Py_ssize_t H, Py_ssize_t W,
                                    Py_ssize_t Hout, Py_ssize_t Wout, const float *x, float *y,
                                    int64_t *indices, int n_threads)
    void cc_adaptive_max_pool2d_f64(Py_ssize_t planes, Py_ssize_t H, Py_ssize_t W,
                                    Py_ssize_t Hout, Py_ssize_t Wout, const double *x,
                                    double *y, int64_t *indices, int n_threads)
    void cc_adaptive_avg_pool3d_f32(Py_ssize_t planes, Py_ssize_t D, Py_ssize_t H,
                                    Py_ssize_t W, Py_ssize_t Dout, Py_ssize_t Hout,
                                    Py_ssize_t Wout, const float *x, float *y, int n_threads)
    void cc_adaptive_avg_pool3d_f64(Py_ssize_t planes, Py_ssize_t D, Py_ssize_t H,
                                    Py_ssize_t W, Py_ssize_t Dout, Py_ssize_t Hout,
                                    Py_ssize_t Wout, const double *x, double *y, int n_threads)
    void cc_adaptive_max_pool3d_f32(Py_ssize_t planes, Py_ssize_t D, Py_ssize_t H,
                                    Py_ssize_t W, Py_ssize_t Dout, Py_ssize_t Hout,
                                    Py_ssize_t Wout, const float *x, float *y,
                                    int64_t *indices, int n_threads)
    void cc_adaptive_max_pool3d_f64(Py_ssize_t planes, Py_ssize_t D, Py_ssize_t H,
                                    Py_ssize_t W, Py_ssize_t Dout, Py_ssize_t Hout,
                                    Py_ssize_t Wout, const double *x, double *y,
                                    int64_t *indices, int n_threads)
    void cc_max_unpool_f32(Py_ssize_t planes, Py_ssize_t in_plane, Py_ssize_t out_plane,
                           const float *x, const int64_t *indices, float *y, int n_threads)
    void cc_max_unpool_f64(Py_ssize_t planes, Py_ssize_t in_plane, Py_ssize_t out_plane,
                           const double *x, const int64_t *indices, double *y, int n_threads)
    enum: CC_COPY_MAX_DIMS
    void cc_copy_strided_f32(int nd, const Py_ssize_t *shape, const float *src,
                             const Py_ssize_t *src_strides, float *dst,
                             const Py_ssize_t *dst_strides, int n_threads)
    void cc_copy_strided_f64(int nd, const Py_ssize_t *shape, const double *src,
                             const Py_ssize_t *src_strides, double *dst,
                             const Py_ssize_t *dst_strides, int n_threads)

    int64_t cc_conv_matrix_indptr(const cc_conv2d_geometry *g, int64_t *indptr)
    void cc_conv_matrix_fill_f32(const cc_conv2d_geometry *g, const float *w,
                                 const int64_t *indptr, int64_t *indices, float *data,
                                 int n_threads)
    void cc_conv_matrix_fill_f64(const cc_conv2d_geometry *g, const double *w,
                                 const int64_t *indptr, int64_t *indices, double *data,
                                 int n_threads)
    void cc_conv_matrix_fill_range_f32(const cc_conv2d_geometry *g, const float *w,
                                       const int64_t *indptr, int64_t *indices, float *data,
                                       Py_ssize_t row0, Py_ssize_t row1, int n_threads)
    void cc_conv_matrix_fill_range_f64(const cc_conv2d_geometry *g, const double *w,
                                       const int64_t *indptr, int64_t *indices, double *data,
                                       Py_ssize_t row0, Py_ssize_t row1, int n_threads)
