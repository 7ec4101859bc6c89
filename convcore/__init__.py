"""convcore: fast CPU convolution kernels (C and Cython) with a NumPy API.

Conventions follow PyTorch: NCHW arrays, weights (K, C // groups, R, S), and
"convolution" meaning cross-correlation (no kernel flip).
"""

from convcore import analysis
from convcore._info import config_info, show_config
from convcore._shapes import conv_output_size
from convcore._threads import get_num_threads, set_num_threads
from convcore._version import __version__
from convcore.backward import conv1d_backward, conv2d_backward
from convcore.functional import col2im, conv1d, conv2d, im2col, relu
from convcore.matrix import conv_matrix
from convcore.pooling import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool1d_backward,
    avg_pool2d,
    avg_pool2d_backward,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool1d,
    max_pool1d_backward,
    max_pool2d,
    max_pool2d_backward,
)
from convcore.winograd import winograd_weights

__all__ = [
    "__version__",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "analysis",
    "avg_pool1d",
    "avg_pool1d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "col2im",
    "config_info",
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv_matrix",
    "conv_output_size",
    "get_num_threads",
    "global_avg_pool2d",
    "global_max_pool2d",
    "im2col",
    "max_pool1d",
    "max_pool1d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "relu",
    "set_num_threads",
    "show_config",
    "winograd_weights",
]
