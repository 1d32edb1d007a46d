#!/usr/bin/python3
"""PyTorch's outputs for the example specs in specs/.

    /usr/bin/python3 tools/gen_spec_refs.py [--check] [MODELC]

For every specs/NAME.lua (seeded, no weights file), rebuilds the model in
PyTorch from what `modelc check` prints (the input shape, the seed, each
layer as a PyTorch call), initialises it with torch.manual_seed(seed), feeds
it torch.manual_seed(0); torch.randn(input), as `modelc run` does by
default, and writes the output to tests/fixtures/specs/NAME.out.npy. The
input itself is not stored: the tests regenerate it bit for bit.

The module examples (resnet8, ds_cnn_module, tcn1d, se_block: a weights
file each) are not read back from modelc: their PyTorch modules are the
classes of tools/module_examples.py, loaded with specs/NAME.safetensors
(written by that script through tools/pt2safetensors.py).

With --check, compares instead against the committed files (for `make
check-torch`, where PyTorch is installed).
"""
import glob
import os
import re
import subprocess
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import module_examples  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "specs")
ROW = re.compile(r"^\s+(\d+)\s+(\S+)\s+([A-Za-z0-9]+\(.*?\))\s+\[")


def model_from_check(text):
    head = re.search(r"input \[([0-9, ]+)\]", text)
    shape = [int(v) for v in head.group(1).split(",")]
    seed = re.search(r"seed (-?\d+)", text)
    seed = int(seed.group(1)) if seed else 0
    layers = []
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            layers.append(m.group(3))
    torch.manual_seed(seed)
    mods = [eval("nn." + l, {"nn": nn}) for l in layers]
    return shape, nn.Sequential(*mods).eval()


def main(argv):
    check = "--check" in argv
    args = [a for a in argv[1:] if a != "--check"]
    modelc = args[0] if args else os.path.join(ROOT, "build", "modelc")
    os.makedirs(OUT, exist_ok=True)
    bad = 0
    for spec in sorted(glob.glob(os.path.join(ROOT, "specs", "*.lua"))):
        name = os.path.basename(spec)[:-4]
        if name in module_examples.EXAMPLES:
            shape, model = module_examples.reference(name)
        else:
            text = subprocess.run([modelc, "check", spec], check=True,
                                  capture_output=True, text=True).stdout
            if "weights: file" in text:
                continue
            shape, model = model_from_check(text)
        torch.manual_seed(0)
        x = torch.randn(*shape)
        with torch.no_grad():
            y = model(x).numpy().astype(np.float32)
        outputs = [(name + ".out.npy", y)]
        if name.startswith("conv1d_tutorial"):
            # the tutorial's own input: torch.manual_seed(42); randn
            torch.manual_seed(42)
            with torch.no_grad():
                y42 = model(torch.randn(*shape)).numpy().astype(np.float32)
            outputs.append((name + ".seed42.out.npy", y42))
        for fname, y in outputs:
            bad |= save_or_check(os.path.join(OUT, fname), y, check)
    return 1 if bad else 0


def save_or_check(path, y, check):
    name = os.path.basename(path)
    if check:
        ref = np.load(path)
        ok = ref.shape == y.shape and np.allclose(ref, y, rtol=1e-4, atol=1e-5)
        print("%-34s %s" % (name, "ok" if ok else "DIFFERS"))
        return not ok
    np.save(path, y)
    print("%-34s %s" % (name, list(y.shape)))
    return False


if __name__ == "__main__":
    sys.exit(main(sys.argv))
