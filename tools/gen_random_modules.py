#!/usr/bin/python3
"""Random module-model reference fixtures (SPEC.md 1.1): nn.Module with a
forward, nested Sequential/ModuleList, residual, multiplied and concatenated
branches, shared modules, padding layers; specs, weights, inputs and
PyTorch's outputs, for testing modelc's module front end and graph back end.

    /usr/bin/python3 tools/gen_random_modules.py [-n COUNT] [-o DIR]
    /usr/bin/python3 tools/gen_random_modules.py --verify [-o DIR]

writes (default: 160 models into tests/fixtures/modules/, after removing the
mod*.lua/.safetensors/.npy files already there, and index.tsv) and prints a
coverage table; exits 1 if any coverage class has no model.  Other files in
that directory (hand-written module models) are left alone.

--verify regenerates every model in memory (the generator is deterministic),
checks that the committed spec text is the one it writes, loads the
committed .safetensors with a strict by-hand reader into the rebuilt PyTorch
module (load_state_dict(strict=True): every key the module has, no other,
same shapes and dtypes), runs it on the committed input and compares with
the committed output.  (An independent reading of the spec is what modelc
itself does; tests/test_models.c replays these files through it.)

Layout, for every model modNNN (NNN = 001, 002, ...; "mod" so that the
model names never collide with tests/fixtures/models/mNNN):

  modNNN.lua          the spec as a user writes it: `local net =
                      nn.Module()`, children assigned as fields,
                      `function net:forward(x) ... end`, containers
                      `nn.Sequential{...}` / `nn.ModuleList{...}`, and
                      `return model "modNNN" { input = {...}, weights =
                      "modNNN.safetensors", module = net }` (or `seed = N`
                      instead of weights for a few models).
  modNNN.safetensors  the module's state_dict() exactly as PyTorch returns
                      it: nested keys ("blocks.1.shortcut.0.weight"),
                      BatchNorm's I64 num_batches_tracked included, state
                      dict order.  Values random, scaled so activations stay
                      O(1) (see gen_model_fixture.py); batch norm running
                      statistics random so folding is exercised.
  modNNN.in.npy       float32 input, standard normal (numpy generator seeded
                      per model), shape = the spec's input.
  modNNN.out.npy      float32 output of the PyTorch module in eval() mode
                      under torch.no_grad().
  index.tsv           '#' header, then per model: name TAB coverage classes
                      TAB input shape TAB weights source.

Coverage classes (`family:option`, REQUIRED below; the generator targets
the least-covered class for each new model, so each has several models):
  res     basic residual blocks (conv-bn-act-conv-bn + shortcut): identity
          (`y + x`), identity_module (nn.Identity shortcut), projection
          (1x1 conv + bn Sequential), stride2, 1d, 2d, shortcut_first.
  body    `x (+|-) self.body(x)` with body a Sequential; torch.add, scaled
          (`* 0.5`), number_left (`0.5 * y`).
  se      squeeze-excitation, `x * s` broadcast: conv1x1 or linear fcs,
          sigmoid / hardsigmoid / gate_module, pooling by mean_keepdim,
          F.adaptive_avg_pool, nn.AdaptiveAvgPool; view_size
          (`s:view(x:size(0), -1, 1, 1)`), gate_left (`s * x`), 1d, 2d.
  cat     torch.cat on the channel dim: 2way, 3way, neg_dim, pool_branch.
  shared  one module called twice: conv_twice, act_twice, pad_twice.
  dw      depthwise-separable: sequential, module (F.relu6/F.relu), stride2.
  pad     every padding layer (ZeroPad1d/2d, ConstantPad1d/2d,
          ReflectionPad1d/2d, ReplicationPad1d/2d), asym (tuple padding),
          F.pad constant / with a value / reflect / replicate.
  tcn     1-D dilated causal residual block (left padding (k-1)*dilation).
  mb      MobileNetV3 bottleneck: expand + Hardswish, depthwise, SE, project.
  join    branches joined by -, /, * (also torch.sub/mul/div, `/ 2`).
  nest    seq_in_seq, modlist_loop, modlist_index (`self.layers[2](x)`),
          modlist_nested (ModuleList of ModuleLists), module_in_seq (a
          module with a forward inside a Sequential), seq_of_modules, fields.
  act     Hardswish/Hardsigmoid layers, F.* and torch.* activations.
  head    none, adaptive_flatten, mean_linear (`x:mean({2, 3})`),
          view_linear, reshape_linear, flatten_method, seq_classifier,
          log_softmax, max_pool.
  bn      folded_1d/2d (BatchNorm right after a conv), num_batches_tracked.
  fwd     x.shape, x:dim, x:size, keyword tables (kw_cat_dim, kw_flatten,
          kw_pad_mode, kw_leaky_slope).
  model   batch=1, batch=2, unbatched (no batch norm then: PyTorch's needs
          a batch), 1d, 2d, len>=4, stem_seq, stem_fields.
  weights file, seed, seed_chain (seeded and a chain of layers: blocks
          from dw, pad and nested Sequentials only).

With `seed = N` (weights:seed), the reference is torch.manual_seed(N) and
then the layers constructed in the order the spec's Lua constructs them
(PyTorch's default init; batch norm statistics stay 0/1).

Every model is also run in float64 and redrawn unless float32 and float64
agree to a tenth of the test tolerance (1e-5 abs + 1e-4 rel), with
1e-3 <= max |out| <= 1e3.  Every tensor (parameter or activation) holds at
most MAX_NUMEL floats.

PyTorch 1.13 has no nn.ZeroPad1d (SPEC.md lists it): the spec says
`nn.ZeroPad1d{...}` and the reference uses nn.ConstantPad1d(..., 0.0),
which is the same operation with no parameters.
"""

import argparse
import collections
import os
import random
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_io_fixture import write_safetensors  # noqa: E402

SEED = 20261207
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "modules")
TOOL = "tools/gen_random_modules.py"
MAX_NUMEL = 4096          # any parameter or activation
ATOL, RTOL = 1e-5, 1e-4

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

# --------------------------------------------------------------------------
# coverage classes: family -> options; a model's classes are "family:option"

REQUIRED = collections.OrderedDict([
    ("res", ["identity", "identity_module", "projection", "stride2", "1d",
             "2d", "shortcut_first"]),
    ("body", ["add", "sub", "torch.add", "scaled", "number_left"]),
    ("se", ["conv1x1", "linear", "sigmoid", "hardsigmoid", "gate_module",
            "mean_keepdim", "adaptive_pool", "pool_module", "view_size",
            "1d", "2d", "gate_left"]),
    ("cat", ["2way", "3way", "neg_dim", "1d", "2d", "pool_branch"]),
    ("shared", ["conv_twice", "act_twice", "pad_twice"]),
    ("dw", ["sequential", "module", "1d", "2d", "stride2"]),
    ("pad", ["ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d",
             "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d",
             "ReplicationPad2d", "asym", "F.pad_constant", "F.pad_value",
             "F.pad_reflect", "F.pad_replicate"]),
    ("tcn", ["dilated", "causal", "downsample"]),
    ("mb", ["expand_se_hardswish", "residual"]),
    ("join", ["sub", "div", "mul_same", "torch.mul", "torch.sub",
              "torch.div", "div_number"]),
    ("nest", ["seq_in_seq", "modlist_loop", "modlist_index",
              "modlist_nested", "module_in_seq", "seq_of_modules",
              "fields"]),
    ("act", ["Hardswish", "Hardsigmoid", "F.hardswish", "F.hardsigmoid",
             "F.relu", "F.relu6", "F.silu", "F.gelu", "F.leaky_relu",
             "torch.tanh", "torch.sigmoid"]),
    ("head", ["none", "adaptive_flatten", "mean_linear", "view_linear",
              "reshape_linear", "flatten_method", "seq_classifier",
              "log_softmax", "max_pool"]),
    ("bn", ["folded_1d", "folded_2d", "num_batches_tracked"]),
    ("model", ["batch=1", "batch=2", "unbatched", "1d", "2d", "len>=4",
               "stem_seq", "stem_fields"]),
    ("fwd", ["x.shape", "x:dim", "x:size", "kw_cat_dim", "kw_flatten",
             "kw_pad_mode", "kw_leaky_slope"]),
    ("weights", ["file", "seed", "seed_chain"]),
])
ALL_CLASSES = ["%s:%s" % (k, c) for k, cs in REQUIRED.items() for c in cs]


# --------------------------------------------------------------------------
# the module tree: leaves (nn layers), Seq, MList, Mod (a forward)

def lua_num(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        r = repr(v)
        return r if any(c in r for c in ".en") else r + ".0"
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, (tuple, list)):
        return "{%s}" % ", ".join(lua_num(x) for x in v)
    return str(v)


class Leaf:
    """nn.Kind{positional..., key = value...}; py: the torch class and
    keyword arguments when they differ from the spec's (ZeroPad1d)."""

    def __init__(self, kind, pos=(), **kw):
        self.kind, self.pos, self.kw = kind, list(pos), kw

    def lua(self):
        parts = [lua_num(v) for v in self.pos]
        parts += ["%s = %s" % (k, lua_num(v)) for k, v in self.kw.items()]
        return "nn.%s{%s}" % (self.kind, ", ".join(parts))

    def make(self):
        if self.kind == "ZeroPad1d":
            return nn.ConstantPad1d(*self.pos, value=0.0)
        return getattr(nn, self.kind)(*self.pos, **self.kw)


class Seq:
    def __init__(self, *children):
        self.children = list(children)


class MList:
    def __init__(self, *children):
        self.children = list(children)


class Mod:
    """nn.Module() with fields (name -> child, in assignment order) and a
    forward: a list of Lua lines and a Python function of (self, x)."""

    def __init__(self):
        self.fields = collections.OrderedDict()
        self.lua_fwd = []
        self.py_fwd = None


class GenModule(nn.Module):
    def __init__(self, fwd):
        super().__init__()
        self._fwd = fwd

    def forward(self, x):
        return self._fwd(self, x)


class Emitter:
    """Writes the spec's Lua and records the order in which its leaves are
    constructed.  A Mod inside a container expression (at any depth) is
    defined first, as a local, the way a user writes it; so all of them
    are built before any layer written inline in that expression."""

    def __init__(self):
        self.lines, self.order, self.nmod = [], [], 0
        self.var = {}   # id(Mod) -> its local's name

    def expr(self, node, indent):
        if isinstance(node, Mod):
            return self.module(node)
        self.predefine(node)
        return self.render(node, indent)

    def predefine(self, node):
        for c in getattr(node, "children", []):
            if isinstance(c, Mod):
                self.module(c)
            else:
                self.predefine(c)

    def render(self, node, indent):
        if isinstance(node, Leaf):
            self.order.append(node)
            return node.lua()
        if isinstance(node, Mod):
            return self.var[id(node)]
        kind = "Sequential" if isinstance(node, Seq) else "ModuleList"
        parts = [self.render(c, indent + 2) for c in node.children]
        one = "nn.%s{%s}" % (kind, ", ".join(parts))
        if len(one) + indent <= 60 and "\n" not in one:
            return one
        pad = " " * (indent + 2)
        return "nn.%s{\n%s%s,\n%s}" % (kind, pad, (",\n" + pad).join(parts),
                                       " " * indent)

    def module(self, m, var=None):
        if var is None:
            self.nmod += 1
            var = "block%d" % self.nmod
        self.var[id(m)] = var
        self.lines.append("local %s = nn.Module()" % var)
        for name, child in m.fields.items():
            if isinstance(child, Mod):
                sub = self.module(child)
                self.lines.append("%s.%s = %s" % (var, name, sub))
            else:
                self.lines.append("%s.%s = %s" % (
                    var, name, self.expr(child, 0)))
        self.lines.append("function %s:forward(x)" % var)
        self.lines += ["  " + ln for ln in m.lua_fwd]
        self.lines.append("end")
        return var


def build_torch(node, made):
    """The torch module for a tree node; leaves come from `made`."""
    if isinstance(node, Leaf):
        return made[id(node)]
    if isinstance(node, Seq):
        return nn.Sequential(*[build_torch(c, made) for c in node.children])
    if isinstance(node, MList):
        return nn.ModuleList([build_torch(c, made) for c in node.children])
    g = GenModule(node.py_fwd)
    for name, child in node.fields.items():
        setattr(g, name, build_torch(child, made))
    return g


def materialise(root, order, seed=None):
    if seed is not None:
        torch.manual_seed(seed)
    made = {id(leaf): leaf.make() for leaf in order}
    return build_torch(root, made).eval()


# --------------------------------------------------------------------------
# generation

class Gen:
    """Draws one model; `prefer` is the family of the target class."""

    def __init__(self, r, target):
        self.r = r
        self.target = target
        self.family = target.split(":")[0]
        self.chain = target == "weights:seed_chain"
        self.tags = set()

    def chance(self, p):
        return self.r.random() < p

    def pick(self, *xs):
        return self.r.choice(xs)

    def wants(self, cls):
        """True when the target is cls, else with probability 1/2."""
        return self.target == cls or self.chance(0.5)

    # ---- the input and small layers

    def conv(self, cin, cout, k, **kw):
        return Leaf("Conv%dd" % self.d, [cin, cout, k], **kw)

    def bn(self, c):
        self.tags.add("bn:folded_%dd" % self.d)
        return Leaf("BatchNorm%dd" % self.d, [c])

    def act_leaf(self):
        kind = self.pick("ReLU", "ReLU6", "Hardswish", "Hardsigmoid", "SiLU",
                         "ReLU", "Hardswish")
        if kind in ("Hardswish", "Hardsigmoid"):
            self.tags.add("act:" + kind)
        return Leaf(kind)

    def fact(self, e):
        """An activation written functionally in forward: (lua, py)."""
        name = self.pick("F.relu", "F.relu", "F.relu6", "F.hardswish",
                         "F.silu", "F.gelu", "F.leaky_relu", "torch.tanh",
                         "F.hardsigmoid", "torch.sigmoid")
        if self.target.startswith("act:F.") or \
                self.target.startswith("act:torch."):
            if self.chance(0.5):
                name = self.target[4:]
        self.tags.add("act:" + name)
        fn = {"F.relu": F.relu, "F.relu6": F.relu6, "F.hardswish":
              F.hardswish, "F.silu": F.silu, "F.gelu": F.gelu,
              "F.leaky_relu": lambda t: F.leaky_relu(t, 0.1),
              "torch.tanh": torch.tanh, "F.hardsigmoid": F.hardsigmoid,
              "torch.sigmoid": torch.sigmoid}[name]
        lua = "%s(%s)" % (name, e)
        if name == "F.leaky_relu":
            if self.chance(0.5) or self.target == "fwd:kw_leaky_slope":
                self.tags.add("fwd:kw_leaky_slope")
                lua = "F.leaky_relu(%s, {negative_slope = 0.1})" % e
            else:
                lua = "F.leaky_relu(%s, 0.1)" % e
        return lua, fn

    def use_bn(self):
        return self.batched

    def conv_bn(self, cin, cout, k, stride=1, groups=1, dilation=1,
                padding=None):
        """[conv, bn] (batched) or [conv with bias] (unbatched)."""
        kw = {}
        if stride != 1:
            kw["stride"] = stride
        p = (k // 2) * dilation if padding is None else padding
        if p:
            kw["padding"] = p
        if dilation != 1:
            kw["dilation"] = dilation
        if groups != 1:
            kw["groups"] = groups
        if self.use_bn():
            kw["bias"] = False
            return [self.conv(cin, cout, k, **kw), self.bn(cout)]
        return [self.conv(cin, cout, k, **kw)]

    # ---- blocks: each returns (node, out_channels)

    def blk_residual(self, c):
        d = self.d
        self.tags.add("res:%dd" % d)
        stride = 2 if self.min_sp() >= 6 and self.wants("res:stride2") \
            and self.chance(0.6) else 1
        cout = c if self.chance(0.4) and stride == 1 else \
            min(16, c + self.pick(0, 4, 8))
        m = Mod()
        ks = self.pick(3, 3, 5) if d == 1 else 3
        cb1 = self.conv_bn(c, cout, ks, stride=stride)
        cb2 = self.conv_bn(cout, cout, ks)
        m.fields["conv1"] = cb1[0]
        if len(cb1) > 1:
            m.fields["bn1"] = cb1[1]
        m.fields["conv2"] = cb2[0]
        if len(cb2) > 1:
            m.fields["bn2"] = cb2[1]
        bnp = self.use_bn()
        if stride != 1 or cout != c:
            self.tags.add("res:projection")
            if stride != 1:
                self.tags.add("res:stride2")
            proj = self.conv_bn(c, cout, 1, stride=stride, padding=0)
            m.fields["shortcut"] = Seq(*proj)
            sc = "self.shortcut(x)"
            has_sc = True
        elif self.chance(0.5):
            self.tags.add("res:identity_module")
            m.fields["shortcut"] = Leaf("Identity")
            sc, has_sc = "self.shortcut(x)", True
        else:
            self.tags.add("res:identity")
            sc, has_sc = "x", False
        a1, f1 = self.fact("self.bn1(self.conv1(x))" if bnp
                           else "self.conv1(x)")
        first = self.chance(0.3)
        if first:
            self.tags.add("res:shortcut_first")
        a2, f2 = self.fact("%s + y" % sc if first else "y + %s" % sc)
        m.lua_fwd = ["local y = %s" % a1,
                     "y = self.bn2(self.conv2(y))" if bnp
                     else "y = self.conv2(y)",
                     "return %s" % a2]

        def fwd(s, x):
            y = f1(s.bn1(s.conv1(x)) if bnp else s.conv1(x))
            y = s.bn2(s.conv2(y)) if bnp else s.conv2(y)
            short = s.shortcut(x) if has_sc else x
            return f2(short + y if first else y + short)
        m.py_fwd = fwd
        return m, cout

    def blk_body(self, c):
        """y = x (op) self.body(x) with body a Sequential."""
        m = Mod()
        layers = self.conv_bn(c, c, 3) + [self.act_leaf()] + \
            self.conv_bn(c, c, 3)
        m.fields["body"] = Seq(*layers)
        form = self.pick("add", "sub", "torch.add", "scaled", "number_left")
        if self.family == "body" and self.chance(0.6):
            form = self.target.split(":")[1]
        self.tags.add("body:" + form)
        if form == "add":
            m.lua_fwd = ["return x + self.body(x)"]
            m.py_fwd = lambda s, x: x + s.body(x)
        elif form == "sub":
            m.lua_fwd = ["return x - self.body(x)"]
            m.py_fwd = lambda s, x: x - s.body(x)
        elif form == "torch.add":
            m.lua_fwd = ["return torch.add(x, self.body(x))"]
            m.py_fwd = lambda s, x: torch.add(x, s.body(x))
        elif form == "scaled":
            m.lua_fwd = ["return x + self.body(x) * 0.5"]
            m.py_fwd = lambda s, x: x + s.body(x) * 0.5
        else:
            m.lua_fwd = ["local y = self.body(x)", "return 0.5 * y + x"]
            m.py_fwd = lambda s, x: 0.5 * s.body(x) + x
        return m, c

    def se_module(self, c):
        """Squeeze-excitation; returns the Mod (x * gate(x))."""
        d, b = self.d, self.batched
        self.tags.add("se:%dd" % d)
        m = Mod()
        r = max(2, c // self.pick(2, 4))
        sp = list(range(-d, 0))  # the spatial dims, negative
        spd = [self.rank + i for i in sp]
        use_linear = self.chance(0.4) or self.target == "se:linear"
        lua = []
        pyops = []
        if use_linear:
            self.tags.add("se:linear")
            m.fields["fc1"] = Leaf("Linear", [c, r])
            m.fields["fc2"] = Leaf("Linear", [r, c])
            dims = spd[0] if d == 1 else tuple(spd)
            lua.append("local s = x:mean(%s)" % lua_num(dims))
            pyops.append(lambda s_, x, t: x.mean(dims))
        else:
            self.tags.add("se:conv1x1")
            pool = self.pick("adaptive_pool", "mean_keepdim", "pool_module")
            if self.target.startswith("se:") and \
                    self.target[3:] in ("adaptive_pool", "mean_keepdim",
                                        "pool_module"):
                pool = self.target[3:]
            self.tags.add("se:" + pool)
            if pool == "pool_module":
                m.fields["pool"] = Leaf("AdaptiveAvgPool%dd" % d, [1])
                lua.append("local s = self.pool(x)")
                pyops.append(lambda s_, x, t: s_.pool(x))
            elif pool == "adaptive_pool":
                lua.append("local s = F.adaptive_avg_pool%dd(x, 1)" % d)
                fn = F.adaptive_avg_pool1d if d == 1 else \
                    F.adaptive_avg_pool2d
                pyops.append(lambda s_, x, t: fn(x, 1))
            else:
                dims = spd[0] if d == 1 else tuple(spd)
                lua.append("local s = x:mean(%s, true)" % lua_num(dims))
                pyops.append(lambda s_, x, t: x.mean(dims, True))
            m.fields["fc1"] = self.conv(c, r, 1)
            m.fields["fc2"] = self.conv(r, c, 1)
        gate = self.pick("sigmoid", "hardsigmoid", "gate_module")
        if self.target in ("se:sigmoid", "se:hardsigmoid", "se:gate_module"):
            gate = self.target[3:]
        self.tags.add("se:" + gate)
        if gate == "gate_module":
            kind = self.pick("Hardsigmoid", "Sigmoid")
            if kind == "Hardsigmoid":
                self.tags.add("act:Hardsigmoid")
            m.fields["gate"] = Leaf(kind)
        lua.append("s = F.relu(self.fc1(s))")
        pyops.append(lambda s_, x, t: F.relu(s_.fc1(t)))
        g = {"sigmoid": "torch.sigmoid(self.fc2(s))",
             "hardsigmoid": "F.hardsigmoid(self.fc2(s))",
             "gate_module": "self.gate(self.fc2(s))"}[gate]
        lua.append("s = " + g)
        gf = {"sigmoid": torch.sigmoid, "hardsigmoid": F.hardsigmoid}
        if gate == "gate_module":
            pyops.append(lambda s_, x, t: s_.gate(s_.fc2(t)))
        else:
            pyops.append(lambda s_, x, t, f=gf[gate]: f(s_.fc2(t)))
        if use_linear:
            ones = (1,) * d
            if self.chance(0.5) or self.target == "se:view_size":
                if b:
                    self.tags.add("se:view_size")
                    self.tags.add("fwd:x:size")
                    lua.append("s = s:view(x:size(0), %s)" % ", ".join(
                        ["-1"] + ["1"] * d))
                    pyops.append(lambda s_, x, t: t.view(x.size(0), -1,
                                                         *ones))
                else:
                    lua.append("s = s:view(x:size(0), %s)" % ", ".join(
                        ["1"] * d))
                    self.tags.add("se:view_size")
                    self.tags.add("fwd:x:size")
                    pyops.append(lambda s_, x, t: t.view(x.size(0), *ones))
            else:
                shape = ([self.batch] if b else []) + [c] + [1] * d
                lua.append("s = s:reshape(%s)" % ", ".join(map(str, shape)))
                pyops.append(lambda s_, x, t: t.reshape(shape))
        left = self.chance(0.3)
        if left:
            self.tags.add("se:gate_left")
        lua.append("return s * x" if left else "return x * s")
        m.lua_fwd = lua

        def fwd(s_, x):
            t = None
            for op in pyops:
                t = op(s_, x, t)
            return t * x if left else x * t
        m.py_fwd = fwd
        return m

    def blk_se(self, c):
        return self.se_module(c), c

    def blk_cat(self, c):
        d, b = self.d, self.batched
        self.tags.add("cat:%dd" % d)
        m = Mod()
        n = 3 if self.wants("cat:3way") and self.chance(0.6) else 2
        self.tags.add("cat:%dway" % n)
        c1 = self.pick(2, 4, 6)
        c2 = self.pick(2, 4, 8)
        m.fields["branch1"] = self.conv(c, c1, 1)
        m.fields["branch2"] = Seq(*(self.conv_bn(c, c2, 1, padding=0) +
                                    [self.act_leaf()] +
                                    [self.conv(c2, c2, 3, padding=1)]))
        lua = ["local a = self.branch1(x)", "local b = self.branch2(x)"]
        names = ["a", "b"]
        pool = None
        if n == 3:
            c3 = self.pick(2, 4)
            if self.chance(0.5):
                self.tags.add("cat:pool_branch")
                pool = "F.max_pool%dd(x, 3, 1, 1)" % d \
                    if self.chance(0.5) else "F.avg_pool%dd(x, 3, 1, 1)" % d
                m.fields["branch3"] = self.conv(c, c3, 1)
                lua.append("local p = self.branch3(%s)" % pool)
            else:
                m.fields["branch3"] = Seq(
                    Leaf("MaxPool%dd" % d, [3], stride=1, padding=1),
                    self.conv(c, c3, 1))
                self.tags.add("cat:pool_branch")
                lua.append("local p = self.branch3(x)")
            names.append("p")
        else:
            c3 = 0
        neg = self.chance(0.4) or self.target == "cat:neg_dim"
        dim = -(d + 1) if neg else (1 if b else 0)
        if neg:
            self.tags.add("cat:neg_dim")
        if self.chance(0.3) or self.target == "fwd:kw_cat_dim":
            self.tags.add("fwd:kw_cat_dim")
            lua.append("return torch.cat({%s}, {dim = %d})"
                       % (", ".join(names), dim))
        else:
            lua.append("return torch.cat({%s}, %d)"
                       % (", ".join(names), dim))
        m.lua_fwd = lua
        pf = None
        if pool:
            pf = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d,
                  ("avg", 1): F.avg_pool1d, ("avg", 2): F.avg_pool2d}[
                      (pool[2:5], d)]

        def fwd(s, x):
            ts = [s.branch1(x), s.branch2(x)]
            if n == 3:
                ts.append(s.branch3(pf(x, 3, 1, 1) if pf else x))
            return torch.cat(ts, dim)
        m.py_fwd = fwd
        return m, c1 + c2 + c3

    def blk_shared(self, c):
        m = Mod()
        form = self.pick("conv_twice", "act_twice", "pad_twice")
        if self.family == "shared" and self.chance(0.7):
            form = self.target.split(":")[1]
        self.tags.add("shared:" + form)
        if form == "conv_twice":
            m.fields["conv"] = self.conv(c, c, 3, padding=1) \
                if self.chance(0.5) else self.conv(c, c, 3, padding="same")
            a, f = self.fact("y")
            m.lua_fwd = ["local y = self.conv(x)",
                         "y = self.conv(%s)" % a, "return y + x"]
            m.py_fwd = lambda s, x: s.conv(f(s.conv(x))) + x
        elif form == "act_twice":
            m.fields["act"] = self.act_leaf()
            m.fields["conv"] = self.conv(c, c, 3, padding=1)
            m.lua_fwd = ["return self.act(self.conv(self.act(x)))"]
            m.py_fwd = lambda s, x: s.act(s.conv(s.act(x)))
        else:
            kind = "ReflectionPad%dd" % self.d if self.chance(0.5) \
                else "ReplicationPad%dd" % self.d
            self.tags.add("pad:" + kind)
            m.fields["pad"] = Leaf(kind, [1])
            m.fields["conv1"] = self.conv(c, c, 3)
            m.fields["conv2"] = self.conv(c, c, 3)
            a, f = self.fact("self.conv1(self.pad(x))")
            m.lua_fwd = ["local y = %s" % a,
                         "return self.conv2(self.pad(y))"]
            m.py_fwd = lambda s, x: s.conv2(s.pad(f(s.conv1(s.pad(x)))))
        return m, c

    def blk_dw(self, c):
        d = self.d
        self.tags.add("dw:%dd" % d)
        stride = 2 if self.min_sp() >= 6 and self.chance(0.4) else 1
        if stride == 2:
            self.tags.add("dw:stride2")
        cout = min(16, c + self.pick(0, 4, 8))
        dw = self.conv_bn(c, c, 3, stride=stride, groups=c)
        pw = self.conv_bn(c, cout, 1, padding=0)
        if self.chance(0.5) and self.target != "dw:module":
            self.tags.add("dw:sequential")
            return Seq(*(dw + [Leaf(self.pick("ReLU", "ReLU6"))] + pw +
                         [Leaf("ReLU")])), cout
        self.tags.add("dw:module")
        m = Mod()
        m.fields["depthwise"] = dw[0]
        bnp = len(dw) > 1
        if bnp:
            m.fields["bn1"] = dw[1]
        m.fields["pointwise"] = pw[0]
        if bnp:
            m.fields["bn2"] = pw[1]
        self.tags.add("act:F.relu6")
        self.tags.add("act:F.relu")
        if bnp:
            m.lua_fwd = ["x = F.relu6(self.bn1(self.depthwise(x)))",
                         "return F.relu(self.bn2(self.pointwise(x)))"]
            m.py_fwd = lambda s, x: F.relu(s.bn2(s.pointwise(
                F.relu6(s.bn1(s.depthwise(x))))))
        else:
            m.lua_fwd = ["x = F.relu6(self.depthwise(x))",
                         "return F.relu(self.pointwise(x))"]
            m.py_fwd = lambda s, x: F.relu(s.pointwise(
                F.relu6(s.depthwise(x))))
        return m, cout

    def blk_pad(self, c):
        d = self.d
        k = 3
        if self.chance(0.5) or self.target.startswith("pad:F."):
            mode = self.pick("constant", "value", "reflect", "replicate")
            if self.target.startswith("pad:F.pad_"):
                mode = self.target[10:]
            self.tags.add("pad:F.pad_" + mode)
            pads = [self.pick(0, 1, 2) for _ in range(2 * d)]
            if mode in ("reflect", "replicate"):
                pads = [min(p, 1) for p in pads]
            pads = [p if self.chance(0.5) else 1 for p in pads]
            if len(set(pads)) > 1:
                self.tags.add("pad:asym")
            m = Mod()
            m.fields["conv"] = self.conv(c, c, k)
            if mode == "constant":
                call = "F.pad(x, %s)" % lua_num(pads)
                pf = lambda x: F.pad(x, pads)
            elif mode == "value":
                call = 'F.pad(x, %s, "constant", 0.5)' % lua_num(pads)
                pf = lambda x: F.pad(x, pads, "constant", 0.5)
            elif self.chance(0.5) or self.target == "fwd:kw_pad_mode":
                self.tags.add("fwd:kw_pad_mode")
                call = 'F.pad(x, %s, {mode = "%s"})' % (lua_num(pads), mode)
                pf = lambda x: F.pad(x, pads, mode)
            else:
                call = 'F.pad(x, %s, "%s")' % (lua_num(pads), mode)
                pf = lambda x: F.pad(x, pads, mode)
            m.lua_fwd = ["return self.conv(%s)" % call]
            m.py_fwd = lambda s, x: s.conv(pf(x))
            return m, c
        kinds = ["ZeroPad%dd", "ConstantPad%dd", "ReflectionPad%dd",
                 "ReplicationPad%dd"]
        kind = self.pick(*kinds) % d
        if self.target.startswith("pad:") and \
                self.target.endswith("%dd" % d) and \
                not self.target.startswith("pad:F."):
            kind = self.target[4:]
        self.tags.add("pad:" + kind)
        if self.chance(0.5):
            p = 1
        else:
            p = tuple(self.pick(0, 1, 2) if not kind.startswith("Re") else
                      self.pick(0, 1) for _ in range(2 * d))
            if sum(p[:2]) == 0:
                p = (1,) + p[1:]
            if len(set(p)) > 1:
                self.tags.add("pad:asym")
        args = [p]
        if kind.startswith("Constant"):
            args.append(self.pick(0.0, 0.25, -1.0))
        layers = [Leaf(kind, args), self.conv(c, c, k)]
        if self.use_bn():
            layers[1].kw["bias"] = False
            layers.append(self.bn(c))
        layers.append(self.act_leaf())
        return Seq(*layers), c

    def blk_tcn(self, c):
        """1-D dilated causal residual block (TCN)."""
        self.tags.add("tcn:dilated")
        self.tags.add("tcn:causal")
        dil = self.pick(1, 2, 4)
        k = self.pick(2, 3)
        cout = c if self.chance(0.5) else min(16, c + 4)
        m = Mod()
        left = (k - 1) * dil
        zero = self.chance(0.5)
        kind = "ZeroPad1d" if zero else "ConstantPad1d"
        self.tags.add("pad:" + kind)
        self.tags.add("pad:asym")
        self.tags.add("shared:pad_twice")
        args = [(left, 0)] if zero else [(left, 0), 0.0]
        m.fields["pad"] = Leaf(kind, args)
        m.fields["conv1"] = self.conv(c, cout, k, dilation=dil)
        m.fields["conv2"] = self.conv(cout, cout, k, dilation=dil)
        if cout != c:
            self.tags.add("tcn:downsample")
            m.fields["downsample"] = self.conv(c, cout, 1)
            sc = "self.downsample(x)"
        else:
            sc = "x"
        a1, f1 = self.fact("self.conv1(self.pad(x))")
        a2, f2 = self.fact("self.conv2(self.pad(y))")
        m.lua_fwd = ["local y = %s" % a1, "y = %s" % a2,
                     "return F.relu(y + %s)" % sc]
        self.tags.add("act:F.relu")
        down = cout != c

        def fwd(s, x):
            y = f1(s.conv1(s.pad(x)))
            y = f2(s.conv2(s.pad(y)))
            return F.relu(y + (s.downsample(x) if down else x))
        m.py_fwd = fwd
        return m, cout

    def blk_mb(self, c):
        """MobileNetV3 bottleneck: expand, depthwise, SE, project."""
        self.tags.add("mb:expand_se_hardswish")
        e = min(16, 2 * c)
        m = Mod()
        m.fields["expand"] = Seq(*(self.conv_bn(c, e, 1, padding=0) +
                                   [Leaf("Hardswish")]))
        self.tags.add("act:Hardswish")
        m.fields["dw"] = Seq(*(self.conv_bn(e, e, 3, groups=e) +
                               [Leaf("Hardswish")]))
        se = self.se_module(e)
        if self.chance(0.5) or self.target == "nest:module_in_seq":
            # the SE module inside the depthwise Sequential
            self.tags.add("nest:module_in_seq")
            m.fields["dw"].children.append(se)
            m.lua_fwd = ["local y = self.dw(self.expand(x))"]
            pre = lambda s, x: s.dw(s.expand(x))
        else:
            m.fields["se"] = se
            m.lua_fwd = ["local y = self.se(self.dw(self.expand(x)))"]
            pre = lambda s, x: s.se(s.dw(s.expand(x)))
        m.fields["project"] = Seq(*self.conv_bn(e, c, 1, padding=0))
        m.lua_fwd.append("return x + self.project(y)")
        self.tags.add("mb:residual")
        m.py_fwd = lambda s, x: x + s.project(pre(s, x))
        return m, c

    def blk_join(self, c):
        """Two branches joined by -, *, / (or their torch.* forms)."""
        m = Mod()
        form = self.pick("sub", "div", "mul_same", "torch.mul", "torch.sub",
                         "torch.div", "div_number")
        if self.family == "join" and self.chance(0.7):
            form = self.target.split(":")[1]
        self.tags.add("join:" + form)
        m.fields["a"] = self.conv(c, c, 3, padding=1)
        m.fields["b"] = self.conv(c, c, 1)
        lua = ["local a = self.a(x)", "local b = self.b(x)"]
        if form == "sub":
            lua.append("return a - b")
            pf = lambda a, b: a - b
        elif form == "div":
            self.tags.add("act:torch.sigmoid")
            lua.append("return a / (1 + torch.sigmoid(b))")
            pf = lambda a, b: a / (1 + torch.sigmoid(b))
        elif form == "mul_same":
            self.tags.add("act:torch.tanh")
            lua.append("return a * torch.tanh(b)")
            pf = lambda a, b: a * torch.tanh(b)
        elif form == "torch.mul":
            self.tags.add("act:torch.sigmoid")
            lua.append("return torch.mul(a, torch.sigmoid(b))")
            pf = lambda a, b: torch.mul(a, torch.sigmoid(b))
        elif form == "torch.sub":
            lua.append("return torch.sub(a, b)")
            pf = lambda a, b: torch.sub(a, b)
        elif form == "torch.div":
            lua.append("return torch.div(a, 2) + b")
            pf = lambda a, b: torch.div(a, 2) + b
        else:
            lua.append("return (a + b) / 2")
            pf = lambda a, b: (a + b) / 2
        m.lua_fwd = lua
        m.py_fwd = lambda s, x: pf(s.a(x), s.b(x))
        return m, c

    def blk_nestseq(self, c):
        self.tags.add("nest:seq_in_seq")
        inner1 = Seq(*self.conv_bn(c, c, 3))
        inner2 = Seq(*(self.conv_bn(c, c, 1, padding=0) +
                       [self.act_leaf()]))
        return Seq(inner1, self.act_leaf(), inner2), c

    # ---- the model

    def min_sp(self):
        return min(self.shape[-self.d:])

    BLOCKS = {"res": "blk_residual", "body": "blk_body", "se": "blk_se",
              "cat": "blk_cat", "shared": "blk_shared", "dw": "blk_dw",
              "pad": "blk_pad", "tcn": "blk_tcn", "mb": "blk_mb",
              "join": "blk_join", "nest": "blk_nestseq"}

    def block(self):
        if self.chain:   # blocks whose graph is a chain of layers
            return getattr(self, self.BLOCKS[self.pick("dw", "pad", "nest")])(
                self.shape[-self.d - 1])
        fams = list(self.BLOCKS)
        if self.d == 2 or not self.batched:
            fams.remove("tcn")
        if not self.batched:
            fams.remove("mb")   # its batch norms need a batch
        if self.family in fams and self.chance(0.5):
            fam = self.family
        elif self.target == "nest:module_in_seq" and "mb" in fams and \
                self.chance(0.5):
            fam = "mb"
        elif self.family == "pad" and self.chance(0.5):
            fam = "pad"
        else:
            fam = self.r.choice(fams)
        if fam == "nest" and self.chance(0.5):
            fam = self.r.choice(fams)
        return getattr(self, self.BLOCKS[fam])(self.shape[-self.d - 1])

    def draw(self):
        r = self.r
        t = self.target
        self.d = 1 if t.endswith("1d") or t.startswith("tcn") else \
            2 if t.endswith("2d") else self.pick(1, 2)
        if t == "model:unbatched":
            self.batched = False
        elif t.startswith(("bn:", "mb:", "tcn:")) or \
                t in ("model:batch=1", "model:batch=2", "head:mean_linear"):
            self.batched = True
        else:
            self.batched = self.chance(0.8)
        self.batch = self.pick(1, 2) if self.batched else None
        if t == "model:batch=1":
            self.batch = 1
        elif t == "model:batch=2":
            self.batch = 2
        self.tags.add("model:%dd" % self.d)
        self.tags.add("model:batch=%d" % self.batch if self.batched
                      else "model:unbatched")
        cin = self.pick(1, 2, 3, 4)
        sp = [r.randint(12, 40)] if self.d == 1 else \
            [r.randint(6, 12), r.randint(6, 12)]
        self.input = ([self.batch] if self.batched else []) + [cin] + sp
        self.rank = len(self.input)
        net = Mod()
        lua = []
        py = []
        # stem
        c = cin
        stem = self.pick("seq", "fields", "none")
        if t == "model:stem_seq":
            stem = "seq"
        elif t == "model:stem_fields":
            stem = "fields"
        c1 = self.pick(4, 6, 8)
        if stem == "seq":
            self.tags.add("model:stem_seq")
            net.fields["stem"] = Seq(*(self.conv_bn(cin, c1, 3) +
                                       [self.act_leaf()]))
            lua.append("x = self.stem(x)")
            py.append(lambda s, x: s.stem(x))
            c = c1
        elif stem == "fields":
            self.tags.add("model:stem_fields")
            cb = self.conv_bn(cin, c1, 3)
            net.fields["conv1"] = cb[0]
            if len(cb) > 1:
                net.fields["bn1"] = cb[1]
                a, f = self.fact("self.bn1(self.conv1(x))")
                py.append(lambda s, x, f=f: f(s.bn1(s.conv1(x))))
            else:
                a, f = self.fact("self.conv1(x)")
                py.append(lambda s, x, f=f: f(s.conv1(x)))
            lua.append("x = %s" % a)
            c = c1
        self.shape = self.input[:-self.d - 1] + [c] + sp
        # body: blocks, each checked for size by running it
        nblocks = r.randint(1, 4)
        blocks = []
        for _ in range(nblocks):
            for _attempt in range(20):
                saved = set(self.tags)
                node, cout = self.block()
                out = shape_of(node, self.shape)
                if out is not None:
                    break
                self.tags = saved
            else:
                return None
            blocks.append(node)
            self.shape = out
        if len(blocks) + (stem != "none") >= 4:
            self.tags.add("model:len>=4")
        hold = self.pick("list", "seq", "fields", "nested", "index")
        if t.startswith("nest:") and t != "nest:seq_in_seq" and \
                t != "nest:module_in_seq":
            hold = {"nest:modlist_loop": "list", "nest:modlist_index":
                    "index", "nest:modlist_nested": "nested",
                    "nest:seq_of_modules": "seq",
                    "nest:fields": "fields"}[t]
        if hold == "nested" and len(blocks) < 2:
            hold = "list"
        if hold == "list":
            self.tags.add("nest:modlist_loop")
            net.fields["blocks"] = MList(*blocks)
            lua.append("for _, block in ipairs(self.blocks) do "
                       "x = block(x) end")
            py.append(lambda s, x: _chain(s.blocks, x))
        elif hold == "index":
            self.tags.add("nest:modlist_index")
            net.fields["layers"] = MList(*blocks)
            for i in range(len(blocks)):
                lua.append("x = self.layers[%d](x)" % (i + 1))
            py.append(lambda s, x: _chain(s.layers, x))
        elif hold == "nested":
            self.tags.add("nest:modlist_nested")
            cut = r.randint(1, len(blocks) - 1)
            net.fields["stages"] = MList(MList(*blocks[:cut]),
                                         MList(*blocks[cut:]))
            lua += ["for _, stage in ipairs(self.stages) do",
                    "  for _, block in ipairs(stage) do x = block(x) end",
                    "end"]
            py.append(lambda s, x: _chain([b for st in s.stages
                                           for b in st], x))
        elif hold == "seq":
            net.fields["features"] = Seq(*blocks)
            if any(isinstance(b, Mod) for b in blocks):
                self.tags.add("nest:seq_of_modules")
            lua.append("x = self.features(x)")
            py.append(lambda s, x: s.features(x))
        else:
            self.tags.add("nest:fields")
            for i, b in enumerate(blocks):
                net.fields["block%d" % (i + 1)] = b
                lua.append("x = self.block%d(x)" % (i + 1))
            py.append(lambda s, x, n=len(blocks): _chain(
                [getattr(s, "block%d" % (i + 1)) for i in range(n)], x))
        # head
        self.head(net, lua, py)
        net.lua_fwd = lua + ["return x"]
        net.py_fwd = lambda s, x: _chain_fns(py, s, x)
        return net

    def head(self, net, lua, py):
        d, b = self.d, self.batched
        c = self.shape[-d - 1]
        numel = int(np.prod(self.shape[-d - 1:]))
        choices = ["none", "adaptive_flatten", "mean_linear", "view_linear",
                   "reshape_linear", "flatten_method", "seq_classifier",
                   "max_pool"]
        h = self.target[5:] if self.family == "head" and \
            self.target != "head:log_softmax" else self.r.choice(choices)
        if h in ("view_linear", "reshape_linear") and numel > 256:
            h = "adaptive_flatten"
        if h == "max_pool" and min(self.shape[-d:]) < 2:
            h = "none"
        if h == "mean_linear" and not b:
            h = "adaptive_flatten"
        self.tags.add("head:" + h)
        n = self.pick(3, 5, 10)
        sdims = tuple(range(self.rank - d, self.rank))
        if h == "none":
            if self.chance(0.5):
                a, f = self.fact("x")
                lua.append("x = " + a)
                py.append(lambda s, x: f(x))
            return
        if h == "max_pool":
            lua.append("x = F.max_pool%dd(x, 2)" % d)
            fn = F.max_pool1d if d == 1 else F.max_pool2d
            py.append(lambda s, x: fn(x, 2))
            return
        if h == "seq_classifier":
            net.fields["classifier"] = Seq(
                Leaf("AdaptiveAvgPool%dd" % d, [1]),
                Leaf("Flatten", [] if b else [0]),
                Leaf("Dropout", [0.2]), Leaf("Linear", [c, n]))
            lua.append("x = self.classifier(x)")
            py.append(lambda s, x: s.classifier(x))
        else:
            start = 1 if b else 0
            fin = numel if h in ("view_linear", "reshape_linear") else c
            net.fields["fc"] = Leaf("Linear", [fin, n])
            if h == "adaptive_flatten":
                lua.append("x = F.adaptive_avg_pool%dd(x, 1)" % d)
                form = self.pick("pos", "kw", "dim")
                if self.target.startswith("fwd:"):
                    form = {"fwd:kw_flatten": "kw", "fwd:x:dim": "dim"}.get(
                        self.target, form)
                if form == "kw":
                    self.tags.add("fwd:kw_flatten")
                    lua.append("x = self.fc(torch.flatten(x, "
                               "{start_dim = %d}))" % start)
                elif form == "dim":
                    self.tags.add("fwd:x:dim")
                    lua.append("x = self.fc(torch.flatten(x, %d, "
                               "x:dim() - 1))" % start)
                else:
                    lua.append("x = self.fc(torch.flatten(x, %d))" % start)
                fn = F.adaptive_avg_pool1d if d == 1 else \
                    F.adaptive_avg_pool2d
                py.append(lambda s, x: s.fc(torch.flatten(fn(x, 1), start)))
            elif h == "flatten_method":
                lua.append("x = F.adaptive_avg_pool%dd(x, 1)" % d)
                lua.append("x = self.fc(x:flatten(%d))" % start)
                fn = F.adaptive_avg_pool1d if d == 1 else \
                    F.adaptive_avg_pool2d
                py.append(lambda s, x: s.fc(fn(x, 1).flatten(start)))
            elif h == "mean_linear":
                dims = sdims[0] if d == 1 else sdims
                lua.append("x = self.fc(x:mean(%s))" % lua_num(dims))
                py.append(lambda s, x: s.fc(x.mean(dims)))
            elif h == "view_linear":
                if b and (self.chance(0.5) or self.target == "fwd:x.shape"):
                    self.tags.add("fwd:x.shape")
                    lua.append("x = self.fc(x:view(x.shape[1], -1))")
                    py.append(lambda s, x: s.fc(x.view(x.size(0), -1)))
                elif b:
                    self.tags.add("fwd:x:size")
                    lua.append("x = self.fc(x:view(x:size(0), -1))")
                    py.append(lambda s, x: s.fc(x.view(x.size(0), -1)))
                else:
                    lua.append("x = self.fc(x:view(-1))")
                    py.append(lambda s, x: s.fc(x.view(-1)))
            else:
                shape = ([self.batch] if b else []) + [numel]
                lua.append("x = self.fc(x:reshape(%s))" %
                           ", ".join(map(str, shape)))
                py.append(lambda s, x: s.fc(x.reshape(shape)))
        if self.chance(0.3) or self.target == "head:log_softmax":
            self.tags.add("head:log_softmax")
            lua.append("x = F.log_softmax(x, -1)")
            py.append(lambda s, x: F.log_softmax(x, -1))


def _chain(mods, x):
    for m in mods:
        x = m(x)
    return x


def _chain_fns(fns, s, x):
    for f in fns:
        x = f(s, x)
    return x


def shape_of(node, shape):
    """The output shape of one block on zeros, or None when PyTorch
    refuses, or a parameter or activation is too big."""
    order = Emitter()
    if isinstance(node, Mod):
        order.module(node)
    else:
        order.expr(node, 0)
    try:
        mod = materialise(node, order.order)
    except Exception:
        return None
    if any(p.numel() > MAX_NUMEL for p in mod.parameters()):
        return None
    sizes = []
    hooks = [m.register_forward_hook(
        lambda m, i, o: sizes.append(o.numel()))
        for m in mod.modules()]
    try:
        with torch.no_grad():
            y = mod(torch.zeros(shape))
    except Exception:
        return None
    finally:
        for h in hooks:
            h.remove()
    if max(sizes + [y.numel()]) > MAX_NUMEL or 0 in y.shape:
        return None
    return list(y.shape)


def randomise(net, rng):
    """Values scaled so activations stay O(1); batch norm statistics
    random; num_batches_tracked a random count."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                fan = m.weight[0].numel()
                m.weight.copy_(torch.from_numpy(rng.standard_normal(
                    m.weight.shape) / np.sqrt(fan)))
                if m.bias is not None:
                    m.bias.copy_(torch.from_numpy(rng.uniform(
                        -1, 1, m.bias.shape) / np.sqrt(fan)))
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.weight.copy_(torch.from_numpy(rng.uniform(0.75, 1.25, n)))
                m.bias.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, n)))
                m.running_mean.copy_(torch.from_numpy(
                    rng.uniform(-0.5, 0.5, n)))
                m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2, n)))
                m.num_batches_tracked.fill_(int(rng.integers(1, 1000)))


class Model:
    pass


def draw_model(idx, target, r):
    """One model for `target`, or None."""
    g = Gen(r, target)
    net = g.draw()
    if net is None:
        return None
    em = Emitter()
    em.module(net, "net")
    m = Model()
    m.name = "mod%03d" % idx
    m.tree, m.order, m.lines = net, em.order, em.lines
    m.input = g.input
    m.tags = g.tags
    seeded = target.startswith("weights:seed") or r.random() < 0.1
    m.seed = r.randint(0, 9999) if seeded else None
    m.tags.add("weights:seed" if seeded else "weights:file")
    if g.chain:
        m.tags.add("weights:seed_chain")
    return m


def spec_text(m):
    lines = ["-- Generated by %s; do not edit." % TOOL] + m.lines
    src = 'weights = "%s.safetensors"' % m.name if m.seed is None else \
        "seed = %d" % m.seed
    lines.append('return model "%s" { input = %s, %s,' % (
        m.name, lua_num(m.input), src))
    lines.append("  module = net }")
    return "\n".join(lines) + "\n"


def finish(m, idx):
    """Weights, input and reference; False if the model must be redrawn."""
    rng = np.random.default_rng(SEED + idx)
    net = materialise(m.tree, m.order, m.seed if m.seed is not None else 0)
    if m.seed is None:
        randomise(net, rng)
    if any(k.endswith("num_batches_tracked") for k in net.state_dict()):
        m.tags.add("bn:num_batches_tracked")
    x = rng.standard_normal(m.input).astype(np.float32)
    with torch.no_grad():
        y = net(torch.from_numpy(x.copy())).numpy().copy()
        y64 = net.double()(torch.from_numpy(x.astype(np.float64))).numpy()
    net.float()
    if not np.all(np.isfinite(y)) or np.max(np.abs(y)) > 1e3 or \
            np.max(np.abs(y)) < 1e-3:
        return False
    err = np.abs(y.astype(np.float64) - y64)
    if np.any(err > 0.1 * (ATOL + RTOL * np.abs(y64))):
        return False
    m.net, m.x, m.y = net, x, y
    return True


def generate(n):
    """The models, deterministically, and the class counts."""
    r = random.Random(SEED)
    counts = collections.Counter()
    models = []
    for idx in range(1, n + 1):
        low = min(counts[c] for c in ALL_CLASSES)
        target = r.choice([c for c in ALL_CLASSES if counts[c] == low])
        for _attempt in range(3000):
            m = draw_model(idx, target, r)
            if m is None or target not in m.tags:
                continue
            torch.manual_seed(0)
            if finish(m, idx):
                break
        else:
            raise RuntimeError("no model for target %s" % target)
        counts.update(m.tags)
        models.append(m)
    return models, counts


def write_model(m, out_dir):
    with open(os.path.join(out_dir, m.name + ".lua"), "w") as f:
        f.write(spec_text(m))
    if m.seed is None:
        write_safetensors(os.path.join(out_dir, m.name + ".safetensors"),
                          list(m.net.state_dict().items()))
    np.save(os.path.join(out_dir, m.name + ".in.npy"), m.x)
    np.save(os.path.join(out_dir, m.name + ".out.npy"), m.y)


def read_state(path):
    """A strict by-hand .safetensors reader that keeps I64 tensors."""
    import json
    import struct
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0 and 8 + n <= len(data)
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body, out, at = data[8 + n:], collections.OrderedDict(), 0
    for key, info in header.items():
        dt = {"F32": "<f4", "I64": "<i8"}[info["dtype"]]
        b, e = info["data_offsets"]
        assert b == at, "hole or overlap at " + key
        a = np.frombuffer(body[b:e], dtype=dt).reshape(info["shape"])
        out[key] = torch.from_numpy(a.copy())
        at = e
    assert at == len(body), "trailing bytes"
    return out


def verify(out_dir, n):
    models, _ = generate(n)
    on_disk = sorted(f[:-4] for f in os.listdir(out_dir)
                     if f.startswith("mod") and f.endswith(".lua"))
    assert on_disk == [m.name for m in models], "the model list differs"
    bad = 0
    for m in models:
        base = os.path.join(out_dir, m.name)
        text = open(base + ".lua").read()
        if text != spec_text(m):
            print("%s: spec text differs from the generator's" % m.name)
            bad += 1
            continue
        net = materialise(m.tree, m.order,
                          m.seed if m.seed is not None else 0)
        nfile = 0
        if m.seed is None:
            state = read_state(base + ".safetensors")
            net.load_state_dict(state, strict=True)
            nfile = len(state)
            for k, v in net.state_dict().items():
                assert v.dtype == state[k].dtype, k
        x = np.load(base + ".in.npy")
        y = np.load(base + ".out.npy")
        assert x.dtype == np.float32 and list(x.shape) == m.input
        with torch.no_grad():
            got = net(torch.from_numpy(x.copy())).numpy()
        if got.shape != y.shape or not np.array_equal(got, y):
            err = np.max(np.abs(got - y) / (ATOL + RTOL * np.abs(y))) \
                if got.shape == y.shape else float("inf")
            if err >= 0.01:
                print("%s: output differs (%g of the tolerance)"
                      % (m.name, err))
                bad += 1
                continue
        print("%s: ok, %s, %d file tensors, output %s" % (
            m.name, "seed %d" % m.seed if m.seed is not None else "file",
            nfile, list(y.shape)))
    print("verified %d models, %d bad" % (len(models), bad))
    return 1 if bad else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=160)
    ap.add_argument("-o", default=DEFAULT_OUT)
    ap.add_argument("--verify", action="store_true",
                    help="regenerate in memory and compare with the files")
    args = ap.parse_args(argv[1:])
    if args.verify:
        return verify(args.o, args.n)
    os.makedirs(args.o, exist_ok=True)
    for f in os.listdir(args.o):
        if f.startswith("mod") and f.endswith((".lua", ".safetensors",
                                               ".npy")):
            os.remove(os.path.join(args.o, f))
    models, counts = generate(args.n)
    for m in models:
        write_model(m, args.o)
    with open(os.path.join(args.o, "index.tsv"), "w") as f:
        f.write("# Generated by %s (torch %s): name TAB classes TAB input "
                "TAB weights\n" % (TOOL, torch.__version__))
        for m in models:
            f.write("%s\t%s\t%s\t%s\n" % (
                m.name, " ".join(sorted(m.tags)),
                "x".join(map(str, m.input)),
                "seed=%d" % m.seed if m.seed is not None else "file"))
    print("%d models in %s" % (len(models), os.path.normpath(args.o)))
    width = max(len(c) for c in ALL_CLASSES) + 2
    missing = []
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
