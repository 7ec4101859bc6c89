"""The package's structure: the geometry module underneath everything that prepares a call,
no import cycle between modules, and bridges that learn a call's shape from one geometry
object."""

import ast
import importlib
import re
from pathlib import Path

import numpy as np
import pytest

import convcore
from convcore import _geometry, _pool, pooling

PACKAGE = Path(convcore.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, module: str, is_package: bool, top_level: bool) -> set:
    """What a module imports from convcore, at module level (``top_level``: what runs at
    import) or anywhere in it: (module, the names of ``from module import names`` as
    dotted paths, which may be submodules)."""
    nodes = tree.body if top_level else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {(a.name, ()) for a in node.names if a.name.startswith("convcore")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("convcore"):  # the module, or its submodules by name
                found.add((target, tuple(f"{target}.{a.name}" for a in node.names)))
    return found


def _defining_module(package: str, attr: str) -> str:
    """The module that defines ``package.attr`` (a function or class re-exported by the
    package), else the package."""
    obj = getattr(importlib.import_module(package), attr, None)
    return getattr(obj, "__module__", None) or package


def _graph(top_level: bool) -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "build" not in p.parts}
    graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text())
        deps = set()
        for target, names in _imports(tree, name, path.name == "__init__.py", top_level):
            subs = {n for n in names if n in files}
            deps |= subs
            rest = [n for n in names if n not in subs]
            if not names:
                deps.add(target)
            for full in rest:  # a name a package re-exports: the module defining it
                defined = _defining_module(target, full.rsplit(".", 1)[1])
                deps.add(defined if defined in files else target)
        # a module's own packages are imported before it, never because of it
        graph[name] = {m for m in deps if m in files and m != name
                       and not name.startswith(m + ".")}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_modules():
    graph = _graph(top_level=True)
    assert {"convcore.functional", "convcore._geometry", "convcore.pooling"} <= graph.keys()
    assert _cycle(graph) is None


def test_the_geometry_imports_none_of_its_users():
    users = {"convcore.functional", "convcore.pooling", "convcore.backward", "convcore.matrix",
             "convcore.dask", "convcore._layout", "convcore.transpose", "convcore.nn"}
    anywhere = _graph(top_level=False)
    assert not anywhere["convcore._geometry"] & users
    # the cycles of earlier versions, not even inside functions
    assert "convcore.functional" not in anywhere["convcore._layout"]
    assert "convcore.functional" not in anywhere["convcore.matrix"]


# The only fields a bridge sets itself after _geometry.pxi filled its struct: the planes
# of a chunk, the one image and channel count of im2col's and the matrix's calls.
_FIELD_WRITES = {("_pool.pyx", "g.planes"), ("_im2col.pyx", "g.N, g.C, g.K, g.groups"),
                 ("_matrix.pyx", "g.N")}
_FILLERS = {"conv_geometry", "conv2d_geometry", "pool_geometry", "_unfold", "_one_image"}


def test_bridges_take_a_geometry_object_not_tuples():
    """Every bridge fills its C structs from a ConvGeometry or PoolGeometry through
    _geometry.pxi; none reads sizes from a tuple or writes struct fields of its own."""
    sources = {p.name: p.read_text() for p in PACKAGE.glob("*.pyx")}
    assert {"_conv.pyx", "_pool.pyx", "_im2col.pyx", "_winograd.pyx"} <= sources.keys()
    writes, fills = set(), 0
    for name, text in sources.items():
        assert not re.search(r"\btuple\s+geom|\bgeom\s*\[", text), name
        for m in re.finditer(r"^\s*(g\.\w+(?:,\s*g\.\w+)*)\s*=(?!=)", text, flags=re.M):
            writes.add((name, m.group(1)))
        for m in re.finditer(r"\bcc_(?:conv|conv2d|pool2d)_geometry\s+\w+\s*=\s*(\w+)\(",
                             text):
            assert m.group(1) in _FILLERS, (name, m.group(0))
            fills += 1
    assert writes <= _FIELD_WRITES, writes - _FIELD_WRITES
    assert fills >= 20


def test_pooling_prepares_its_geometry_in_the_geometry_module():
    x = np.zeros((2, 3, 9, 10), np.float32)
    call = pooling._PoolCall(2, "max_pool2d", x, 3, 2, 1, 1, True)
    assert call.geom == _geometry.prepare_pool(2, "max_pool2d", (9, 10), 3, 2, 1, 1, True)
    assert call.geom == _geometry.PoolGeometry(2, (1, 9, 10), (1, 3, 3), (1, 2, 2), (0, 1, 1),
                                               (1, 1, 1), (1, 5, 6))
    g = _geometry.prepare_pool(1, "avg_pool1d", (7,), 2, None, 0, 1, False)
    assert (g.in_dhw, g.kernel, g.stride, g.out_dhw) == ((1, 1, 7), (1, 1, 2), (1, 1, 2),
                                                         (1, 1, 3))
    with pytest.raises(ValueError, match="padding 2 is more than half the kernel size 3"):
        _geometry.prepare_pool(2, "max_pool2d", (9, 10), 3, 1, 2, 1, False)
    with pytest.raises(ValueError, match="does not fit in an input of size 2"):
        _geometry.prepare_pool(1, "max_pool1d", (2,), 5, 1, 0, 1, False)


def test_pool_bridge_reads_the_geometry_object():
    """The bridge's struct comes from the PoolGeometry, each size in its place: a 2x3
    max window with strides (1, 2) over a 4x5 plane (a swapped height and width, kernel
    or stride gives other values or shape)."""
    x = np.arange(20, dtype=np.float64).reshape(1, 1, 4, 5)
    g = _geometry.prepare_pool(2, "max_pool2d", (4, 5), (2, 3), (1, 2), 0, 1, False)
    assert g.out_dhw == (1, 3, 2)
    y = np.full((1, 1, 3, 2), np.nan)
    _pool.max_pool(x, y, None, g, 1)
    expected = [[x[0, 0, i:i + 2, j:j + 3].max() for j in (0, 2)] for i in range(3)]
    np.testing.assert_array_equal(y[0, 0], expected)
    with pytest.raises((TypeError, AttributeError)):
        _pool.max_pool(x, y, None, (1, 2, 3, 1, 1, 2, 0, 0, 0, 1, 1, 1, 1, 3, 2), 1)
