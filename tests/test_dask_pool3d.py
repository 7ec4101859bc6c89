"""convcore.dask.max_pool3d / avg_pool3d: block-by-block 3-D pooling equals the in-memory
functions exactly (max is exact; each window sums in the same order and divides by the
same divisor), on random chunkings and on a LocalCluster."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dask import check_pooling_matches, chunking

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import convcore  # noqa: E402
import convcore.dask as cdask  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_3d_pooling_matches_whole_array(data):
    d = data.draw
    dtype = d(st.sampled_from([np.float32, np.float64]))
    batched = d(st.booleans())
    n, c = d(st.integers(1, 2)), d(st.integers(1, 2))
    sizes = (d(st.integers(1, 9)), d(st.integers(1, 10)), d(st.integers(1, 12)))
    kernel = tuple(d(st.integers(1, 3)) for _ in range(3))
    stride = d(st.one_of(st.none(), st.integers(1, 3),
                         st.tuples(*(st.integers(1, 3) for _ in range(3)))))
    padding = tuple(d(st.integers(0, k // 2)) for k in kernel)
    ceil_mode = d(st.booleans())
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal((n, c, *sizes) if batched else (c, *sizes)) * 10).astype(dtype)
    x[rng.random(x.shape) < d(st.sampled_from([0.0, 0.1, 0.5]))] = -np.inf
    x[rng.random(x.shape) < d(st.sampled_from([0.0, 0.05]))] = np.nan
    chunks = (chunking(d, c), *(chunking(d, s) for s in sizes))
    xd = da.from_array(x, chunks=(chunking(d, n), *chunks) if batched else chunks)
    check_pooling_matches(d, 3, x, xd, kernel, stride, padding, ceil_mode)


def test_each_block_reads_only_its_receptive_field():
    """2x2x2/2 over even chunks: no halo tasks; 3x3x3/2 p1: halos only one cell thick."""
    x = da.zeros((1, 2, 8, 8, 8), chunks=(1, 2, 4, 4, 4))
    y = cdask.max_pool3d(x, 2)
    keys = [k for k in dict(y.__dask_graph__()) if isinstance(k, tuple)]
    assert not [k for k in keys if "-halo-" in k[0]]
    assert y.chunks == ((1,), (2,), (2, 2), (2, 2), (2, 2))
    y = cdask.max_pool3d(x, 3, 2, 1)
    halos = [k for k in dict(y.__dask_graph__()) if isinstance(k, tuple) and "-halo-" in k[0]]
    assert halos
    for k in halos:  # (name, n, c, jd, jh, jw, d0, d1, h0, h1, w0, w1)
        extents = [k[7] - k[6], k[9] - k[8], k[11] - k[10]]
        assert all(e in (1, 4) for e in extents) and 1 in extents


def test_bad_input():
    with pytest.raises(TypeError, match="dask.array.Array"):
        cdask.max_pool3d(np.zeros((1, 1, 2, 2, 2)), 2)
    with pytest.raises(ValueError, match=r"\(N, C, D, H, W\)"):
        cdask.avg_pool3d(da.zeros((2, 2, 2), chunks=1), 2)
    with pytest.raises(ValueError, match="padding"):
        cdask.max_pool3d(da.zeros((1, 1, 4, 4, 4), chunks=2), 2, padding=2)


def test_local_cluster_of_two_worker_processes():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 9, 20, 17)).astype(np.float32)
    xd = da.from_array(x, chunks=(1, 3, 4, 9, 8))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        m, i = cdask.max_pool3d(xd, 3, 2, 1, return_indices=True)
        a = cdask.avg_pool3d(xd, 2, 2, 1, ceil_mode=True, count_include_pad=False)
        m, i, a = client.compute([m, i, a], sync=True)
        assert len(client.scheduler_info()["workers"]) == 2
    ref_m, ref_i = convcore.max_pool3d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(m, ref_m)
    np.testing.assert_array_equal(i, ref_i)
    np.testing.assert_array_equal(a, convcore.avg_pool3d(x, 2, 2, 1, True, False))
