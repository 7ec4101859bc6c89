# The C structs filled from a convcore._geometry.ConvGeometry or PoolGeometry: the one way
# a bridge learns the shape of a convolution (N-d for the direct driver, 2-D for the
# kernels that are 2-D only) or of a pooling.  Included by every bridge.

from convcore._cconvcore cimport cc_conv2d_geometry, cc_conv_geometry, cc_pool2d_geometry


# cc_pad_mode of each padding_mode (the order of csrc/convcore.h).
_PAD_MODES = {"zeros": 0, "reflect": 1, "replicate": 2, "circular": 3}


cdef int pad_mode_code(object geom) except -1:
    return _PAD_MODES[geom.padding_mode]


cdef cc_conv_geometry conv_geometry(object geom) except *:
    cdef cc_conv_geometry g
    cdef int d
    g.nd = len(geom.in_sizes)
    g.N, g.C, g.K, g.groups = geom.N, geom.C, geom.K, geom.groups
    for d in range(3):
        if d < g.nd:
            g.in_[d], g.kernel[d], g.out[d] = geom.in_sizes[d], geom.kernel[d], geom.out[d]
            g.stride[d], g.dilation[d] = geom.stride[d], geom.dilation[d]
            g.pad[d] = geom.pad[d][0]
        else:
            g.in_[d] = g.kernel[d] = g.out[d] = g.stride[d] = g.dilation[d] = 1
            g.pad[d] = 0
    g.pad_mode = pad_mode_code(geom)
    return g


cdef cc_conv2d_geometry conv2d_geometry(object geom) except *:
    """The 2-D struct of a 2-D ConvGeometry (1-D calls are prepared as 2-D ones)."""
    cdef cc_conv2d_geometry g
    g.N, g.C, g.H, g.W = geom.N, geom.C, geom.H, geom.W
    g.K, g.R, g.S, g.groups = geom.K, geom.R, geom.S, geom.groups
    g.stride_h, g.stride_w = geom.stride[0], geom.stride[1]
    g.dil_h, g.dil_w = geom.dilation[0], geom.dilation[1]
    g.pad_top, g.pad_left = geom.pad[0][0], geom.pad[1][0]
    g.Hout, g.Wout = geom.Hout, geom.Wout
    g.pad_mode = pad_mode_code(geom)
    return g


cdef cc_pool2d_geometry pool_geometry(object geom, Py_ssize_t planes) except *:
    """The struct of a PoolGeometry over ``planes`` volumes (images, for the channels-last
    kernels, whose 2-D geometry has depth 1)."""
    cdef cc_pool2d_geometry g
    g.planes = planes
    g.D, g.H, g.W = geom.in_dhw
    g.kd, g.kh, g.kw = geom.kernel
    g.sd, g.sh, g.sw = geom.stride
    g.pd, g.ph, g.pw = geom.padding
    g.dd, g.dh, g.dw = geom.dilation
    g.Dout, g.Hout, g.Wout = geom.out_dhw
    return g
