# Interruptible kernels: run the work in chunks of consecutive items with the GIL
# released, and between chunks take the GIL and let Python handle pending signals
# (Ctrl-C raises KeyboardInterrupt there).  Included by the Cython bridges.
#
# The pattern, for a kernel `k(..., it0, it1, n_threads)` computing items [it0, it1):
#
#     cdef Py_ssize_t it0 = 0, it1, step = chunk_items(items, cost_per_item, n_threads)
#     while it0 < items:
#         it1 = min(items, it0 + step)
#         with nogil:
#             k(..., it0, it1, n_threads)
#         PyErr_CheckSignals()       # raises KeyboardInterrupt; outputs are dropped
#         it0 = it1
#
# Chunks only group the kernel's fixed items: the result does not depend on them.  The
# OpenMP team of a chunk has joined before the check, so an interrupted call leaves no
# thread working and holds no memory once its arrays are released.
from cpython.exc cimport PyErr_CheckSignals

# Work per thread per chunk, in estimated nanoseconds on a slow or shared core: chunks of
# ~20 ms keep the reaction to Ctrl-C well under 0.2 s while the GIL is taken ~50 times a
# second at most.
cdef double CHUNK_NS = 2e7
# Cost estimates per unit of work (nanoseconds), several times what the development
# machines take on an idle core, so that a chunk stays short on a shared one (measured:
# 0.05 ns per GEMM multiply-add gave 0.7 s reactions with ~5 processes per core, 0.1 ns
# 0.03 s): a multiply-add in a GEMM (one core's GEMM tile does 25-55 per ns), a
# multiply-add or comparison of a non-GEMM loop, an element moved through memory.
cdef double NS_PER_GEMM_MAC = 0.1
cdef double NS_PER_MAC = 1.0
cdef double NS_PER_ELEMENT = 1.0


cdef inline Py_ssize_t chunk_items(Py_ssize_t items, double ns_per_item, int n_threads):
    """Items per chunk: about CHUNK_NS of work for each thread, at least one per thread."""
    cdef double per_thread = CHUNK_NS / ns_per_item if ns_per_item > 0 else <double>items
    cdef Py_ssize_t step
    if n_threads < 1:
        n_threads = 1
    if per_thread < 1:
        per_thread = 1
    if per_thread * n_threads >= <double>items:
        return items if items > 0 else 1
    step = <Py_ssize_t>per_thread * n_threads
    return step
