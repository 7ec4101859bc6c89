"""The cost model and parameter counts: the lecture's numbers and hand-computed cases."""

import numpy as np
import pytest

import convcore
from convcore.analysis import (
    conv_params,
    fc_params,
    locally_connected_params,
    representation_costs,
)


def test_lecture_sparse_interactions_table():
    c = representation_costs((320, 280), (2, 1))
    conv, sparse, dense = c["convolution"], c["sparse"], c["dense"]
    assert conv.stored_floats == 2 and conv.index_entries == 0
    assert sparse.stored_floats == 178_640
    assert dense.stored_floats == 319 * 280 * 320 * 280
    assert conv.flops == sparse.flops == 267_960 == 319 * 280 * 3
    assert conv.muls == 2 * 319 * 280 and conv.adds == 319 * 280
    assert dense.muls == 319 * 280 * 320 * 280 and abs(dense.flops - 16e9) < 0.1e9
    assert sparse.index_entries == 178_640 + 319 * 280 + 1
    assert conv.bytes == 8 and dense.bytes == 4 * dense.stored_floats
    # the lecture's ratios: ~4 billion times more storage, ~60,000 times more arithmetic
    assert 3.9e9 < dense.stored_floats / conv.stored_floats < 4.1e9
    assert 59_000 < dense.flops / conv.flops < 61_000


def test_costs_match_the_matrix_and_count_padding_as_nothing():
    w = np.ones((4, 3, 3, 3))
    for kw in (dict(padding=1), dict(stride=2, padding=((0, 2), (1, 0))), dict(dilation=2)):
        c = representation_costs((9, 10), (3, 3), in_channels=3, out_channels=4, **kw)
        m = convcore.conv_matrix((3, 9, 10), w, **kw)
        assert c["sparse"].stored_floats == m.nnz == c["convolution"].muls
        assert c["dense"].stored_floats == m.shape[0] * m.shape[1]
        assert c["sparse"].index_entries == m.nnz + m.shape[0] + 1


def test_bias_adds_one_per_output_and_k_floats():
    a = representation_costs((5, 5), (3, 3), out_channels=2)
    b = representation_costs((5, 5), (3, 3), out_channels=2, bias=True)
    outputs = 2 * 3 * 3
    assert b["convolution"].adds - a["convolution"].adds == outputs
    assert b["convolution"].stored_floats - a["convolution"].stored_floats == 2
    # hand count: a valid 3x3 on 5x5 has 9 outputs of 9 terms: 81 muls, 72 adds per channel
    assert a["convolution"].muls == 2 * 81 and a["convolution"].adds == 2 * 72


def test_lecture_parameter_table():
    assert fc_params(32**2, 32**2) == 32**2 * (32**2 + 1) == 1_049_600
    assert locally_connected_params(30, 3) == 30**2 * (3**2 + 1) == 9_000
    assert locally_connected_params(30, 3, in_channels=3) == 30**2 * (3 * 3**2 + 1) == 25_200
    assert conv_params(3, 1, 3) == 3 * 3**2 + 1 == 28
    assert conv_params(3, 4, 3) == 4 * (3 * 3**2 + 1) == 112
    assert fc_params(32 * 32 * 3, 1, bias=False) == 3_072
    assert fc_params(200 * 200 * 3, 1, bias=False) == 120_000
    assert conv_params(64, 64, 3, groups=64) == 64 * 9 + 64


def test_parameter_validation():
    with pytest.raises(ValueError, match="groups"):
        conv_params(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="features"):
        fc_params(0, 3)
    with pytest.raises(TypeError):
        conv_params(3.5, 4, 3)
