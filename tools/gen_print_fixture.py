#!/usr/bin/python3
"""Write tests/fixtures/print.txt: how PyTorch 1.13 prints float32 tensors,
for tests/test_tprint.c, which replays every case through compiler/tprint.c
and requires the same text byte for byte.

Run from the repository root with the system Python (Debian's torch 1.13):

    /usr/bin/python3 tools/gen_print_fixture.py [OUTPUT]

The text of a case is torch._tensor_str._tensor_str(t, INDENT) with the
default print options, plus a newline (what tprint() writes); INDENT is 0,
or 7 as in "tensor(".

File format (a line starting with '#' is a comment, outside a text block):

    case NAME INDENT         start a case
    shape D1 D2 ...          the shape (1 to 5 dims, all >= 1)
    bits N                   then N float32 values, row-major, as 8-digit
                             hex bit patterns, 8 per line
    text L                   then exactly L lines: the expected text (it
                             may hold blank lines)
    end                      end of the case
"""

import math
import sys

import numpy as np
import torch
from torch._tensor_str import _tensor_str

OUT_DEFAULT = "tests/fixtures/print.txt"

NAN = float("nan")
INF = float("inf")


class Writer:
    def __init__(self):
        self.lines = []
        self.names = set()
        self.count = 0

    def case(self, name, t, indent=0):
        t = torch.as_tensor(t, dtype=torch.float32).contiguous()
        assert t.dim() >= 1 and t.numel() >= 1, name
        assert name not in self.names, name
        self.names.add(name)
        text = _tensor_str(t, indent) + "\n"
        bits = t.numpy().reshape(-1).view(np.uint32)
        out = self.lines
        out.append("case %s %d" % (name, indent))
        out.append("shape " + " ".join(str(d) for d in t.shape))
        out.append("bits %d" % len(bits))
        for i in range(0, len(bits), 8):
            out.append(" ".join("%08x" % b for b in bits[i:i + 8]))
        tl = text.split("\n")[:-1]
        out.append("text %d" % len(tl))
        out.extend(tl)
        out.append("end")
        self.count += 1

    def save(self, path):
        head = [
            "# print.txt: PyTorch %s float32 tensor printing, written by"
            % torch.__version__,
            "# tools/gen_print_fixture.py (format in its docstring).",
            "#   case NAME INDENT / shape D.. / bits N + hex lines /",
            "#   text L + L lines / end",
        ]
        with open(path, "w") as f:
            f.write("\n".join(head + self.lines) + "\n")


def f32(values):
    return torch.tensor(values, dtype=torch.float32)


def gen(w):
    g = torch.Generator().manual_seed(1234)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    def randint(lo, hi, *shape):
        return torch.randint(lo, hi, shape, generator=g).float()

    # The Conv1d tutorial tensor, and tensor(...) indentation.
    tut = f32([[[0.6345, 0.2400], [-0.0122, -0.7956]],
               [[-0.4041, -1.0328], [0.2444, -0.9770]]])
    w.case("conv1d_tutorial", tut)
    w.case("conv1d_tutorial_i7", tut, 7)

    # Small shapes, 1-D to 5-D, in several value ranges.
    shapes = [(1,), (2,), (5,), (7,), (1, 1), (2, 3), (3, 1), (1, 4),
              (4, 5), (2, 2, 2), (1, 3, 2), (3, 2, 4), (2, 1, 1, 3),
              (2, 3, 2, 2), (1, 1, 1, 1, 1), (2, 2, 1, 2, 3), (3, 2, 2, 2, 2)]
    scales = [("unit", 1.0), ("milli", 1e-3), ("tiny", 1e-6), ("big", 1e3),
              ("huge", 1e9), ("wide", None)]
    for shape in shapes:
        sname = "x".join(str(d) for d in shape)
        for label, scale in scales:
            if scale is None:  # each element a different order of magnitude
                n = int(np.prod(shape))
                ex = torch.randint(-8, 8, (n,), generator=g).float()
                t = (randn(n) * torch.pow(10.0, ex)).reshape(shape)
            else:
                t = randn(*shape) * scale
            w.case("randn_%s_%s" % (label, sname), t)
        w.case("int_%s" % sname, randint(-20, 20, *shape))
        w.case("pos_%s" % sname, torch.rand(shape, generator=g) * 10)
        w.case("i7_randn_%s" % sname, randn(*shape), 7)

    # Integral values: int mode, its width, its sci switch.
    w.case("int_zero_one", f32([0.0, 1.0]))
    w.case("int_small", f32([1.0, 2.0, 3.0]))
    w.case("int_neg", f32([-1.0, 2.0, -300.0]))
    w.case("int_ratio_1000", f32([1.0, 1000.0]))
    w.case("int_ratio_1001", f32([1.0, 1001.0]))
    w.case("int_ratio_1000_neg", f32([-2.0, 2000.0]))
    w.case("int_1e8", f32([1e8, 2e7]))
    w.case("int_1e8_plus", f32([100000008.0, 2e7]))
    w.case("int_big_ratio", f32([3.0, 123456.0, -7.0]))
    w.case("int_16777217", f32([16777216.0, 16777218.0]))
    w.case("int_negzero", f32([-0.0, 1.0]))
    w.case("int_negzero_wide", f32([-0.0, 10.0, 5.0]))
    w.case("int_negzero_only", f32([-0.0, 0.0, -0.0]))
    w.case("zeros", torch.zeros(3, 4))
    w.case("zeros_1", torch.zeros(1))
    w.case("zeros_i7", torch.zeros(2, 2, 2), 7)
    w.case("int_huge", f32([1e20, -3e30, 5.0]))
    w.case("int_max", f32([3.4028234663852886e38, 1.0]))
    w.case("int_2d_mixed", f32([[1, -10, 100], [-1000, 10, 0]]))
    w.case("int_nan", f32([1.0, NAN]))
    w.case("int_nan_first", f32([NAN, 1.0, 22.0]))
    w.case("int_inf", f32([1.0, INF, -INF]))
    w.case("int_inf_wide", f32([100.0, INF, -INF, -5.0]))
    w.case("int_sci_nan", f32([1.0, 5000.0, NAN, -INF]))

    # Only non-finite values, or non-finite with zeros.
    w.case("nan_only", f32([NAN]))
    w.case("nan_inf", f32([NAN, INF, -INF]))
    w.case("nan_inf_zero", f32([[0.0, NAN], [INF, -0.0]]))
    w.case("neg_nan", torch.from_numpy(
        np.array([0xffc00000, 0x3fc00000], dtype=np.uint32).view(np.float32)))
    w.case("neg_nan_sci", torch.from_numpy(
        np.array([0xffc00000, 0x3f800000, 0x38d1b717], dtype=np.uint32)
        .view(np.float32)))

    # Fixed mode: widths, rounding, -0.0.
    w.case("fixed_basic", f32([0.5, -1.25, 3.0]))
    w.case("fixed_round10", f32([9.99995, 1.5]))
    w.case("fixed_round10_neg", f32([-9.99996, 1.5]))
    w.case("fixed_round100", f32([99.99999, 0.5]))
    w.case("fixed_just_under_10", f32([9.99994, 1.5]))
    w.case("fixed_tie_binary", f32([1.03125, 1.09375, 0.15625, 2.5]))
    w.case("fixed_tie_binary_neg", f32([-1.03125, -0.00015625, 1.0]))
    w.case("fixed_negzero", f32([-0.0, 0.5]))
    w.case("fixed_negzero_round", f32([-0.00004, 0.5, 1e-4 * 1.001]))
    w.case("fixed_nan", f32([0.5, NAN, 2.25]))
    w.case("fixed_inf", f32([0.5, -INF, INF]))
    w.case("fixed_inf_wide", f32([123.5, -INF, INF, NAN]))
    w.case("fixed_neg_inf_narrow", f32([0.5, -INF]))
    w.case("fixed_big", f32([12345678.5, 99999.25]))
    w.case("fixed_1e8_frac", f32([99999992.0, 100000.5]))

    # The sci thresholds.
    w.case("min_1e-4", f32([1e-4, 0.05]))  # float32(1e-4) < 1e-4
    above = np.nextafter(np.float32(1e-4), np.float32(1))
    w.case("min_above_1e-4", f32([above, 0.05]))
    w.case("min_below_1e-4", f32([9.9e-5, 0.05]))
    w.case("ratio_1000", f32([0.001, 1.0]))
    w.case("ratio_exact_1000", f32([0.125, 125.0]))
    w.case("ratio_exact_1000_up", f32([0.125, 125.00001]))
    w.case("ratio_just_1000", f32([1.0, 1000.0, 0.5]))
    w.case("ratio_just_1001", f32([1.0, 1000.5, 1.5]))
    w.case("max_1e8", f32([1e8, 1e6 + 0.5]))
    w.case("max_above_1e8", f32([100000008.0, 1e6 + 0.5]))
    w.case("sci_basic", f32([1e-5, 1.0, -300.0]))
    w.case("sci_denormal", f32([1e-45, 1.0]))
    w.case("sci_denormals", f32([1.4e-45, -3e-42, 1.17549435e-38]))
    w.case("sci_max", f32([3.4028234663852886e38, -1.5, 0.0]))
    w.case("sci_round_up", f32([9.99996e-5, 1.0, 9.99995e5]))
    w.case("sci_negzero", f32([-0.0, 1e-6, 0.5]))
    w.case("sci_nan", f32([1e-6, NAN, INF, -INF, 0.0]))
    w.case("sci_tie", f32([1.03125e0, 1e-7, 1.00005]))

    # Mixed ranges in bigger (unsummarized) tensors.
    t = randn(6, 7)
    t[0, 0] = 0.0
    t[1, 1] = -0.0
    t[2, 2] = NAN
    t[3, 3] = INF
    w.case("mix_6x7", t)
    t = randn(4, 4) * 1e-5
    t[0, 0] = 0.0
    w.case("mix_tiny_4x4", t)
    t = randn(2, 3, 4) * 1e5
    w.case("mix_large_2x3x4", t)
    w.case("randn_10x10", randn(10, 10))
    w.case("randn_10x10_i7", randn(10, 10), 7)
    w.case("randn_6x6x6", randn(6, 6, 6))
    w.case("randn_3x3x3x3", randn(3, 3, 3, 3))
    w.case("randn_3x3x3x3x3", randn(3, 3, 3, 3, 3))
    w.case("randn_7x7x7", randn(7, 7, 7))  # 343: no summary
    w.case("randn_1000", randn(1000))  # exactly the threshold
    w.case("randn_10x100", randn(10, 100))
    w.case("randn_1000_i7", randn(1000), 7)

    # Long rows that wrap, at several element widths and indents.
    for n in (8, 9, 10, 13, 16, 20, 27, 40, 81):
        w.case("wrap_int_%d" % n, randint(0, 10, n))
        w.case("wrap_fixed_%d" % n, randn(n))
        w.case("wrap_sci_%d" % n, randn(n) * 1e-6)
        w.case("wrap_int_%d_i7" % n, randint(0, 10, n), 7)
        w.case("wrap_fixed_%d_i7" % n, randn(n), 7)
    w.case("wrap_wide_int", randint(0, 10 ** 7, 30))
    w.case("wrap_2d", randn(3, 25))
    w.case("wrap_3d", randn(2, 2, 17), 7)
    w.case("wrap_4d_sci", randn(2, 1, 2, 12) * 1e4)
    w.case("wrap_5d", randn(1, 2, 1, 2, 15))
    w.case("wrap_fixed_big", randn(20) * 1e6)

    # Summarized (numel > 1000), each dim cut when longer than 6.
    w.case("sum_1001", randn(1001))
    w.case("sum_1001_i7", randn(1001), 7)
    w.case("sum_int_2000", torch.arange(2000).float())
    w.case("sum_int_2000_i7", torch.arange(2000).float(), 7)
    w.case("sum_2x501", randn(2, 501))
    w.case("sum_501x2", randn(501, 2))
    w.case("sum_40x40", randn(40, 40))
    w.case("sum_7x150", randn(7, 150))
    w.case("sum_6x200", randn(6, 200))
    w.case("sum_11x11x11", randn(11, 11, 11))
    w.case("sum_7x7x7x3", randn(7, 7, 7, 3))
    w.case("sum_7x7x3x3x3", randn(7, 7, 3, 3, 3))
    w.case("sum_2x3x4x5x9", randn(2, 3, 4, 5, 9), 7)
    w.case("sum_8x8x8x8", randn(8, 8, 8, 8))
    # The formatter only sees the edges: a huge value in the middle is
    # dropped, and so is a nan.
    t = randn(50, 50)
    t[25, 25] = 1e12
    t[20, 1] = NAN
    w.case("sum_hidden_huge", t)
    t = randn(2000) * 0.5
    t[1000] = 1e-9
    w.case("sum_hidden_tiny", t)
    t = randint(-5, 5, 40, 40)
    t[3, 3] = 0.5
    w.case("sum_hidden_frac", t)
    t = randint(-5, 5, 40, 40)
    t[0, 1] = 0.5
    w.case("sum_seen_frac", t)
    t = randn(3000) * 1e-3
    t[-1] = NAN
    t[0] = -INF
    w.case("sum_edge_nonfinite", t)
    w.case("sum_zeros", torch.zeros(30, 40))
    w.case("sum_wide_int", randint(-10 ** 6, 10 ** 6, 1200))
    w.case("sum_tiny_rows", (randn(1100, 1) * 1e-6))

    # Random extras: assorted shapes and value mixes.
    rs = np.random.RandomState(7)
    for k in range(60):
        nd = rs.randint(1, 6)
        shape = tuple(int(rs.randint(1, 5)) for _ in range(nd))
        n = int(np.prod(shape))
        kind = k % 6
        if kind == 0:
            v = rs.randn(n) * 10.0 ** rs.randint(-6, 10)
        elif kind == 1:
            v = rs.randint(-1000, 1000, n) * 1.0
        elif kind == 2:
            v = np.round(rs.randn(n) * 100, rs.randint(0, 5))
        elif kind == 3:
            v = rs.randn(n) * 10.0 ** rs.randint(-10, 10, n)
        elif kind == 4:
            v = rs.choice([0.0, -0.0, 1.0, -1.0, 0.5, NAN, INF, -INF, 1e-5,
                           1e9], n)
        else:
            v = rs.rand(n) * 10.0 ** rs.randint(-3, 5)
        indent = 7 if k % 5 == 0 else 0
        w.case("rand_%02d" % k, torch.from_numpy(
            v.astype(np.float32).reshape(shape)), indent)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else OUT_DEFAULT
    w = Writer()
    gen(w)
    w.save(path)
    print("wrote %d cases to %s" % (w.count, path))


if __name__ == "__main__":
    main()
