#!/usr/bin/python3
"""Reference outputs for models with the padding layers, Hardswish and
Hardsigmoid (tests/fixtures/pad/).

    /usr/bin/python3 tools/gen_pad_fixture.py [--verify]

Each model is written twice below, as the spec's layers and as PyTorch
constructors; it is built with torch.manual_seed(seed) (so `seed = N` in
the spec gives the same parameters), fed a torch.randn input saved as
pNNN.in.npy, and its output is saved as pNNN.out.npy. tests/test_models.c
builds, compiles and compares them like the other fixtures. PyTorch 1.13
has no ZeroPad1d: its model uses ConstantPad1d(padding, 0.0), which is what
later releases define ZeroPad1d as. With --verify, compares with the
committed outputs instead of writing.
"""
import os
import sys

import numpy as np
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "pad")

# (input shape, [(spec layer, PyTorch layer)]).
MODELS = [
    ((1, 2, 9), [("nn.ZeroPad1d{2}", "nn.ConstantPad1d(2, 0.0)"),
                 ("nn.Conv1d{2, 4, 3}", "nn.Conv1d(2, 4, 3)"),
                 ("nn.Hardswish{}", "nn.Hardswish()")]),
    ((2, 3, 8), [("nn.ReflectionPad1d{{3, 1}}", "nn.ReflectionPad1d((3, 1))"),
                 ("nn.Conv1d{3, 5, 4, stride = 2}",
                  "nn.Conv1d(3, 5, 4, stride=2)"),
                 ("nn.Hardsigmoid{}", "nn.Hardsigmoid()"),
                 ("nn.ReplicationPad1d{{0, 2}}",
                  "nn.ReplicationPad1d((0, 2))")]),
    ((3, 7), [("nn.ReplicationPad1d{3}", "nn.ReplicationPad1d(3)"),
              ("nn.ConstantPad1d{{-2, 1}, -1.5}",
               "nn.ConstantPad1d((-2, 1), -1.5)"),
              ("nn.Hardswish{}", "nn.Hardswish()")]),
    ((1, 3, 8, 8), [("nn.ZeroPad2d{{0, 1, 0, 1}}", "nn.ZeroPad2d((0, 1, 0, 1))"),
                    ("nn.Conv2d{3, 8, 3, stride = 2}",
                     "nn.Conv2d(3, 8, 3, stride=2)"),
                    ("nn.BatchNorm2d{8}", "nn.BatchNorm2d(8)"),
                    ("nn.Hardswish{}", "nn.Hardswish()"),
                    ("nn.AdaptiveAvgPool2d{1}", "nn.AdaptiveAvgPool2d(1)"),
                    ("nn.Flatten{}", "nn.Flatten()"),
                    ("nn.Linear{8, 4}", "nn.Linear(8, 4)"),
                    ("nn.Hardsigmoid{}", "nn.Hardsigmoid()")]),
    ((2, 2, 5, 6), [("nn.ReflectionPad2d{{2, 1, 0, 3}}",
                     "nn.ReflectionPad2d((2, 1, 0, 3))"),
                    ("nn.Conv2d{2, 3, {2, 3}}", "nn.Conv2d(2, 3, (2, 3))"),
                    ("nn.ReplicationPad2d{{1, 0, 2, 1}}",
                     "nn.ReplicationPad2d((1, 0, 2, 1))"),
                    ("nn.Hardswish{}", "nn.Hardswish()")]),
    ((3, 4, 4), [("nn.ConstantPad2d{1, 0.25}", "nn.ConstantPad2d(1, 0.25)"),
                 ("nn.Conv2d{3, 2, 3}", "nn.Conv2d(3, 2, 3)"),
                 ("nn.ReflectionPad2d{1}", "nn.ReflectionPad2d(1)"),
                 ("nn.Hardsigmoid{}", "nn.Hardsigmoid()")]),
    ((1, 1, 6, 5), [("nn.ZeroPad2d{{-1, 2, 1, -2}}",
                     "nn.ZeroPad2d((-1, 2, 1, -2))"),
                    ("nn.ReplicationPad2d{{-1, 1, 0, 0}}",
                     "nn.ReplicationPad2d((-1, 1, 0, 0))"),
                    ("nn.ReflectionPad2d{{0, 0, -1, 2}}",
                     "nn.ReflectionPad2d((0, 0, -1, 2))")]),
    ((2, 4, 10), [("nn.ConstantPad1d{2, 3}", "nn.ConstantPad1d(2, 3)"),
                  ("nn.MaxPool1d{3}", "nn.MaxPool1d(3)"),
                  ("nn.ReflectionPad1d{2}", "nn.ReflectionPad1d(2)"),
                  ("nn.Conv1d{4, 4, 3, groups = 4}",
                   "nn.Conv1d(4, 4, 3, groups=4)"),
                  ("nn.Hardswish{}", "nn.Hardswish()"),
                  ("nn.Flatten{}", "nn.Flatten()"),
                  ("nn.Linear{24, 3}", "nn.Linear(24, 3)")]),
    ((2, 5), [("nn.ConstantPad1d{{1, 2}, -0.5}",
               "nn.ConstantPad1d((1, 2), -0.5)"),
              ("nn.Linear{8, 6}", "nn.Linear(8, 6)"),
              ("nn.Hardswish{}", "nn.Hardswish()"),
              ("nn.Linear{6, 2}", "nn.Linear(6, 2)"),
              ("nn.Hardsigmoid{}", "nn.Hardsigmoid()")]),
    ((1, 2, 3, 3, 3), [("nn.ConstantPad2d{{1, 1, 1, 1, 1, 0}, 1}",
                        "nn.ConstantPad2d((1, 1, 1, 1, 1, 0), 1)"),
                       ("nn.Hardswish{}", "nn.Hardswish()")]),
]


def build(seed, layers):
    torch.manual_seed(seed)
    return nn.Sequential(*[eval(p, {"nn": nn}) for _, p in layers]).eval()


def main(argv):
    verify = "--verify" in argv
    os.makedirs(OUT, exist_ok=True)
    bad = 0
    for i, (shape, layers) in enumerate(MODELS):
        name = "p%03d" % (i + 1)
        seed = 100 + i
        model = build(seed, layers)
        torch.manual_seed(1000 + i)
        x = torch.randn(*shape) * 2
        with torch.no_grad():
            y = model(x)
        base = os.path.join(OUT, name)
        if verify:
            want = np.load(base + ".out.npy")
            if not np.array_equal(want, y.numpy()):
                print("%s: differs from PyTorch" % name)
                bad = 1
            continue
        lines = ["-- Generated by tools/gen_pad_fixture.py; do not edit.",
                 'return model "%s" {' % name,
                 "  input = {%s}," % ", ".join(str(d) for d in shape),
                 "  seed = %d," % seed]
        lines += ["  %s," % s for s, _ in layers]
        lines.append("}")
        with open(base + ".lua", "w") as f:
            f.write("\n".join(lines) + "\n")
        np.save(base + ".in.npy", x.numpy().astype(np.float32))
        np.save(base + ".out.npy", y.numpy().astype(np.float32))
    print("%s %d models in %s" % ("checked" if verify else "wrote",
                                  len(MODELS), os.path.relpath(OUT, ROOT)))
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
