#!/usr/bin/python3
"""Random whole-model reference fixtures: specs, weights, inputs and
PyTorch's outputs, for testing modelc end to end.

    /usr/bin/python3 tools/gen_model_fixture.py [-n COUNT] [-o DIR]
    /usr/bin/python3 tools/gen_model_fixture.py --verify [-o DIR]

writes (default: 320 models into tests/fixtures/models/, after removing the
m*.lua/.safetensors/.npy files already there) and prints a coverage table.
It exits 1 if any coverage class below has no model.  --verify re-reads
every model from its files alone (a small parser for the specs' Lua subset,
a strict .safetensors reader), rebuilds it in PyTorch with the spec's seed,
file tensors and inline values, and checks it reproduces mNNN.out.npy and
that every file tensor is used unless an inline value overrides it.
Everything is
deterministic: one fixed seed for Python's `random` (the model structure),
numpy generators seeded per model (weights, inputs) and torch seeds.

Layout, for every model mNNN (NNN = 001, 002, ...):

  mNNN.lua          the spec: `return model "mNNN" { input = {...}, ... }`,
                    layers written as modelc's spec language wants them
                    (positional prefix in torch.nn's order, then keywords;
                    tuples as Lua arrays, booleans, strings double-quoted,
                    floats with repr() so they round-trip).
  mNNN.safetensors  F32 weights, when the spec says `weights = "mNNN.safetensors"`
                    (relative to the spec).  Keys are nn.Sequential
                    state_dict keys: "<index>.weight", "<index>.bias",
                    "<index>.running_mean", "<index>.running_var" (no
                    num_batches_tracked), or "<name>.weight" for a layer
                    given `name = "conv1"`.  Random values, scaled so
                    activations stay O(1): conv/linear weights normal with
                    std 1/sqrt(fan_in), biases uniform in +-1/sqrt(fan_in);
                    batch norm weight 1 +- 0.25, bias +-0.5, running_mean
                    +-0.5, running_var in [0.5, 2].
  mNNN.in.npy       the float32 input, standard normal, shape = spec input.
  mNNN.out.npy      float32 output of the equivalent nn.Sequential in eval()
                    mode under torch.no_grad().
  index.tsv         '#' header, then per model: name TAB layers TAB model
                    tags.  layers: space-separated `Kind[class,class,...]`
                    (the coverage classes that layer exercises); tags: the
                    model-level classes (input, weights source, ...) and the
                    input shape.

Weights sources (model-level classes weights:*):
  file   most models: `weights = "mNNN.safetensors"`.
  seed   ~1/6: `seed = N`, no file; the reference is torch.manual_seed(N)
         then constructing the same nn.Sequential (PyTorch's default init;
         batch norm running stats stay 0/1).
  none   a few: neither weights nor seed; modelc then uses seed 0, and the
         reference is built after torch.manual_seed(0).
  inline ~1/10: some small layers (<= 64 values) give some or all of
         weight/bias/running_mean/running_var inline as nested Lua arrays in
         PyTorch's layout, each float32 printed as repr(float(x)) (exact).
         The rest comes from the file or the seed; with a seed the layer is
         still constructed (drawing its random numbers) and then
         overwritten.  inline+decoy: the file also holds a different tensor
         under the same key (inline values win).
  named  ~1/8: layers carry `name = "conv1"`, "bn1", "fc1", ... and their
         file keys use that prefix.

Coverage classes (`Kind:class`; every one must have >= 1 model; the
generator targets the least-covered class for each new model, so in
practice each has several):
  Conv1d/Conv2d/Conv3d: stride>1, tuple_stride, pad_int, pad_tuple (1d) /
    pad_tuple_diff (2d, 3d: different values per dim), same, same_even_k
    (asymmetric implicit padding), same_dilation, valid, dilation>1,
    tuple_dilation, tuple_kernel, groups>1, depthwise (groups = in, out =
    k*in), bias=false, mode=zeros (written explicitly, nonzero padding),
    mode=reflect+int, mode=reflect+same, and the same for replicate and
    circular, unbatched, batched; plus circular_unbatched (PyTorch 1.13
    itself fails on it, see below; not required).
  MaxPool1d/MaxPool2d: stride_default, stride_explicit, padding, dilation,
    ceil_mode, ceil_adds_window (ceil mode gives one more output than
    floor), tuple_args, unbatched (MaxPool2d on a 3-D tensor), batched.
  AvgPool1d/AvgPool2d: stride_default, stride_explicit, pad+include_pad,
    pad+exclude_pad, ceil_mode, ceil_adds_window, tuple_args, unbatched,
    batched, divisor_override (2d only).
  AdaptiveAvgPool1d/2d: uneven (windows of different sizes), larger (output
    bigger than input), one (output 1), tuple (2d), unbatched, batched.
  BatchNorm1d: input2d (N, C), input3d (N, C, L); BatchNorm2d; both:
    foldable (right after a batched Conv or a Linear on (N, F)),
    axis_mismatch (right after a Linear on 3-D input or an unbatched Conv:
    the channel axis differs, so not foldable), after_pool, after_act,
    first (first layer), affine=false, track_running_stats=false (batch
    statistics in eval), eps, momentum.
  Linear: in1d, in2d, in3d, in4d, bias=false.
  Flatten: default, explicit, negative.
  ReLU, ReLU6, Sigmoid, Tanh, SiLU, Identity: used; LeakyReLU: slope;
    ELU: alpha; GELU: default, tanh; Softmax/LogSoftmax: dim_pos, dim_neg,
    r3d0..r3d2, r4d0..r4d3 (each dim of a 3-D / 4-D tensor); Dropout: p;
    act:inplace (inplace = true on an activation or Dropout).
  model: batched, unbatched, batch=1, batch=2, batch=3, single_layer,
    first_act (first layer an activation), last_inplace (last layer an
    activation, batch norm or softmax), last_noop (last layer Identity or
    Dropout: the output is the previous layer's), len>=6.
  weights: file, seed, none, inline, inline+seed, inline+decoy, named.

PyTorch 1.13 behaviour worth knowing (handled here):
  * A conv with padding_mode="circular" on an UNBATCHED input raises in
    F.pad ("Invalid padding size, expected 0 but got 2"): the reference is
    computed on the input with a batch dimension of 1 added (the spec treats
    it as valid).
  * BatchNorm with track_running_stats=False uses batch statistics even in
    eval() and needs more than one value per channel; small per-channel
    variances make the output ill-conditioned, so such models are redrawn.
  * Every model is also run in float64; it is redrawn unless the float32
    and float64 outputs agree to a tenth of the test tolerance (1e-5 abs +
    1e-4 rel) and max |out| <= 1e3.
"""

import argparse
import collections
import inspect
import math
import os
import random
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_io_fixture import write_safetensors  # noqa: E402

SEED = 20240617
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "models")
MAX_NUMEL = 20000         # any tensor (activation or parameter)
MAX_PARAMS = 20000        # per model
MAX_FAN_IN = 600
MAX_INPUT = 6000
INLINE_MAX = 64           # values per inlined layer
ATOL, RTOL = 1e-5, 1e-4

R = random.Random(SEED)
warnings.filterwarnings("ignore")
torch.set_num_threads(1)


def chance(p):
    return R.random() < p


def pick(*xs):
    return R.choice(xs)


def rint(lo, hi):
    return R.randint(lo, hi)


# --------------------------------------------------------------------------
# the coverage classes

CONV_CLASSES = ["stride>1", "tuple_stride", "pad_int", "same", "same_even_k",
                "same_dilation", "valid", "dilation>1", "tuple_dilation",
                "tuple_kernel", "groups>1", "depthwise", "bias=false",
                "mode=zeros", "unbatched", "batched"] + [
                    "mode=%s+%s" % (m, p)
                    for m in ("reflect", "replicate", "circular")
                    for p in ("int", "same")]
POOL_COMMON = ["stride_default", "stride_explicit", "ceil_mode",
               "ceil_adds_window", "tuple_args", "unbatched", "batched"]
BN_COMMON = ["foldable", "axis_mismatch", "after_pool", "after_act", "first",
             "affine=false", "track_running_stats=false", "eps", "momentum"]
SOFTMAX = ["dim_pos", "dim_neg"] + ["r3d%d" % i for i in range(3)] + \
    ["r4d%d" % i for i in range(4)]

REQUIRED = collections.OrderedDict()
for d in (1, 2, 3):
    REQUIRED["Conv%dd" % d] = CONV_CLASSES + (
        ["pad_tuple"] if d == 1 else ["pad_tuple_diff"])
REQUIRED["MaxPool1d"] = POOL_COMMON + ["padding", "dilation"]
REQUIRED["MaxPool2d"] = POOL_COMMON + ["padding", "dilation"]
REQUIRED["AvgPool1d"] = POOL_COMMON + ["pad+include_pad", "pad+exclude_pad"]
REQUIRED["AvgPool2d"] = POOL_COMMON + ["pad+include_pad", "pad+exclude_pad",
                                       "divisor_override"]
REQUIRED["AdaptiveAvgPool1d"] = ["uneven", "larger", "one", "unbatched",
                                 "batched"]
REQUIRED["AdaptiveAvgPool2d"] = ["uneven", "larger", "one", "tuple",
                                 "unbatched", "batched"]
REQUIRED["BatchNorm1d"] = ["input2d", "input3d"] + BN_COMMON
REQUIRED["BatchNorm2d"] = BN_COMMON
REQUIRED["Linear"] = ["in1d", "in2d", "in3d", "in4d", "bias=false"]
REQUIRED["Flatten"] = ["default", "explicit", "negative"]
for k in ("ReLU", "ReLU6", "Sigmoid", "Tanh", "SiLU", "Identity"):
    REQUIRED[k] = ["used"]
REQUIRED["LeakyReLU"] = ["slope"]
REQUIRED["ELU"] = ["alpha"]
REQUIRED["GELU"] = ["default", "tanh"]
REQUIRED["Softmax"] = SOFTMAX
REQUIRED["LogSoftmax"] = SOFTMAX
REQUIRED["Dropout"] = ["p"]
REQUIRED["act"] = ["inplace"]
REQUIRED["model"] = ["batched", "unbatched", "batch=1", "batch=2", "batch=3",
                     "single_layer", "first_act", "last_inplace", "last_noop",
                     "len>=6"]
REQUIRED["weights"] = ["file", "seed", "none", "inline", "inline+seed",
                       "inline+decoy", "named"]
EXTRA = {"Conv1d:circular_unbatched", "Conv2d:circular_unbatched",
         "Conv3d:circular_unbatched"}

ALL_CLASSES = ["%s:%s" % (k, c) for k, cs in REQUIRED.items() for c in cs]

ACTS = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "GELU",
        "SiLU", "Softmax", "LogSoftmax", "Dropout", "Identity"]
INPLACE_KINDS = {"ReLU", "ReLU6", "LeakyReLU", "ELU", "SiLU", "Dropout"}
POOLS = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
         "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"]
# kinds whose output can be computed in place (for model:last_inplace)
INPLACE_LAST = set(ACTS) | {"BatchNorm1d", "BatchNorm2d"}

SKIP_PARAMS = {"device", "dtype", "args", "kwargs"}
SIGS = {}


def sig(kind):
    if kind not in SIGS:
        SIGS[kind] = [p for p in
                      inspect.signature(getattr(nn, kind)).parameters.values()
                      if p.name not in SKIP_PARAMS]
    return SIGS[kind]


# --------------------------------------------------------------------------
# layers

class Layer:
    """One layer: kind, arguments in signature order, the shapes around it,
    the classes it exercises; name / inline parameters set later."""

    def __init__(self, kind, kw, in_shape):
        names = [p.name for p in sig(kind)]
        for k in kw:
            assert k in names, (kind, k)
        self.kind = kind
        self.args = [(n, kw[n]) for n in names if n in kw]
        self.kw = dict(kw)
        self.in_shape = tuple(in_shape)
        self.out_shape = None
        self.classes = set()
        self.name = None
        self.inline = {}       # param name -> np.float32 array
        self.fan_in = 1

    def build(self):
        m = getattr(nn, self.kind)(**self.kw)
        if (self.kind.startswith("Conv") and
                self.kw.get("padding_mode") == "circular" and
                len(self.in_shape) == int(self.kind[4]) + 1):
            m = Unsqueezed(m)
        return m

    def params(self, module):
        """(key suffix, tensor) in state_dict order, no num_batches_tracked."""
        if isinstance(module, Unsqueezed):
            module = module.inner
        return [(k, v) for k, v in module.state_dict().items()
                if k != "num_batches_tracked"]


class Unsqueezed(nn.Module):
    """A conv applied to an unbatched input through a batch of one (PyTorch
    1.13's circular padding only takes batched input)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.unsqueeze(0)).squeeze(0)


def try_shape(layer):
    """Run the layer on zeros; the output shape, or None if PyTorch refuses
    or the output is empty or too big."""
    try:
        with torch.no_grad():
            m = layer.build().eval()
            y = m(torch.zeros(layer.in_shape))
    except Exception:
        return None
    if y.numel() == 0 or y.numel() > MAX_NUMEL or 0 in y.shape:
        return None
    layer.out_shape = tuple(y.shape)
    return layer.out_shape


def nparams(layer):
    return sum(t.numel() for _, t in layer.params(layer.build()))


def tup(vals, force_tuple=False):
    """Per-dimension values as an int (when all equal, usually) or tuple."""
    if not force_tuple and all(v == vals[0] for v in vals) and chance(0.7):
        return vals[0]
    return tuple(vals)


def as_list(v, d):
    return list(v) if isinstance(v, tuple) else [v] * d


# ---- convolutions

def gen_conv(d, shape, force, budget):
    r = len(shape)
    if r not in (d + 1, d + 2):
        return None
    if force in ("unbatched", "circular_unbatched") and r != d + 1:
        return None
    if force == "batched" and r != d + 2:
        return None
    C, sp = shape[-d - 1], list(shape[-d:])
    f = force or ""
    if f.startswith("mode=") and "+" in f:
        mode, pk = f[5:].split("+")
    else:
        mode = pick("reflect", "replicate", "circular") if chance(0.25) \
            else "zeros"
        if f == "circular_unbatched":
            mode = "circular"
        pk = None
    if f in ("same", "same_even_k", "same_dilation"):
        pk = "same"
    elif f == "pad_int":
        pk = "int"
    elif f in ("pad_tuple", "pad_tuple_diff"):
        pk = "tuple"
    elif f == "valid":
        pk = "valid"
    elif f == "mode=zeros":
        mode, pk = "zeros", pick("int", "tuple")
    elif pk is None:
        pk = R.choice(["none"] * 3 + ["int"] * 3 + ["tuple", "same", "same",
                                                   "valid"])
    # dilation
    dil = [1] * d
    if f in ("dilation>1", "same_dilation", "tuple_dilation") or chance(0.15):
        dil = [pick(1, 2, 3) for _ in range(d)]
        if all(x == 1 for x in dil):
            dil[rint(0, d - 1)] = 2
    # kernel
    k = []
    for i in range(d):
        hi = max(1, min(5, (sp[i] + 2 - 1) // dil[i] + 1))
        k.append(rint(1, hi) if chance(0.3) else rint(min(2, hi), min(3, hi)))
    if f == "same_even_k":
        i = rint(0, d - 1)
        k[i] = pick(2, 4)
        dil[i] = pick(1, 1, 3)
    if f == "same_dilation" and all(dil[i] == 1 or k[i] == 1
                                     for i in range(d)):
        i = rint(0, d - 1)
        k[i], dil[i] = max(k[i], 2), 2
    if pk == "same" and all(kk == 1 for kk in k):
        k[rint(0, d - 1)] = pick(2, 3)
    # stride
    st = [1] * d
    if pk != "same" and (f in ("stride>1", "tuple_stride") or chance(0.3)):
        st = [pick(1, 2, 2, 3) for _ in range(d)]
        if all(x == 1 for x in st):
            st[rint(0, d - 1)] = 2
    # padding
    eff = [dil[i] * (k[i] - 1) + 1 for i in range(d)]
    if pk == "same":
        padding = "same"
    elif pk == "valid":
        padding = "valid"
    elif pk == "none":
        padding = None
    else:
        pads = [rint(0, max(1, eff[i] // 2 + 1)) for i in range(d)]
        if pk == "int" or (mode != "zeros" and f.endswith("+int")):
            p = max(1, pads[0]) if (f in ("pad_int", "mode=zeros") or
                                    f.endswith("+int")) else pads[0]
            padding = p if pk == "int" else tuple([p] * d)
        else:
            if f == "pad_tuple_diff" or (d > 1 and chance(0.6)):
                if d > 1:
                    while len(set(pads)) == 1:
                        pads = [rint(0, max(1, eff[i] // 2 + 1))
                                for i in range(d)]
            if f == "mode=zeros" and all(p == 0 for p in pads):
                pads[0] = 1
            padding = tuple(pads)
    # groups and channels
    groups, bias = 1, not (f == "bias=false" or chance(0.2))
    divs = [g for g in range(2, C + 1) if C % g == 0]
    if f == "depthwise" or (f == "" and C > 1 and chance(0.1)):
        if C < 2:
            return None
        groups = C
        out = C * pick(1, 1, 2, 3)
    elif f == "groups>1" or (divs and chance(0.12)):
        if not divs:
            return None
        groups = R.choice(divs)
        out = groups * rint(1, max(1, 12 // groups))
    else:
        out = rint(1, 12) if chance(0.7) else rint(8, 32)
    kw = {"in_channels": C, "out_channels": out,
          "kernel_size": tup(k, f == "tuple_kernel" or
                             (d == 1 and chance(0.1)))}
    if st != [1] * d or chance(0.1):
        kw["stride"] = tup(st, f == "tuple_stride")
    if padding is not None:
        kw["padding"] = padding
    if dil != [1] * d or chance(0.05):
        kw["dilation"] = tup(dil, f == "tuple_dilation")
    if groups != 1 or chance(0.05):
        kw["groups"] = groups
    if not bias or chance(0.1):
        kw["bias"] = bias
    if mode != "zeros" or f == "mode=zeros" or chance(0.05):
        kw["padding_mode"] = mode
    layer = Layer("Conv%dd" % d, kw, shape)
    layer.fan_in = (C // groups) * int(np.prod(k))
    if layer.fan_in > MAX_FAN_IN:
        return None
    if (out * layer.fan_in + out) > budget:
        return None
    return layer


def conv_classes(layer):
    d = int(layer.kind[4])
    kw, c = layer.kw, set()
    k = as_list(kw["kernel_size"], d)
    st = as_list(kw.get("stride", 1), d)
    dil = as_list(kw.get("dilation", 1), d)
    pad = kw.get("padding", 0)
    mode = kw.get("padding_mode", "zeros")
    g = kw.get("groups", 1)
    C = kw["in_channels"]
    if any(s > 1 for s in st):
        c.add("stride>1")
    if isinstance(kw.get("stride"), tuple):
        c.add("tuple_stride")
    if isinstance(kw["kernel_size"], tuple):
        c.add("tuple_kernel")
    if isinstance(kw.get("dilation"), tuple):
        c.add("tuple_dilation")
    if any(x > 1 for x in dil):
        c.add("dilation>1")
    nonzero = False
    if pad == "same":
        c.add("same")
        if any(k[i] % 2 == 0 and dil[i] % 2 == 1 for i in range(d)):
            c.add("same_even_k")
        if any(dil[i] > 1 and k[i] > 1 for i in range(d)):
            c.add("same_dilation")
        nonzero = any(dil[i] * (k[i] - 1) > 0 for i in range(d))
        padk = "same"
    elif pad == "valid":
        c.add("valid")
        padk = None
    elif isinstance(pad, tuple):
        c.add("pad_tuple" if d == 1 else
              ("pad_tuple_diff" if len(set(pad)) > 1 else "pad_tuple"))
        nonzero = any(p > 0 for p in pad)
        padk = "int"
    else:
        if pad > 0:
            c.add("pad_int")
        nonzero = pad > 0
        padk = "int"
    if nonzero and padk:
        if mode == "zeros":
            if "padding_mode" in kw:
                c.add("mode=zeros")
        else:
            c.add("mode=%s+%s" % (mode, padk))
    if g > 1:
        if g == C and kw["out_channels"] % C == 0:
            c.add("depthwise")
        else:
            c.add("groups>1")
    if not kw.get("bias", True):
        c.add("bias=false")
    if len(layer.in_shape) == d + 1:
        c.add("unbatched")
        if mode == "circular":
            c.add("circular_unbatched")
    else:
        c.add("batched")
    return c


# ---- pooling

def floor_out(n, k, s, p, dil):
    return (n + 2 * p - dil * (k - 1) - 1) // s + 1


def gen_pool(kind, shape, force, budget):
    d = int(kind[-2])
    r = len(shape)
    if r not in (d + 1, d + 2):
        return None
    if force == "unbatched" and r != d + 1:
        return None
    if force == "batched" and r != d + 2:
        return None
    sp = list(shape[-d:])
    is_max = kind.startswith("Max")
    f = force or ""
    for _ in range(40):
        dil = [1] * d
        if is_max and (f == "dilation" or chance(0.15)):
            dil = [pick(1, 2) for _ in range(d)]
            if all(x == 1 for x in dil):
                dil[rint(0, d - 1)] = 2
        k = [rint(1, max(1, min(4, sp[i]))) for i in range(d)]
        k = [max(kk, 2) if sp[i] >= 2 and chance(0.8) else kk
             for i, kk in enumerate(k)]
        kw = {"kernel_size": tup(k, f == "tuple_args" and chance(0.5))}
        st = None
        if f == "stride_explicit" or (f != "stride_default" and chance(0.5)) \
                or f == "ceil_adds_window":
            st = [rint(1, 3) for _ in range(d)]
            kw["stride"] = tup(st, f == "tuple_args")
        pad = [0] * d
        wants_pad = f in ("padding", "pad+include_pad", "pad+exclude_pad")
        if wants_pad or chance(0.3):
            pad = [rint(0, k[i] // 2) for i in range(d)]
            if wants_pad and all(p == 0 for p in pad):
                i = max(range(d), key=lambda i: k[i])
                if k[i] < 2:
                    continue
                pad[i] = 1
            kw["padding"] = tup(pad, f == "tuple_args" and chance(0.5))
        if is_max and dil != [1] * d:
            kw["dilation"] = tup(dil, f == "tuple_args")
        if f in ("ceil_mode", "ceil_adds_window") or chance(0.2):
            kw["ceil_mode"] = True
        if not is_max:
            if f == "pad+exclude_pad" or (f != "pad+include_pad" and
                                          chance(0.4)):
                kw["count_include_pad"] = False
            elif chance(0.15):
                kw["count_include_pad"] = True
            if kind == "AvgPool2d" and (f == "divisor_override" or
                                        chance(0.1)):
                kw["divisor_override"] = rint(1, int(np.prod(k)) + 2)
        if f == "tuple_args" and not any(isinstance(v, tuple)
                                         for v in kw.values()):
            kw["kernel_size"] = tuple(k)
        layer = Layer(kind, kw, shape)
        if try_shape(layer) is None:
            continue
        if force and force not in pool_classes(layer):
            continue
        return layer
    return None


def pool_classes(layer):
    d = int(layer.kind[-2])
    kw, c = layer.kw, set()
    k = as_list(kw["kernel_size"], d)
    st = as_list(kw["stride"], d) if "stride" in kw else k
    pad = as_list(kw.get("padding", 0), d)
    dil = as_list(kw.get("dilation", 1), d)
    c.add("stride_explicit" if "stride" in kw else "stride_default")
    if any(isinstance(v, tuple) for v in kw.values()):
        c.add("tuple_args")
    if kw.get("ceil_mode"):
        c.add("ceil_mode")
        sp = layer.in_shape[-d:]
        if layer.out_shape and any(
                layer.out_shape[-d + i] >
                floor_out(sp[i], k[i], st[i], pad[i], dil[i])
                for i in range(d)):
            c.add("ceil_adds_window")
    if any(p > 0 for p in pad):
        if layer.kind.startswith("Max"):
            c.add("padding")
        elif kw.get("count_include_pad", True):
            c.add("pad+include_pad")
        else:
            c.add("pad+exclude_pad")
    if any(x > 1 for x in dil):
        c.add("dilation")
    if "divisor_override" in kw:
        c.add("divisor_override")
    c.add("unbatched" if len(layer.in_shape) == d + 1 else "batched")
    return c


def gen_adaptive(kind, shape, force, budget):
    d = int(kind[-2])
    r = len(shape)
    if r not in (d + 1, d + 2):
        return None
    if force == "unbatched" and r != d + 1:
        return None
    if force == "batched" and r != d + 2:
        return None
    sp = list(shape[-d:])
    for _ in range(40):
        how = force if force in ("uneven", "larger", "one") else \
            pick("uneven", "uneven", "larger", "one", "any")
        o = []
        for n in sp:
            if how == "one":
                o.append(1)
            elif how == "larger":
                o.append(rint(n + 1, n + 4))
            elif how == "uneven":
                cands = [m for m in range(2, n) if n % m]
                o.append(R.choice(cands) if cands else rint(1, n))
            else:
                o.append(rint(1, n + 2))
        os_ = tup(o, force == "tuple" or (d == 1 and chance(0.1)))
        layer = Layer(kind, {"output_size": os_}, shape)
        if try_shape(layer) is None:
            continue
        if force and force not in adaptive_classes(layer):
            continue
        return layer
    return None


def adaptive_classes(layer):
    d = int(layer.kind[-2])
    o = as_list(layer.kw["output_size"], d)
    sp = layer.in_shape[-d:]
    c = set()
    if any(sp[i] % o[i] for i in range(d)):
        c.add("uneven")
    if any(o[i] > sp[i] for i in range(d)):
        c.add("larger")
    if all(x == 1 for x in o):
        c.add("one")
    if d == 2 and isinstance(layer.kw["output_size"], tuple):
        c.add("tuple")
    c.add("unbatched" if len(layer.in_shape) == d + 1 else "batched")
    return c


# ---- batch norm, linear, flatten, activations

def gen_bn(kind, shape, force, budget):
    r = len(shape)
    if kind == "BatchNorm1d":
        ok = (2,) if force == "input2d" else (3,) if force == "input3d" \
            else (2, 3)
    else:
        ok = (4,)
    if r not in ok:
        return None
    C = shape[1]
    if 4 * C > budget:
        return None
    kw = {"num_features": C}
    if force == "eps" or chance(0.2):
        kw["eps"] = pick(1e-3, 1e-4, 0.01, 0.1, 2e-5)
    if force == "momentum" or chance(0.08):
        kw["momentum"] = pick(0.2, 0.01, 0.5)
    if force == "affine=false" or chance(0.12):
        kw["affine"] = False
    elif chance(0.05):
        kw["affine"] = True
    if force == "track_running_stats=false" or chance(0.1):
        if int(np.prod(shape)) // C < 4:
            return None
        kw["track_running_stats"] = False
    return Layer(kind, kw, shape)


def gen_linear(shape, force, budget):
    r = len(shape)
    if force in ("in1d", "in2d", "in3d", "in4d") and r != int(force[2]):
        return None
    n = shape[-1]
    if n > MAX_FAN_IN:
        return None
    bias = not (force == "bias=false" or chance(0.2))
    hi = min(48 if chance(0.7) else 128, (budget - 1) // (n + 1))
    if hi < 1:
        return None
    out = rint(1, hi)
    kw = {"in_features": n, "out_features": out}
    if not bias or chance(0.1):
        kw["bias"] = bias
    layer = Layer("Linear", kw, shape)
    layer.fan_in = n
    return layer


def gen_flatten(shape, force, budget):
    r = len(shape)
    for _ in range(20):
        kw = {}
        how = force or pick("default", "default", "explicit", "negative")
        if how != "default":
            s = rint(0, r - 1)
            e = rint(s, r - 1)
            ss = s - r if (how == "negative" and chance(0.6)) else s
            ee = e - r if (how == "negative" and (ss >= 0 or chance(0.5))) \
                else e
            kw["start_dim"] = ss
            if chance(0.7) or ee != -1:
                kw["end_dim"] = ee
        layer = Layer("Flatten", kw, shape)
        if try_shape(layer) is None:
            continue
        if force and force not in flatten_classes(layer):
            continue
        return layer
    return None


def flatten_classes(layer):
    if not layer.kw:
        return {"default"}
    c = {"explicit"}
    if any(v < 0 for v in layer.kw.values()):
        c.add("negative")
    return c


def gen_act(kind, shape, force, budget):
    r = len(shape)
    kw = {}
    if kind == "LeakyReLU" and (force == "slope" or chance(0.7)):
        kw["negative_slope"] = pick(0.01, 0.1, 0.2, 0.3, 1.5, 0.05)
    if kind == "ELU" and (force == "alpha" or chance(0.7)):
        kw["alpha"] = pick(0.5, 1.0, 1.5, 2.0, 0.25)
    if kind == "GELU" and (force == "tanh" or (force != "default" and
                                               chance(0.5))):
        kw["approximate"] = "tanh"
    if kind == "Dropout":
        kw["p"] = pick(0.3, 0.3, 0.5, 0.1)
    if kind in ("Softmax", "LogSoftmax"):
        if force and force[0] == "r":
            if r != int(force[1]):
                return None
            dd = int(force[3])
            dim = dd - r if chance(0.4) else dd
        elif force == "dim_neg":
            dim = -rint(1, r)
        elif force == "dim_pos":
            dim = rint(0, r - 1)
        else:
            dim = rint(0, r - 1) if chance(0.6) else -rint(1, r)
        kw["dim"] = dim
    if kind in INPLACE_KINDS and (force == "inplace" or chance(0.15)):
        kw["inplace"] = True
    return Layer(kind, kw, shape)


def act_classes(layer):
    kind, kw, c = layer.kind, layer.kw, set()
    if kind in ("ReLU", "ReLU6", "Sigmoid", "Tanh", "SiLU", "Identity"):
        c.add("used")
    if kind == "LeakyReLU" and "negative_slope" in kw:
        c.add("slope")
    if kind == "ELU" and "alpha" in kw:
        c.add("alpha")
    if kind == "GELU":
        c.add("tanh" if kw.get("approximate") == "tanh" else "default")
    if kind == "Dropout":
        c.add("p")
    if kind in ("Softmax", "LogSoftmax"):
        r, dim = len(layer.in_shape), kw["dim"]
        c.add("dim_neg" if dim < 0 else "dim_pos")
        if r in (3, 4):
            c.add("r%dd%d" % (r, dim % r))
    return c


def gen_layer(kind, shape, force, budget):
    if kind.startswith("Conv"):
        layer = gen_conv(int(kind[4]), shape, force, budget)
    elif kind in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
        return gen_pool(kind, shape, force, budget)
    elif kind.startswith("Adaptive"):
        return gen_adaptive(kind, shape, force, budget)
    elif kind.startswith("BatchNorm"):
        layer = gen_bn(kind, shape, force, budget)
    elif kind == "Linear":
        layer = gen_linear(shape, force, budget)
    elif kind == "Flatten":
        return gen_flatten(shape, force, budget)
    elif kind == "act":
        kind = R.choice(sorted(INPLACE_KINDS))
        layer = gen_act(kind, shape, "inplace", budget)
    else:
        layer = gen_act(kind, shape, force, budget)
    if layer is None or try_shape(layer) is None:
        return None
    return layer


def layer_classes(layer):
    k = layer.kind
    if k.startswith("Conv"):
        c = conv_classes(layer)
    elif k.startswith("Adaptive"):
        c = adaptive_classes(layer)
    elif "Pool" in k:
        c = pool_classes(layer)
    elif k.startswith("BatchNorm"):
        kw, c = layer.kw, set()
        if k == "BatchNorm1d":
            c.add("input%dd" % len(layer.in_shape))
        if "eps" in kw:
            c.add("eps")
        if "momentum" in kw:
            c.add("momentum")
        if kw.get("affine") is False:
            c.add("affine=false")
        if kw.get("track_running_stats") is False:
            c.add("track_running_stats=false")
    elif k == "Linear":
        c = {"in%dd" % len(layer.in_shape)} if len(layer.in_shape) <= 4 \
            else set()
        if layer.kw.get("bias") is False:
            c.add("bias=false")
    elif k == "Flatten":
        c = flatten_classes(layer)
    else:
        c = act_classes(layer)
    out = {"%s:%s" % (k, x) for x in c}
    if layer.kw.get("inplace"):
        out.add("act:inplace")
    return out


# --------------------------------------------------------------------------
# models

DOMAINS = {"flat": 0, "seq": 1, "img": 2, "vol": 3}


def initial_shape(domain, batched):
    d = DOMAINS[domain]
    if domain == "flat":
        sp = [rint(2, 64)]
    elif domain == "seq":
        sp = [rint(1, 8), rint(4, 40)]
    elif domain == "img":
        sp = [rint(1, 6), rint(3, 12), rint(3, 12)]
    else:
        sp = [rint(1, 4), rint(2, 7), rint(2, 7), rint(2, 7)]
    assert len(sp) == d + 1
    if batched:
        sp = [rint(1, 3)] + sp
    while int(np.prod(sp)) > MAX_INPUT:
        sp[-1] = max(1, sp[-1] // 2)
    return tuple(sp)


def domains_for(kind, feat):
    """(domain, batched) choices under which the target can be placed."""
    if kind in ("Conv1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d"):
        dd = ["seq"]
    elif kind in ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"):
        dd = ["img"]
        if kind == "MaxPool2d" and feat == "unbatched":
            dd = ["img", "seq"]
    elif kind == "Conv3d":
        dd = ["vol"]
    elif kind.startswith("BatchNorm"):
        ranks = {"input2d": (2,), "input3d": (3,)}.get(feat, (2, 3)) \
            if kind == "BatchNorm1d" else (4,)
        return [(dm, b) for dm, dd_ in DOMAINS.items() for b in (0, 1)
                if dd_ + 1 + b in ranks]
    elif kind == "Linear" and feat and feat.startswith("in"):
        r = int(feat[2])
        return [(dm, b) for dm, dd_ in DOMAINS.items() for b in (0, 1)
                if dd_ + 1 + b == r]
    elif kind in ("Softmax", "LogSoftmax") and feat and feat[0] == "r":
        r = int(feat[1])
        return [(dm, b) for dm, dd_ in DOMAINS.items() for b in (0, 1)
                if dd_ + 1 + b == r]
    else:
        dd = list(DOMAINS)
    if kind == "MaxPool2d" and feat == "unbatched":
        return [("img", 0), ("seq", 1)]
    return [(x, b) for x in dd for b in (0, 1)]


def kinds_for(shape, keep_rank):
    """Weighted candidate kinds for a random layer on this shape."""
    r = len(shape)
    ks = []
    if r in (2, 3):
        ks += ["Conv1d"] * 4 + ["MaxPool1d", "AvgPool1d",
                                "AdaptiveAvgPool1d"] * 2 + ["BatchNorm1d"] * 2
    if r in (3, 4):
        ks += ["Conv2d"] * 4 + ["MaxPool2d", "AvgPool2d",
                                "AdaptiveAvgPool2d"] * 2
    if r == 4:
        ks += ["BatchNorm2d"] * 2
    if r in (4, 5):
        ks += ["Conv3d"] * 4
    ks += ["Linear"] * (3 if r <= 2 else 1)
    if not keep_rank and r >= 2:
        ks += ["Flatten"] * 2
    ks += ACTS
    return ks


def pred_kinds(target_feat, shape):
    """Kinds to place right before a batch norm target, for the classes that
    depend on the previous layer."""
    r = len(shape)
    if target_feat == "foldable":
        return ["Conv1d"] if r == 3 else ["Conv2d"] if r == 4 else ["Linear"]
    if target_feat == "axis_mismatch":
        return ["Conv1d"] if r == 2 else ["Linear", "Conv2d"] if r == 3 \
            else ["Linear", "Conv3d"]
    if target_feat == "after_pool":
        return ["MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d"] if r in (2, 3) \
            else ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]
    if target_feat == "after_act":
        return ["ReLU", "Tanh", "GELU", "ELU", "LeakyReLU", "SiLU",
                "Sigmoid", "ReLU6"]
    return None


def bn_context(layer, prev):
    """The class of a batch norm given the layer before it."""
    if prev is None:
        return "first"
    k = prev.kind
    if k.startswith("Conv"):
        d = int(k[4])
        return "foldable" if len(prev.in_shape) == d + 2 else "axis_mismatch"
    if k == "Linear":
        return "foldable" if len(prev.out_shape) == 2 else "axis_mismatch"
    if "Pool" in k:
        return "after_pool"
    if k in ("Dropout", "Identity", "Flatten") or k.startswith("BatchNorm"):
        return None
    return "after_act"


class Model:
    pass


def gen_structure(target):
    """Layers and input shape for one model that exercises `target`
    (a class like "Conv2d:same"), or None."""
    tkind, tfeat = target.split(":", 1)
    if tkind in ("model", "weights"):
        lkind, lfeat = None, None
        dom = [(x, b) for x in DOMAINS for b in (0, 1)]
        if tfeat == "batched" or tfeat.startswith("batch="):
            dom = [(x, 1) for x in DOMAINS]
        elif tfeat == "unbatched":
            dom = [(x, 0) for x in DOMAINS]
    elif tkind == "act":
        lkind, lfeat = "act", "inplace"
        dom = [(x, b) for x in DOMAINS for b in (0, 1)]
    else:
        lkind, lfeat = tkind, tfeat
        dom = domains_for(tkind, tfeat)
    domain, batched = R.choice(dom)
    shape = initial_shape(domain, batched)
    if tfeat.startswith("batch="):
        shape = (int(tfeat[6]),) + shape[1:]
    budget = int(math.exp(R.uniform(math.log(60), math.log(MAX_PARAMS))))
    if tkind == "weights" and tfeat.startswith("inline"):
        budget = min(budget, 400)
    n = rint(1, 8)
    if tfeat == "single_layer":
        n = 1
    if tfeat == "len>=6":
        n = rint(6, 8)
    bn_ctx = lkind and lkind.startswith("BatchNorm") and \
        lfeat in ("foldable", "axis_mismatch", "after_pool", "after_act")
    if lkind:
        pos = rint(1 if bn_ctx else 0, max(1 if bn_ctx else 0, n - 1))
        n = max(n, pos + 1)
        if lfeat == "first":
            pos = 0
    else:
        pos = -1
    layers = []
    for i in range(n):
        if i == pos:
            layer = gen_layer(lkind, shape, lfeat, budget)
            if layer is None:
                return None
        else:
            keep = i < pos
            if i == 0 and tfeat == "first_act":
                kinds = ACTS
            elif i == n - 1 and tfeat == "last_inplace":
                kinds = sorted(INPLACE_LAST - {"Identity", "Dropout"})
            elif i == n - 1 and tfeat == "last_noop":
                kinds = ["Identity", "Dropout"]
            elif bn_ctx and i == pos - 1:
                kinds = pred_kinds(lfeat, shape)
                if lfeat in ("foldable", "axis_mismatch"):
                    kinds = [k for k in kinds if k != "Flatten"]
            else:
                kinds = kinds_for(shape, keep)
            if not kinds:
                return None
            layer = None
            for _ in range(8):
                kind = R.choice(kinds)
                layer = gen_layer(kind, shape, None, budget)
                if layer is not None and keep and \
                        len(layer.out_shape) != len(shape):
                    layer = None
                if layer is not None and bn_ctx and i == pos - 1 and \
                        lfeat == "foldable" and kind == "Linear" and \
                        len(shape) != 2:
                    layer = None
                if layer is not None:
                    break
            if layer is None:
                return None
        budget -= nparams(layer)
        layers.append(layer)
        shape = layer.out_shape
    m = Model()
    m.layers = layers
    m.input = layers[0].in_shape
    m.drawn_batched = batched
    return m


def model_batched(m):
    """Whether the input has a batch dimension, as the first layer that
    cares sees it (a Linear sees (N, F) as batched, (F) as not); with only
    elementwise layers and Flatten, the rank the input was drawn with."""
    for layer in m.layers:
        k, r = layer.kind, len(layer.in_shape)
        if k.startswith("Conv") or "Pool" in k:
            return r == int(k[-2]) + 2
        if k.startswith("BatchNorm"):
            return True
        if k == "Linear":
            return r >= 2
    return m.drawn_batched


def classify(m):
    """All classes the model exercises, per layer and model-level."""
    prev = None
    for layer in m.layers:
        layer.classes = layer_classes(layer)
        if layer.kind.startswith("BatchNorm"):
            ctx = bn_context(layer, prev)
            if ctx:
                layer.classes.add("%s:%s" % (layer.kind, ctx))
        prev = layer
    mc = set()
    m.batched = model_batched(m)
    mc.add("model:batched" if m.batched else "model:unbatched")
    if m.batched:
        mc.add("model:batch=%d" % m.input[0])
    if len(m.layers) == 1:
        mc.add("model:single_layer")
    if len(m.layers) >= 6:
        mc.add("model:len>=6")
    if m.layers[0].kind in ACTS and m.layers[0].kind not in (
            "Identity", "Dropout"):
        mc.add("model:first_act")
    if m.layers[-1].kind in ("Identity", "Dropout"):
        mc.add("model:last_noop")
    elif m.layers[-1].kind in INPLACE_LAST:
        mc.add("model:last_inplace")
    mc |= {"weights:" + w for w in m.wtags}
    m.model_classes = mc
    m.classes = set(mc)
    for layer in m.layers:
        m.classes |= layer.classes
    return m.classes


# --------------------------------------------------------------------------
# parameters, reference run

def random_params(layer, module, rng):
    """Random float32 values for every parameter/buffer of the layer."""
    out = {}
    fan = max(1, layer.fan_in)
    for key, t in layer.params(module):
        shape = tuple(t.shape)
        if layer.kind.startswith("BatchNorm"):
            if key == "weight":
                a = rng.uniform(0.75, 1.25, shape)
            elif key == "bias":
                a = rng.uniform(-0.5, 0.5, shape)
            elif key == "running_mean":
                a = rng.uniform(-0.5, 0.5, shape)
            else:
                a = rng.uniform(0.5, 2.0, shape)
        elif key == "weight":
            a = rng.standard_normal(shape) / math.sqrt(fan)
        else:
            a = rng.uniform(-1, 1, shape) / math.sqrt(fan)
        out[key] = a.astype(np.float32)
    return out


def build(m):
    """The nn.Sequential with the model's parameters, as modelc must see
    them (seeded init, then file values, then inline values)."""
    torch.manual_seed(m.seed if m.seed is not None else 0)
    mods = [layer.build() for layer in m.layers]
    with torch.no_grad():
        for layer, mod in zip(m.layers, mods):
            target = mod.inner if isinstance(mod, Unsqueezed) else mod
            sd = dict(target.state_dict())
            vals = {}
            if m.file:
                vals.update(layer.file_vals)
            vals.update(layer.inline)
            for key, a in vals.items():
                sd[key].copy_(torch.from_numpy(a))
    return nn.Sequential(*mods).eval()


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, (tuple, list)):
        return "{" + ", ".join(lua_value(x) for x in v) + "}"
    raise TypeError(v)


def lua_array(a):
    if a.ndim == 1:
        return "{" + ", ".join(repr(float(x)) for x in a) + "}"
    return "{" + ", ".join(lua_array(x) for x in a) + "}"


def lua_layer(layer):
    params = sig(layer.kind)
    given = dict(layer.args)
    k_max = 0
    for p in params:
        if p.name not in given:
            break
        k_max += 1
    required = sum(1 for p in params if p.default is inspect.Parameter.empty)
    lo = min(required, k_max)
    k = rint(lo, k_max) if not chance(0.05) else rint(0, k_max)
    parts = [lua_value(v) for _, v in layer.args[:k]]
    parts += ["%s = %s" % (n, lua_value(v)) for n, v in layer.args[k:]]
    if layer.name:
        parts.append('name = "%s"' % layer.name)
    text = "nn.%s{%s" % (layer.kind, ", ".join(parts))
    for key in ("weight", "bias", "running_mean", "running_var"):
        if key in layer.inline:
            text += ",\n    %s = %s" % (key, lua_array(layer.inline[key]))
    return text + "}"


NAME_PREFIX = {"Conv": "conv", "Line": "fc", "Batc": "bn", "MaxP": "pool",
               "AvgP": "pool", "Adap": "gap", "Flat": "flatten",
               "Drop": "drop"}


def assign_names(m):
    used = collections.Counter()
    for layer in m.layers:
        has_params = nparams(layer) > 0
        if not has_params and not chance(0.3):
            continue
        base = NAME_PREFIX.get(layer.kind[:4], "act")
        used[base] += 1
        layer.name = "%s%d" % (base, used[base])


def finish(m, idx, rng):
    """Decide the weights source, draw values, run the reference; False if
    the model must be redrawn."""
    name = "m%03d" % idx
    m.name = name
    m.wtags = set()
    wt = m.want_weights
    total = sum(nparams(layer) for layer in m.layers)
    if total > MAX_PARAMS:
        return False
    m.seed = None
    m.file = None
    if wt == "seed" or wt == "inline+seed" or (total == 0 and chance(0.5)):
        m.seed = rint(0, 99999)
        m.wtags.add("seed")
    elif wt == "none" or total == 0:
        m.wtags.add("none")
    else:
        m.file = name + ".safetensors"
        m.wtags.add("file")
    if wt == "named" and m.file:
        assign_names(m)
        m.wtags.add("named")
    torch.manual_seed(0)
    for layer in m.layers:
        mod = layer.build()
        layer.file_vals = random_params(layer, mod, rng)
        layer.inline = {}
    if wt.startswith("inline"):
        small = [layer for layer in m.layers
                 if 0 < sum(a.size for a in layer.file_vals.values())
                 <= INLINE_MAX]
        if not small:
            return False
        R.shuffle(small)
        for layer in small[:rint(1, len(small))]:
            keys = [k for k in layer.file_vals if chance(0.7)] or \
                [R.choice(list(layer.file_vals))]
            for k in keys:
                layer.inline[k] = random_params(layer, layer.build(),
                                                rng)[k]
            if "bias" in layer.inline and "bias" in layer.kw:
                # `bias = true` and `bias = {...}` would be one Lua key
                assert layer.kw["bias"] is True
                del layer.kw["bias"]
                layer.args = [(n, v) for n, v in layer.args if n != "bias"]
        m.wtags.add("inline")
        if m.seed is not None:
            m.wtags.add("inline+seed")
        decoy = m.file and (wt == "inline+decoy" or chance(0.5))
        if decoy:
            m.wtags.add("inline+decoy")
        m.decoy = decoy
    else:
        m.decoy = False
    # the input and the reference outputs
    x = rng.standard_normal(m.input).astype(np.float32)
    y = reference(m, x)
    if y is None:
        return False
    m.x, m.y = x, y
    return True


def reference(m, x):
    """PyTorch's float32 output of the model (built by build(m)) on x, or
    None if the model must be redrawn: an output not finite, above 1e3 or
    all below 1e-3, or float32 and float64 disagreeing by more than a
    tenth of the test tolerance."""
    net = build(m)
    with torch.no_grad():
        try:
            y = net(torch.from_numpy(x.copy())).numpy().copy()
            y64 = net.double()(torch.from_numpy(x.astype(np.float64))).numpy()
        except Exception as e:  # a bug here: shapes were checked layer-wise
            raise RuntimeError("%s: %s" % (m.name, e))
    if tuple(y.shape) != tuple(m.layers[-1].out_shape):
        raise RuntimeError("%s: shape %s != %s" % (m.name, y.shape,
                                                   m.layers[-1].out_shape))
    if not np.all(np.isfinite(y)) or np.max(np.abs(y)) > 1e3:
        return None
    if np.max(np.abs(y)) < 1e-3:
        return None
    err = np.abs(y.astype(np.float64) - y64)
    if np.any(err > 0.1 * (ATOL + RTOL * np.abs(y64))):
        return None
    return y


def write_model(m, out_dir, tool="tools/gen_model_fixture.py"):
    lines = ["-- Generated by %s; do not edit." % tool,
             'return model "%s" {' % m.name,
             "  input = %s," % lua_value(tuple(m.input))]
    if m.file:
        lines.append('  weights = "%s",' % m.file)
    if m.seed is not None:
        lines.append("  seed = %d," % m.seed)
    for layer in m.layers:
        lines.append("  %s," % lua_layer(layer))
    lines.append("}")
    with open(os.path.join(out_dir, m.name + ".lua"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if m.file:
        tensors = []
        for i, layer in enumerate(m.layers):
            prefix = layer.name or str(i)
            for key, a in layer.file_vals.items():
                if key in layer.inline and not m.decoy:
                    continue
                tensors.append(("%s.%s" % (prefix, key), torch.from_numpy(a)))
        write_safetensors(os.path.join(out_dir, m.file), tensors)
    np.save(os.path.join(out_dir, m.name + ".in.npy"), m.x)
    np.save(os.path.join(out_dir, m.name + ".out.npy"), m.y)


def index_line(m):
    parts = []
    for layer in m.layers:
        cs = sorted(c.split(":", 1)[1] for c in layer.classes
                    if c.startswith(layer.kind + ":"))
        if layer.kw.get("inplace"):
            cs.append("inplace")
        if layer.name:
            cs.append("name=" + layer.name)
        if layer.inline:
            cs.append("inline=" + "+".join(layer.inline))
        parts.append("%s[%s]" % (layer.kind, ",".join(cs)))
    tags = sorted(m.model_classes) + ["input=" + "x".join(map(str, m.input))]
    return "%s\t%s\t%s" % (m.name, " ".join(parts), " ".join(tags))


# --------------------------------------------------------------------------
# --verify: rebuild every model from its files alone and compare

def lua_tokens(text):
    """Tokens of the Lua subset the specs use (no string escapes)."""
    import re
    pat = re.compile(r'\s+|--[^\n]*|"[^"\n]*"|[A-Za-z_][A-Za-z_0-9]*|'
                     r'-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[{}=,.]')
    at, out = 0, []
    while at < len(text):
        mt = pat.match(text, at)
        if not mt:
            raise ValueError("bad character at %d: %r" % (at, text[at:at + 20]))
        tok = mt.group(0)
        at = mt.end()
        if not tok.isspace() and not tok.startswith("--"):
            out.append(tok)
    return out


class LuaTable:
    def __init__(self):
        self.pos, self.keys = [], {}


def parse_spec(text):
    toks = lua_tokens(text)
    i = 0

    def expect(t):
        nonlocal i
        if toks[i] != t:
            raise ValueError("expected %s, got %s" % (t, toks[i]))
        i += 1

    def value():
        nonlocal i
        t = toks[i]
        if t == "{":
            return table()
        if t == "nn":
            i += 1
            expect(".")
            kind = toks[i]
            i += 1
            return ("layer", kind, table())
        i += 1
        if t.startswith('"'):
            return t[1:-1]
        if t in ("true", "false"):
            return t == "true"
        if any(ch in t for ch in ".eE"):
            return float(t)
        return int(t)

    def table():
        nonlocal i
        expect("{")
        tab = LuaTable()
        while toks[i] != "}":
            if toks[i + 1] == "=" and toks[i][0].isalpha():
                key = toks[i]
                i += 2
                assert key not in tab.keys, key
                tab.keys[key] = value()
            else:
                tab.pos.append(value())
            if toks[i] == ",":
                i += 1
            elif toks[i] != "}":
                raise ValueError("expected , or }, got %s" % toks[i])
        i += 1
        return tab

    expect("return")
    expect("model")
    name = value()
    spec = table()
    assert i == len(toks), "trailing tokens"
    return name, spec


def py_value(v):
    if isinstance(v, LuaTable):
        assert not v.keys
        return tuple(py_value(x) for x in v.pos)
    return v


def nested(v):
    if isinstance(v, LuaTable):
        return [nested(x) for x in v.pos]
    return float(v)


class MaybeUnsqueezed(nn.Module):
    """Circular conv: through a batch of one when the input is unbatched."""

    def __init__(self, inner, d):
        super().__init__()
        self.inner, self.d = inner, d

    def forward(self, x):
        if x.dim() == self.d + 1:
            return self.inner(x.unsqueeze(0)).squeeze(0)
        return self.inner(x)


def read_safetensors(path):
    """Strict by-hand reader: F32 only, tensors tiling the data exactly."""
    import json
    import struct
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0 and 8 + n <= len(data)
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body, out, spans = data[8 + n:], {}, []
    for key, info in header.items():
        assert key != "__metadata__"
        assert info["dtype"] == "F32", info
        b, e = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert e - b == 4 * count, (key, info)
        out[key] = np.frombuffer(body[b:e], dtype="<f4").reshape(
            info["shape"]).copy()
        spans.append((b, e))
    at = 0
    for b, e in sorted(spans):
        assert b == at, "hole or overlap"
        at = e
    assert at == len(body), "trailing bytes"
    return out


def verify_model(path):
    """Rebuild the model from mNNN.lua (+ .safetensors) alone, run it on
    mNNN.in.npy and compare with mNNN.out.npy; returns a short summary."""
    base = os.path.basename(path)[:-4]
    name, spec = parse_spec(open(path).read())
    assert name == base, (name, base)
    assert set(spec.keys) <= {"input", "weights", "seed"}, spec.keys
    shape = py_value(spec.keys["input"])
    x = np.load(path[:-4] + ".in.npy")
    y = np.load(path[:-4] + ".out.npy")
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert tuple(x.shape) == shape, (x.shape, shape)
    torch.manual_seed(spec.keys.get("seed", 0))
    mods, meta = [], []
    for idx, item in enumerate(spec.pos):
        assert item[0] == "layer"
        kind, tab = item[1], item[2]
        names = [p.name for p in sig(kind)]
        kw = {}
        for j, v in enumerate(tab.pos):
            kw[names[j]] = py_value(v)
        inline, lname = {}, str(idx)
        for k, v in tab.keys.items():
            if k == "name":
                lname = v
            elif k in ("weight", "bias", "running_mean", "running_var") \
                    and isinstance(v, LuaTable):
                # `bias = false` is Conv's/Linear's argument, a table inline
                inline[k] = np.array(nested(v), dtype=np.float64)
            else:
                assert k in names and k not in kw, (kind, k)
                kw[k] = py_value(v)
        mod = getattr(nn, kind)(**kw)
        if kind.startswith("Conv") and kw.get("padding_mode") == "circular":
            mod = MaybeUnsqueezed(mod, int(kind[4]))
        mods.append(mod)
        meta.append((lname, inline))
    file = {}
    if "weights" in spec.keys:
        assert spec.keys["weights"] == base + ".safetensors"
        file = read_safetensors(os.path.join(os.path.dirname(path),
                                             spec.keys["weights"]))
    used, n_inline = set(), 0
    with torch.no_grad():
        for mod, (lname, inline) in zip(mods, meta):
            target = mod.inner if isinstance(mod, MaybeUnsqueezed) else mod
            for key, t in target.state_dict().items():
                if key == "num_batches_tracked":
                    continue
                fkey = lname + "." + key
                if key in inline:
                    a = inline.pop(key)
                    # the printed decimal is the float32 value exactly
                    assert np.array_equal(a.astype(np.float32), a), fkey
                    n_inline += 1
                elif file or "weights" in spec.keys:
                    assert fkey in file, "missing " + fkey
                    a = file[fkey]
                    used.add(fkey)
                else:
                    continue
                assert tuple(a.shape) == tuple(t.shape), (fkey, a.shape)
                t.copy_(torch.from_numpy(a.astype(np.float32)))
            assert not inline, ("inline for no parameter", inline)
    decoys = set(file) - used
    net = nn.Sequential(*mods).eval()
    with torch.no_grad():
        got = net(torch.from_numpy(x.copy())).numpy()
    assert got.shape == y.shape, (got.shape, y.shape)
    same = "bit-identical"
    if not np.array_equal(got, y):
        err = np.max(np.abs(got - y) / (ATOL + RTOL * np.abs(y)))
        assert err < 0.01, "output differs: %g of the tolerance" % err
        same = "within %.2g of the tolerance" % err
    return "%d file tensors, %d inline, %d decoy, output %s" % (
        len(used), n_inline, len(decoys), same)


def verify(out_dir, prefix="m"):
    """Rebuild every PREFIXnnn.lua model in out_dir from its files alone and
    check it reproduces its .out.npy (also used by gen_tiny_fixture.py)."""
    specs = sorted(f for f in os.listdir(out_dir)
                   if f.startswith(prefix) and f.endswith(".lua"))
    for f in specs:
        summary = verify_model(os.path.join(out_dir, f))
        print("%s: ok, %s" % (f, summary))
    print("verified %d models" % len(specs))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=320)
    ap.add_argument("-o", default=DEFAULT_OUT)
    ap.add_argument("--verify", action="store_true",
                    help="rebuild each model from its files and compare")
    args = ap.parse_args(argv[1:])
    if args.verify:
        return verify(args.o)
    os.makedirs(args.o, exist_ok=True)
    for f in os.listdir(args.o):
        if f.startswith("m") and f.endswith((".lua", ".safetensors", ".npy")):
            os.remove(os.path.join(args.o, f))
    counts = collections.Counter()
    models = []
    for idx in range(1, args.n + 1):
        rng = np.random.default_rng(SEED + idx)
        # the least-covered class is this model's target
        low = min(counts[c] for c in ALL_CLASSES)
        target = R.choice([c for c in ALL_CLASSES if counts[c] == low])
        if target.startswith("weights:"):
            want = target.split(":")[1]
        else:
            u = R.random()
            want = "seed" if u < 1 / 6 else "inline" if u < 1 / 6 + 1 / 10 \
                else "named" if u < 1 / 6 + 1 / 10 + 1 / 8 \
                else "none" if u < 0.42 else "file"
            if want == "inline" and chance(0.3):
                want = "inline+seed"
        for attempt in range(2000):
            m = gen_structure(target)
            if m is None:
                continue
            m.want_weights = want
            if not finish(m, idx, rng):
                continue
            classify(m)
            if target not in m.classes:
                continue
            break
        else:
            raise RuntimeError("no model for target %s" % target)
        counts.update(m.classes)
        models.append(m)
        write_model(m, args.o)
    with open(os.path.join(args.o, "index.tsv"), "w") as f:
        f.write("# Generated by tools/gen_model_fixture.py (torch %s): "
                "name TAB layers (Kind[classes]) TAB model classes\n"
                % torch.__version__)
        for m in models:
            f.write(index_line(m) + "\n")
    # the coverage table
    print("%d models in %s" % (len(models), os.path.normpath(args.o)))
    missing = []
    width = max(len(c) for c in ALL_CLASSES) + 2
    for c in ALL_CLASSES + sorted(EXTRA):
        print("  %-*s %4d" % (width, c, counts[c]))
        if counts[c] == 0 and c not in EXTRA:
            missing.append(c)
    if missing:
        print("error: no model exercises %s" % ", ".join(missing),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
