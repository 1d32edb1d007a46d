#!/usr/bin/python3
"""Module models (SPEC.md 1.1) with their PyTorch outputs, for
tests/test_modules.c (tests/fixtures/modules/).

    /usr/bin/python3 tools/gen_module_fixture.py [--verify]

Each model is an nn.Module subclass written the way PyTorch users write
them (nested Sequential and ModuleList, residual blocks with and without
projection shortcuts, a squeeze-excitation block multiplying with
broadcasting, branches joined by torch.cat, a module called twice, a 1-D
TCN with dilated causal convolutions, depthwise-separable blocks), next to
the modelc spec a user would write for it. For each, NAME.safetensors is
its state_dict() untouched, converted by tools/pt2safetensors.py from a
torch.save file; NAME.in.npy a random input; NAME.out.npy PyTorch's
output. With --verify, recompute the outputs and compare instead.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "modules")
CONVERT = os.path.join(ROOT, "tools", "pt2safetensors.py")


# ---------------------------------------------------------------- models

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                nn.BatchNorm2d(cout))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(8), nn.ReLU())
        self.layers = nn.ModuleList([BasicBlock(8, 8, 1),
                                     BasicBlock(8, 16, 2)])
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.stem(x)
        for block in self.layers:
            x = block(x)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


RESNET = """
local function BasicBlock(cin, cout, stride)
  local m = nn.Module()
  m.conv1 = nn.Conv2d{cin, cout, 3, stride = stride, padding = 1, bias = false}
  m.bn1 = nn.BatchNorm2d{cout}
  m.conv2 = nn.Conv2d{cout, cout, 3, padding = 1, bias = false}
  m.bn2 = nn.BatchNorm2d{cout}
  if stride ~= 1 or cin ~= cout then
    m.shortcut = nn.Sequential{
      nn.Conv2d{cin, cout, 1, stride = stride, bias = false},
      nn.BatchNorm2d{cout},
    }
  else
    m.shortcut = nn.Identity{}
  end
  function m:forward(x)
    local y = F.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    return F.relu(y + self.shortcut(x))
  end
  return m
end

local net = nn.Module()
net.stem = nn.Sequential{nn.Conv2d{3, 8, 3, padding = 1, bias = false},
                         nn.BatchNorm2d{8}, nn.ReLU{}}
net.layers = nn.ModuleList{BasicBlock(8, 8, 1), BasicBlock(8, 16, 2)}
net.fc = nn.Linear{16, 10}
function net:forward(x)
  x = self.stem(x)
  for _, block in ipairs(self.layers) do x = block(x) end
  x = F.adaptive_avg_pool2d(x, 1)
  return self.fc(torch.flatten(x, 1))
end
"""


class SE(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, c // r, 1)
        self.fc2 = nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = F.relu(self.fc1(self.pool(x)))
        return x * F.hardsigmoid(self.fc2(s))


class SENet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 16, 3, padding=1)
        self.act = nn.Hardswish()
        self.se = SE(16, 4)
        self.head = nn.Conv2d(16, 5, 1)

    def forward(self, x):
        x = self.se(self.act(self.conv(x)))
        return self.head(x).mean((2, 3))


SENET = """
local function SE(c, r)
  local m = nn.Module()
  m.pool = nn.AdaptiveAvgPool2d{1}
  m.fc1 = nn.Conv2d{c, c // r, 1}
  m.fc2 = nn.Conv2d{c // r, c, 1}
  function m:forward(x)
    local s = F.relu(self.fc1(self.pool(x)))
    return x * F.hardsigmoid(self.fc2(s))
  end
  return m
end

local net = nn.Module()
net.conv = nn.Conv2d{4, 16, 3, padding = 1}
net.act = nn.Hardswish{}
net.se = SE(16, 4)
net.head = nn.Conv2d{16, 5, 1}
function net:forward(x)
  x = self.se(self.act(self.conv(x)))
  return self.head(x):mean({2, 3})
end
"""


class Inception(nn.Module):
    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2d(3, 4, 1)
        self.b3 = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(),
                                nn.Conv2d(4, 6, 3, padding=1))
        self.bp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                nn.Conv2d(3, 2, 1))
        self.fc = nn.Linear(12 * 4 * 4, 7)

    def forward(self, x):
        y = torch.cat([self.b1(x), self.b3(x), self.bp(x)], 1)
        y = F.max_pool2d(F.relu(y), 2)
        return F.log_softmax(self.fc(y.view(y.size(0), -1)), dim=1)


INCEPTION = """
local net = nn.Module()
net.b1 = nn.Conv2d{3, 4, 1}
net.b3 = nn.Sequential{nn.Conv2d{3, 4, 1}, nn.ReLU{},
                       nn.Conv2d{4, 6, 3, padding = 1}}
net.bp = nn.Sequential{nn.MaxPool2d{3, stride = 1, padding = 1},
                       nn.Conv2d{3, 2, 1}}
net.fc = nn.Linear{12 * 4 * 4, 7}
function net:forward(x)
  local y = torch.cat({self.b1(x), self.b3(x), self.bp(x)}, 1)
  y = F.max_pool2d(F.relu(y), 2)
  return F.log_softmax(self.fc(y:view(y:size(0), -1)), {dim = 1})
end
"""


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(6, 8)
        self.hidden = nn.Linear(8, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        x = torch.tanh(self.inp(x))
        x = torch.tanh(self.hidden(x))
        x = torch.tanh(self.hidden(x))  # the same layer, called again
        return self.out(x) / 2 - 1


SHARED = """
local net = nn.Module()
net.inp = nn.Linear{6, 8}
net.hidden = nn.Linear{8, 8}
net.out = nn.Linear{8, 3}
function net:forward(x)
  x = torch.tanh(self.inp(x))
  x = torch.tanh(self.hidden(x))
  x = torch.tanh(self.hidden(x))
  return self.out(x) / 2 - 1
end
"""


class TemporalBlock(nn.Module):
    def __init__(self, cin, cout, k, d):
        super().__init__()
        self.pad = nn.ConstantPad1d(((k - 1) * d, 0), 0.0)  # ZeroPad1d
        self.conv1 = nn.Conv1d(cin, cout, k, dilation=d)
        self.conv2 = nn.Conv1d(cout, cout, k, dilation=d)
        self.down = nn.Conv1d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        y = F.relu(self.conv1(self.pad(x)))
        y = F.relu(self.conv2(self.pad(y)))
        res = x if self.down is None else self.down(x)
        return F.relu(y + res)


class TCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(TemporalBlock(3, 8, 3, 1),
                                    TemporalBlock(8, 8, 3, 2),
                                    TemporalBlock(8, 8, 3, 4))
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.blocks(x)
        return self.fc(y.mean(2))


TCN_SPEC = """
local function TemporalBlock(cin, cout, k, d)
  local m = nn.Module()
  m.pad = nn.ZeroPad1d{{(k - 1) * d, 0}}
  m.conv1 = nn.Conv1d{cin, cout, k, dilation = d}
  m.conv2 = nn.Conv1d{cout, cout, k, dilation = d}
  if cin ~= cout then m.down = nn.Conv1d{cin, cout, 1} end
  function m:forward(x)
    local y = F.relu(self.conv1(self.pad(x)))
    y = F.relu(self.conv2(self.pad(y)))
    local res = cin == cout and x or self.down(x)
    return F.relu(y + res)
  end
  return m
end

local net = nn.Module()
net.blocks = nn.Sequential{TemporalBlock(3, 8, 3, 1),
                           TemporalBlock(8, 8, 3, 2),
                           TemporalBlock(8, 8, 3, 4)}
net.fc = nn.Linear{8, 4}
function net:forward(x)
  return self.fc(self.blocks(x):mean(2))
end
"""


def dw_block(cin, cout, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin,
                  bias=False),
        nn.BatchNorm2d(cin), nn.ReLU(),
        nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU())


class DSCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.ZeroPad2d((1, 1, 2, 2)),
            nn.Conv2d(1, 8, (5, 3), stride=2, bias=False),
            nn.BatchNorm2d(8), nn.ReLU(),
            dw_block(8, 8, 1), dw_block(8, 16, 2))
        self.classifier = nn.Linear(16, 6)

    def forward(self, x):
        x = self.features(x)
        x = F.avg_pool2d(x, x.shape[2:])
        return self.classifier(torch.flatten(x, 1))


DSCNN_SPEC = """
local function dw_block(cin, cout, stride)
  return nn.Sequential{
    nn.Conv2d{cin, cin, 3, stride = stride, padding = 1, groups = cin,
              bias = false},
    nn.BatchNorm2d{cin}, nn.ReLU{},
    nn.Conv2d{cin, cout, 1, bias = false}, nn.BatchNorm2d{cout}, nn.ReLU{},
  }
end

local net = nn.Module()
net.features = nn.Sequential{
  nn.ZeroPad2d{{1, 1, 2, 2}},
  nn.Conv2d{1, 8, {5, 3}, stride = 2, bias = false},
  nn.BatchNorm2d{8}, nn.ReLU{},
  dw_block(8, 8, 1), dw_block(8, 16, 2),
}
net.classifier = nn.Linear{16, 6}
function net:forward(x)
  x = self.features(x)
  x = F.avg_pool2d(x, {x.shape[3], x.shape[4]})
  return self.classifier(torch.flatten(x, 1))
end
"""


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(10, 16), nn.Linear(16, 16),
                                     nn.Linear(16, 4)])
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.drop(F.gelu(x))
        return F.softmax(x, dim=-1)


MLP_SPEC = """
local net = nn.Module()
net.layers = nn.ModuleList{nn.Linear{10, 16}, nn.Linear{16, 16},
                           nn.Linear{16, 4}}
net.drop = nn.Dropout{0.1}
function net:forward(x)
  for i, layer in ipairs(self.layers) do
    x = layer(x)
    if i < #self.layers then x = self.drop(F.gelu(x)) end
  end
  return F.softmax(x, {dim = -1})
end
"""

# name, model class, input shape, spec body (defines `net`)
MODELS = [
    ("resnet", ResNet, (2, 3, 8, 8), RESNET),
    ("senet", SENet, (1, 4, 6, 6), SENET),
    ("inception", Inception, (1, 3, 8, 8), INCEPTION),
    ("shared", Shared, (4, 6), SHARED),
    ("tcn", TCN, (2, 3, 16), TCN_SPEC),
    ("dscnn", DSCNN, (1, 1, 20, 10), DSCNN_SPEC),
    ("mlp", MLP, (3, 10), MLP_SPEC),
    # batches too large for the cache, run in passes (compiler/chunk.c):
    # 2 passes of 4, 3 of 4, 6 of 1, 3 of 8
    ("resnet_chunked", ResNet, (8, 3, 32, 32), RESNET),
    ("senet_chunked", SENet, (12, 4, 32, 32), SENET),
    ("tcn_chunked", TCN, (6, 3, 4096), TCN_SPEC),
    ("dscnn_chunked", DSCNN, (24, 1, 98, 40), DSCNN_SPEC),
]


def randomize_bn(model):
    """BatchNorm statistics that are not the defaults."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)


def build(i, name, cls, shape):
    torch.manual_seed(100 + i)
    model = cls()
    randomize_bn(model)
    model.eval()
    torch.manual_seed(200 + i)
    x = torch.randn(*shape)
    with torch.no_grad():
        y = model(x)
    return model, x, y


def main(argv):
    verify = "--verify" in argv
    os.makedirs(OUT, exist_ok=True)
    bad = 0
    for i, (name, cls, shape, body) in enumerate(MODELS):
        model, x, y = build(i, name, cls, shape)
        base = os.path.join(OUT, name)
        if verify:
            if not np.array_equal(np.load(base + ".out.npy"), y.numpy()):
                print("%s: differs from PyTorch" % name)
                bad = 1
            continue
        with tempfile.TemporaryDirectory() as tmp:
            pt = os.path.join(tmp, name + ".pt")
            torch.save(model.state_dict(), pt)
            subprocess.run([sys.executable, CONVERT, pt,
                            base + ".safetensors"], check=True,
                           stdout=subprocess.DEVNULL)
        spec = ("-- Generated by tools/gen_module_fixture.py; do not edit.\n"
                + body.lstrip("\n") +
                'return model "%s" { input = {%s}, weights = "%s.safetensors",'
                "\n  module = net }\n"
                % (name, ", ".join(str(d) for d in shape), name))
        with open(base + ".lua", "w") as f:
            f.write(spec)
        np.save(base + ".in.npy", x.numpy().astype(np.float32))
        np.save(base + ".out.npy", y.numpy().astype(np.float32))
    print("%s %d models in %s" % ("checked" if verify else "wrote",
                                  len(MODELS), os.path.relpath(OUT, ROOT)))
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
