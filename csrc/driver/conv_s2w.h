/* Stride-2 3x3 layers by polyphase Winograd (2-D, dilation 1, any groups and padding
 * mode): the driver's entry points.  The scheme is in kernels/conv_s2w_ukernel.h.
 *
 * The weights are transformed once per call (cc_s2w_weights, in double, rounded once)
 * into blocks of kb output channels, kb the register tile of the level that will run
 * (cc_s2w_kb); a level switched since then is not used for them: the run takes the
 * level whose tile has their kb (the CPU runs it: it ran cc_s2w_kb).  The work is a
 * fixed set of items (image, group, chunk of CC_S2W_CHUNK tiles of 2 x 2 outputs)
 * whatever the thread count, each computed alone and every sum in one order, so the
 * results do not depend on the threads. */
#ifndef CC_DRIVER_CONV_S2W_H
#define CC_DRIVER_CONV_S2W_H
#include <stddef.h>

#include "convcore.h"

#ifdef __cplusplus
extern "C" {
#endif

ptrdiff_t cc_s2w_kb(void);                                  /* the active level's tile */
ptrdiff_t cc_s2w_items(const cc_conv2d_geometry *g, size_t itemsize);
ptrdiff_t cc_s2w_workspace_per_thread(const cc_conv2d_geometry *g); /* elements */
ptrdiff_t cc_s2w_weights_size(const cc_conv2d_geometry *g, ptrdiff_t kb); /* elements */
/* Whether the output is large enough to be written by non-temporal stores (where the
 * level has them): the route's stores then read no line first. */
int cc_s2w_streams(const cc_conv2d_geometry *g, size_t itemsize);
/* Whether a chunk of the full CC_S2W_CHUNK tiles keeps its transformed input within
 * CC_S2W_T_BYTES (deeper layers get shorter chunks, whose time is not modelled). */
int cc_s2w_fits(const cc_conv2d_geometry *g, size_t itemsize);

/* wt = the weights w (K, C / groups, 3, 3) transformed, in blocks of kb channels:
 * [group][K / groups / kb][C / groups][25][kb], zeros past each group's channels. */
void cc_s2w_weights_f32(const cc_conv2d_geometry *g, const float *w, float *wt, ptrdiff_t kb);
void cc_s2w_weights_f64(const cc_conv2d_geometry *g, const double *w, double *wt,
                        ptrdiff_t kb);

/* Items [it_lo, it_hi) of y = conv(x, w) + bias (bias NULL: none), x (N, C, H, W) and y
 * (N, K, Hout, Wout) contiguous, wt from cc_s2w_weights with kb; workspace: n_threads
 * times cc_s2w_workspace_per_thread elements.  Returns 0, or -1 (nothing computed) when
 * no level this CPU runs has a tile of kb channels. */
int cc_conv_s2w_f32(const cc_conv2d_geometry *g, const float *x, const float *wt,
                    ptrdiff_t kb, const float *bias, float *y, float *workspace,
                    ptrdiff_t it_lo, ptrdiff_t it_hi, int n_threads);
int cc_conv_s2w_f64(const cc_conv2d_geometry *g, const double *x, const double *wt,
                    ptrdiff_t kb, const double *bias, double *y, double *workspace,
                    ptrdiff_t it_lo, ptrdiff_t it_hi, int n_threads);

#ifdef __cplusplus
}
#endif
#endif
