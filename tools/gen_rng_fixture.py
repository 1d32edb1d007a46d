#!/usr/bin/python3
"""Write tests/fixtures/rng.txt: PyTorch 1.13 CPU random numbers for
tests/test_torchrand.c, which replays every case through compiler/torchrand.c
and requires bit-exact float32 equality.

Run from the repository root with the system Python (Debian's torch 1.13):

    /usr/bin/python3 tools/gen_rng_fixture.py [OUTPUT]

PyTorch picks its CPU kernels by "CPU capability", and the AVX2 kernels and
the portable ones differ in the last bit (see compiler/torchrand.c).  This
script records the cases twice: once with the capability torch picks on this
machine (it must be AVX2) and once in a child process run with
ATEN_CPU_CAPABILITY=default.

File format (text, whitespace-separated tokens; a line starting with '#' is
a comment):

    case NAME SEED CPU       start a case: torch.manual_seed(SEED), CPU is
                             "avx2" or "default" (the kernels used)
    randn N                  torch.randn(N) (any shape with N elements),
                             followed by N values
    uniform N FROM TO        torch.empty(N).uniform_(FROM, TO), N values
    normal N MEAN STD        torch.empty(N).normal_(MEAN, STD), N values
    init NW FANIN NB         one nn.Conv*d / nn.Linear built now: NW weight
                             values then NB bias values (NB = -1: no bias,
                             no values); FANIN is the fan-in PyTorch uses
    end                      end of the case

SEED is a decimal integer (0 <= SEED < 2**64); FROM, TO, MEAN, STD are
Python floats written with float.hex(); the values are the float32 results
in '%.9g' (which round-trips through strtof), eight per line.  A '# ...'
line before an op says which PyTorch call made it.
"""

import math
import os
import subprocess
import sys

import torch
import torch.nn as nn

OUT_DEFAULT = "tests/fixtures/rng.txt"

SEEDS = [0, 1, 42, 12345, 2**32 + 5, 2**63 - 25, 987654321]
RANDN_SIZES = [1, 2, 5, 15, 16, 17, 31, 32, 100]


def capability():
    """The CPU capability torch 1.13 reports ('AVX2', 'NO AVX', ...)."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


class Writer:
    """Collects fixture lines."""

    def __init__(self, cpu):
        self.cpu = cpu
        self.lines = []

    def comment(self, text):
        self.lines.append("# " + text)

    def values(self, t):
        vals = t.detach().reshape(-1).tolist()
        for i in range(0, len(vals), 8):
            self.lines.append(" ".join("%.9g" % v for v in vals[i:i + 8]))

    def case(self, name, seed):
        self.lines.append("case %s %d %s" % (name, seed, self.cpu))
        torch.manual_seed(seed)

    def end(self):
        self.lines.append("end")

    def randn(self, *shape):
        t = torch.randn(*shape)
        self.comment("torch.randn%s" % (shape,))
        self.lines.append("randn %d" % t.numel())
        self.values(t)

    def uniform(self, n, lo, hi):
        t = torch.empty(n)
        t.uniform_(lo, hi)
        self.comment("torch.empty(%d).uniform_(%r, %r)" % (n, lo, hi))
        self.lines.append("uniform %d %s %s" % (n, lo.hex(), hi.hex()))
        self.values(t)

    def normal(self, n, mean, std):
        t = torch.empty(n)
        t.normal_(mean, std)
        self.comment("torch.empty(%d).normal_(%r, %r)" % (n, mean, std))
        self.lines.append("normal %d %s %s" % (n, mean.hex(), std.hex()))
        self.values(t)

    def layer(self, m):
        """Record the parameters of a freshly built Conv*d / Linear."""
        w = m.weight
        fan_in = w.shape[1] * math.prod(w.shape[2:])
        nb = -1 if m.bias is None else m.bias.numel()
        self.comment(repr(m))
        self.lines.append("init %d %d %d" % (w.numel(), fan_in, nb))
        self.values(w)
        if m.bias is not None:
            self.values(m.bias)

    def model(self, seq):
        """Record every Conv/Linear of a model, in construction order."""
        for m in seq.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
                self.layer(m)


def randn_cases(w, full):
    for seed in SEEDS:
        for n in RANDN_SIZES:
            w.case("randn_%d_s%d" % (n, seed), seed)
            w.randn(n)
            w.end()
        w.case("randn_shapes_s%d" % seed, seed)
        w.randn(2, 3, 4)
        w.randn(3, 5, 7)
        w.end()
    for seed in SEEDS[:4] if full else SEEDS[:1]:
        w.case("randn_1000_s%d" % seed, seed)
        w.randn(1000)
        w.end()
    # The cached second Box-Muller sample carries over between calls, and
    # large draws cross the 624-word refill of the Mersenne Twister.
    for seed in SEEDS[:4] if full else SEEDS[:2]:
        w.case("randn_seq_s%d" % seed, seed)
        for shape in [(5,), (3,), (1,), (20,), (7,), (2, 3, 4), (15,),
                      (1,), (1,), (16,), (9,), (33,), (2,), (700,), (3,)]:
            w.randn(*shape)
        w.end()


def uniform_cases(w, full):
    bounds = [(0.0, 1.0), (-1.0, 1.0),
              (-0.5773502691896258, 0.5773502691896258), (-0.1, 0.1),
              (-3.7, 12.25), (2.0, 2.0), (1e-3, 1e-3 + 1e-6),
              (-1e6, 1e6), (0.0, 0.0)]
    for seed in SEEDS if full else SEEDS[:3]:
        w.case("uniform_s%d" % seed, seed)
        for i, (lo, hi) in enumerate(bounds):
            w.uniform([1, 7, 16, 100][i % 4], lo, hi)
        w.uniform(1000, -0.25, 0.25)
        w.end()


def normal_cases(w, full):
    for seed in SEEDS[:3]:
        w.case("normal_s%d" % seed, seed)
        for n in [1, 5, 15, 16, 23, 64]:
            w.normal(n, 0.5, 2.0)
            w.normal(n, -3.25, 0.1)
        w.end()


# Layers, each built alone right after a manual_seed.
LAYERS = [
    lambda: nn.Conv1d(3, 2, 3), lambda: nn.Conv1d(1, 8, 2),
    lambda: nn.Conv1d(8, 16, 2), lambda: nn.Conv1d(4, 6, 5, groups=2),
    lambda: nn.Conv1d(5, 7, 1, bias=False),
    lambda: nn.Conv1d(6, 4, 3, stride=2, padding=1, dilation=2, groups=2),
    lambda: nn.Conv2d(3, 2, (3, 3)), lambda: nn.Conv2d(1, 4, 5),
    lambda: nn.Conv2d(6, 6, 3, groups=3),
    lambda: nn.Conv2d(8, 8, (3, 1), groups=8),
    lambda: nn.Conv2d(3, 16, 3, bias=False),
    lambda: nn.Conv2d(16, 32, (2, 4)),
    lambda: nn.Conv2d(3, 6, 3, padding="same", padding_mode="reflect"),
    lambda: nn.Conv3d(2, 3, 3), lambda: nn.Conv3d(4, 4, (1, 2, 3), groups=2),
    lambda: nn.Conv3d(1, 2, 2, bias=False),
    lambda: nn.Linear(16, 2), lambda: nn.Linear(1, 1),
    lambda: nn.Linear(100, 10), lambda: nn.Linear(7, 3, bias=False),
    lambda: nn.Linear(64, 32),
]

# Whole models built after one manual_seed: every parameter in order.
MODELS = [
    lambda: nn.Sequential(  # specs/seed_cnn1d.lua
        nn.Conv1d(1, 8, 2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(8, 16, 2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Flatten(), nn.Linear(16, 2)),
    lambda: nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, groups=2, bias=False),
        nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(16, 10), nn.Dropout(), nn.Linear(10, 3)),
    lambda: nn.Sequential(
        nn.Conv1d(4, 12, 5, groups=4), nn.BatchNorm1d(12), nn.GELU(),
        nn.Conv1d(12, 6, 1), nn.Flatten(), nn.Linear(6 * 7, 5, bias=False),
        nn.Linear(5, 4)),
    lambda: nn.Sequential(
        nn.Conv3d(2, 4, 2), nn.ReLU(), nn.Conv3d(4, 2, (1, 3, 3)),
        nn.Flatten(), nn.Linear(18, 2)),
]


def layer_cases(w, full):
    for seed in SEEDS if full else SEEDS[:2]:
        for i, make in enumerate(LAYERS):
            w.case("layer%d_s%d" % (i, seed), seed)
            w.layer(make())
            w.end()


def model_cases(w, full):
    for seed in SEEDS if full else SEEDS[:3]:
        for i, make in enumerate(MODELS):
            w.case("model%d_s%d" % (i, seed), seed)
            w.model(make())
            w.end()


def mixed_cases(w, full):
    """randn and layer inits interleaved after one seed: the normal cache
    left by a small randn survives the uniform_ draws of a layer."""
    for seed in SEEDS[:3]:
        w.case("mixed_s%d" % seed, seed)
        w.randn(3)
        w.layer(nn.Conv2d(3, 2, (3, 3)))
        w.randn(1)
        w.randn(17)
        w.layer(nn.Linear(16, 2))
        w.uniform(5, -2.0, 3.0)
        w.randn(2, 2)
        w.end()


def generate(cpu, full):
    w = Writer(cpu)
    for part in (randn_cases, uniform_cases, normal_cases, layer_cases,
                 model_cases, mixed_cases):
        part(w, full)
    return w.lines


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        # Child process: torch runs with ATEN_CPU_CAPABILITY=default.
        if capability() != "NO AVX":
            sys.exit("ATEN_CPU_CAPABILITY=default was not honoured")
        sys.stdout.write("\n".join(generate("default", False)) + "\n")
        return
    out = sys.argv[1] if len(sys.argv) > 1 else OUT_DEFAULT
    if capability() != "AVX2":
        sys.exit("torch uses CPU capability %r here; this fixture records "
                 "the AVX2 kernels" % capability())
    lines = generate("avx2", True)
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    child = subprocess.run([sys.executable, os.path.abspath(__file__),
                            "--child"], env=env, check=True,
                           stdout=subprocess.PIPE, text=True)
    header = [
        "# rng.txt: PyTorch %s CPU random numbers, written by"
        % torch.__version__,
        "# tools/gen_rng_fixture.py (format in its docstring).  Tokens are",
        "# whitespace-separated; a line starting with '#' is a comment.",
        "#   case NAME SEED CPU        (CPU: avx2 or default kernels)",
        "#   randn N | uniform N FROM TO | normal N MEAN STD",
        "#   init NW FANIN NB          (NB = -1: no bias)",
        "#   end",
        "# Each op is followed by its float32 results in %.9g (init: weight",
        "# then bias); FROM, TO, MEAN, STD are written with float.hex().",
    ]
    with open(out, "w") as f:
        f.write("\n".join(header + lines) + "\n")
        f.write(child.stdout)


if __name__ == "__main__":
    main()
