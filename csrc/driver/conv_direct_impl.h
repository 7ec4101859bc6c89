/* The dtype-dependent half of the direct-convolution driver (included with REAL/SFX). */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)
#define ROW_ARGS CC_CAT2(cc_direct_row, SFX)

/* Stretch i of the packing below: 16 taps of one block (fewer at the end). */
static void FN(pack_stretch)(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                             const REAL *w, REAL *wpack, ptrdiff_t taps, ptrdiff_t i)
{
    const ptrdiff_t Kg = g->K / g->groups, KB = p->kb, nstretch = (taps + 15) / 16;
    const ptrdiff_t blk = i / nstretch, grp = blk / p->nkb, b = blk % p->nkb;
    const ptrdiff_t t0 = i % nstretch * 16, t1 = taps - t0 < 16 ? taps : t0 + 16;
    const ptrdiff_t kb = Kg - b * KB < KB ? Kg - b * KB : KB;
    const REAL *src = w + (grp * Kg + b * KB) * taps;
    REAL *dst = wpack + blk * taps * KB;
    for (ptrdiff_t kk = 0; kk < KB; kk++)
        for (ptrdiff_t t = t0; t < t1; t++)
            dst[t * KB + kk] = kk < kb ? src[kk * taps + t] : (REAL)0;
}

/* Weights (K, Cg, *kernel) -> blocks [group][block][c][taps][KB]: the KB weights one
 * reduction step broadcasts side by side; channels past Kg are zero (never stored).
 * Written in stretches of 16 taps (the KB rows read and the stretch written stay in L1),
 * the stretches shared out among the threads: a copy, the same for any thread count. */
void FN(cc_conv_direct_pack)(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                             const REAL *w, REAL *wpack, int n_threads)
{
    const ptrdiff_t taps = p->pack_size / (g->groups * p->nkb * p->kb); /* Cg * U * S */
    const ptrdiff_t total = g->groups * p->nkb * ((taps + 15) / 16);
#ifdef _OPENMP
    if (p->pack_size >= (1 << 16) && n_threads > 1) {
#pragma omp parallel for schedule(static) num_threads(n_threads)
        for (ptrdiff_t i = 0; i < total; i++)
            FN(pack_stretch)(g, p, w, wpack, taps, i);
        return;
    }
#endif
    (void)n_threads; /* small weights: one thread, without an OpenMP team (barriers) */
    for (ptrdiff_t i = 0; i < total; i++)
        FN(pack_stretch)(g, p, w, wpack, taps, i);
}

/* Columns [c0, c0 + E) of a band's input rows (all channels of the group) copied into
 * slots of E elements, each distinct row once, plus one row of zeros for the rows in the
 * zero padding; a column outside [0, W) reads the element the border mode maps it to
 * while it is among the first `valid` columns, and zero after them (zero padding reads
 * zero everywhere outside).  `out` becomes `a` over the copy (padding 0) and *map the row
 * table remapped to the slots.  A copy of at most CC_STACK_COPY elements (the edge tiles
 * of thin layers, many per call) goes into `stack`, a larger one into memory allocated
 * here, which the caller frees when *buf != stack.  Returns 0 without memory for it. */
#ifndef CC_STACK_COPY
#define CC_STACK_COPY 2048
#define CC_STACK_MAP 128
#endif
static int FN(copy_band)(const ROW_ARGS *a, const ptrdiff_t *rows, ptrdiff_t n, ptrdiff_t c0,
                         ptrdiff_t E, ptrdiff_t valid, int mode, REAL *stack,
                         ptrdiff_t *stack_map, ROW_ARGS *out, REAL **buf, ptrdiff_t **map)
{
    ptrdiff_t *m = 2 * n + 1 <= CC_STACK_MAP ? stack_map
                                             : malloc((size_t)(2 * n + 1) * sizeof *m);
    if (!m)
        return 0;
    ptrdiff_t *slot_off = m + n, nslots = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        ptrdiff_t s = 0;
        while (s < nslots && slot_off[s] != rows[i])
            s++;
        if (s == nslots && rows[i] >= 0)
            slot_off[nslots++] = rows[i];
        m[i] = rows[i] >= 0 ? s : -1;
    }
    const ptrdiff_t cstride = (nslots + 1) * E; /* the last slot is the row of zeros */
    REAL *b = a->Cg * cstride <= CC_STACK_COPY ? stack
                                               : malloc((size_t)(a->Cg * cstride) * sizeof *b);
    if (!b) {
        if (m != stack_map)
            free(m);
        return 0;
    }
    /* columns [lo, hi) of the copy lie inside the row */
    const ptrdiff_t lo = c0 < 0 ? (-c0 < E ? -c0 : E) : 0;
    ptrdiff_t hi = a->W - c0 < E ? a->W - c0 : E;
    if (hi < lo)
        hi = lo;
    for (ptrdiff_t c = 0; c < a->Cg; c++) {
        REAL *dst = b + c * cstride;
        const REAL *src = a->x + c * a->x_cstride;
        for (ptrdiff_t s = 0; s <= nslots; s++, dst += E) {
            if (s == nslots) {
                memset(dst, 0, (size_t)E * sizeof *dst);
                continue;
            }
            const REAL *row = src + slot_off[s];
            memcpy(dst + lo, row + c0 + lo, (size_t)(hi - lo) * sizeof *dst);
            for (ptrdiff_t j = 0; j < E; j++) {
                if (j == lo)
                    j = hi; /* past the columns copied above */
                if (j == E)
                    break;
                const ptrdiff_t i = j < valid ? cc_pad_index(c0 + j, a->W, mode) : -1;
                dst[j] = i >= 0 ? row[i] : (REAL)0;
            }
        }
    }
    for (ptrdiff_t i = 0; i < n; i++)
        m[i] = (m[i] >= 0 ? m[i] : nslots) * E;
    *out = *a;
    out->x = b;
    out->x_cstride = cstride;
    out->W = E;
    out->pad_w = 0;
    *buf = b;
    *map = m;
    return 1;
}

/* Output columns [j0, j1) of the band's rows, for its blocks of output channels. */
static void FN(run_columns)(const ROW_ARGS *a0, const ptrdiff_t *rows, ptrdiff_t j0,
                            ptrdiff_t j1, CC_CAT2(cc_direct_row_fn, SFX) row,
                            const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                            const REAL *wpack, const REAL *bias, REAL *y, ptrdiff_t n,
                            ptrdiff_t grp, ptrdiff_t kb_lo, ptrdiff_t kb_hi, ptrdiff_t o_lo,
                            ptrdiff_t o_hi, ptrdiff_t Wout)
{
    const ptrdiff_t Kg = g->K / g->groups, KB = p->kb, U = a0->U;
    const ptrdiff_t wblock = a0->Cg * U * a0->S * KB;
    ROW_ARGS a = *a0;
    a.Wout = j1 - j0;
    for (ptrdiff_t blk = kb_lo; blk < kb_hi; blk++) {
        const ptrdiff_t k = grp * Kg + blk * KB;
        const int kb = (int)(Kg - blk * KB < KB ? Kg - blk * KB : KB);
        a.wp = wpack + (grp * p->nkb + blk) * wblock;
        a.bias = bias ? bias + k : NULL;
        REAL *yk = y + (n * g->K + k) * a.y_kstride;
        for (ptrdiff_t o = o_lo; o < o_hi; o++) {
            a.rows = rows + (o - o_lo) * U;
            row(&a, yk + o * Wout + j0, kb);
        }
    }
}

/* A slot of flat_band's copy, Wp elements: input row src with pad_l columns of padding
 * before it and the rest after (zeros, or what the border mode maps columns up to
 * last_col to), or zeros for a row in the zero padding (src NULL). */
static void FN(fill_slot)(REAL *dst, const REAL *src, ptrdiff_t W, ptrdiff_t Wp,
                          ptrdiff_t pad_l, ptrdiff_t last_col, int mode)
{
    if (!src) {
        memset(dst, 0, (size_t)Wp * sizeof *dst);
        return;
    }
    memcpy(dst + pad_l, src, (size_t)W * sizeof *dst);
    if (mode == CC_PAD_ZEROS) {
        memset(dst, 0, (size_t)pad_l * sizeof *dst);
        memset(dst + pad_l + W, 0, (size_t)(Wp - pad_l - W) * sizeof *dst);
        return;
    }
    for (ptrdiff_t col = 0; col < Wp; col++) { /* the padding, filled by the mode */
        if (col == pad_l)
            col = pad_l + W; /* past the row copied above */
        if (col >= Wp)
            break;
        const ptrdiff_t k = col <= last_col ? cc_pad_index(col - pad_l, W, mode) : -1;
        dst[col] = k >= 0 && k < W ? src[k] : (REAL)0;
    }
}

/* A slot of Wp elements (a multiple of sw) split by column phase: element i goes to
 * dst[(i % sw) * Q + i / sw] (at stride 2 by the ISA's split2). */
static void FN(split_slot)(REAL *dst, ptrdiff_t Q, const REAL *src, ptrdiff_t Wp,
                           ptrdiff_t sw, CC_CAT2(cc_split2_fn, SFX) split2)
{
    const ptrdiff_t n = Wp / sw;
    if (sw == 2) {
        split2(dst, dst + Q, src, n);
        return;
    }
    for (ptrdiff_t q = 0; q < sw; q++)
        for (ptrdiff_t i = 0; i < n; i++)
            dst[q * Q + i] = src[i * sw + q];
}

/* A slot of Wp elements (a multiple of sw) of a row under zero padding, split by column
 * phase straight from input row src (NULL: a row of zeros): padded element i (src[i -
 * pad_l] inside [0, W), else zero) goes to dst[(i % sw) * Q + i / sw], as fill_slot then
 * split_slot would put it, without the staging copy (on the RGB stem that copy was most
 * of the band copy's memmove time). */
static void FN(split_zeros)(REAL *dst, ptrdiff_t Q, const REAL *src, ptrdiff_t W,
                            ptrdiff_t Wp, ptrdiff_t pad_l, ptrdiff_t sw,
                            CC_CAT2(cc_split2_fn, SFX) split2)
{
    const ptrdiff_t n = Wp / sw;
    if (!src) {
        for (ptrdiff_t q = 0; q < sw; q++)
            memset(dst + q * Q, 0, (size_t)n * sizeof *dst);
        return;
    }
    /* groups [i0, i1) of sw elements lie inside the row */
    const ptrdiff_t i0 = (pad_l + sw - 1) / sw;
    ptrdiff_t i1 = (pad_l + W) / sw;
    i1 = i1 > n ? n : i1 < i0 ? i0 : i1;
    for (ptrdiff_t q = 0; q < sw; q++)
        for (ptrdiff_t i = 0; i < n; i++) {
            if (i == i0)
                i = i1; /* past the groups split below */
            if (i == n)
                break;
            const ptrdiff_t e = i * sw + q - pad_l;
            dst[q * Q + i] = e >= 0 && e < W ? src[e] : (REAL)0;
        }
    if (i1 > i0)
        FN(split_slot)(dst + i0, Q, src + i0 * sw - pad_l, (i1 - i0) * sw, sw, split2);
}

/* Row h of outer plane ut (planes[ut] < 0: outside the input) of channel c of a band,
 * h mapped by the border mode; NULL where it reads zero padding. */
static inline const REAL *FN(band_row)(const ROW_ARGS *a, const ptrdiff_t *planes,
                                       ptrdiff_t c, ptrdiff_t ut, ptrdiff_t h, ptrdiff_t H,
                                       int mode)
{
    h = cc_pad_index(h, H, mode);
    return planes[ut] >= 0 && h >= 0 && h < H
               ? a->x + c * a->x_cstride + planes[ut] + h * a->W
               : NULL;
}

/* Rows ahead of flat_band's copy, prefetched as it goes: its input rows come from
 * memory, and a copy of one short row at a time waited on each (the RGB stem's copy,
 * 12% of its time on one thread, nearly all of it on its loads: perf).  Only rows of up
 * to CC_COPY_AHEAD_ROW_BYTES: 8 KiB rows (2048-pixel images) ran 2-3% slower with it.
 * Measurements in docs/algorithms.md. */
#ifndef CC_COPY_AHEAD
#define CC_COPY_AHEAD 4
#define CC_COPY_AHEAD_ROW_BYTES 4096
#endif
typedef struct {
    const ROW_ARGS *a;
    const ptrdiff_t *planes;
    ptrdiff_t h_lo, H, sh, ng, Uu;
    int mode;
    ptrdiff_t c, ut, idx, ph; /* the copy's loop counters, this many rows ahead */
} FN(band_cursor);

static inline void FN(band_cursor_next)(FN(band_cursor) *k)
{
    if (++k->ph < k->sh)
        return;
    k->ph = 0;
    if (++k->idx < k->ng)
        return;
    k->idx = 0;
    if (++k->ut < k->Uu)
        return;
    k->ut = 0;
    k->c++;
}

/* Prefetch the W elements of the cursor's row (if it is one of the band's and reads
 * the input), then step the cursor. */
static inline void FN(band_cursor_prefetch)(FN(band_cursor) *k, ptrdiff_t W)
{
    if (k->c >= k->a->Cg)
        return;
    const REAL *p = FN(band_row)(k->a, k->planes, k->c, k->ut,
                                 k->h_lo + k->idx * k->sh + k->ph, k->H, k->mode);
    if (p)
        for (ptrdiff_t l = 0; l < W; l += 64 / (ptrdiff_t)sizeof(REAL))
            __builtin_prefetch(p + l, 0, 3);
    FN(band_cursor_next)(k);
}

/* The band as one virtual row, on 2-D and 3-D layers.
 * Its input rows (all channels of the group) are copied, zero-padded, into slots of Wp
 * elements: for each outer-outer tap, the rows split by phase (row index mod the row
 * stride sh), each phase in order.  Output row o of the band then reads, at outer tap u,
 * the slot rows[u] + o * Wp, and with Wp = Wv * sw its column j reads
 * (o * Wv + j) * sw + rows[u] + s * dw: the band is one row of nb * Wv pixels, of which
 * each row's last Wv - Wout are computed but never stored.  Wp is as small as the
 * padding allows (a row's right padding reads the zeros that start the next slot; under
 * a border mode each slot holds its own padding, filled by the mode, and rows outside
 * the input are mapped onto it), so short rows (7, 14, 28 pixels) fill whole tiles
 * instead of ending in a partial one, and every tile is an interior one.
 * At a column stride sw > 1, tiles along output columns get each channel's copy split
 * by column phase: element e of the channel's copy goes to plane e % sw (planes Q apart)
 * at e / sw, straight from the input row under zero padding (split_zeros), else through
 * a staging slot at the buffer's end that fill_slot fills by the border mode; and
 * every tap (u, s) gets a table entry: plane (s * dw) % sw, at
 * rows[u] / sw + (s * dw) / sw.  Each tap then loads whole vectors as at stride 1 (the
 * tiles run with U * S outer taps of one column), instead of two vectors and a shuffle
 * per vector at stride 2 or a load per lane beyond.
 * The sums are those of the per-row path.  Tiles along output columns (columns != 0)
 * and along output channels both store the virtual row themselves, skipping the junk
 * (FN(tile)'s run stores, store_virtual).  The buffers come from the thread's scratch
 * ws (rows table, band copy), kept from band to band.  Returns 0 (nothing changed)
 * without memory for them. */
static int FN(flat_band)(ROW_ARGS *a, const cc_conv_geometry *g, ptrdiff_t o_lo,
                         ptrdiff_t o_hi, int unit, int columns, cc_scratch ws[2],
                         REAL **padded, ptrdiff_t **vrows, CC_CAT2(cc_split2_fn, SFX) split2)
{
    const int nd = g->nd;
    const ptrdiff_t H = g->in[nd - 2], R = g->kernel[nd - 2], Hout = g->out[nd - 2];
    const ptrdiff_t sh = g->stride[nd - 2], dh = g->dilation[nd - 2];
    const ptrdiff_t U = a->U, Uu = U / R, nb = o_hi - o_lo;
    const ptrdiff_t sw = a->sw, pad_l = a->pad_w, W = a->W, S = a->S, dw = a->dw;
    const ptrdiff_t last_col = (a->Wout - 1) * sw + (S - 1) * dw;
    const int mode = g->pad_mode;
    /* a border mode fills each row's own padding on both sides: no sharing of zeros */
    const ptrdiff_t reach = mode == CC_PAD_ZEROS ? last_col - pad_l + 1 : last_col + 1;
    ptrdiff_t Wp = pad_l + W > reach ? pad_l + W : reach;
    Wp = Wp > a->Wout * sw ? (Wp + sw - 1) / sw * sw : a->Wout * sw; /* Wv >= Wout */
    const ptrdiff_t Wv = Wp / sw, npx = (nb * Wv + unit - 1) / unit * unit;
    const ptrdiff_t ng = nb - 1 + (R - 1) * dh / sh + 1; /* slots per phase */
    const ptrdiff_t h_lo = (o_lo % Hout) * sh - g->pad[nd - 2];
    const int split = columns && sw > 1; /* by column phase, a table entry per tap */
    const ptrdiff_t ntab = split ? U * S : U;
    ptrdiff_t *tab = cc_scratch_get(&ws[0], (size_t)(ntab + Uu) * sizeof *tab);
    if (!tab)
        return 0;
    ptrdiff_t *planes = tab + ntab;
    band_planes(g, o_lo, planes);
    for (ptrdiff_t u = 0; u < U; u++) {
        const ptrdiff_t i = (u % R) * dh; /* the tap's row, relative to o * sh */
        tab[u] = (((u / R) * sh + i % sh) * ng + i / sh) * Wp;
    }
    /* the virtual row of each tap reads len elements from its slot: the channel's copy
     * holds the furthest of them (with a row stride the slots go by phase, so the last
     * tap's is not always the furthest) */
    const ptrdiff_t by_rows = (nb - 1) * Wv + (a->Wout + unit - 1) / unit * unit;
    const ptrdiff_t len = (npx > by_rows ? npx : by_rows) * sw + (S - 1) * dw + 1;
    /* A one-tap layer (1x1, 1x1x1) at stride 1 without padding: the band's rows are its
     * virtual row already (Wp = W), so tiles along output columns, which load runs of
     * pixels, read the input in place when the rounded row ends with the band (they
     * read npx pixels); layers with a big tile of output channels or more run as
     * pointwise GEMMs instead (row_pw).  Tiles along output channels keep the copy:
     * their broadcasts from a dozen channel planes at once stalled on the input (1x1
     * 256->64 at 56x56 b8, before the pointwise GEMM, ran 1.27x slower in place).
     * Rows cropped by the geometry (Wout < W, no junk otherwise) keep the copy: the
     * one-channel row path reads each row's last tile past its last output column. */
    if (columns && U == 1 && S == 1 && sw == 1 && sh == 1 && Wp == W && npx == nb * Wv &&
        Wv == a->Wout && planes[0] >= 0 && h_lo >= 0 && h_lo + nb <= H) {
        a->x += planes[0] + h_lo * W;
        a->W = npx; /* exactly the band's pixels */
        a->Wy = a->Wout;
        a->Wout = npx;
        a->Wv = Wv;
        a->ny = nb;
        *padded = NULL;
        *vrows = tab;
        return 1;
    }
    ptrdiff_t cstride = Uu * sh * ng * Wp;
    for (ptrdiff_t u = 0; u < U; u++)
        cstride = tab[u] + len > cstride ? tab[u] + len : cstride;
    cstride = (cstride + 15) / 16 * 16;
    const ptrdiff_t Q = split ? ((cstride + sw - 1) / sw + 15) / 16 * 16 : 0;
    cstride = split ? Q * sw : cstride;
    REAL *buf = cc_scratch_get(&ws[1], (size_t)(a->Cg * cstride + (split ? Wp : 0)) *
                                           sizeof *buf);
    if (!buf)
        return 0;
    REAL *stage = buf + a->Cg * cstride;
    const ptrdiff_t slots = Uu * sh * ng;
    /* the row CC_COPY_AHEAD rows further along the copy, whose lines are prefetched as
     * each row is copied */
    FN(band_cursor) ahead = {.a = a, .planes = planes, .h_lo = h_lo, .H = H, .sh = sh,
                             .ng = ng, .Uu = Uu, .mode = mode};
    const int ahead_on = W * (ptrdiff_t)sizeof(REAL) <= CC_COPY_AHEAD_ROW_BYTES;
    for (int i = 0; i < CC_COPY_AHEAD; i++)
        FN(band_cursor_next)(&ahead);
    for (ptrdiff_t c = 0; c < a->Cg; c++) {
        /* The slots in the order of their input rows (r = idx * sh + ph is the row
         * h_lo + r of the plane): a strided layer's copy then reads the plane as one
         * stream, not every sh-th row in turn (the RGB stem's copy took a fifth of its
         * time on one thread).  Counted in nested loops: a division per slot was most
         * of the copy's time outside memcpy on depthwise layers (one channel a band). */
        for (ptrdiff_t ut = 0; ut < Uu; ut++)
            for (ptrdiff_t idx = 0; idx < ng; idx++)
                for (ptrdiff_t ph = 0; ph < sh; ph++) {
                    const REAL *src = FN(band_row)(a, planes, c, ut, h_lo + idx * sh + ph,
                                                   H, mode);
                    const ptrdiff_t at = (ut * sh * ng + ph * ng + idx) * Wp;
                    if (ahead_on)
                        FN(band_cursor_prefetch)(&ahead, W);
                    if (split && mode == CC_PAD_ZEROS) {
                        FN(split_zeros)(buf + c * cstride + at / sw, Q, src, W, Wp, pad_l,
                                        sw, split2);
                        continue;
                    }
                    FN(fill_slot)(split ? stage : buf + c * cstride + at, src, W, Wp, pad_l,
                                  last_col, mode);
                    if (split)
                        FN(split_slot)(buf + c * cstride + at / sw, Q, stage, Wp, sw,
                                       split2);
                }
        if (split)
            for (ptrdiff_t q = 0; q < sw; q++)
                memset(buf + c * cstride + q * Q + slots * Wv, 0,
                       (size_t)(Q - slots * Wv) * sizeof *buf);
        else
            memset(buf + c * cstride + slots * Wp, 0,
                   (size_t)(cstride - slots * Wp) * sizeof *buf);
    }
    if (split) { /* in place, backwards: entry u * S + s >= u, read before written */
        for (ptrdiff_t u = U - 1; u >= 0; u--) {
            const ptrdiff_t t = tab[u];
            for (ptrdiff_t s = S - 1; s >= 0; s--)
                tab[u * S + s] = (s * dw) % sw * Q + t / sw + s * dw / sw;
        }
        a->U = U * S;
        a->S = 1;
        a->sw = 1;
        a->dw = 1;
    }
    a->x_cstride = cstride;
    a->W = split ? npx : len; /* split: each tap reads npx elements of its plane */
    a->pad_w = 0;
    a->Wy = a->Wout;
    a->Wout = npx;
    a->Wv = Wv;
    a->ny = nb;
    *padded = buf;
    *vrows = tab;
    return 1;
}

/* The first pixel and the length of stretch b of a pointwise plan: the stretches of
 * p->band pixels moved back by `shift` pixels, the first one shorter and the last one
 * longer by as much (pointwise_run). */
static inline ptrdiff_t FN(pw_stretch)(const cc_conv_direct_plan *p, ptrdiff_t px,
                                       ptrdiff_t b, ptrdiff_t shift, ptrdiff_t *len)
{
    const ptrdiff_t lo = b > 0 ? b * p->band - shift : 0;
    const ptrdiff_t hi = b + 1 < p->nbands ? (b + 1) * p->band - shift : px;
    *len = hi - lo;
    return lo;
}

/* Item `it` of a pointwise plan: a stretch of about p->band pixels of one image and
 * group (pw_stretch) for a range of blocks of output channels.  `panels` is the
 * thread's buffer of packed panels, kept from item to item.  `next` is the item the
 * thread runs next (-1: none; cc_shares_take), whose stretch the tiles prefetch. */
static void FN(pointwise_item)(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                               CC_CAT2(cc_direct_row_fn, SFX) row, const REAL *x,
                               const REAL *wpack, ptrdiff_t *rows_ws, const REAL *bias,
                               REAL *y, ptrdiff_t px, ptrdiff_t shift, ptrdiff_t work,
                               cc_scratch *panels, ptrdiff_t it, ptrdiff_t next)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const cc_direct_item i = item_of(g, p, it);
    const ptrdiff_t n = i.n, grp = i.grp;
    ptrdiff_t len;
    const ptrdiff_t j0 = FN(pw_stretch)(p, px, i.band, shift, &len);
    const ptrdiff_t k0 = i.kb_lo * p->kb;
    const ptrdiff_t k1 = i.kb_hi * p->kb < Kg ? i.kb_hi * p->kb : Kg;
    ROW_ARGS a;
    memset(&a, 0, sizeof a);
    a.x = x + (n * g->C + grp * Cg) * px + j0;
    a.wp = wpack + (grp * p->nkb + i.kb_lo) * Cg * p->kb;
    a.bias = bias ? bias + grp * Kg + k0 : NULL;
    a.rows = rows_ws;
    a.U = 1; a.Cg = Cg; a.W = len; a.S = 1; a.sw = 1; a.dw = 1;
    a.Wout = len; a.x_cstride = px; a.y_kstride = px; a.Wy = len; a.ny = 1;
    a.work = cc_scratch_get(panels, (size_t)work * sizeof(REAL));
    a.work_size = a.work ? work : 0; /* else the tiles read in place */
    if (next >= 0) {
        const cc_direct_item q = item_of(g, p, next);
        const ptrdiff_t q0 = FN(pw_stretch)(p, px, q.band, shift, &a.next_len);
        a.next = x + (q.n * g->C + q.grp * Cg) * px + q0;
    }
    row(&a, y + (n * g->K + grp * Kg + k0) * px + j0, (int)(k1 - k0));
}

/* Items [lo, hi) of a pointwise plan (n_threads 1: without an OpenMP team). */
static void FN(pointwise_run)(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                              const REAL *x, const REAL *wpack, ptrdiff_t *rows_ws,
                              const REAL *bias, REAL *y, ptrdiff_t item_lo,
                              ptrdiff_t item_hi, int n_threads)
{
    const cc_direct_isa *isa = (const cc_direct_isa *)p->isa;
    const CC_CAT2(cc_direct_row_fn, SFX) row = isa->tiles[p->tile].SFX;
    const ptrdiff_t tw = (ptrdiff_t)p->nv * p->lanes, line = 64 / (ptrdiff_t)sizeof(REAL);
    ptrdiff_t px = 1;
    for (int d = 0; d < g->nd; d++)
        px *= g->in[d];
    /* Where every output plane starts at the same place in a cache line (its pixels
     * fill whole lines) but not at a line's start (NumPy's large arrays start 16 bytes
     * into a page), the stretches move back by that many pixels, so that the tiles store
     * whole lines (docs/algorithms.md, "Pointwise stretches on cache lines").  The sums
     * of a pixel do not depend on its place in a tile. */
    const ptrdiff_t shift = px % line == 0 && p->band % line == 0 && p->nbands > 1
                                ? (ptrdiff_t)((size_t)y % 64) / (ptrdiff_t)sizeof(REAL)
                                : 0;
    const ptrdiff_t work = cc_pw_panels(g->C / g->groups, p->band + (shift ? line : 0), tw,
                                        (ptrdiff_t)sizeof(REAL));
    rows_ws[0] = 0; /* every tile reads its one row in place */
    if (n_threads <= 1) {
        cc_scratch panels = {NULL, 0};
        for (ptrdiff_t it = item_lo; it < item_hi; it++)
            FN(pointwise_item)(g, p, row, x, wpack, rows_ws, bias, y, px, shift, work,
                               &panels, it, it + 1 < item_hi ? it + 1 : -1);
        free(panels.p);
        return;
    }
#ifdef _OPENMP
    cc_shares shares;
    cc_shares_init(&shares, n_threads, item_lo, item_hi, p->kchunks);
#pragma omp parallel num_threads(n_threads)
    {
    const int tid = CC_OMP_THREAD_ID();
    cc_scratch panels = {NULL, 0};
    for (ptrdiff_t it = cc_shares_take(&shares, tid), next; it >= 0; it = next) {
        next = cc_shares_take(&shares, tid);
        FN(pointwise_item)(g, p, row, x, wpack, rows_ws, bias, y, px, shift, work, &panels,
                           it, next);
    }
    free(panels.p);
    }
    cc_shares_free(&shares);
#endif
}

/* What every item of a run reads (the call's arrays and the row's geometry), and what
 * each thread keeps from item to item (the band it copied last, its buffers). */
typedef struct {
    const cc_conv_geometry *g;
    const cc_conv_direct_plan *p;
    const REAL *x, *wpack, *bias;
    REAL *y;
    ptrdiff_t *rows_ws;
    CC_CAT2(cc_direct_row_fn, SFX) row;
    CC_CAT2(cc_split2_fn, SFX) split2;
    ptrdiff_t Cg, Kg, W, Wout, S, sw, dw, pad_w, x_cstride, y_kstride, U;
    ptrdiff_t window, full_w, left, right;
    int bordered;
} FN(cc_direct_call);

typedef struct {
    ROW_ARGS b;                 /* the band copied last (flat plans) */
    REAL *buf;
    cc_scratch scratch[2];      /* rows, band */
    ptrdiff_t *vrows, copied;   /* the (image, group, band) held in buf, or -1 */
    ptrdiff_t tid;              /* which row table of rows_ws is the thread's */
} FN(cc_direct_thread);

static void FN(run_item)(const FN(cc_direct_call) *c, FN(cc_direct_thread) *t, ptrdiff_t it)
{
    const cc_conv_geometry *g = c->g;
    const cc_conv_direct_plan *p = c->p;
    const CC_CAT2(cc_direct_row_fn, SFX) row = c->row;
    const REAL *wpack = c->wpack, *bias = c->bias;
    REAL *y = c->y;
    const ptrdiff_t Cg = c->Cg, Kg = c->Kg, W = c->W, Wout = c->Wout, S = c->S;
    const ptrdiff_t sw = c->sw, dw = c->dw, pad_w = c->pad_w, U = c->U;
    const ptrdiff_t left = c->left, right = c->right;
    const cc_direct_item i = item_of(g, p, it);
    const ptrdiff_t rest = it / p->kchunks, band = i.band, n = i.n, grp = i.grp;
    const ptrdiff_t kb_lo = i.kb_lo, kb_hi = i.kb_hi;
    /* a stretch of output columns [cj0, cj1) of the one output row; else a band of rows */
    const ptrdiff_t nb = p->cols ? 1 : plane_bands(g, p->band), plane = band / nb;
    const ptrdiff_t pr = plane_rows(g);
    const ptrdiff_t o_lo = p->cols ? 0 : plane * pr + band % nb * p->band;
    const ptrdiff_t o_hi = p->cols ? 1 : o_lo + p->band < (plane + 1) * pr ? o_lo + p->band
                                                                      : (plane + 1) * pr;
    const ptrdiff_t cj0 = p->cols ? band * p->band : 0;
    const ptrdiff_t cj1 = p->cols && cj0 + p->band < Wout ? cj0 + p->band : Wout;
    ROW_ARGS a;
    a.x = c->x + (n * g->C + grp * Cg) * c->x_cstride;
    a.U = U; a.Cg = Cg; a.W = W; a.S = S;
    a.sw = sw; a.dw = dw; a.pad_w = pad_w;
    a.Wout = Wout; a.x_cstride = c->x_cstride; a.y_kstride = c->y_kstride;
    a.Wv = 0; a.Wy = Wout; a.ny = 1;
    ptrdiff_t *rows = c->rows_ws + t->tid * p->rows_size;
    const ptrdiff_t nr = (o_hi - o_lo) * U;
    if (p->flat && t->copied != rest) { /* 2-D and 3-D: the band as one virtual row */
        t->buf = NULL;
        t->vrows = NULL;
        t->b = a;
        t->copied = FN(flat_band)(&t->b, g, o_lo, o_hi, p->pix ? p->pix : p->nv * p->lanes,
                                  !p->pix, t->scratch, &t->buf, &t->vrows, c->split2)
                        ? rest : -1;
        if (t->buf) /* else the band is read in place (b.x set by flat_band) */
            t->b.x = t->buf;
        t->b.rows = t->vrows;
    }
    if (p->flat && t->copied == rest) {
        for (ptrdiff_t blk = kb_lo; blk < kb_hi; blk++) {
            const ptrdiff_t k = grp * Kg + blk * p->kb;
            const int kb = (int)(Kg - blk * p->kb < p->kb ? Kg - blk * p->kb : p->kb);
            REAL *yk = y + (n * g->K + k) * c->y_kstride;
            t->b.wp = wpack + (grp * p->nkb + blk) * Cg * U * S * p->kb;
            t->b.bias = bias ? bias + k : NULL;
            row(&t->b, yk + o_lo * Wout, kb);
        }
        return;
    }
    band_rows(g, o_lo, o_hi, rows);
    if (p->tile == CC_TILE_STRIP) { /* the band's rows in place */
        a.rows = rows;
        a.ny = o_hi - o_lo;
        a.pad_mode = g->pad_mode;
        a.wp = wpack + grp * Cg * U * S;
        a.bias = bias ? bias + grp * Kg : NULL;
        row(&a, y + (n * g->K + grp * Kg) * c->y_kstride + o_lo * Wout, 1);
        return;
    }
#define RUN_COLUMNS(args, table, j0, j1)                                                  \
    FN(run_columns)(args, table, j0, j1, row, g, p, wpack, bias, y, n, grp, kb_lo, kb_hi,  \
                    o_lo, o_hi, Wout)
    /* [segment j0, j1): copy the columns it reads, or run on the input as it is */
    const ptrdiff_t seg[3][3] = {{0, left, 1}, {left, right, 0}, {right, Wout, 1}};
    for (int sgi = 0; sgi < 3; sgi++) {
        const ptrdiff_t s0 = seg[sgi][0] > cj0 ? seg[sgi][0] : cj0;
        const ptrdiff_t s1 = seg[sgi][1] < cj1 ? seg[sgi][1] : cj1;
        const ptrdiff_t j0 = p->pix ? 0 : s0, j1 = p->pix ? Wout : s1;
        if (j0 >= j1 || (p->pix && sgi > 0))
            continue;
        const ptrdiff_t c0 = j0 * sw - pad_w;
        /* in place: from the row's start, its first window c0 columns before it (the
         * zero padding, or a border mode's columns when the segment reads none), or from
         * column c0 of the row; a copy when the first window lies past the row's end
         * (a stretch of a wide zero padding) */
        if (p->pix || seg[sgi][2] || c0 >= W) {
            const ptrdiff_t E = p->pix ? c->full_w : (j1 - 1 - j0) * sw + (S - 1) * dw + 1;
            const ptrdiff_t valid = p->pix ? c->window : E;
            ROW_ARGS cols;
            REAL *cbuf = NULL, stack[CC_STACK_COPY];
            ptrdiff_t *map = NULL, stack_map[CC_STACK_MAP];
            if (FN(copy_band)(&a, rows, nr, c0, E, valid, g->pad_mode, stack, stack_map,
                              &cols, &cbuf, &map)) {
                RUN_COLUMNS(&cols, map, j0, j1);
                if (cbuf != stack)
                    free(cbuf);
                if (map != stack_map)
                    free(map);
            } else if (!c->bordered && c0 < W) { /* no memory: the input as it is */
                RUN_COLUMNS(&a, rows, j0, j1);
            } else { /* no memory for the copy: NaN, never a wrong border */
                for (ptrdiff_t k = kb_lo * p->kb; k < kb_hi * p->kb && k < Kg; k++)
                    for (ptrdiff_t o = o_lo; o < o_hi; o++)
                        for (ptrdiff_t j = j0; j < j1; j++)
                            y[(n * g->K + grp * Kg + k) * c->y_kstride + o * Wout + j] =
                                (REAL)NAN;
            }
        } else if (c0 <= 0) {
            ROW_ARGS start = a;
            start.pad_w = -c0;
            RUN_COLUMNS(&start, rows, j0, j1);
        } else { /* from column c0 > 0 of the row on: no padding on the left */
            ROW_ARGS mid = a;
            mid.x = a.x + c0;
            mid.W = W - c0;
            mid.pad_w = 0;
            RUN_COLUMNS(&mid, rows, j0, j1);
        }
    }
#undef RUN_COLUMNS
}

void FN(cc_conv_direct_run)(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                            const REAL *x, const REAL *wpack, ptrdiff_t *rows_ws,
                            const REAL *bias, REAL *y, ptrdiff_t item_lo, ptrdiff_t item_hi,
                            int n_threads)
{
    if (item_hi > p->items)
        item_hi = p->items;
    if ((double)(item_hi - item_lo) * p->flops_per_item < 2e5 || item_hi - item_lo < 2)
        n_threads = 1;
#ifndef _OPENMP
    n_threads = 1;
#endif
    if (p->tile == CC_TILE_PW) {
        FN(pointwise_run)(g, p, x, wpack, rows_ws, bias, y, item_lo, item_hi, n_threads);
        return;
    }
    const cc_direct_isa *isa = (const cc_direct_isa *)p->isa;
    const int nd = g->nd;
    FN(cc_direct_call) c = {.g = g, .p = p, .x = x, .wpack = wpack, .bias = bias, .y = y,
                            .rows_ws = rows_ws, .row = isa->tiles[p->tile].SFX,
                            .split2 = isa->split2.SFX};
    c.Cg = g->C / g->groups;
    c.Kg = g->K / g->groups;
    c.W = g->in[nd - 1];
    c.Wout = g->out[nd - 1];
    c.S = g->kernel[nd - 1];
    c.sw = g->stride[nd - 1];
    c.dw = g->dilation[nd - 1];
    c.pad_w = g->pad[nd - 1];
    c.x_cstride = c.y_kstride = c.U = 1;
    for (int d = 0; d < nd; d++) {
        c.x_cstride *= g->in[d];
        c.y_kstride *= g->out[d];
    }
    for (int d = 0; d < nd - 1; d++)
        c.U *= g->kernel[d];
    /* the columns the windows of a row span, and whether a border mode reaches them */
    c.window = (c.Wout - 1) * c.sw + (c.S - 1) * c.dw + 1;
    c.bordered = g->pad_mode != CC_PAD_ZEROS && (c.pad_w > 0 || c.window > c.W + c.pad_w);
    /* Tiles along output channels read a band copied with its padding, as wide as their
     * whole tiles (their edge tiles would check every value); tiles along columns under a
     * border mode split each row (border_split) */
    c.full_w = 0;
    c.left = 0;
    c.right = c.Wout;
    if (p->pix) {
        const ptrdiff_t need = ((c.Wout + p->pix - 1) / p->pix * p->pix - 1) * c.sw +
                               (c.S - 1) * c.dw + 1;
        c.full_w = need > c.pad_w + c.W ? need : c.pad_w + c.W;
    } else if (c.bordered) {
        border_split(c.W, c.Wout, c.sw, (c.S - 1) * c.dw, c.pad_w,
                     (ptrdiff_t)p->nv * p->lanes, &c.left, &c.right);
    }
    /* One thread runs the items in a plain loop: an OpenMP team of one would still end
     * with barriers whose futex wake-ups are system calls (about a microsecond on a tiny
     * call).  It uses row table 0, also when the caller is a thread of its own OpenMP
     * team (whose thread number may be anything). */
    if (n_threads <= 1) {
        FN(cc_direct_thread) t = {.copied = -1, .tid = 0};
        for (ptrdiff_t it = item_lo; it < item_hi; it++)
            FN(run_item)(&c, &t, it);
        for (int i = 0; i < 2; i++)
            free(t.scratch[i].p);
        return;
    }
#ifdef _OPENMP
    /* Each thread runs its own share of the items, then helps with the others' (a core
     * slowed by another process does not hold the call back); the shares are whole runs
     * of a band's blocks of output channels (kchunks items), so that one thread copies
     * the band once (flat_band) and keeps the copy for all of them. */
    cc_shares shares;
    cc_shares_init(&shares, n_threads, item_lo, item_hi, p->kchunks);
#pragma omp parallel num_threads(n_threads)
    {
    FN(cc_direct_thread) t = {.copied = -1, .tid = CC_OMP_THREAD_ID()};
    for (ptrdiff_t it; (it = cc_shares_take(&shares, (int)t.tid)) >= 0;)
        FN(run_item)(&c, &t, it);
    for (int i = 0; i < 2; i++)
        free(t.scratch[i].p);
    }
    cc_shares_free(&shares);
#endif
}

/* The 2-D convolution in one call (the C API of earlier versions, for embedders). */
ptrdiff_t FN(cc_conv2d_direct_pack_size)(const cc_conv2d_geometry *g2)
{
    cc_conv_geometry g = cc_conv_geometry_from_2d(g2);
    cc_conv_direct_plan p;
    cc_conv_direct_plan_make(&g, (int)sizeof(REAL), &p);
    return p.pack_size;
}

void FN(cc_conv2d_direct)(const cc_conv2d_geometry *g2, const REAL *x, const REAL *w,
                          const REAL *bias, REAL *y, REAL *wpack, int n_threads)
{
    cc_conv_geometry g = cc_conv_geometry_from_2d(g2);
    cc_conv_direct_plan p;
    cc_conv_direct_plan_make(&g, (int)sizeof(REAL), &p);
    const int nt = n_threads > 1 ? n_threads : 1;
    ptrdiff_t *rows = malloc((size_t)(nt * p.rows_size) * sizeof *rows);
    if (!rows)
        return;
    FN(cc_conv_direct_pack)(&g, &p, w, wpack, n_threads);
    FN(cc_conv_direct_run)(&g, &p, x, wpack, rows, bias, y, 0, p.items, n_threads);
    free(rows);
}

#undef FN
#undef ROW_ARGS
#undef CC_CAT2
#undef CC_CAT2_
