# Declarations of the C library in csrc/convcore.h.

cdef extern from "convcore.h" nogil:
    ctypedef struct cc_conv2d_geometry:
        Py_ssize_t N, C, H, W
        Py_ssize_t K, R, S
        Py_ssize_t groups
        Py_ssize_t stride_h, stride_w
        Py_ssize_t dil_h, dil_w
        Py_ssize_t pad_top, pad_left
        Py_ssize_t Hout, Wout

    ctypedef enum cc_simd_level:
        CC_SIMD_GENERIC
        CC_SIMD_AVX2
        CC_SIMD_AVX512

    cc_simd_level cc_simd_detect()
    cc_simd_level cc_simd_active()
    void cc_simd_force(cc_simd_level level)
    const char *cc_simd_name(cc_simd_level level)
    int cc_openmp_enabled()
    int cc_openmp_max_threads()

    Py_ssize_t cc_conv2d_direct_pack_size_f32(const cc_conv2d_geometry *g)
    Py_ssize_t cc_conv2d_direct_pack_size_f64(const cc_conv2d_geometry *g)
    void cc_conv2d_direct_f32(const cc_conv2d_geometry *g, const float *x, const float *w,
                              const float *bias, float *y, float *wpack, int n_threads)
    void cc_conv2d_direct_f64(const cc_conv2d_geometry *g, const double *x, const double *w,
                              const double *bias, double *y, double *wpack, int n_threads)

    void cc_im2col_batch_f32(const cc_conv2d_geometry *g, const float *x, float *cols,
                             int n_threads)
    void cc_im2col_batch_f64(const cc_conv2d_geometry *g, const double *x, double *cols,
                             int n_threads)
    void cc_col2im_batch_f32(const cc_conv2d_geometry *g, const float *cols, float *x,
                             int n_threads)
    void cc_col2im_batch_f64(const cc_conv2d_geometry *g, const double *cols, double *x,
                             int n_threads)

    ctypedef void (*cc_sgemm_fn)(char *, char *, int *, int *, int *, float *, float *,
                                 int *, float *, int *, float *, float *, int *)
    ctypedef void (*cc_dgemm_fn)(char *, char *, int *, int *, int *, double *, double *,
                                 int *, double *, int *, double *, double *, int *)
    Py_ssize_t cc_gemm_workspace_per_thread(const cc_conv2d_geometry *g)
    void cc_conv2d_gemm_f32(const cc_conv2d_geometry *g, const float *x, const float *w,
                            const float *bias, float *y, float *workspace, cc_sgemm_fn gemm,
                            int n_threads)
    void cc_conv2d_gemm_f64(const cc_conv2d_geometry *g, const double *x, const double *w,
                            const double *bias, double *y, double *workspace,
                            cc_dgemm_fn gemm, int n_threads)
