"""Networks from a compact text (or JSON) spec, and the classic ones built in.

The grammar of both forms is :data:`SPEC_GRAMMAR` (also printed by
``convcore summary --help``).
"""

from __future__ import annotations

import json
import re

import numpy as np

from convcore.nn import layers as L
from convcore.nn._layer import Layer, generator, shape_tuple
from convcore.nn.sequential import Sequential, Summary

#: The spec grammar, one place for the docs and ``convcore summary --help``.
SPEC_GRAMMAR = """\
The text form is a comma-separated list of layers, the first the input::

    input 3x224x224, conv3-64 p1, relu, maxpool2, ..., fc4096, relu, dropout, fc1000

=====================  =================================================================
item                   layer
=====================  =================================================================
``input CxHxW``        the input of one example (any number of dimensions: ``1x100``)
``convF-K``            Conv2d, K filters of F x F (``convRxS-K`` for R x S); options
                       ``sN`` stride, ``pN`` / ``psame`` / ``pvalid`` padding, ``dN``
                       dilation, ``gN`` groups, ``nobias``
``conv1dF-K``          Conv1d, K filters of length F; the same options
``maxpoolF``           MaxPool2d, F x F window (``maxpoolRxS``), stride F unless ``sN``;
                       ``pN`` padding, ``ceil``
``avgpoolF``           AvgPool2d, the same options
``gap``                GlobalAvgPool2d
``relu``, ``flatten``  ReLU, Flatten
``dropout[P]``         Dropout(P), default 0.5
``fcN``                Linear with N outputs (``nobias``); a Flatten is inserted before
                       the first one when its input is not flat yet
=====================  =================================================================

In channels and in features come from the shape flowing in.  The JSON form is a list
whose items are such strings or objects ``{"type": "conv2d", "out_channels": 64,
"kernel_size": 3, "padding": 1}`` (any keyword of the layer class; ``"type"`` is the
class name in any case; the input is ``{"type": "input", "shape": [3, 224, 224]}``).
"""

BUILTIN_SPECS = {
    # LeNet-5 (LeCun et al. 1998) with ReLU for tanh and average pools for subsampling
    "lenet5": "input 1x32x32, conv5-6, relu, avgpool2, conv5-16, relu, avgpool2, "
              "conv5-120, relu, fc84, relu, fc10",
    # AlexNet (Krizhevsky et al. 2012) as published: two-GPU grouping (g2) on conv2, 4,
    # 5; the local response normalisation left out (no parameters)
    "alexnet": "input 3x227x227, conv11-96 s4, relu, maxpool3 s2, conv5-256 p2 g2, relu, "
               "maxpool3 s2, conv3-384 p1, relu, conv3-384 p1 g2, relu, conv3-256 p1 g2, "
               "relu, maxpool3 s2, dropout, fc4096, relu, dropout, fc4096, relu, fc1000",
    # ZF Net (Zeiler & Fergus 2013): 7x7/2 first layer; paddings chosen to give the
    # paper's 110, 55, 26, 13, 13, 13 and 6 pixel maps
    "zfnet": "input 3x224x224, conv7-96 s2 p1, relu, maxpool3 s2 p1, conv5-256 s2, relu, "
             "maxpool3 s2 p1, conv3-384 p1, relu, conv3-384 p1, relu, conv3-256 p1, relu, "
             "maxpool3 s2, dropout, fc4096, relu, dropout, fc4096, relu, fc1000",
    # VGG-16 (Simonyan & Zisserman 2014), configuration D
    "vgg16": "input 3x224x224, "
             + "".join(", ".join([f"conv3-{c} p1, relu"] * n) + ", maxpool2, "
                       for c, n in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)))
             + "fc4096, relu, dropout, fc4096, relu, dropout, fc1000",
}

_CONV = re.compile(r"conv(1d)?(\d+)(?:x(\d+))?-(\d+)$")
_POOL = re.compile(r"(max|avg)pool(\d+)?(?:x(\d+))?$")
_FC = re.compile(r"(?:fc|linear)(\d+)$")
_DROPOUT = re.compile(r"dropout(\d*\.?\d+)?$")
_OPTION = re.compile(r"([a-z]+?)(\d+|same|valid)?$")
_CLASSES = {cls.__name__.lower(): cls for cls in (
    L.Conv2d, L.Conv1d, L.MaxPool2d, L.AvgPool2d, L.GlobalAvgPool2d, L.ReLU, L.Flatten,
    L.Linear, L.Dropout)}


def _options(item: str, tokens: list[str], allowed: str) -> dict:
    """Options such as ``s2 p1 g2 nobias ceil`` as a dict of their letters."""
    out: dict = {}
    for tok in tokens:
        m = _OPTION.match(tok)
        key = m.group(1) if m else None
        if key in ("nobias", "ceil") and key in allowed and m.group(2) is None:
            out[key] = True
        elif key is not None and len(key) == 1 and key in allowed and m.group(2) is not None:
            value = m.group(2)
            if value in ("same", "valid") and key != "p":
                raise ValueError(f"{item!r}: option {tok!r}: only padding may be {value!r}")
            out[key] = value if value in ("same", "valid") else int(value)
        else:
            raise ValueError(f"{item!r}: unknown option {tok!r} (allowed here: "
                             f"{_describe(allowed)})")
    return out


def _describe(allowed: str) -> str:
    names = {"s": "sN stride", "p": "pN padding", "d": "dN dilation", "g": "gN groups",
             "nobias": "nobias", "ceil": "ceil"}
    return ", ".join(v for k, v in names.items() if k in allowed) or "none"


def _parse_item(item: str):
    """One text item -> ('input', shape) or (constructor, kwargs needing the shape)."""
    tokens = item.split()
    head, rest = tokens[0].lower(), tokens[1:]
    if head == "input":
        if len(rest) != 1 or not re.fullmatch(r"\d+(x\d+)*", rest[0]):
            raise ValueError(f"{item!r}: the input is written 'input CxHxW', e.g. "
                             "'input 3x224x224'")
        return "input", tuple(int(v) for v in rest[0].split("x"))
    if m := _CONV.match(head):
        one_d, r, s, k = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
        if one_d and s is not None:
            raise ValueError(f"{item!r}: a 1-D kernel has one size")
        opts = _options(item, rest, ("s", "p", "d", "g", "nobias"))
        kwargs = dict(out_channels=k, kernel_size=r if one_d else (r, int(s or r)),
                      stride=opts.get("s", 1), padding=opts.get("p", 0),
                      dilation=opts.get("d", 1), groups=opts.get("g", 1),
                      bias=not opts.get("nobias", False))
        return (L.Conv1d if one_d else L.Conv2d), kwargs
    if m := _POOL.match(head):
        r = int(m.group(2) or 2)
        size = (r, int(m.group(3) or r))
        opts = _options(item, rest, ("s", "p", "ceil"))
        kwargs = dict(kernel_size=size, stride=opts.get("s", size), padding=opts.get("p", 0),
                      ceil_mode=opts.get("ceil", False))
        return (L.MaxPool2d if m.group(1) == "max" else L.AvgPool2d), kwargs
    if m := _FC.match(head):
        opts = _options(item, rest, ("nobias",))
        return L.Linear, dict(out_features=int(m.group(1)), bias=not opts.get("nobias", False))
    if m := _DROPOUT.match(head):
        _options(item, rest, "")
        return L.Dropout, dict(p=float(m.group(1) or 0.5))
    simple = {"relu": L.ReLU, "flatten": L.Flatten, "gap": L.GlobalAvgPool2d,
              "globalavgpool": L.GlobalAvgPool2d}
    if head in simple:
        _options(item, rest, "")
        return simple[head], {}
    raise ValueError(f"{item!r}: unknown layer {tokens[0]!r} (known: input, convF-K, "
                     "conv1dF-K, maxpoolF, avgpoolF, gap, relu, flatten, dropout, fcN)")


def _parse_json_item(entry, i: int):
    if isinstance(entry, str):
        return (*_parse_item(entry.strip()), entry.split()[0] if entry.strip() else None)
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise ValueError(f"spec item {i} must be a string or an object with a 'type'; "
                         f"got {entry!r}")
    kind = entry["type"].lower()
    kwargs = {k: v for k, v in entry.items() if k not in ("type", "name")}
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    if kind == "input":
        return "input", shape_tuple("input shape", kwargs.get("shape")), None
    if kind not in _CLASSES:
        raise ValueError(f"spec item {i}: unknown type {entry['type']!r} (known: input, "
                         f"{', '.join(sorted(_CLASSES))})")
    return _CLASSES[kind], kwargs, entry.get("name")


def _items(spec) -> list:
    """(constructor or 'input', kwargs or shape, name) for each item of a spec."""
    if isinstance(spec, str):
        text = spec.strip()
        if text.lower() in BUILTIN_SPECS:
            text = BUILTIN_SPECS[text.lower()]
        if text.startswith("["):
            try:
                spec = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"spec is not valid JSON: {exc}") from None
        else:
            parts = [p.strip() for p in text.split(",")]
            if not all(parts):
                raise ValueError(f"spec has an empty item: {spec!r}")
            return [(*_parse_item(p), p.split()[0]) for p in parts]
    if not isinstance(spec, list | tuple):
        raise TypeError(f"spec must be a string or a list, got {type(spec).__name__}")
    return [_parse_json_item(e, i) for i, e in enumerate(spec)]


def from_spec(spec, *, init: bool = True, rng=None, dtype=np.float32) -> Sequential:
    """Build a :class:`Sequential` from a text or JSON spec or a built-in name.

    Parameters
    ----------
    spec : str or list
        ``"lenet5"``, ``"alexnet"``, ``"zfnet"``, ``"vgg16"``, a text spec (see the module
        documentation) or a JSON list (as a string or already parsed).
    init : bool
        False gives zero-memory parameter placeholders: enough for ``summary`` and
        ``load_state_dict``, refused by ``forward``.
    rng : None, int or numpy.random.Generator
        Source of the initial weights and the dropout masks.
    dtype : float32 or float64

    Returns
    -------
    Sequential
        With ``input_shape`` set from the spec; layers named after their spec items.

    Raises
    ------
    ValueError
        An unknown item or option, a missing input, or the first layer whose input shape
        does not fit (the message names it and the sizes).

    Examples
    --------
    >>> from convcore import nn
    >>> model = nn.from_spec("input 1x28x28, conv5-6 p2, relu, maxpool2, fc10", rng=0)
    >>> model.summary().total_params, model.output_shape((2, 1, 28, 28))
    (11926, (2, 10))
    >>> nn.from_spec("vgg16", init=False).num_params
    138357544
    """
    items = _items(spec)
    if not items or items[0][0] != "input":
        raise ValueError("a spec starts with its input, e.g. 'input 3x224x224'")
    rng = generator(rng)
    shape = (1, *items[0][1])
    model_layers: list[Layer] = []
    for i, (cls, kwargs, name) in enumerate(items[1:], start=1):
        if cls == "input":
            raise ValueError(f"spec item {i}: only the first item may be the input")
        if cls is L.Linear and len(shape) > 2 and not any(
                isinstance(layer, L.Flatten) for layer in model_layers):
            model_layers.append(_named(L.Flatten(), "flatten"))
            shape = model_layers[-1].output_shape(shape)
        kwargs = dict(kwargs)
        try:
            if cls in (L.Conv2d, L.Conv1d):
                kwargs.setdefault("in_channels", shape[1])
            if cls is L.Linear:
                kwargs.setdefault("in_features", shape[-1])
            if cls in (L.Conv2d, L.Conv1d, L.Linear):
                kwargs.update(init=init, rng=rng, dtype=dtype)
            if cls is L.Dropout:
                kwargs.setdefault("rng", rng)
            layer = cls(**kwargs)
        except TypeError as exc:
            raise TypeError(f"spec item {i} ({name or cls.__name__}): {exc}") from None
        except ValueError as exc:
            raise ValueError(f"spec item {i} ({name or cls.__name__}): {exc}") from None
        layer = _named(layer, name)
        try:
            shape = layer.output_shape(shape)
        except ValueError as exc:
            raise ValueError(f"layer {len(model_layers)} '{layer.name}': {exc}") from None
        model_layers.append(layer)
    model = Sequential(*model_layers)
    model.input_shape = tuple(items[0][1])
    return model


def _named(layer: Layer, name: str | None) -> Layer:
    layer.name = name
    return layer


def summary(spec) -> Summary:
    """The summary of a spec without allocating its weights (``from_spec(spec,
    init=False).summary()``).

    Examples
    --------
    >>> from convcore import nn
    >>> s = nn.summary("vgg16")
    >>> s.rows[1].name, s.rows[1].params, s.total_params
    ('conv3-64', 1792, 138357544)
    """
    return from_spec(spec, init=False).summary()
