# The C struct cc_conv_geometry filled from a convcore._geometry.ConvGeometry: the one
# way a bridge learns the shape of a convolution.  Included by the bridges that cimport
# cc_conv_geometry.


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
    return g
