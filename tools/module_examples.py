#!/usr/bin/python3
"""The PyTorch modules behind the example module specs, and their weights.

    /usr/bin/python3 tools/module_examples.py [NAME...]

For each example (default: all four), builds the nn.Module below with
torch.manual_seed(SEED) (PyTorch's default init), gives its batch norms
trained-looking statistics (random affine parameters, then running
statistics measured on one random batch in train mode, as a short
calibration would), and writes its weights the way a user does:

    torch.save(model.state_dict(), "NAME.pt")
    python3 tools/pt2safetensors.py NAME.pt specs/NAME.safetensors

so specs/NAME.safetensors holds the module's state_dict() unchanged
(nested keys, num_batches_tracked included).  The specs themselves,
specs/NAME.lua, are written by hand in SPEC.md 1.1's syntax and mirror the
classes below attribute for attribute.  PyTorch's output for `modelc run
--random-input 0` is written by tools/gen_spec_refs.py, which builds these
modules through reference() below.

  resnet8     MLPerf Tiny image classification ResNet-8 (CIFAR-10):
              3x32x32, stacks of 16/32/64 channels, 1x1-conv projection
              shortcuts where the shape changes, 10 classes (logits; the
              Keras original ends in a softmax).
  ds_cnn_module
              MLPerf Tiny keyword spotting DS-CNN: 1x49x10 MFCCs, a 10x4
              stride-2 conv with TensorFlow's "same" padding written as
              ZeroPad2d((1, 1, 4, 5)), four depthwise-separable blocks of 64
              channels, 12 classes.
  tcn1d       a temporal convolutional network on 9x128 sensor windows
              (UCI HAR's shape): three residual blocks of dilated causal
              convolutions (dilations 1, 2, 4; left padding (k-1)*dilation
              with ConstantPad1d), a 1x1 downsample where channels change,
              6 classes.
  se_block    a MobileNetV3 bottleneck: 1x1 expansion and 3x3 depthwise
              conv with Hardswish, squeeze-excitation (avgpool, 1x1 convs,
              ReLU, Hardsigmoid, as torchvision's SqueezeExcitation), 1x1
              projection and the residual add.
"""
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
SPECS = os.path.join(ROOT, "specs")


# ---------------------------------------------------------------- resnet8

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride=stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet8(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.stacks = nn.Sequential(BasicBlock(16, 16, 1),
                                    BasicBlock(16, 32, 2),
                                    BasicBlock(32, 64, 2))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.stacks(x)
        x = F.avg_pool2d(x, 8)
        return self.fc(torch.flatten(x, 1))


# ---------------------------------------------------------------- ds_cnn

class DSBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.depthwise = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.pointwise = nn.Conv2d(c, c, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        x = F.relu(self.bn1(self.depthwise(x)))
        return F.relu(self.bn2(self.pointwise(x)))


class DSCNN(nn.Module):
    def __init__(self, classes=12, c=64):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 1, 4, 5))
        self.conv1 = nn.Conv2d(1, c, (10, 4), stride=2, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.drop = nn.Dropout(0.2)
        self.blocks = nn.ModuleList([DSBlock(c) for _ in range(4)])
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(self.pad(x))))
        x = self.drop(x)
        for block in self.blocks:
            x = block(x)
        x = self.drop(x)
        x = x.mean((2, 3))
        return self.fc(x)


# ---------------------------------------------------------------- tcn1d

class TemporalBlock(nn.Module):
    def __init__(self, cin, cout, k, dilation):
        super().__init__()
        self.pad = nn.ConstantPad1d(((k - 1) * dilation, 0), 0.0)
        self.conv1 = nn.Conv1d(cin, cout, k, dilation=dilation)
        self.conv2 = nn.Conv1d(cout, cout, k, dilation=dilation)
        if cin != cout:
            self.downsample = nn.Conv1d(cin, cout, 1)
        else:
            self.downsample = None

    def forward(self, x):
        y = F.relu(self.conv1(self.pad(x)))
        y = F.relu(self.conv2(self.pad(y)))
        res = x if self.downsample is None else self.downsample(x)
        return F.relu(y + res)


class TCN(nn.Module):
    def __init__(self, cin=9, c=16, k=3, classes=6):
        super().__init__()
        self.blocks = nn.ModuleList([TemporalBlock(cin, c, k, 1),
                                     TemporalBlock(c, c, k, 2),
                                     TemporalBlock(c, c, k, 4)])
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean(2))


# ---------------------------------------------------------------- se_block

class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation with MobileNetV3's activations."""

    def __init__(self, c, squeeze):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x):
        s = self.avgpool(x)
        s = self.activation(self.fc1(s))
        s = self.scale_activation(self.fc2(s))
        return s * x


class InvertedResidual(nn.Module):
    def __init__(self, c=16, expanded=64, k=3):
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(c, expanded, 1, bias=False),
                                    nn.BatchNorm2d(expanded), nn.Hardswish())
        self.depthwise = nn.Sequential(
            nn.Conv2d(expanded, expanded, k, padding=k // 2,
                      groups=expanded, bias=False),
            nn.BatchNorm2d(expanded), nn.Hardswish())
        self.se = SqueezeExcitation(expanded, expanded // 4)
        self.project = nn.Sequential(nn.Conv2d(expanded, c, 1, bias=False),
                                     nn.BatchNorm2d(c))

    def forward(self, x):
        y = self.depthwise(self.expand(x))
        y = self.se(y)
        return x + self.project(y)


# ---------------------------------------------------------------- all

# name -> (constructor, input shape, init seed)
EXAMPLES = {
    "resnet8": (ResNet8, (1, 3, 32, 32), 8),
    "ds_cnn_module": (DSCNN, (1, 1, 49, 10), 12),
    "tcn1d": (TCN, (1, 9, 128), 6),
    "se_block": (InvertedResidual, (1, 16, 14, 14), 3),
}


def build(name):
    """The example's module in eval() mode, weights as written to
    specs/NAME.safetensors."""
    make, shape, seed = EXAMPLES[name]
    torch.manual_seed(seed)
    model = make()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.75, 1.25)
            bn.bias.uniform_(-0.25, 0.25)
            bn.momentum = None          # the plain average of the batch
        if bns:
            model.train()
            model(torch.randn(8, *shape[1:]))
        for bn in bns:
            bn.momentum = 0.1
    return model.eval()


def write_weights(name):
    """torch.save, then the converter, as the README tells a user to."""
    out = os.path.join(SPECS, name + ".safetensors")
    with tempfile.TemporaryDirectory() as tmp:
        pt = os.path.join(tmp, name + ".pt")
        torch.save(build(name).state_dict(), pt)
        subprocess.run([sys.executable,
                        os.path.join(TOOLS, "pt2safetensors.py"), pt, out],
                       check=True)
    return out


def reference(name):
    """(input shape, module) with specs/NAME.safetensors loaded strictly,
    for tools/gen_spec_refs.py."""
    sys.path.insert(0, TOOLS)
    from gen_random_modules import read_state
    model = EXAMPLES[name][0]()
    state = read_state(os.path.join(SPECS, name + ".safetensors"))
    model.load_state_dict(state, strict=True)
    return EXAMPLES[name][1], model.eval()


def main(argv):
    torch.set_num_threads(1)
    names = argv[1:] or list(EXAMPLES)
    for name in names:
        if name not in EXAMPLES:
            sys.exit("module_examples: no example %r (have: %s)"
                     % (name, ", ".join(EXAMPLES)))
        out = write_weights(name)
        n = sum(p.numel() for p in build(name).parameters())
        print("%-13s %7d parameters  %s (%d bytes)" % (
            name, n, os.path.relpath(out, ROOT), os.path.getsize(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
