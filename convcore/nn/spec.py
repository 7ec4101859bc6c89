"""Networks from a compact text (or JSON) spec, and the classic ones built in.

The grammar is :data:`SPEC_GRAMMAR` (what ``convcore summary --help`` prints).
"""

from __future__ import annotations

import json
import re

import numpy as np

from convcore.nn import layers as L
from convcore.nn import pooling as P
from convcore.nn._layer import Layer, generator, shape_tuple
from convcore.nn.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from convcore.nn.containers import Concat, Residual, Sequential
from convcore.nn.conv_transpose import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from convcore.nn.summary import Summary

SPEC_GRAMMAR = """\
A spec is a comma-separated list of items, the first the input of one example:

  input 3x224x224, conv3-64 p1, relu, maxpool2, ..., fc4096, relu, dropout, fc1000

  input CxHxW        the input of one example (any number of dimensions: 1x100)
  convF-K            Conv2d, K filters of F x F (convRxS-K for R x S); options sN
                     stride, pN / psame / pvalid padding, dN dilation, gN groups, nobias
  conv1dF-K          Conv1d, K filters of length F; the same options
  conv3dF-K          Conv3d, K filters of F x F x F (conv3dTxRxS-K); the same options
                     (inputs CxL for 1-D layers, CxDxHxW for 3-D ones)
                     conv options also take a padding mode: reflect, replicate,
                     circular (zeros by default), e.g. conv3-64 p1 reflect
  convtF-K           ConvTranspose2d (a decoder's upsampling), K filters of F x F
                     (convtRxS-K); options sN stride, pN padding (cropped), oN
                     output_padding, dN dilation, gN groups, nobias; e.g. convt4-64 s2 p1
  convt1dF-K         ConvTranspose1d, K filters of length F; the same options
  convt3dF-K         ConvTranspose3d, K filters of F x F x F (convt3dTxRxS-K) on an
                     input CxDxHxW; the same options
  maxpoolF           MaxPool2d, F x F window (maxpoolRxS), stride F unless sN; pN
                     padding, ceil
  avgpoolF           AvgPool2d, the same options
  gap                GlobalAvgPool2d (mean of each plane)
  adaptiveavgpoolN   AdaptiveAvgPool2d to N x N (adaptiveavgpoolHxW)
  maxpool3dF         MaxPool3d, F x F x F window (maxpool3dTxRxS); sN, pN, ceil
  avgpool3dF         AvgPool3d, the same options
  adaptiveavgpool1dN AdaptiveAvgPool1d to N (adaptiveavgpool3dN: AdaptiveAvgPool3d to
                     N x N x N, adaptiveavgpool3dDxHxW)
  adaptivemaxpoolN   AdaptiveMaxPool2d (adaptivemaxpoolHxW; 1d and 3d forms as above)
  maxunpoolF         MaxUnpool2d, F x F (maxunpoolRxS, maxunpool1dF, maxunpool3dF,
                     maxunpool3dTxRxS); sN stride (default F), pN padding.  Shapes
                     only in a chain: its forward pass takes the pool's indices
  bn                 BatchNorm1d/2d/3d, chosen by the dimensions of its input
  relu, flatten,     ReLU, Flatten, Identity
  identity
  dropout[P]         Dropout(P), default 0.5
  fcN                Linear with N outputs (nobias); a Flatten is inserted before the
                     first one of a chain when its input is not flat yet

Blocks hold lists of items (the same grammar, nested to any depth):

  residual(ITEMS)            y = ITEMS(x) + x  (Residual, identity shortcut)
  residual(ITEMS | ITEMS2)   y = ITEMS(x) + ITEMS2(x)  (a projection shortcut)
  concat(B1 | B2 | ...)      branches on the same input, outputs concatenated along
                             the channels (Concat: an inception module)

  e.g. residual(conv3-64 p1 nobias, bn, relu, conv3-64 p1 nobias, bn), relu
       residual(conv3-128 s2 p1, bn, relu, conv3-128 p1, bn | conv1-128 s2, bn), relu
       concat(conv1-64 | conv1-96, relu, conv3-128 p1 | maxpool3 s1 p1, conv1-32)

In channels and in features come from the shape flowing in.  The JSON form is a list
whose items are such strings or objects {"type": "conv2d", "out_channels": 64,
"kernel_size": 3, "padding": 1} (any keyword of the layer class; "type" is the class
name in any case; the input is {"type": "input", "shape": [3, 224, 224]}; blocks are
{"type": "residual", "block": [...], "shortcut": [...]} and
{"type": "concat", "branches": [[...], [...]]}).

Built-in networks: lenet5, alexnet, zfnet, vgg11, vgg16, vgg19, googlenet, resnet18,
resnet34, resnet50 (the last four with torchvision's layout and parameter names).
"""


def _vgg(config) -> str:
    """A VGG spec from (channels, convolutions) per stage."""
    return ("input 3x224x224, "
            + "".join(", ".join([f"conv3-{c} p1, relu"] * n) + ", maxpool2, "
                      for c, n in config)
            + "fc4096, relu, dropout, fc4096, relu, dropout, fc1000")


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
    # VGG (Simonyan & Zisserman 2014), configurations A, D and E
    "vgg11": _vgg(((64, 1), (128, 1), (256, 2), (512, 2), (512, 2))),
    "vgg16": _vgg(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))),
    "vgg19": _vgg(((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))),
}

_CONV = re.compile(r"conv(1d)?(\d+)(?:x(\d+))?-(\d+)$")
_CONVT = re.compile(r"convt(1d|3d)?(\d+(?:x\d+)*)-(\d+)$")
_CONV3D = re.compile(r"conv3d(\d+)(?:x(\d+)x(\d+))?-(\d+)$")
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_POOL = re.compile(r"(max|avg)pool(\d+)?(?:x(\d+))?$")
_ADAPTIVE = re.compile(r"adaptiveavgpool(\d+)(?:x(\d+))?$")
_FC = re.compile(r"(?:fc|linear)(\d+)$")
# pooling in 1-D and 3-D, adaptive max pooling and unpooling (convcore.nn.pooling)
_POOL3D = re.compile(r"(max|avg)pool3d(\d+)(?:x(\d+))?(?:x(\d+))?$")
_ADAPTIVE_ND = re.compile(r"adaptive(avg|max)pool(1d|3d)?(\d+)(?:x(\d+))?(?:x(\d+))?$")
_UNPOOL = re.compile(r"maxunpool(1d|3d)?(\d+)(?:x(\d+))?(?:x(\d+))?$")
_POOL_ND_CLASSES = (P.MaxPool3d, P.AvgPool3d, P.AdaptiveAvgPool1d, P.AdaptiveAvgPool3d,
                    P.AdaptiveMaxPool1d, P.AdaptiveMaxPool2d, P.AdaptiveMaxPool3d,
                    P.MaxUnpool1d, P.MaxUnpool2d, P.MaxUnpool3d)
_DROPOUT = re.compile(r"dropout(\d*\.?\d+)?$")
_OPTION = re.compile(r"([a-z]+?)(\d+|same|valid)?$")
_BLOCK = re.compile(r"(residual|concat|parallel)\s*\((.*)\)$", re.S)
_CLASSES = {cls.__name__.lower(): cls for cls in (
    L.Conv2d, L.Conv1d, L.Conv3d, L.MaxPool2d, L.AvgPool2d, L.GlobalAvgPool2d, L.AdaptiveAvgPool2d,
    L.ReLU, L.Flatten, L.Linear, L.Dropout, L.Identity, BatchNorm1d, BatchNorm2d,
    BatchNorm3d, *_POOL_ND_CLASSES)}
_CONVTS = {1: ConvTranspose1d, 2: ConvTranspose2d, 3: ConvTranspose3d}
_CLASSES.update((cls.__name__.lower(), cls) for cls in _CONVTS.values())
_BATCHNORMS = {2: BatchNorm1d, 3: BatchNorm1d, 4: BatchNorm2d, 5: BatchNorm3d}
_WITH_WEIGHTS = (L.Conv2d, L.Conv1d, L.Conv3d, L.Linear, *_CONVTS.values())
_BN = "bn"  # stands for the BatchNorm class that fits the input
# a node: ("input", shape, None), (class or _BN, kwargs, name),
# ("residual", (block nodes, shortcut nodes or None), name) or ("concat", [nodes...], name)


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at the ``sep`` characters outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"spec has a ')' without its '(': {text!r}")
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    if depth:
        raise ValueError(f"spec has a '(' without its ')': {text!r}")
    parts.append(text[start:].strip())
    return parts


def _options(item: str, tokens: list[str], allowed: str) -> dict:
    """Options such as ``s2 p1 g2 nobias ceil`` as a dict of their letters."""
    out: dict = {}
    for tok in tokens:
        m = _OPTION.match(tok)
        key = m.group(1) if m else None
        if tok in _PADDING_MODES and "mode" in allowed:
            out["mode"] = tok
        elif key in ("nobias", "ceil") and key in allowed and m.group(2) is None:
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
    names = {"s": "sN stride", "p": "pN padding", "o": "oN output_padding",
             "d": "dN dilation", "g": "gN groups", "nobias": "nobias", "ceil": "ceil"}
    return ", ".join(v for k, v in names.items() if k in allowed) or "none"


def _text_chain(text: str) -> list:
    parts = _split_top(text, ",")
    if not all(parts):
        raise ValueError(f"spec has an empty item: {text!r}")
    return [_parse_item(p) for p in parts]


def _parse_item(item: str):
    """One text item -> a node (see above)."""
    item = item.strip()
    if not item:
        raise ValueError("spec has an empty item")
    if m := _BLOCK.match(item):
        kind, inner = m.group(1), m.group(2)
        groups = _split_top(inner, "|")
        if kind == "residual":
            if len(groups) > 2:
                raise ValueError(f"{item!r}: a residual block has a block and at most one "
                                 "shortcut: residual(ITEMS) or residual(ITEMS | ITEMS)")
            shortcut = _text_chain(groups[1]) if len(groups) == 2 else None
            return "residual", (_text_chain(groups[0]), shortcut), "residual"
        return "concat", [_text_chain(g) for g in groups], "concat"
    tokens = item.split()
    head, rest = tokens[0].lower(), tokens[1:]
    if head == "input":
        if len(rest) != 1 or not re.fullmatch(r"\d+(x\d+)*", rest[0]):
            raise ValueError(f"{item!r}: the input is written 'input CxHxW', e.g. "
                             "'input 3x224x224'")
        return "input", tuple(int(v) for v in rest[0].split("x")), None
    return (*_parse_layer(item, head, rest), tokens[0])


def _parse_transposed(item: str, m: re.Match, rest: list[str]):
    """A convt item -> (ConvTranspose1d/2d/3d, kwargs)."""
    nd = {"1d": 1, None: 2, "3d": 3}[m.group(1)]
    sizes = tuple(int(v) for v in m.group(2).split("x"))
    if len(sizes) not in (1, nd):
        raise ValueError(f"{item!r}: a {nd}-D kernel has 1 or {nd} sizes, got {len(sizes)}")
    opts = _options(item, rest, ("s", "p", "o", "d", "g", "nobias"))
    if isinstance(opts.get("p"), str):
        raise ValueError(f"{item!r}: a transposed convolution's padding is a number (pN)")
    kwargs = dict(out_channels=int(m.group(3)), kernel_size=sizes * (nd // len(sizes)),
                  stride=opts.get("s", 1), padding=opts.get("p", 0),
                  output_padding=opts.get("o", 0), dilation=opts.get("d", 1),
                  groups=opts.get("g", 1), bias=not opts.get("nobias", False))
    return _CONVTS[nd], kwargs


def _conv_kwargs(item: str, rest: list[str], k: int, kernel_size) -> dict:
    """The keywords of a convolution layer from its options."""
    opts = _options(item, rest, ("s", "p", "d", "g", "nobias", "mode"))
    return dict(out_channels=k, kernel_size=kernel_size, stride=opts.get("s", 1),
                padding=opts.get("p", 0), dilation=opts.get("d", 1),
                groups=opts.get("g", 1), bias=not opts.get("nobias", False),
                padding_mode=opts.get("mode", "zeros"))


def _sizes(item: str, nd: int, first: str, more: tuple) -> tuple[int, ...]:
    """The window or output sizes of a pooling item: F alone for all nd, or all nd."""
    given = [int(first)] + [int(v) for v in more if v is not None]
    if len(given) == 1:
        return (given[0],) * nd
    if len(given) != nd:
        raise ValueError(f"{item!r}: give one size or {nd} sizes ({'x'.join('N' * nd)})")
    return tuple(given)


def _parse_pool_nd(item: str, head: str, rest: list[str]):
    """The 1-D/3-D pooling, adaptive max pooling and unpooling items, or None."""
    if m := _POOL3D.match(head):
        size = _sizes(item, 3, m.group(2), m.groups()[2:])
        opts = _options(item, rest, ("s", "p", "ceil"))
        kwargs = dict(kernel_size=size, stride=opts.get("s", size), padding=opts.get("p", 0),
                      ceil_mode=opts.get("ceil", False))
        return (P.MaxPool3d if m.group(1) == "max" else P.AvgPool3d), kwargs
    if m := _ADAPTIVE_ND.match(head):
        _options(item, rest, "")
        nd = {"1d": 1, "3d": 3, None: 2}[m.group(2)]
        size = _sizes(item, nd, m.group(3), m.groups()[3:])
        classes = {("avg", 1): P.AdaptiveAvgPool1d, ("avg", 2): L.AdaptiveAvgPool2d,
                   ("avg", 3): P.AdaptiveAvgPool3d, ("max", 1): P.AdaptiveMaxPool1d,
                   ("max", 2): P.AdaptiveMaxPool2d, ("max", 3): P.AdaptiveMaxPool3d}
        return classes[m.group(1), nd], dict(output_size=size)
    if m := _UNPOOL.match(head):
        nd = {"1d": 1, "3d": 3, None: 2}[m.group(1)]
        size = _sizes(item, nd, m.group(2), m.groups()[2:])
        opts = _options(item, rest, ("s", "p"))
        cls = {1: P.MaxUnpool1d, 2: P.MaxUnpool2d, 3: P.MaxUnpool3d}[nd]
        return cls, dict(kernel_size=size, stride=opts.get("s", size), padding=opts.get("p", 0))
    return None


def _parse_layer(item: str, head: str, rest: list[str]):
    if found := _parse_pool_nd(item, head, rest):
        return found
    if m := _CONVT.match(head):
        return _parse_transposed(item, m, rest)
    if m := _CONV3D.match(head):
        t = int(m.group(1))
        size = (t, int(m.group(2)), int(m.group(3))) if m.group(2) else (t, t, t)
        return L.Conv3d, _conv_kwargs(item, rest, int(m.group(4)), size)
    if m := _CONV.match(head):
        one_d, r, s, k = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
        if one_d and s is not None:
            raise ValueError(f"{item!r}: a 1-D kernel has one size")
        kwargs = _conv_kwargs(item, rest, k, r if one_d else (r, int(s or r)))
        return (L.Conv1d if one_d else L.Conv2d), kwargs
    if m := _POOL.match(head):
        r = int(m.group(2) or 2)
        size = (r, int(m.group(3) or r))
        opts = _options(item, rest, ("s", "p", "ceil"))
        kwargs = dict(kernel_size=size, stride=opts.get("s", size), padding=opts.get("p", 0),
                      ceil_mode=opts.get("ceil", False))
        return (L.MaxPool2d if m.group(1) == "max" else L.AvgPool2d), kwargs
    if m := _ADAPTIVE.match(head):
        _options(item, rest, "")
        h = int(m.group(1))
        return L.AdaptiveAvgPool2d, dict(output_size=(h, int(m.group(2) or h)))
    if m := _FC.match(head):
        opts = _options(item, rest, ("nobias",))
        return L.Linear, dict(out_features=int(m.group(1)), bias=not opts.get("nobias", False))
    if m := _DROPOUT.match(head):
        _options(item, rest, "")
        return L.Dropout, dict(p=float(m.group(1) or 0.5))
    simple = {"relu": L.ReLU, "flatten": L.Flatten, "gap": L.GlobalAvgPool2d,
              "globalavgpool": L.GlobalAvgPool2d, "identity": L.Identity, "bn": _BN,
              "batchnorm": _BN}
    if head in simple:
        _options(item, rest, "")
        return simple[head], {}
    raise ValueError(f"{item!r}: unknown layer {head!r} (known: input, convF-K, conv1dF-K, "
                     "maxpoolF, avgpoolF, adaptiveavgpoolN, maxpool3dF, avgpool3dF, "
                     "adaptive(avg|max)pool[1d|3d]N, maxunpool[1d|3d]F, gap, bn, relu, "
                     "identity, flatten, dropout, fcN, convtF-K, convt1dF-K, convt3dF-K, "
                     "residual(...), concat(...))")


def _json_chain(entries, where: str) -> list:
    if not isinstance(entries, list | tuple) or not entries:
        raise ValueError(f"{where} must be a non-empty list of items, got {entries!r}")
    return [_parse_json_item(e, f"{where} item {i}") for i, e in enumerate(entries)]


def _parse_json_item(entry, where: str):
    if isinstance(entry, str):
        return _parse_item(entry)
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise ValueError(f"{where} must be a string or an object with a 'type'; "
                         f"got {entry!r}")
    kind = entry["type"].lower()
    name = entry.get("name")
    kwargs = {k: v for k, v in entry.items() if k not in ("type", "name")}
    if kind == "input":
        shape = shape_tuple("input shape", kwargs.get("shape"))
        if not shape:
            raise ValueError(f"{where}: the input shape needs at least one size, e.g. "
                             "[3, 224, 224]")
        return "input", shape, None
    if kind == "residual":
        unknown = set(kwargs) - {"block", "shortcut"}
        if unknown:
            raise ValueError(f"{where}: a residual block has 'block' and 'shortcut', not "
                             f"{sorted(unknown)}")
        shortcut = kwargs.get("shortcut")
        return "residual", (_json_chain(kwargs.get("block"), f"{where} block"),
                            None if shortcut is None else
                            _json_chain(shortcut, f"{where} shortcut")), name or "residual"
    if kind in ("concat", "parallel"):
        unknown = set(kwargs) - {"branches"}
        branches = kwargs.get("branches")
        if unknown or not isinstance(branches, list) or not branches:
            raise ValueError(f"{where}: a concat block is {{'type': 'concat', 'branches': "
                             f"[[...], ...]}}, got {entry!r}")
        return "concat", [_json_chain(b, f"{where} branch {j}")
                          for j, b in enumerate(branches)], name or "concat"
    if kind not in _CLASSES and kind not in ("bn", "batchnorm"):
        raise ValueError(f"{where}: unknown type {entry['type']!r} (known: input, residual, "
                         f"concat, bn, {', '.join(sorted(_CLASSES))})")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return _CLASSES.get(kind, _BN), kwargs, name


def _nodes(spec) -> list:
    """The nodes of a spec: a built-in name, a text or JSON string, or a parsed list."""
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
            return _text_chain(text)
    if not isinstance(spec, list | tuple):
        raise TypeError(f"spec must be a string or a list, got {type(spec).__name__}")
    return [_parse_json_item(e, f"spec item {i}") for i, e in enumerate(spec)]


class _Builder:
    """Builds layers from nodes, following the shape (one example with a batch of 1)."""

    def __init__(self, init, rng, dtype):
        self.init, self.rng, self.dtype = init, generator(rng), dtype

    def chain(self, nodes, shape, where: str = ""):
        out: list[Layer] = []
        for i, node in enumerate(nodes):
            cls, args, name = node
            label = f"{where}item {i}" if where else f"spec item {i + 1}"
            if cls == "input":
                raise ValueError(f"spec item {i + 1}: only the first item may be the input"
                                 if not where else f"{label}: only the first item of a "
                                 "spec may be the input")
            if cls is L.Linear and len(shape) > 2 and not any(
                    isinstance(layer, L.Flatten) for layer in out):
                out.append(_named(L.Flatten(), "flatten"))
                shape = out[-1].output_shape(shape)
            if cls == "residual":
                layer, shape = self.residual(args, shape, f"{where}{name} ")
            elif cls == "concat":
                layer, shape = self.concat(args, shape, f"{where}{name} ")
            else:
                layer = _named(self.layer(cls, args, name, shape, label), name)
                try:
                    shape = layer.output_shape(shape)
                except ValueError as exc:
                    raise ValueError(f"{where}layer {len(out)} '{layer.name}': {exc}") from None
            out.append(_named(layer, name))
        return out, shape

    def layer(self, cls, kwargs, name, shape, label):
        kwargs = dict(kwargs)
        try:
            if cls == _BN:
                if len(shape) not in _BATCHNORMS:
                    raise ValueError(f"bn needs an input of 2 to 5 dimensions with the "
                                     f"batch; got {shape}")
                cls = _BATCHNORMS[len(shape)]
            if cls in (L.Conv2d, L.Conv1d, L.Conv3d, *_CONVTS.values()):
                kwargs.setdefault("in_channels", shape[1])
            if cls is L.Linear:
                kwargs.setdefault("in_features", shape[-1])
            if cls in (BatchNorm1d, BatchNorm2d, BatchNorm3d):
                kwargs.setdefault("num_features", shape[1])
                kwargs.setdefault("dtype", self.dtype)
            if cls in _WITH_WEIGHTS:
                kwargs.update(init=self.init, rng=self.rng, dtype=self.dtype)
            if cls is L.Dropout:
                kwargs.setdefault("rng", self.rng)
            return cls(**kwargs)
        except TypeError as exc:
            raise TypeError(f"{label} ({name or cls.__name__}): {exc}") from None
        except ValueError as exc:
            raise ValueError(f"{label} ({name or cls.__name__}): {exc}") from None

    def residual(self, args, shape, where):
        block_nodes, shortcut_nodes = args
        block, out = self.chain(block_nodes, shape, where + "block: ")
        shortcut, skip = None, shape
        if shortcut_nodes is not None:
            layers, skip = self.chain(shortcut_nodes, shape, where + "shortcut: ")
            shortcut = layers[0] if len(layers) == 1 else Sequential(*layers)
        if skip != out:
            raise ValueError(f"{where.strip()}: the block gives shape {out[1:]} but the "
                             f"shortcut gives {skip[1:]}; they must match to be added")
        return Residual(Sequential(*block), shortcut), out

    def concat(self, branches, shape, where):
        layers, outs = [], []
        for j, nodes in enumerate(branches):
            chain, out = self.chain(nodes, shape, f"{where}branch {j}: ")
            layers.append(chain[0] if len(chain) == 1 else Sequential(*chain))
            outs.append(out)
        layer = Concat(*layers)
        try:
            return layer, layer.output_shape(shape)
        except ValueError as exc:
            raise ValueError(f"{where.strip()}: {exc}") from None


def from_spec(spec, *, init: bool = True, rng=None, dtype=np.float32) -> Sequential:
    """Build a :class:`Sequential` from a text or JSON spec or a built-in name.

    Parameters
    ----------
    spec : str or list
        A name of :data:`BUILTIN_SPECS` (``"lenet5"``, ``"alexnet"``, ``"zfnet"``,
        ``"vgg11"``, ``"vgg16"``, ``"vgg19"``) or of the other networks of
        :mod:`convcore.nn.models` (``"googlenet"``, ``"resnet18"`` ... ``"resnet152"``,
        built there), a text spec (:data:`SPEC_GRAMMAR`: layers, residual and concat
        blocks) or a JSON list (as a string or parsed).
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
        An unknown item or option, a missing input, unbalanced parentheses, or the first
        layer whose input shape does not fit (the message names it and the sizes).

    Examples
    --------
    >>> from convcore import nn
    >>> model = nn.from_spec("input 1x28x28, conv5-6 p2, relu, maxpool2, fc10", rng=0)
    >>> model.summary().total_params, model.output_shape((2, 1, 28, 28))
    (11926, (2, 10))
    >>> nn.from_spec("vgg16", init=False).num_params
    138357544
    >>> block = nn.from_spec("input 8x16x16, residual(conv3-8 p1, bn, relu, conv3-8 p1, bn), "
    ...                      "relu, concat(conv1-4 | maxpool3 s1 p1)", init=False)
    >>> block.output_shape((1, 8, 16, 16))
    (1, 12, 16, 16)
    """
    if isinstance(spec, str) and spec.strip().lower() not in BUILTIN_SPECS:
        from convcore.nn import models

        if spec.strip().lower() in models.MODELS:
            return models.build(spec.strip(), init=init, rng=rng, dtype=dtype)
    try:
        nodes = _nodes(spec)
    except RecursionError:
        raise ValueError("spec is nested too deeply") from None
    if not nodes or nodes[0][0] != "input":
        raise ValueError("a spec starts with its input, e.g. 'input 3x224x224'")
    builder = _Builder(init, rng, dtype)
    layers, _ = builder.chain(nodes[1:], (1, *nodes[0][1]))
    model = Sequential(*layers)
    model.input_shape = tuple(nodes[0][1])
    return model


def _named(layer: Layer, name: str | None) -> Layer:
    layer.name = name
    return layer


def summary(spec) -> Summary:
    """The summary of a spec or of a built-in network, without allocating weights.

    ``spec`` is anything :func:`from_spec` takes.

    Examples
    --------
    >>> from convcore import nn
    >>> s = nn.summary("vgg16")
    >>> s.rows[1].name, s.rows[1].params, s.total_params
    ('conv3-64', 1792, 138357544)
    >>> nn.summary("resnet50").total_params
    25557032
    """
    return from_spec(spec, init=False).summary()
