/* The dtype-dependent body of copy_strided.c (included with REAL and CC_COPY_FN). */
void CC_COPY_FN(int nd, const ptrdiff_t *shape, const REAL *src, const ptrdiff_t *src_strides,
                REAL *dst, const ptrdiff_t *dst_strides, int n_threads)
{
    ptrdiff_t rows = 1;
    for (int d = 0; d < nd - 1; d++)
        rows *= shape[d];
    const ptrdiff_t n = nd > 0 ? shape[nd - 1] : 1;
    const ptrdiff_t sl = nd > 0 ? src_strides[nd - 1] : 1;
    const ptrdiff_t dl = nd > 0 ? dst_strides[nd - 1] : 1;
    if (rows <= 0 || n <= 0)
        return;
    if (rows * n < CC_COPY_PARALLEL_MIN || rows < 2)
        n_threads = 1;
    CC_COPY_PARALLEL(n_threads)
    {
        const int nt = CC_COPY_TEAM(n_threads), t = CC_OMP_THREAD_ID();
        const ptrdiff_t lo = rows * t / nt, hi = rows * (t + 1) / nt;
        ptrdiff_t idx[CC_COPY_MAX_DIMS] = {0}, so = 0, doff = 0, r = lo;
        for (int d = nd - 2; d >= 0; d--) { /* row lo's index and offsets */
            idx[d] = r % shape[d];
            r /= shape[d];
            so += idx[d] * src_strides[d];
            doff += idx[d] * dst_strides[d];
        }
        for (r = lo; r < hi; r++) {
            const REAL *s = src + so;
            REAL *o = dst + doff;
            if (sl == 1 && dl == 1)
                memcpy(o, s, (size_t)n * sizeof *o);
            else if (sl == 1)
                for (ptrdiff_t j = 0; j < n; j++)
                    o[j * dl] = s[j];
            else
                for (ptrdiff_t j = 0; j < n; j++)
                    o[j * dl] = s[j * sl];
            for (int d = nd - 2; d >= 0; d--) { /* the next row */
                so += src_strides[d];
                doff += dst_strides[d];
                if (++idx[d] < shape[d])
                    break;
                so -= shape[d] * src_strides[d];
                doff -= shape[d] * dst_strides[d];
                idx[d] = 0;
            }
        }
    }
}
