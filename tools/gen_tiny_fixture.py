#!/usr/bin/python3
"""Reference fixtures for the vector lowering of small 1-D models
(compiler/kernels/vec1d.c): random models that all take it, with their PyTorch
outputs.

    /usr/bin/python3 tools/gen_tiny_fixture.py [-n COUNT] [-o DIR]
    /usr/bin/python3 tools/gen_tiny_fixture.py --verify [-o DIR]

writes (default: 80 models into tests/fixtures/tiny/, after removing the
t*.lua/.safetensors/.npy files already there) and prints a coverage table.
It exits 1 if any coverage class below has no model.  --verify rebuilds
every model from its files alone and checks its output, with
tools/gen_model_fixture.py's reader.

The files are those of tests/fixtures/models/ (see gen_model_fixture.py,
whose spec writer, weight drawing, safetensors writer and float32/float64
cross-check this script imports): tNNN.lua, tNNN.safetensors (most models;
weights normal with std 1/sqrt(fan_in)) or `seed = N` (about 1/6),
tNNN.in.npy, tNNN.out.npy and index.tsv.  The models are named tNNN, not
mNNN, so that tests/test_models.c can compile them next to the models of
tests/fixtures/models/ (a model's name is its C file's and its symbols').

Every model fits the lowering: the generator mirrors vec1d.c's fits() (the
grammar: a Conv1d or Linear first; then Conv1d with groups 1 and zero
padding, MaxPool1d, AvgPool1d, Linear after Flatten or Linear, BatchNorm1d
folded into a batched Conv1d or a Linear on (N, F), activations, Dropout,
Identity, Flatten; each tensor <= 4096 floats per sample with channels
padded to 8, <= 2048 vector statements unrolled over the Conv1d and pool
layers, Linear in*out <= 262144), and its planning (the positions each op
must compute, the pools fused into the convolution before them, a Linear's
dot or axpy form) to classify the models.  tests/test_models.c checks that
every model of the directory really takes the lowering.

Coverage classes (every one must have >= 1 model; the generator targets the
least-covered class for each new model):
  Conv1d: first, after_conv, after_pool, batched, unbatched, stride=2,
    stride=3, dilation=2, pad_int, same, same_even_k, valid, bias=false,
    mode=zeros (written out), edge_taps (taps in the padding skipped),
    no_taps (an output position whose taps all read padding: the bias),
    reads_nothing (every position computed is such), split (two chains of
    FMAs per vector), out%8!=0, out%8==0, out>32 (more than 4 vectors of
    outputs: one chain of FMAs), unread (output positions that no op reads
    are not computed), last (output scattered to PyTorch's layout),
    bn_folded, act, fused_max, fused_avg (the pool after it is computed in
    its registers).
  MaxPool1d: stride_default, padding, ceil_mode, ceil_adds_window (ceil
    mode gives one more output), dilation, overlap (windows overlap: not
    fused), disjoint_unfused (after a pool: not fused either), fused,
    relu_late (ReLU then a fused MaxPool: the max is taken before the
    ReLU), relu_before (ReLU then an overlapping MaxPool), act_before
    (another activation on its input), act_after, after_pool, unread,
    last, reads_nothing (dilation and padding on a short input: its one
    window reads only padding, -inf, and the ops before it compute
    nothing).
  AvgPool1d: stride_default, pad+include_pad, pad+exclude_pad, ceil_mode,
    ceil_adds_window, overlap, disjoint_unfused, fused, act_before,
    act_after, unread, last.
  Linear: first_batched (N, F), first_unbatched (F), after_flatten (of a
    batched (N, C, L)), after_flatten0 (Flatten(0) of an unbatched (C, L)),
    after_linear, dot, dot_few (fewer than 4 vectors per output: fewer
    partial sums), dot_loop (more than 20 vectors per output: a loop),
    dot_loop_rest (vectors left after the loop's last round), dot_act,
    axpy_input (reading the model's input), axpy_short (fewer than 4
    inputs: one chain of FMAs), axpy_unrolled (inputs x vectors of outputs
    <= 64), axpy_loop, axpy_loop_tail (an odd number of inputs, two per
    round: the last one after the loop), axpy_wide (more than 4 vectors of
    outputs), axpy_padded (a loop over a source with padding lanes),
    bias=false, bn_folded, last.
  BatchNorm1d: folded_conv, folded_linear.
  ReLU, ReLU6, Sigmoid, Tanh, SiLU, Identity: used; LeakyReLU: slope;
    ELU: alpha; GELU: default, tanh; Dropout: p; Flatten: default, start0.
  channels: 1, 3, 5, 8, 13, 16, 24, 33 (the model's input channels or a
    Conv1d's output channels).
  model: batch=1, batch=2, batch=3, unbatched, ends_conv, ends_pool,
    ends_linear, mlp (two Linear with an activation between), len>=6.
  weights: file, seed.
The two reads_nothing classes are degenerate models: exactly one each.

The fixture's own limits keep it small and quick to compile: <= 3000
parameters and <= 400 input floats per sample per model, and <= 128
vector statements unrolled (gcc -O1 spends some 15 ms on each with the
portable mc_v8, the struct of 8 floats), so the models stay far below
vec1d.c's limits.
"""

import argparse
import collections
import os
import random
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_model_fixture as gmf  # noqa: E402
from gen_model_fixture import Layer  # noqa: E402

SEED = 20250302
DEFAULT_OUT = os.path.join(gmf.REPO, "tests", "fixtures", "tiny")
TOOL = "tools/gen_tiny_fixture.py"

# compiler/kernels/vec1d.c's limits
TINY_MAX_FLOATS = 4096
TINY_MAX_UNROLL = 2048
TINY_MAX_LINEAR = 1 << 18
MC_MAXFUSE = 16

# the fixture's own: small files, quick to compile (see above)
MAX_PARAMS = 3000         # per model
MAX_INPUT = 400           # input floats per sample
MAX_UNROLL = 128          # vector statements unrolled, per model

R = random.Random(SEED)
gmf.R = random.Random(SEED + 1)  # gen_model_fixture's spec writer draws too

CHANNELS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 24, 32, 33]
ACTS = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "GELU",
        "SiLU"]
WINDOWS = ("Conv1d", "MaxPool1d", "AvgPool1d")

REQUIRED = collections.OrderedDict()
REQUIRED["Conv1d"] = [
    "first", "after_conv", "after_pool", "batched", "unbatched", "stride=2",
    "stride=3", "dilation=2", "pad_int", "same", "same_even_k", "valid",
    "bias=false", "mode=zeros", "edge_taps", "no_taps", "reads_nothing",
    "split", "out%8!=0", "out%8==0", "out>32", "unread", "last",
    "bn_folded", "act", "fused_max", "fused_avg"]
REQUIRED["MaxPool1d"] = [
    "stride_default", "padding", "ceil_mode", "ceil_adds_window", "dilation",
    "overlap", "disjoint_unfused", "fused", "relu_late", "relu_before",
    "act_before", "act_after", "after_pool", "unread", "last",
    "reads_nothing"]
REQUIRED["AvgPool1d"] = [
    "stride_default", "pad+include_pad", "pad+exclude_pad", "ceil_mode",
    "ceil_adds_window", "overlap", "disjoint_unfused", "fused", "act_before",
    "act_after", "unread", "last"]
REQUIRED["Linear"] = [
    "first_batched", "first_unbatched", "after_flatten", "after_flatten0",
    "after_linear", "dot", "dot_few", "dot_loop", "dot_loop_rest",
    "dot_act", "axpy_input", "axpy_short", "axpy_unrolled", "axpy_loop",
    "axpy_loop_tail", "axpy_wide", "axpy_padded", "bias=false",
    "bn_folded", "last"]
REQUIRED["BatchNorm1d"] = ["folded_conv", "folded_linear"]
for k in ("ReLU", "ReLU6", "Sigmoid", "Tanh", "SiLU", "Identity"):
    REQUIRED[k] = ["used"]
REQUIRED["LeakyReLU"] = ["slope"]
REQUIRED["ELU"] = ["alpha"]
REQUIRED["GELU"] = ["default", "tanh"]
REQUIRED["Dropout"] = ["p"]
REQUIRED["Flatten"] = ["default", "start0"]
REQUIRED["channels"] = [str(c) for c in (1, 3, 5, 8, 13, 16, 24, 33)]
REQUIRED["model"] = ["batch=1", "batch=2", "batch=3", "unbatched",
                     "ends_conv", "ends_pool", "ends_linear", "mlp",
                     "len>=6"]
REQUIRED["weights"] = ["file", "seed"]

ALL_CLASSES = ["%s:%s" % (k, c) for k, cs in REQUIRED.items() for c in cs]
# degenerate models (a pool or a convolution that reads nothing): one
# each, and no other model like them
ONCE = {"Conv1d:reads_nothing", "MaxPool1d:reads_nothing"}


def chance(p):
    return R.random() < p


def pick(*xs):
    return R.choice(xs)


def rint(lo, hi):
    return R.randint(lo, hi)


def pad8(c):
    return (c + 7) // 8 * 8


# --------------------------------------------------------------------------
# a mirror of compiler/lower.c and compiler/kernels/vec1d.c's planning

ROLES = {"Conv1d": "op", "Linear": "op", "MaxPool1d": "op",
         "AvgPool1d": "op", "BatchNorm1d": "bn", "Flatten": "noop",
         "Dropout": "noop", "Identity": "noop"}


def role(kind):
    return ROLES.get(kind, "act" if kind in ACTS else "unknown")


def window(layer):
    """Kernel, stride, dilation and low padding of a sliding-window layer,
    as vec1d.c's window() sees them."""
    kw = layer.kw
    k = kw["kernel_size"]
    if layer.kind == "Conv1d":
        s, d, p = kw.get("stride", 1), kw.get("dilation", 1), \
            kw.get("padding", 0)
        if p == "same":
            p = d * (k - 1) // 2
        elif p == "valid":
            p = 0
        return k, s, d, p
    s = kw.get("stride") or k
    d = kw.get("dilation", 1) if layer.kind == "MaxPool1d" else 1
    return k, s, d, kw.get("padding", 0)


class Op:
    def __init__(self, main, in_shape):
        self.main = main
        self.inp = tuple(in_shape)
        self.out = tuple(main.out_shape) if main else tuple(in_shape)
        self.acts, self.bn = [], None
        self.pooled = self.fused = False


def can_fold(op, bn):
    if not op or not op.main or op.bn or op.acts or \
            not bn.kw.get("track_running_stats", True):
        return False
    if op.out != tuple(op.main.out_shape):
        return False  # a Flatten in between
    if op.main.kind == "Conv1d":
        return len(op.main.out_shape) == 3
    return op.main.kind == "Linear" and len(op.main.out_shape) == 2


def lower(m):
    ops, cur, shape = [], None, tuple(m.input)
    for layer in m.layers:
        r = role(layer.kind)
        if r == "act":
            if cur is None or len(cur.acts) == MC_MAXFUSE:
                cur = Op(None, shape)
                ops.append(cur)
            cur.acts.append(layer)
        elif r == "bn":
            if can_fold(cur, layer):
                cur.bn = layer
            else:
                cur = Op(layer, shape)
                ops.append(cur)
        elif r == "op":
            cur = Op(layer, shape)
            ops.append(cur)
        elif r != "noop":
            raise ValueError(layer.kind)
        if cur:
            cur.out = tuple(layer.out_shape)
        shape = tuple(layer.out_shape)
    return ops


def src_view(ops, i):
    """(channels, positions, padded channels or 0 for the model input)."""
    if i > 0:
        p = ops[i - 1]
        return p.vc, p.vl, p.vcp
    s = ops[0].inp
    if ops[0].main.kind == "Linear":
        return s[-1], 1, 0
    return s[-2], s[-1], 0


def plan(m):
    """The ops of the model as vec1d.c plans them, or None if fits() would
    refuse the model."""
    ops = lower(m)
    if not ops or not ops[0].main:
        return None
    inp = ops[0].inp
    k0 = ops[0].main.kind
    if k0 == "Conv1d":
        batched = len(inp) == 3
    elif k0 == "Linear":
        batched = len(inp) == 2
        if len(inp) > 2:
            return None
    else:
        return None
    n = inp[0] if batched else 1
    unroll = 0
    for i, op in enumerate(ops):
        lay = op.main
        if not lay:
            return None
        c, length, _ = src_view(ops, i)
        s = op.inp
        if lay.kind in WINDOWS:
            if (len(s) != 3 or s[0] != n) if batched else len(s) != 2:
                return None
            if s[-2] != c or s[-1] != length:
                return None
            if lay.kind == "Conv1d" and (
                    lay.kw.get("groups", 1) != 1 or
                    lay.kw.get("padding_mode", "zeros") != "zeros"):
                return None
            if lay.kind != "Conv1d" and i == 0:
                return None
            op.vc = lay.kw["out_channels"] if lay.kind == "Conv1d" else c
            op.vl = lay.out_shape[-1]
            k = window(lay)[0]
            per = c * k if lay.kind == "Conv1d" else k
            unroll += op.vl * per * (pad8(op.vc) // 8)
        elif lay.kind == "Linear":
            if len(s) == 2:
                if s[0] != n or s[1] != c * length:
                    return None
            elif len(s) != 1 or n != 1 or s[0] != c * length:
                return None
            fin, fout = lay.kw["in_features"], lay.kw["out_features"]
            if fin * fout > TINY_MAX_LINEAR:
                return None
            op.vc, op.vl = fout, 1
        else:
            return None
        if int(np.prod(op.out)) != n * op.vc * op.vl:
            return None
        op.vcp = pad8(op.vc)
        if op.vl * op.vcp > TINY_MAX_FLOATS:
            return None
    if unroll > TINY_MAX_UNROLL:
        return None
    # mark_needs
    for i in range(len(ops) - 1, -1, -1):
        op = ops[i]
        if i == len(ops) - 1 or ops[i + 1].main.kind not in WINDOWS:
            op.need = [True] * op.vl
            continue
        op.need = [False] * op.vl
        nxt = ops[i + 1]
        k, st, d, p = window(nxt.main)
        for t in range(nxt.vl):
            if not nxt.need[t]:
                continue
            for j in range(k):
                x = t * st + j * d - p
                if 0 <= x < op.vl:
                    op.need[x] = True
    # fuse_pools
    i = 0
    while i + 1 < len(ops):
        op, nxt = ops[i], ops[i + 1]
        if op.main.kind == "Conv1d" and nxt.main.kind in WINDOWS[1:]:
            k, st, d, p = window(nxt.main)
            if st >= (k - 1) * d + 1:
                op.pooled = nxt.fused = True
                i += 1
        i += 1
    m.batch, m.batched, m.unroll = n, batched, unroll
    return ops


def linear_form(ops, i):
    """How vec1d.c's linear_body computes op i: a dict of its choices."""
    op = ops[i]
    c, length, cp = src_view(ops, i)
    F = op.main.kw["in_features"]
    O = op.main.kw["out_features"]
    nqo = op.vcp // 8
    R = length * cp if cp else F
    f = {"R": R, "nqo": nqo, "padded": bool(cp) and cp > c}
    f["dot"] = bool(cp) and O * (R // 8 + 8) < R * nqo
    if f["dot"]:
        nch = R // 8
        nacc = min(nch, 4)
        f["few"] = nacc < 4
        f["loop"] = nch - nacc > 16
        f["rest"] = f["loop"] and (nch - nacc) % nacc != 0
    else:
        f["split"] = R >= 4 and nqo <= 4
        f["unrolled"] = R * nqo <= 64
        f["tail"] = not f["unrolled"] and f["split"] and R % 2 == 1
    return f


# --------------------------------------------------------------------------
# random models

class Model:
    pass


def mk(kind, kw, shape):
    layer = Layer(kind, kw, shape)
    if gmf.try_shape(layer) is None:
        return None
    return layer


def gen_conv(shape):
    C = shape[-2]
    kw = {"in_channels": C, "out_channels": pick(*CHANNELS)}
    k = rint(1, 5) if chance(0.6) else rint(1, 8)
    kw["kernel_size"] = k
    s = R.choice([1, 1, 1, 1, 2, 2, 3])
    d = 2 if chance(0.2) else 1
    if s != 1 or chance(0.1):
        kw["stride"] = s
    u = R.random()
    if u < 0.25:
        pad = "same" if s == 1 else rint(1, max(1, (k - 1) * d))
    elif u < 0.5:
        pad = rint(1, max(1, min(4, (k - 1) * d + 1)))
    elif u < 0.6:
        pad = "valid"
    else:
        pad = None
    if pad is not None:
        kw["padding"] = pad
    if d != 1:
        kw["dilation"] = d
    if chance(0.2):
        kw["bias"] = False
    if chance(0.08):
        kw["padding_mode"] = "zeros"
    return mk("Conv1d", kw, shape)


def gen_pool(kind, shape):
    k = R.choice([1, 2, 2, 2, 3, 3, 4])
    kw = {"kernel_size": k}
    if chance(0.6):
        kw["stride"] = R.choice([1, 1, 2, 2, 3, 4])
    if chance(0.35) and k >= 2:
        kw["padding"] = rint(1, k // 2)
    if kind == "MaxPool1d" and chance(0.2):
        kw["dilation"] = 2
    if chance(0.3):
        kw["ceil_mode"] = True
    if kind == "AvgPool1d" and chance(0.35):
        kw["count_include_pad"] = False
    return mk(kind, kw, shape)


def gen_act(shape):
    kind = R.choice(ACTS)
    kw = {}
    if kind == "LeakyReLU" and chance(0.8):
        kw["negative_slope"] = pick(0.01, 0.1, 0.2, 0.3)
    elif kind == "ELU" and chance(0.8):
        kw["alpha"] = pick(0.5, 1.0, 1.5)
    elif kind == "GELU" and chance(0.5):
        kw["approximate"] = "tanh"
    if kind in gmf.INPLACE_KINDS and chance(0.15):
        kw["inplace"] = True
    return mk(kind, kw, shape)


def gen_noop(shape):
    if chance(0.6):
        return mk("Dropout", {"p": pick(0.1, 0.25, 0.5)}, shape)
    return mk("Identity", {}, shape)


def add_post(layers, shape, bn_ok):
    """BatchNorm, activations, no-ops after a layer; the new shape."""
    if bn_ok and chance(0.25):
        kw = {"num_features": shape[1]}
        if chance(0.3):
            kw["eps"] = pick(1e-3, 1e-4)
        layers.append(mk("BatchNorm1d", kw, shape))
    u = R.random()
    nact = 0 if u < 0.35 else 1 if u < 0.85 else 2
    for _ in range(nact):
        layers.append(gen_act(shape))
    if chance(0.15):
        layers.append(gen_noop(shape))
    return shape


def window_unroll(layer):
    C, vl = layer.in_shape[-2], layer.out_shape[-1]
    k = window(layer)[0]
    if layer.kind == "Conv1d":
        return vl * C * k * (pad8(layer.kw["out_channels"]) // 8)
    return vl * k * (pad8(C) // 8)


def gen_linears(layers, shape, batched, count):
    for j in range(count):
        F = shape[-1]
        outs = [1, 2, 3, 4, 5, 8, 10, 13, 16, 24, 33, 40, 64]
        if j < count - 1:
            outs += [48, 64, 96, 200]
        for _ in range(10):
            O = R.choice(outs)
            if F * O <= MAX_PARAMS:
                break
        else:
            return None
        kw = {"in_features": F, "out_features": O}
        if chance(0.2):
            kw["bias"] = False
        lay = mk("Linear", kw, shape)
        if lay is None:
            return None
        layers.append(lay)
        shape = lay.out_shape
        last = j == count - 1
        add_post(layers, shape, batched and len(shape) == 2 and
                 (not last or chance(0.5)))
        if last and chance(0.6):
            # most models end in the Linear itself or one activation
            while len(layers) and role(layers[-1].kind) != "op":
                if role(layers[-1].kind) == "bn":
                    break
                layers.pop()
    return shape


def gen_structure(target):
    conv_pref = target.split(":")[0] in ("Conv1d", "MaxPool1d", "AvgPool1d",
                                         "channels", "BatchNorm1d")
    lin_first = target in ("Linear:first_batched", "Linear:first_unbatched",
                           "Linear:axpy_input", "Linear:axpy_loop_tail",
                           "model:mlp")
    u = R.random()
    if conv_pref or (not lin_first and u < 0.65):
        mode = "conv"
    else:
        mode = "linear"
    batched = chance(0.7)
    if target in ("model:unbatched", "Linear:first_unbatched",
                  "Linear:after_flatten0", "Conv1d:unbatched"):
        batched = False
    if target in ("model:batch=1", "model:batch=2", "model:batch=3",
                  "Linear:first_batched", "Linear:after_flatten",
                  "BatchNorm1d:folded_conv", "BatchNorm1d:folded_linear",
                  "Conv1d:batched", "Conv1d:bn_folded", "Linear:bn_folded"):
        batched = True
    if target == "Linear:first_batched" or target == "Linear:first_unbatched":
        mode = "linear"
    N = rint(1, 3)
    if target.startswith("model:batch="):
        N = int(target.split("=")[1])
    m = Model()
    layers = []
    if mode == "conv":
        C = pick(*CHANNELS)
        if target.startswith("channels:") and chance(0.5):
            C = int(target.split(":")[1])
        hi = max(2, min(48, MAX_INPUT // C))
        L = rint(1, hi) if chance(0.2) else rint(min(4, hi), hi)
        shape = (N, C, L) if batched else (C, L)
        m.input = shape
        nwin = R.choice([1, 1, 2, 2, 2, 3, 3, 4])
        unroll = 0
        for j in range(nwin):
            lay = None
            for _ in range(20):
                if j == 0:
                    kind = "Conv1d"
                else:
                    kind = R.choice(["Conv1d", "MaxPool1d", "MaxPool1d",
                                     "AvgPool1d"])
                lay = gen_conv(shape) if kind == "Conv1d" \
                    else gen_pool(kind, shape)
                if lay is None:
                    continue
                vc = lay.out_shape[-2]
                if pad8(vc) * lay.out_shape[-1] > TINY_MAX_FLOATS:
                    lay = None
                    continue
                if unroll + window_unroll(lay) > MAX_UNROLL:
                    lay = None
                    continue
                break
            if lay is None:
                if j == 0:
                    return None
                break
            unroll += window_unroll(lay)
            layers.append(lay)
            shape = lay.out_shape
            add_post(layers, shape, batched and kind == "Conv1d")
        head = chance(0.5) or target.startswith("Linear:") or \
            target in ("model:ends_linear", "model:mlp",
                       "BatchNorm1d:folded_linear", "Flatten:default",
                       "Flatten:start0")
        if head:
            if batched and not (N == 1 and chance(0.2)):
                kw = {} if chance(0.7) else {"start_dim": 1}
            else:  # to 1-D: (C, L), or (1, C, L) with a batch of one
                kw = {"start_dim": pick(0, 0, -2) if not batched else 0}
            flat = mk("Flatten", kw, shape)
            if flat is None:
                return None
            layers.append(flat)
            shape = flat.out_shape
            cnt = R.choice([1, 1, 2, 2, 3])
            shape = gen_linears(layers, shape, len(shape) == 2, cnt)
            if shape is None:
                return None
    else:
        F = R.choice([1, 3, 5, 7, 8, 12, 16, 17, 24, 31, 37, 48, 64, 65,
                      100, 129])
        shape = (N, F) if batched else (F,)
        m.input = shape
        cnt = R.choice([1, 2, 2, 3, 3, 4])
        shape = gen_linears(layers, shape, batched, cnt)
        if shape is None:
            return None
    if any(lay is None for lay in layers):
        return None
    m.layers = layers
    return m


# --------------------------------------------------------------------------
# coverage classes

def ceil_adds_window(layer):
    if not layer.kw.get("ceil_mode"):
        return False
    kw = dict(layer.kw)
    del kw["ceil_mode"]
    floor = mk(layer.kind, kw, layer.in_shape)
    return floor is None or floor.out_shape[-1] < layer.out_shape[-1]


def classify(m, ops):
    classes = set()
    for lay in m.layers:
        lay.classes = set()

    def add(layer, c):
        layer.classes.add("%s:%s" % (layer.kind, c))
        classes.add("%s:%s" % (layer.kind, c))

    for i, op in enumerate(ops):
        lay = op.main
        kw = lay.kw
        prev = ops[i - 1] if i else None
        if lay.kind == "Conv1d":
            k, s, d, p = window(lay)
            add(lay, "first" if i == 0 else "after_conv"
                if prev.main.kind == "Conv1d" else "after_pool"
                if prev.main.kind in WINDOWS else "after_other")
            add(lay, "batched" if m.batched else "unbatched")
            if s in (2, 3):
                add(lay, "stride=%d" % s)
            if d == 2:
                add(lay, "dilation=2")
            pad = kw.get("padding")
            if isinstance(pad, int) and pad > 0:
                add(lay, "pad_int")
            if pad == "same":
                add(lay, "same")
                if k % 2 == 0:
                    add(lay, "same_even_k")
            if pad == "valid":
                add(lay, "valid")
            if kw.get("bias") is False:
                add(lay, "bias=false")
            if "padding_mode" in kw:
                add(lay, "mode=zeros")
            cin, length, _ = src_view(ops, i)
            out = ops[i + 1] if op.pooled else op
            edge = none = split = False
            every = True
            for u in range(out.vl):
                if not out.need[u]:
                    continue
                ts = [u]
                if op.pooled:
                    pk, ps, pd, pp = window(out.main)
                    ts = [u * ps + j * pd - pp for j in range(pk)]
                for t in ts:
                    if not 0 <= t < op.vl:
                        continue
                    inside = [0 <= t * s + j * d - p < length
                              for j in range(k)]
                    edge |= not all(inside)
                    none |= not any(inside)
                    every &= not any(inside)
                    split |= sum(inside) * cin >= 6 and \
                        op.vcp // 8 <= 4
            if edge:
                add(lay, "edge_taps")
            if none:
                add(lay, "no_taps")
            if none and every:
                add(lay, "reads_nothing")
            if split:
                add(lay, "split")
            add(lay, "out%8!=0" if op.vc % 8 else "out%8==0")
            if op.vcp // 8 > 4:
                add(lay, "out>32")
            if not all(out.need):
                add(lay, "unread")
            if not op.pooled and i == len(ops) - 1:
                add(lay, "last")
            if op.bn:
                add(lay, "bn_folded")
                add(op.bn, "folded_conv")
            if op.acts:
                add(lay, "act")
            if op.pooled:
                add(lay, "fused_max" if ops[i + 1].main.kind == "MaxPool1d"
                    else "fused_avg")
        elif lay.kind in ("MaxPool1d", "AvgPool1d"):
            k, s, d, p = window(lay)
            if "stride" not in kw:
                add(lay, "stride_default")
            if p:
                if lay.kind == "MaxPool1d":
                    add(lay, "padding")
                elif kw.get("count_include_pad", True):
                    add(lay, "pad+include_pad")
                else:
                    add(lay, "pad+exclude_pad")
            if kw.get("ceil_mode"):
                add(lay, "ceil_mode")
                if ceil_adds_window(lay):
                    add(lay, "ceil_adds_window")
            if d > 1:
                add(lay, "dilation")
            if op.fused:
                add(lay, "fused")
            elif s < (k - 1) * d + 1:
                add(lay, "overlap")
            else:
                add(lay, "disjoint_unfused")
            relu_only = all(a.kind == "ReLU" for a in prev.acts)
            if prev.acts:
                if lay.kind == "MaxPool1d" and relu_only:
                    add(lay, "relu_late" if op.fused else "relu_before")
                else:
                    add(lay, "act_before")
            if op.acts:
                add(lay, "act_after")
            if prev.main.kind in ("MaxPool1d", "AvgPool1d"):
                add(lay, "after_pool")
            if not all(op.need):
                add(lay, "unread")
            if i == len(ops) - 1:
                add(lay, "last")
            length = src_view(ops, i)[1]
            empty = [not any(0 <= t * s + j * d - p < length
                             for j in range(k))
                     for t in range(op.vl) if op.need[t]]
            if any(empty) and all(empty):
                add(lay, "reads_nothing")
        elif lay.kind == "Linear":
            if i == 0:
                add(lay, "first_batched" if m.batched else "first_unbatched")
            elif prev.main.kind == "Linear":
                add(lay, "after_linear")
            else:
                add(lay, "after_flatten" if len(op.inp) == 2
                    else "after_flatten0")
            f = linear_form(ops, i)
            if f["dot"]:
                add(lay, "dot")
                if f["few"]:
                    add(lay, "dot_few")
                if f["loop"]:
                    add(lay, "dot_loop")
                if f["rest"]:
                    add(lay, "dot_loop_rest")
                if op.acts:
                    add(lay, "dot_act")
            else:
                if i == 0:
                    add(lay, "axpy_input")
                add(lay, "axpy_unrolled" if f["unrolled"] else "axpy_loop")
                if f["R"] < 4:
                    add(lay, "axpy_short")
                if f["tail"]:
                    add(lay, "axpy_loop_tail")
                if not f["split"] and f["nqo"] > 4:
                    add(lay, "axpy_wide")
                if f["padded"] and not f["unrolled"]:
                    add(lay, "axpy_padded")
            if kw.get("bias") is False:
                add(lay, "bias=false")
            if op.bn:
                add(lay, "bn_folded")
                add(op.bn, "folded_linear")
            if i == len(ops) - 1:
                add(lay, "last")
    for lay in m.layers:
        kw = lay.kw
        if lay.kind in ("ReLU", "ReLU6", "Sigmoid", "Tanh", "SiLU",
                        "Identity"):
            add(lay, "used")
        elif lay.kind == "LeakyReLU":
            add(lay, "slope")
        elif lay.kind == "ELU":
            add(lay, "alpha")
        elif lay.kind == "GELU":
            add(lay, "tanh" if kw.get("approximate") == "tanh"
                else "default")
        elif lay.kind == "Dropout":
            add(lay, "p")
        elif lay.kind == "Flatten":
            add(lay, "start0" if kw.get("start_dim", 1) in (0, -2) and
                len(lay.out_shape) == 1 else "default")
    mc = set()
    chans = set()
    if ops[0].main.kind == "Conv1d":
        chans.add(m.input[-2])
    for op in ops:
        if op.main.kind == "Conv1d":
            chans.add(op.vc)
    for c in chans:
        mc.add("channels:%d" % c)
    mc.add("model:batch=%d" % m.batch if m.batched else "model:unbatched")
    last = ops[-1].main.kind
    mc.add("model:ends_conv" if last == "Conv1d" else "model:ends_linear"
           if last == "Linear" else "model:ends_pool")
    for i in range(1, len(ops)):
        if ops[i].main.kind == "Linear" and ops[i - 1].main.kind == "Linear" \
                and ops[i - 1].acts:
            mc.add("model:mlp")
    if len(m.layers) >= 6:
        mc.add("model:len>=6")
    m.model_classes = mc
    classes |= mc
    return classes


# --------------------------------------------------------------------------
# weights, reference, files

def fan_in(layer):
    if layer.kind == "Conv1d":
        return layer.kw["in_channels"] * layer.kw["kernel_size"]
    if layer.kind == "Linear":
        return layer.kw["in_features"]
    return 1


def finish(m, idx, rng, target):
    m.name = "t%03d" % idx
    total = sum(gmf.nparams(layer) for layer in m.layers)
    if total > MAX_PARAMS:
        return False
    m.seed, m.file, m.decoy = None, None, False
    if target == "weights:seed" or (target != "weights:file" and
                                    chance(1 / 6)):
        m.seed = rint(0, 99999)
        m.model_classes.add("weights:seed")
    else:
        m.file = m.name + ".safetensors"
        m.model_classes.add("weights:file")
    for layer in m.layers:
        layer.fan_in = fan_in(layer)
        layer.file_vals = gmf.random_params(layer, layer.build(), rng)
        layer.inline = {}
    x = rng.standard_normal(m.input).astype(np.float32)
    y = gmf.reference(m, x)
    if y is None:
        return False
    m.x, m.y = x, y
    return True


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=80)
    ap.add_argument("-o", default=DEFAULT_OUT)
    ap.add_argument("--verify", action="store_true",
                    help="rebuild each model from its files and compare")
    args = ap.parse_args(argv[1:])
    if args.verify:
        return gmf.verify(args.o, "t")
    os.makedirs(args.o, exist_ok=True)
    for f in os.listdir(args.o):
        if f.startswith("t") and f.endswith((".lua", ".safetensors", ".npy")):
            os.remove(os.path.join(args.o, f))
    counts = collections.Counter()
    models = []
    for idx in range(1, args.n + 1):
        rng = np.random.default_rng(SEED + idx)
        todo = [c for c in ALL_CLASSES if c not in ONCE or not counts[c]]
        low = min(counts[c] for c in todo)
        target = R.choice([c for c in todo if counts[c] == low])
        for attempt in range(20000):
            m = gen_structure(target)
            if m is None:
                continue
            ops = plan(m)
            if ops is None or m.unroll > MAX_UNROLL:
                continue
            classes = classify(m, ops)
            if target not in classes and not target.startswith("weights:"):
                continue
            if any(c in classes and c != target for c in ONCE):
                continue
            if not finish(m, idx, rng, target):
                continue
            m.classes = classes | m.model_classes
            break
        else:
            raise RuntimeError("no model for target %s" % target)
        counts.update(m.classes)
        models.append(m)
        gmf.write_model(m, args.o, tool=TOOL)
    with open(os.path.join(args.o, "index.tsv"), "w") as f:
        f.write("# Generated by %s (torch %s): name TAB layers "
                "(Kind[classes]) TAB model classes\n"
                % (TOOL, torch.__version__))
        for m in models:
            f.write(gmf.index_line(m) + "\n")
    size = sum(os.path.getsize(os.path.join(args.o, f))
               for f in os.listdir(args.o))
    print("%d models in %s, %d bytes" % (len(models),
                                         os.path.normpath(args.o), size))
    missing = []
    width = max(len(c) for c in ALL_CLASSES) + 2
    for c in ALL_CLASSES:
        print("  %-*s %4d" % (width, c, counts[c]))
        if counts[c] == 0:
            missing.append(c)
    if missing:
        print("error: no model exercises %s" % ", ".join(missing),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
