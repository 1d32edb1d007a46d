#!/usr/bin/python3
"""Reference files for modelc's .npy and .safetensors readers.

    /usr/bin/python3 tools/gen_io_fixture.py           # write the fixtures
    /usr/bin/python3 tools/gen_io_fixture.py --check F.npy F.safetensors ...

The first form writes, under tests/fixtures/io/:
  - npy_<f4|f8>_v<1|2|3>.npy: arrays written by numpy in each header
    version, float32 and float64 (with values that test float64 -> float32
    rounding: ties, overflow, denormals, NaN, -0);
  - weights.safetensors: F32, F16, BF16 and F64 tensors made with torch,
    a scalar, an empty tensor, an I64 num_batches_tracked counter and a
    __metadata__ block. The safetensors package is not needed: the file is
    written by hand with struct and json, the way the reference writer lays
    it out (header padded with spaces to 8 bytes, tensors back to back);
  - expected.txt: for every array, its shape and its float32 values as
    exact bit patterns, computed by torch/numpy, for the C tests to compare.

The --check form is a self-check of modelc's writers: it loads each .npy
with numpy and checks the file is byte-identical to what numpy.save writes
for the same array, and parses each .safetensors strictly by hand.
"""
import io
import json
import os
import struct
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                   "tests", "fixtures", "io")

# float64 values whose float32 rounding is worth checking
F64_SPECIAL = [
    0.1, -0.1, 1.0, -0.0, 0.0,
    1.0 + 2.0 ** -24,              # halfway between two floats: to even (1.0)
    1.0 + 3 * 2.0 ** -24,          # halfway: to even (up)
    float.fromhex("0x1.fffffefffffffp127"),  # above FLT_MAX: to FLT_MAX
    float.fromhex("0x1.ffffffp127"),  # FLT_MAX + half an ulp: a tie, to inf
    3.4028236e38,                  # past FLT_MAX + half an ulp: inf
    1e39, -1e39, float("inf"), float("-inf"), float("nan"),
    1e-40,                         # a float32 denormal
    1e-46,                         # below the smallest denormal: 0
    -2.0 ** -150,                  # -half the smallest denormal: tie, -0
    2.0 ** -150 * 1.5,             # above half: the smallest denormal
    2.0 ** -149,                   # the smallest float32 denormal
    123456789.123456789, 1e300, -1e-300,
]


def f32_bits(a):
    """The float32 bit patterns of a float32 array, as hex strings."""
    a = np.ascontiguousarray(a, dtype="<f4")
    return ["%08x" % b for b in a.view("<u4").ravel()]


def npy_fixtures(lines):
    rng = np.random.default_rng(1)
    cases = [
        ("f4", (1, 0), (2, 3), rng.standard_normal(6)),
        ("f4", (2, 0), (4,), [1.5, -2.25, 1e-42, float("inf")]),
        ("f4", (3, 0), (), [3.25]),
        ("f8", (1, 0), (len(F64_SPECIAL),), F64_SPECIAL),
        ("f8", (2, 0), (2, 2, 2), rng.standard_normal(8)),
        ("f8", (3, 0), (0, 3), []),
    ]
    for kind, version, shape, values in cases:
        a = np.array(values, dtype="<" + kind).reshape(shape)
        name = "npy_%s_v%d.npy" % (kind, version[0])
        with open(os.path.join(OUT, name), "wb") as f:
            np.lib.format.write_array(f, a, version=version)
        with np.errstate(over="ignore"):  # 1e39 -> inf is the point
            want = a.astype("<f4")  # round to nearest even, as a C cast
        lines.append(" ".join(["npy", name, str(a.ndim)] +
                              [str(d) for d in a.shape] +
                              [str(a.size)] + f32_bits(want)))


def torch_tensors():
    import torch
    torch.manual_seed(0)
    f16_bits = [0x3C00, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00,
                0x7E00, 0x8000, 0xC000, 0x3555, 0x8001]
    bf16_bits = [0x3F80, 0x0001, 0x7F7F, 0x7F80, 0xFF80, 0x7FC0, 0x8000,
                 0xC049, 0x0080, 0x3DCD]
    as_f16 = torch.tensor(f16_bits, dtype=torch.int32).to(torch.int16)
    as_bf16 = torch.tensor(bf16_bits, dtype=torch.int32).to(torch.int16)
    return [
        ("conv.weight", torch.randn(2, 3, 2)),
        ("conv.bias", torch.randn(2)),
        ("gewicht_\u00fc", torch.randn(3)),  # a \u escape in the JSON
        ("half", as_f16.view(torch.float16).reshape(3, 4)),
        ("brain", as_bf16.view(torch.bfloat16).reshape(2, 5)),
        ("double", torch.tensor(F64_SPECIAL, dtype=torch.float64)),
        ("scalar", torch.tensor(2.5, dtype=torch.float64)),
        ("empty", torch.zeros(0, 4)),
        ("bn.num_batches_tracked", torch.tensor(7, dtype=torch.int64)),
        ("bn.running_var", torch.rand(3).to(torch.float16)),
    ]


def raw_bytes(t):
    """The little-endian bytes of a torch tensor, bfloat16 included."""
    import torch
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    a = t.numpy()
    return a.astype(a.dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors, metadata=None):
    """Lays out a .safetensors file as the reference writer does."""
    import torch
    names = {torch.float32: "F32", torch.float16: "F16",
             torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64"}
    header, blobs, at = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        b = raw_bytes(t)
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                        "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def safetensors_fixture(lines):
    import torch
    tensors = torch_tensors()
    name = "weights.safetensors"
    write_safetensors(os.path.join(OUT, name), tensors,
                      {"format": "pt", "note": "modelc fixture \u00e9"})
    kept = [(n, t) for n, t in tensors if t.dtype != torch.int64]
    lines.append("count %s %d" % (name, len(kept)))
    for n, t in kept:
        want = t.to(torch.float32).numpy()
        dtype = {torch.float32: "F32", torch.float16: "F16",
                 torch.bfloat16: "BF16", torch.float64: "F64"}[t.dtype]
        lines.append(" ".join(["st", name, n, dtype, str(t.dim())] +
                              [str(d) for d in t.shape] +
                              [str(t.numel())] + f32_bits(want)))


def generate():
    os.makedirs(OUT, exist_ok=True)
    lines = ["# Generated by tools/gen_io_fixture.py; do not edit.",
             "# npy FILE NDIM DIMS... NUMEL FLOAT32-BITS...",
             "# st FILE TENSOR DTYPE NDIM DIMS... NUMEL FLOAT32-BITS...",
             "# count FILE TENSORS (num_batches_tracked is dropped)"]
    npy_fixtures(lines)
    safetensors_fixture(lines)
    with open(os.path.join(OUT, "expected.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d entries to %s" % (len(lines) - 4, os.path.normpath(OUT)))


def check_npy(path):
    """An .npy from npy_write: numpy loads it, and np.save writes the same
    bytes for the same array."""
    data = open(path, "rb").read()
    a = np.load(path, allow_pickle=False)
    assert a.dtype == np.dtype("<f4"), a.dtype
    assert a.flags.c_contiguous
    buf = io.BytesIO()
    np.save(buf, a)
    assert buf.getvalue() == data, "differs from numpy.save's bytes"
    hlen = struct.unpack("<H", data[8:10])[0]
    assert (10 + hlen) % 64 == 0 and data[9 + hlen:10 + hlen] == b"\n"
    print("%s: ok, %s %s" % (path, a.dtype, a.shape))


def check_safetensors(path):
    """A .safetensors from st_save, checked the way the reference reader
    checks it: header JSON, F32 only, tensors tiling the data exactly."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert 8 + n <= len(data) and data[8:9] == b"{"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == 4 * count, (name, info)
        a = np.frombuffer(body[begin:end], dtype="<f4")
        spans.append((begin, end))
        print("%s: %s %s %s" % (path, name, info["shape"], a[:4]))
    at = 0
    for begin, end in sorted(spans):
        assert begin == at, "hole or overlap at %d" % begin
        at = end
    assert at == len(body), "trailing bytes"
    print("%s: ok, %d tensors" % (path, len(spans)))


def main(argv):
    if len(argv) > 1 and argv[1] == "--check":
        for path in argv[2:]:
            if path.endswith(".npy"):
                check_npy(path)
            else:
                check_safetensors(path)
        return 0
    generate()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
