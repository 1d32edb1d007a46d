#!/usr/bin/python3
"""Generate tests/fixtures/shapes.tsv: what PyTorch 1.13 does with one layer
applied to one input tensor, for thousands of random layer configurations.

The C test suite replays every row through modelc's static shape checker, so
each row records exactly what PyTorch did (shape or error text).

Usage:  /usr/bin/python3 tools/gen_shape_fixture.py [--examples] [-o PATH]

File format (UTF-8, one row per line, fields separated by a single TAB, no
quoting; the first line is a '#' comment naming the generator and torch
version):

    <id> <input> <layer> <status> <result>

  id      1-based row number.
  input   the input shape as a Lua array, e.g. {2,3,10}.
  layer   the Lua constructor text as a modelc spec would write it, e.g.
          nn.Conv1d{3, 8, 3, stride = 2, padding = "same", bias = false}.
          Positional arguments come first, in the order of the PyTorch
          constructor's signature, then `key = value` pairs.  Tuples are Lua
          arrays {3, 1}, floats are printed with repr() (they round-trip),
          booleans are true/false, strings are double-quoted.
  status  ok          forward succeeded, no 0-sized dimension;
                      result = output shape, e.g. 2,8,4
          empty       forward succeeded but the output has a 0-sized
                      dimension (modelc treats that as an error);
                      result = output shape, e.g. 2,0,4
          error       PyTorch raised, in the constructor or in forward;
                      result = first line of str(exception)
          limitation  PyTorch raised only because of a limitation of PyTorch
                      1.13 itself (see LIMITATIONS below); result = the shape
                      the equivalent supported computation gives.

Every module is built with Python keyword arguments, put in .eval() mode and
run under torch.no_grad() on torch.zeros(input).  Warnings are ignored.  Rows
are deduplicated on (input, layer).  Everything is deterministic: fixed
random/torch seeds, and a fixed PYTHONHASHSEED (the script re-executes itself
with PYTHONHASHSEED=0) because some PyTorch messages print a Python set, e.g.
"padding_mode must be one of {'zeros', ...}", whose order depends on it.

LIMITATIONS (status `limitation`):
  * A conv layer with a non-"zeros" padding_mode applied to an UNBATCHED
    input.  In torch 1.13 F.pad(mode="circular") only accepts batched input
    ("Invalid padding size, expected 0 but got 2"), so the conv fails although
    the model is fine.  Which modes are affected is probed at start-up
    (probe_limited_modes: a 1x1 conv that works batched but not unbatched);
    in 1.13 that is "circular" only -- "reflect" and "replicate" handle
    unbatched input, so their unbatched errors are genuine and kept as is.
    For an affected mode, when the unbatched run raises, the same module is
    run again on the input with a batch dimension of 1 added: if that
    succeeds the row is `limitation` with the batched result shape minus the
    batch dim; if it gives a 0-sized output the row is `empty` (shape minus
    the batch dim); if it raises the row is `error` with the batched run's
    message (which then mentions the batched shape, e.g. input[1, 2, 9]).
  No other case is treated as a limitation.  In particular BatchNorm with
  track_running_stats=False uses batch statistics even in eval mode and then
  refuses a single value per channel ("Expected more than 1 value per channel
  when training"); that is deliberate PyTorch behaviour and is recorded as
  `error`.
"""

import argparse
import collections
import inspect
import os
import random
import re
import sys
import time
import warnings

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

SEED = 20240613
N_CONFIGS = 3200          # random configurations drawn (before dedupe)
P_INVALID = 0.53          # share of non-activation configurations given a fault
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "shapes.tsv")

R = random.Random(SEED)


# --------------------------------------------------------------------------
# small random helpers

def chance(p):
    return R.random() < p


def pick(*xs):
    return R.choice(xs)


def rint(lo, hi):
    return R.randint(lo, hi)


def sizes(rank, lo=1, hi=8):
    return [rint(lo, hi) for _ in range(rank)]


def other_rank(valid, lo=1, hi=5):
    """A rank in lo..hi that is not in `valid`."""
    return R.choice([r for r in range(lo, hi + 1) if r not in valid])


def spatial(vals, d):
    """Render per-dimension values as an int or a d-tuple (randomly)."""
    if all(v == vals[0] for v in vals) and chance(0.65):
        if d == 1 and chance(0.15):
            return (vals[0],)
        return vals[0]
    return tuple(vals)


def wrong_len(vals):
    """A tuple of the wrong length for a spatial argument."""
    n = len(vals)
    m = pick(*[k for k in (1, 2, 3) if k != n])
    return tuple((vals + vals + vals)[:m])


# --------------------------------------------------------------------------
# configurations and their Lua text

SKIP_PARAMS = {"device", "dtype", "args", "kwargs"}


def torch_class(kind):
    """PyTorch 1.13 has no ZeroPad1d: later releases define it as
    ConstantPad1d(padding, 0.0), and so does modelc."""
    if kind == "ZeroPad1d" and not hasattr(nn, kind):
        return lambda padding: nn.ConstantPad1d(padding, 0.0)
    return getattr(nn, kind)


def signature_params(kind):
    sig = inspect.signature(torch_class(kind))
    return [p for p in sig.parameters.values() if p.name not in SKIP_PARAMS]


SIGS = {}


def cfg(kind, shape, **kw):
    """A configuration: layer kind, keyword args (in signature order) and
    input shape.  Unknown parameter names are a bug in this script."""
    if kind not in SIGS:
        SIGS[kind] = signature_params(kind)
    names = [p.name for p in SIGS[kind]]
    for k in kw:
        assert k in names, (kind, k)
    args = [(n, kw[n]) for n in names if n in kw]
    return (kind, tuple(args), tuple(shape))


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


def lua_layer(kind, args):
    """Lua constructor text; a random prefix of the arguments is positional
    (only a prefix of the signature without gaps can be positional)."""
    params = SIGS[kind]
    given = dict(args)
    k_max = 0
    for p in params:
        if p.name not in given:
            break
        k_max += 1
    required = sum(1 for p in params
                   if p.default is inspect.Parameter.empty
                   and p.kind == p.POSITIONAL_OR_KEYWORD)
    lo = min(required, k_max)
    if chance(0.06):
        k = rint(0, k_max)            # occasionally name required args too
    else:
        k = rint(lo, k_max)
    parts = [lua_value(v) for _, v in args[:k]]
    parts += ["%s = %s" % (n, lua_value(v)) for n, v in args[k:]]
    return "nn.%s{%s}" % (kind, ", ".join(parts))


def lua_shape(shape):
    return "{" + ",".join(str(s) for s in shape) + "}"


# --------------------------------------------------------------------------
# convolutions

CONV_MAXL = {1: 40, 2: 12, 3: 8}
PAD_MODES = ("reflect", "replicate", "circular")


def gen_conv(d):
    kind = "Conv%dd" % d
    bad = None
    if chance(P_INVALID):
        bad = pick("channels", "channels", "rank", "rank", "small", "small",
                   "groups_in", "groups_out", "groups_nonpos", "same_stride",
                   "bad_padding_str", "bad_padding_mode", "reflect_big",
                   "reflect_big", "circular_wrap", "circular_wrap",
                   "nonpos_arg", "tuple_len", "zero_channels")

    # channels and groups
    r = R.random()
    if r < 0.55:
        g, cin, cout = 1, rint(1, 6), rint(1, 8)
    elif r < 0.8:
        g = pick(2, 3, 4)
        cin, cout = g * rint(1, 2), g * rint(1, 3)
    else:                                      # depthwise
        g = cin = rint(1, 6)
        cout = cin * pick(1, 1, 2)
    if bad == "groups_in":
        g = pick(2, 3, 4)
        cin = g * rint(1, 2) + rint(1, g - 1)
        cout = g * rint(1, 2)
    elif bad == "groups_out":
        g = pick(2, 3, 4)
        cin = g * rint(1, 2)
        cout = g * rint(0, 2) + rint(1, g - 1)
    elif bad == "groups_nonpos":
        g = pick(0, -1)
    elif bad == "zero_channels":
        if chance(0.6):
            cout = 0
        else:
            cin, g = 0, 1

    kmax = 5 if d < 3 else 3
    ks = [rint(1, kmax) for _ in range(d)]
    if chance(0.5):
        ks = [ks[0]] * d
    st = [pick(1, 1, 1, 2, 2, 3) for _ in range(d)]
    if chance(0.5):
        st = [st[0]] * d
    dil = [pick(1, 1, 1, 2, 3) for _ in range(d)]
    if chance(0.5):
        dil = [dil[0]] * d

    mode = "zeros"
    if chance(0.35) or bad in ("reflect_big", "circular_wrap"):
        mode = pick(*PAD_MODES)
    if bad == "reflect_big":
        mode = "reflect"
    elif bad == "circular_wrap":
        mode = "circular"

    # padding: None (omitted), list of ints, "valid" or "same"
    pad_kind = R.random()
    if bad == "same_stride":
        pad = "same"
        st = [pick(2, 3)] + st[1:] if chance(0.5) else [pick(2, 3)] * d
        R.shuffle(st)
    elif bad == "bad_padding_str":
        pad = pick("full", "causal", "SAME")
    elif pad_kind < 0.2:
        pad = None
    elif pad_kind < 0.3:
        pad = "valid"
    elif pad_kind < 0.5 and all(s == 1 for s in st):
        pad = "same"
    else:
        pad = [rint(0, 3) for _ in range(d)]
        if chance(0.5):
            pad = [pad[0]] * d
    if bad in ("reflect_big", "circular_wrap") and not isinstance(pad, list):
        pad = [rint(1, 4) for _ in range(d)]

    eff = [dl * (k - 1) + 1 for dl, k in zip(dil, ks)]
    if pad == "same":
        lo_pad = [(e - 1) // 2 for e in eff]
        hi_pad = [e - 1 - lp for e, lp in zip(eff, lo_pad)]
    elif isinstance(pad, list):
        lo_pad = hi_pad = pad
    else:
        lo_pad = hi_pad = [0] * d

    # input spatial sizes
    shp = []
    maxl = CONV_MAXL[d] if not (d == 3 and chance(0.1)) else 12
    for i in range(d):
        p = max(lo_pad[i], hi_pad[i])
        lo = max(1, eff[i] - lo_pad[i] - hi_pad[i])
        if mode == "reflect":
            lo = max(lo, p + 1)
        elif mode == "circular":
            lo = max(lo, p)
        hi = maxl if chance(0.3) else min(maxl, lo + 12)
        shp.append(rint(lo, max(lo, hi)))
    if bad == "small":
        i = rint(0, d - 1)
        if pad == "same":
            pad = None
            lo_pad = hi_pad = [0] * d
        if isinstance(pad, list):
            pad[i] = 0 if chance(0.7) else min(pad[i], 1)
            lo_pad = hi_pad = pad
        if eff[i] - 2 * lo_pad[i] < 2:
            ks[i] = rint(3, kmax) if d < 3 else 3
            eff[i] = dil[i] * (ks[i] - 1) + 1
        need = eff[i] - lo_pad[i] - hi_pad[i]
        shp[i] = rint(1, max(1, need - 1))
    elif bad == "reflect_big":
        i = rint(0, d - 1)
        pad[i] = max(pad[i], 1)
        shp[i] = rint(1, pad[i])
        shp[i] = max(shp[i], eff[i] - 2 * pad[i], 1)
    elif bad == "circular_wrap":
        i = rint(0, d - 1)
        pad[i] = max(pad[i], 2)
        shp[i] = rint(1, pad[i] - 1)
        shp[i] = max(shp[i], eff[i] - 2 * pad[i], 1)

    if bad == "nonpos_arg":
        what = pick("kernel", "stride", "dilation", "padding")
        i = rint(0, d - 1)
        if what == "kernel":
            # Conv3d with a 0 kernel and groups > 1 fails inside oneDNN with
            # "could not create a descriptor for a dilated convolution ...",
            # a backend-specific message; use a negative kernel there.
            ks[i] = -1 if d == 3 else pick(0, 0, -1)
        elif what == "stride":
            st[i] = pick(0, 0, -1)
        elif what == "dilation":
            dil[i] = pick(0, -1)
        else:
            mode = "zeros"
            pad = [rint(0, 1) for _ in range(d)]
            pad[i] = -1

    kw = dict(in_channels=cin, out_channels=cout, kernel_size=spatial(ks, d))
    if st != [1] * d or chance(0.2):
        kw["stride"] = spatial(st, d)
    if isinstance(pad, list):
        kw["padding"] = spatial(pad, d)
    elif pad is not None:
        kw["padding"] = pad
    if dil != [1] * d or chance(0.2):
        kw["dilation"] = spatial(dil, d)
    if g != 1 or chance(0.2):
        kw["groups"] = g
    if chance(0.3):
        kw["bias"] = chance(0.5)
    if mode != "zeros" or chance(0.15):
        kw["padding_mode"] = mode
    if bad == "bad_padding_mode":
        kw["padding_mode"] = pick("zero", "mirror", "symmetric", "Reflect")
    if bad == "tuple_len":
        key = pick("kernel_size", "stride", "padding", "dilation")
        base = {"kernel_size": ks, "stride": st, "dilation": dil,
                "padding": pad if isinstance(pad, list) else [1] * d}[key]
        kw[key] = wrong_len(base)

    # the input
    cin_in = cin if cin > 0 else 0
    if bad == "channels":
        cin_in = pick(*[c for c in range(1, 9) if c != cin])
    batched = chance(0.7)
    if bad == "rank":
        rank = other_rank((d + 1, d + 2))
        shape = sizes(rank, 1, 10 if d < 3 else 6)
        if chance(0.5):     # put the right channel count where it may be
            shape[1 if rank > d + 1 else 0] = cin_in
    else:
        shape = ([rint(1, 3)] if batched else []) + [cin_in] + shp
    if 0 in shape:        # inputs never have 0-sized dims
        shape = [max(1, s) for s in shape]
    return cfg(kind, shape, **kw)


# --------------------------------------------------------------------------
# pooling

def pool_input(d, spatial_sizes, bad, c=None):
    c = rint(1, 6) if c is None else c
    if bad == "rank":
        rank = other_rank((d + 1, d + 2))
        return sizes(rank, 1, 10)
    batched = chance(0.7)
    return ([rint(1, 3)] if batched else []) + [c] + spatial_sizes


def ceil_edge_case(d, dilated):
    """Per-dim (kernel, stride, pad, dilation, size) where, with
    ceil_mode=True, the last window would start inside the right padding,
    so PyTorch drops it (output = ceil(...) + 1 - 1)."""
    ks, st, pad, dil, shp = [], [], [], [], []
    for _ in range(d):
        while True:
            k, s = rint(2, 4), rint(2, 3)
            p = rint(1, k // 2)
            dl = pick(1, 1, 2) if dilated else 1
            n = rint(1, 12)
            span = n + 2 * p - dl * (k - 1) - 1
            if span < 0:
                continue
            out = -(-span // s) + 1
            if (out - 1) * s >= n + p:
                break
        ks.append(k), st.append(s), pad.append(p), dil.append(dl)
        shp.append(n)
    return ks, st, pad, dil, shp


def gen_maxpool(d):
    kind = "MaxPool%dd" % d
    bad = None
    if chance(P_INVALID):
        bad = pick("big_pad", "big_pad", "small", "small", "rank", "rank",
                   "zero_stride", "nonpos_kernel", "zero_dilation",
                   "neg_pad", "tuple_len")
    ceil_edge = bad is None and chance(0.12)
    ks = [rint(1, 4) for _ in range(d)]
    if chance(0.5):
        ks = [ks[0]] * d
    explicit_stride = chance(0.6)
    st = [pick(1, 1, 2, 2, 3) for _ in range(d)] if explicit_stride else ks[:]
    dil = [pick(1, 1, 1, 2) for _ in range(d)]
    pad = [rint(0, k // 2) for k in ks]
    ceil = chance(0.4)
    if ceil_edge:
        ks, st, pad, dil, shp = ceil_edge_case(d, True)
        ceil = explicit_stride = True
    else:
        shp = []
        for i in range(d):
            lo = max(1, dil[i] * (ks[i] - 1) + 1 - 2 * pad[i])
            shp.append(rint(lo, max(lo, min(12, lo + 8))))
    if bad == "big_pad":
        i = rint(0, d - 1)
        pad[i] = ks[i] // 2 + rint(1, 2)
    elif bad == "small":
        i = rint(0, d - 1)
        if ks[i] < 2:
            ks[i] = rint(2, 4)
        pad[i] = 0
        eff = dil[i] * (ks[i] - 1) + 1
        shp[i] = rint(1, eff - 1)
    elif bad == "zero_stride":
        st[rint(0, d - 1)] = 0
        explicit_stride = True
    elif bad == "nonpos_kernel":
        ks[rint(0, d - 1)] = pick(0, -1)
    elif bad == "zero_dilation":
        dil[rint(0, d - 1)] = pick(0, -1)
    elif bad == "neg_pad":
        pad[rint(0, d - 1)] = -1

    kw = dict(kernel_size=spatial(ks, d))
    if explicit_stride:
        kw["stride"] = spatial(st, d)
    if any(pad) or chance(0.2):
        kw["padding"] = spatial(pad, d)
    if any(x != 1 for x in dil) or chance(0.15):
        kw["dilation"] = spatial(dil, d)
    if ceil or chance(0.3):
        kw["ceil_mode"] = ceil
    if bad == "tuple_len":
        key = pick("kernel_size", "stride", "padding", "dilation")
        base = {"kernel_size": ks, "stride": st, "padding": pad,
                "dilation": dil}[key]
        kw[key] = wrong_len(base)
    return cfg(kind, pool_input(d, shp, bad), **kw)


def gen_avgpool(d):
    kind = "AvgPool%dd" % d
    bad = None
    if chance(P_INVALID):
        choices = ["big_pad", "big_pad", "small", "small", "rank", "rank",
                   "zero_stride", "nonpos_kernel", "neg_pad", "tuple_len"]
        if d == 2:
            choices += ["divisor", "divisor"]
        bad = pick(*choices)
    ceil_edge = bad is None and chance(0.12)
    ks = [rint(1, 4) for _ in range(d)]
    if chance(0.5):
        ks = [ks[0]] * d
    explicit_stride = chance(0.6)
    st = [pick(1, 1, 2, 2, 3) for _ in range(d)] if explicit_stride else ks[:]
    pad = [rint(0, k // 2) for k in ks]
    ceil = chance(0.4)
    if ceil_edge:
        ks, st, pad, _, shp = ceil_edge_case(d, False)
        ceil = explicit_stride = True
    else:
        shp = []
        for i in range(d):
            lo = max(1, ks[i] - 2 * pad[i])
            shp.append(rint(lo, max(lo, min(12, lo + 8))))
    if bad == "big_pad":
        i = rint(0, d - 1)
        pad[i] = ks[i] // 2 + rint(1, 2)
    elif bad == "small":
        i = rint(0, d - 1)
        if ks[i] < 2:
            ks[i] = rint(2, 4)
        pad[i] = 0
        shp[i] = rint(1, ks[i] - 1)
    elif bad == "zero_stride":
        st[rint(0, d - 1)] = 0
        explicit_stride = True
    elif bad == "nonpos_kernel":
        ks[rint(0, d - 1)] = pick(0, -1)
    elif bad == "neg_pad":
        pad[rint(0, d - 1)] = -1

    kw = dict(kernel_size=spatial(ks, d))
    if explicit_stride:
        kw["stride"] = spatial(st, d)
    if any(pad) or chance(0.2):
        kw["padding"] = spatial(pad, d)
    if ceil or chance(0.3):
        kw["ceil_mode"] = ceil
    if chance(0.35):
        kw["count_include_pad"] = chance(0.5)
    if d == 2 and (chance(0.2) or bad == "divisor"):
        kw["divisor_override"] = pick(0, -2) if bad == "divisor" else rint(1, 9)
    if bad == "tuple_len":
        key = pick("kernel_size", "stride", "padding")
        base = {"kernel_size": ks, "stride": st, "padding": pad}[key]
        kw[key] = wrong_len(base)
    return cfg(kind, pool_input(d, shp, bad), **kw)


def gen_adaptive(d):
    kind = "AdaptiveAvgPool%dd" % d
    bad = None
    if chance(P_INVALID):
        bad = pick("zero", "zero", "rank", "rank", "rank", "tuple_len",
                   "negative")
    shp = [rint(1, 12) for _ in range(d)]
    out = [rint(1, 14) for _ in range(d)]           # may exceed the input
    if bad == "zero":
        out[rint(0, d - 1)] = 0
    elif bad == "negative":
        out[rint(0, d - 1)] = -1
    size = spatial(out, d)
    if bad == "tuple_len":
        size = wrong_len(out)
    return cfg(kind, pool_input(d, shp, bad), output_size=size)


# --------------------------------------------------------------------------
# normalisation, linear, flatten

def gen_batchnorm(d):
    kind = "BatchNorm%dd" % d
    bad = None
    if chance(P_INVALID):
        bad = pick("features", "features", "features", "rank", "rank",
                   "single_value")
    c = rint(1, 8)
    kw = dict(num_features=c)
    if chance(0.35):
        kw["eps"] = pick(1e-05, 0.001, 1e-3, 0.1, 1e-06, 0.5)
    if chance(0.35):
        kw["momentum"] = pick(0.1, 0.01, 0.5, 0.0, 0.9, 1.0)
    if chance(0.35):
        kw["affine"] = chance(0.5)
    if chance(0.3) or bad == "single_value":
        kw["track_running_stats"] = False if bad == "single_value" else chance(0.5)
    valid = (2, 3) if d == 1 else (4,)
    cin = c
    if bad == "features":
        cin = pick(*[x for x in range(1, 10) if x != c])
    if bad == "rank":
        shape = sizes(other_rank(valid), 1, 8)
        if len(shape) >= 2 and chance(0.6):
            shape[1] = c
    else:
        rank = pick(*valid)
        shape = sizes(rank, 1, 8)
        shape[1] = cin
        if bad == "single_value":          # batch statistics of 1 value
            shape = [1, cin] + [1] * (rank - 2)
    return cfg(kind, shape, **kw)


def gen_linear():
    bad = None
    if chance(P_INVALID):
        bad = pick("mismatch", "mismatch", "mismatch", "zero_out")
    fin, fout = rint(1, 12), rint(1, 12)
    if bad == "zero_out":
        fout = 0
    kw = dict(in_features=fin, out_features=fout)
    if chance(0.3):
        kw["bias"] = chance(0.5)
    rank = pick(1, 2, 2, 2, 3, 4)
    shape = sizes(rank, 1, 6)
    shape[-1] = fin
    if bad == "mismatch":
        shape[-1] = pick(*[x for x in range(1, 13) if x != fin])
    return cfg("Linear", shape, **kw)


def gen_flatten():
    bad = chance(P_INVALID)
    rank = rint(1, 5)
    shape = sizes(rank, 1, 6)
    if bad:
        if chance(0.5):                                   # out of range
            start, end = rint(-7, 6), rint(-7, 6)
            if -rank <= start < rank and -rank <= end < rank:
                start = pick(rank, rank + 1, -rank - 1)
        else:                                             # start after end
            a, b = sorted(R.sample(range(rank + 1), 2))
            start, end = b, a
            if chance(0.5):
                start -= rank if start < rank else 0
            if chance(0.5):
                end -= rank
    else:
        a = rint(0, rank - 1)
        b = rint(a, rank - 1)
        start = a - rank if chance(0.3) else a
        end = b - rank if chance(0.5) else b
    kw = {}
    # omitted arguments take the defaults start_dim=1, end_dim=-1
    if start != 1 or end != -1 or chance(0.5):
        kw["start_dim"] = start
    if end != -1 or chance(0.5):
        kw["end_dim"] = end
    if "end_dim" in kw and "start_dim" not in kw:
        kw["start_dim"] = start
    return cfg("Flatten", shape, **kw)


# --------------------------------------------------------------------------
# activations and friends

def act_input():
    rank = rint(1, 5)
    hi = {1: 12, 2: 10, 3: 8, 4: 6, 5: 4}[rank]
    return sizes(rank, 1, hi)


def gen_activation():
    kind = pick("ReLU", "ReLU6", "LeakyReLU", "ELU", "Sigmoid", "Tanh",
                "GELU", "SiLU", "Softmax", "LogSoftmax", "Dropout",
                "Identity", "Softmax", "LogSoftmax", "Dropout", "GELU")
    shape = act_input()
    kw = {}
    if kind in ("ReLU", "ReLU6", "SiLU") and chance(0.2):
        kw["inplace"] = chance(0.5)
    elif kind == "LeakyReLU":
        if chance(0.7):
            kw["negative_slope"] = pick(0.01, 0.2, 0.1, 0.3, 1.5, -0.5, 0.0)
        if chance(0.15):
            kw["inplace"] = chance(0.5)
            kw.setdefault("negative_slope", 0.01)
    elif kind == "ELU":
        if chance(0.7):
            kw["alpha"] = pick(1.0, 0.5, 2.0, 0.1, 0.0, -1.0)
        if chance(0.15):
            kw["inplace"] = chance(0.5)
            kw.setdefault("alpha", 1.0)
    elif kind == "GELU":
        if chance(0.75):
            kw["approximate"] = pick("none", "tanh", "tanh", "none",
                                     "exact", "erf", "Tanh")
    elif kind in ("Softmax", "LogSoftmax"):
        if chance(0.92):
            n = len(shape)
            if chance(0.6):
                kw["dim"] = rint(-n, n - 1)
            else:
                kw["dim"] = pick(n, n + 1, -n - 1, 5, -6)
        # else: no dim, PyTorch picks one itself (with a warning)
    elif kind == "Dropout":
        if chance(0.8):
            kw["p"] = pick(0.5, 0.0, 0.1, 0.2, 1.0, 0.25, 1.5, -0.1, 2.0)
        if chance(0.15):
            kw["inplace"] = chance(0.5)
            kw.setdefault("p", 0.5)
    return cfg(kind, shape, **kw)


# --------------------------------------------------------------------------
# running a configuration

def first_line(exc):
    msg = str(exc)
    line = msg.splitlines()[0].strip() if msg.strip() else ""
    if not line:
        line = type(exc).__name__
    return line.replace("\t", " ")


def forward(mod, shape):
    with torch.no_grad():
        return tuple(mod(torch.zeros(shape)).shape)


def outcome(out_shape):
    status = "empty" if 0 in out_shape else "ok"
    return status, ",".join(str(s) for s in out_shape)


def probe_limited_modes():
    """{d: padding modes for which PyTorch 1.13 rejects an unbatched input to
    a ConvNd that it accepts with a batch dim of 1 (in 1.13: "circular")}."""
    limited = {}
    for d in (1, 2, 3):
        limited[d] = set()
        for mode in PAD_MODES:
            conv = getattr(nn, "Conv%dd" % d)(1, 1, 1, padding=1,
                                              padding_mode=mode).eval()
            try:
                forward(conv, (1,) + (4,) * d)
            except Exception:
                limited[d].add(mode)
                forward(conv, (1, 1) + (4,) * d)   # batched must work
    return limited


LIMITED_MODES = {}


def backend_neutral(kind, msg):
    """PyTorch 1.13 checks a zero kernel of a ConvNd only inside the CPU
    backend it picks (mkldnn, slow_conv2d, slow_conv_dilated, chosen by
    groups, batch size and dilation), so the same model gets different
    words depending on the batch size. The fixture records the common
    prefix of the kernel messages. A non-positive dilation keeps PyTorch's
    own words, which modelc follows: "dilation should be greater than
    zero, but got [1, -1]" with one sample (or none) and one group,
    "non-positive dilation is not supported" otherwise."""
    if not kind.startswith("Conv"):
        return msg
    if (msg.startswith("kernel size should be greater than zero") or
            msg.startswith("could not create a descriptor for a dilated")):
        return "kernel size should be greater than zero"
    return msg


def run(kind, args, shape):
    """(status, result) for one configuration."""
    status, result = run_raw(kind, args, shape)
    if status == "error":
        result = backend_neutral(kind, result)
    return status, result


def run_raw(kind, args, shape):
    kwargs = dict(args)
    try:
        mod = torch_class(kind)(**kwargs)
        mod.eval()
    except Exception as e:                       # construction error
        return "error", first_line(e)
    try:
        return outcome(forward(mod, shape))
    except Exception as e:
        err = first_line(e)
    # Limitation: a padding_mode that PyTorch 1.13 cannot apply to an
    # unbatched conv input (see the module docstring).
    if (kind.startswith("Conv") and len(shape) == int(kind[4]) + 1
            and kwargs.get("padding_mode") in LIMITED_MODES[int(kind[4])]):
        try:
            out = forward(mod, (1,) + tuple(shape))
        except Exception as e:
            return "error", first_line(e)
        status, result = outcome(out[1:])
        return ("limitation" if status == "ok" else status), result
    return "error", err


# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# the second release's layers, drawn after the first release's rows with a
# generator of their own, so those rows stay as they were

PAD_KINDS = ("ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad")


def gen_pad():
    d = pick(1, 2)
    kind = pick(*PAD_KINDS) + "%dd" % d
    rank = rint(d + 1, d + 2) if chance(0.8) else rint(1, 5)
    shape = sizes(rank, 1, 7)
    if chance(0.35):
        padding = rint(-2, 4)
    else:
        n = 2 * d if chance(0.85) else pick(1, 3, 4, 5, 6)
        padding = tuple(rint(-2, 5) for _ in range(n))
    kw = {"padding": padding}
    if kind.startswith("ConstantPad"):
        kw["value"] = pick(0.0, 1.5, -2.0, 3)
    return cfg(kind, shape, **kw)


def gen_hard():
    kind = pick("Hardswish", "Hardsigmoid")
    kw = {"inplace": chance(0.5)} if chance(0.3) else {}
    return cfg(kind, act_input(), **kw)


SEED2 = 20261207
N_CONFIGS2 = 300
GENERATORS2 = [(4, gen_pad), (1, gen_hard)]

GENERATORS = [   # (weight, generator)
    (12, lambda: gen_conv(1)), (12, lambda: gen_conv(2)),
    (9, lambda: gen_conv(3)),
    (5, lambda: gen_maxpool(1)), (6, lambda: gen_maxpool(2)),
    (4, lambda: gen_avgpool(1)), (5, lambda: gen_avgpool(2)),
    (3, lambda: gen_adaptive(1)), (3, lambda: gen_adaptive(2)),
    (4, lambda: gen_batchnorm(1)), (4, lambda: gen_batchnorm(2)),
    (6, gen_linear), (5, gen_flatten), (22, gen_activation),
]


def template(msg):
    return re.sub(r"\d+", "N", msg)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default=DEFAULT_OUT)
    ap.add_argument("--examples", action="store_true",
                    help="also print one example row per error template")
    opts = ap.parse_args()

    warnings.filterwarnings("ignore")
    torch.manual_seed(SEED)
    LIMITED_MODES.update(probe_limited_modes())
    t0 = time.time()
    weights = [w for w, _ in GENERATORS]
    gens = [g for _, g in GENERATORS]

    rows, seen = [], set()
    for _ in range(N_CONFIGS):
        kind, args, shape = R.choices(gens, weights)[0]()
        layer = lua_layer(kind, args)
        key = (shape, kind, args)
        if key in seen:
            continue
        seen.add(key)
        status, result = run(kind, args, shape)
        row = [str(len(rows) + 1), lua_shape(shape), layer, status, result]
        for f in row:
            assert "\t" not in f and "\n" not in f and "\r" not in f, row
        rows.append((kind, row))

    R.seed(SEED2)
    weights = [w for w, _ in GENERATORS2]
    gens = [g for _, g in GENERATORS2]
    for _ in range(N_CONFIGS2):
        kind, args, shape = R.choices(gens, weights)[0]()
        layer = lua_layer(kind, args)
        key = (shape, kind, args)
        if key in seen:
            continue
        seen.add(key)
        status, result = run(kind, args, shape)
        row = [str(len(rows) + 1), lua_shape(shape), layer, status, result]
        rows.append((kind, row))

    os.makedirs(os.path.dirname(opts.output), exist_ok=True)
    with open(opts.output, "w", encoding="utf-8", newline="\n") as f:
        f.write("# generated by tools/gen_shape_fixture.py with torch %s"
                " \u2014 do not edit\n" % torch.__version__)
        for _, row in rows:
            f.write("\t".join(row) + "\n")

    # ---- summary
    print("padding modes limited on unbatched conv input: %s"
          % {d: sorted(m) for d, m in LIMITED_MODES.items()})
    print("wrote %s: %d rows (%d configurations drawn) in %.1fs"
          % (os.path.relpath(opts.output, REPO), len(rows), N_CONFIGS,
             time.time() - t0))
    by_kind = collections.OrderedDict()
    for kind, row in rows:
        by_kind.setdefault(kind, collections.Counter())[row[3]] += 1
    statuses = ("ok", "empty", "error", "limitation")
    print("\n%-18s %5s %5s %5s %5s %5s" % (("kind", "rows") + statuses))
    total = collections.Counter()
    for kind in sorted(by_kind):
        c = by_kind[kind]
        total.update(c)
        print("%-18s %5d %5d %5d %5d %5d"
              % ((kind, sum(c.values())) + tuple(c[s] for s in statuses)))
    print("%-18s %5d %5d %5d %5d %5d"
          % (("TOTAL", sum(total.values())) + tuple(total[s] for s in statuses)))
    n = len(rows)
    print("valid (ok+limitation): %.1f%%, invalid (error+empty): %.1f%%"
          % (100.0 * (total["ok"] + total["limitation"]) / n,
             100.0 * (total["error"] + total["empty"]) / n))

    errs = collections.Counter()
    example = {}
    for _, row in rows:
        if row[3] == "error":
            t = template(row[4])
            errs[t] += 1
            example.setdefault(t, row)
    print("\n%d distinct error templates; the 40 most frequent:" % len(errs))
    for t, c in errs.most_common(40):
        print("%5d  %s" % (c, t))
    if opts.examples:
        print("\none example row per error template (most frequent first):")
        for t, _ in errs.most_common():
            print("\t".join(example[t]))


if __name__ == "__main__":
    main()
