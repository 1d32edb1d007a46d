#!/usr/bin/env python3
"""Convert a file written by torch.save into a .safetensors file for modelc.

    python3 tools/pt2safetensors.py model.pt model.safetensors

Needs only torch and numpy (Debian 12 has no python3-safetensors). The input
may hold:

  - a state_dict (torch.save(model.state_dict(), "model.pt")), the usual way;
  - a whole module (torch.save(model, "model.pt")): its state_dict() is
    taken. Unpickling a module needs its class, so run this where the
    training script's module can be imported (PYTHONPATH);
  - a training checkpoint: a dict whose "state_dict", "model_state_dict" or
    "model" entry is one of the above (the rest, optimiser state and so on,
    is left out, and the script says so).

Keys are kept exactly as state_dict() has them ("features.0.weight",
"layers.1.bn1.running_mean"), so a modelc spec naming its layers after the
module's attributes loads the file unchanged. Float32 tensors are written
as F32; float16, bfloat16 and float64 keep their dtype (modelc converts
them to float32 on load). Integer tensors keep their dtype too: PyTorch's
BatchNorm `num_batches_tracked` counters (I64) are ignored by modelc
silently, and any other integer tensor is reported by modelc at the layer
that would use it. Complex or quantized tensors are refused here.

The output follows the safetensors format: an 8-byte little-endian header
length, a JSON header padded with spaces to a multiple of 8 bytes, then the
tensors' bytes back to back in state_dict order.
"""
import json
import struct
import sys

import numpy as np
import torch

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}

CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")


def fail(msg):
    sys.stderr.write("pt2safetensors: error: %s\n" % msg)
    sys.exit(1)


def is_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor)
        for k, v in obj.items())


def find_state_dict(obj):
    """The state_dict in what torch.load returned, and where it was."""
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict(), "the module's state_dict()"
    if is_state_dict(obj):
        return obj, "the state_dict"
    if isinstance(obj, dict):
        for key in CHECKPOINT_KEYS:
            if key in obj:
                inner = obj[key]
                if isinstance(inner, torch.nn.Module):
                    inner = inner.state_dict()
                if is_state_dict(inner):
                    rest = sorted(str(k) for k in obj if k != key)
                    where = "the checkpoint's %r entry" % key
                    if rest:
                        where += " (left out: %s)" % ", ".join(rest)
                    return inner, where
    fail("found no state_dict in the file: torch.load returned a %s; save "
         "model.state_dict() or the model itself" % type(obj).__name__)


def tensor_bytes(name, t):
    if t.is_quantized or t.is_complex() or t.dtype not in DTYPES:
        fail("tensor %r has dtype %s, which a safetensors file for modelc "
             "cannot hold" % (name, t.dtype))
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: its bits
        a = t.view(torch.int16).numpy()
    else:
        a = t.numpy()
    return DTYPES[t.dtype], a.astype(a.dtype.newbyteorder("<")).tobytes()


def convert(src, dst):
    try:
        obj = torch.load(src, map_location="cpu")
    except Exception as e:  # a pickle error names what is missing
        fail("cannot load %s with torch.load: %s" % (src, e))
    sd, where = find_state_dict(obj)
    header, chunks, offset = {}, [], 0
    for name, t in sd.items():
        dtype, data = tensor_bytes(name, t)
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    counts = {}
    for v in header.values():
        counts[v["dtype"]] = counts.get(v["dtype"], 0) + 1
    kinds = ", ".join("%d %s" % (n, d) for d, n in sorted(counts.items()))
    print("%s: %d tensors (%s) from %s" % (dst, len(header), kinds, where))


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: python3 tools/pt2safetensors.py IN.pt "
                         "OUT.safetensors\n")
        return 2
    convert(argv[1], argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
