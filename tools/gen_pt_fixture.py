#!/usr/bin/python3
"""A torch.save file and its conversion, for tests/test_run.c.

    /usr/bin/python3 tools/gen_pt_fixture.py

Builds a small nn.Module the way a training script would (a Sequential of
features under `self.features`, a head under `self.classifier`), saves its
state_dict() with torch.save (tests/fixtures/pt/net.pt: the zip archive
modelc must recognise), converts that with tools/pt2safetensors.py
(net.safetensors, keys such as features.0.weight kept as they are), and
records PyTorch's output on torch.manual_seed(0); torch.randn(1, 2, 12) in
net.out.npy. tests/fixtures/pt/net.lua is the flat spec with dotted names
that loads the converted file unchanged.
"""
import os
import subprocess
import sys

import numpy as np
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "pt")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(2, 4, 3, padding=1), nn.BatchNorm1d(4), nn.ReLU(),
            nn.MaxPool1d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(24, 3))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    torch.manual_seed(5)
    net = Net()
    with torch.no_grad():  # statistics that are not the defaults
        bn = net.features[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    net.eval()
    os.makedirs(OUT, exist_ok=True)
    pt = os.path.join(OUT, "net.pt")
    torch.save(net.state_dict(), pt)
    subprocess.run([sys.executable, os.path.join(ROOT, "tools",
                                                 "pt2safetensors.py"),
                    pt, os.path.join(OUT, "net.safetensors")], check=True)
    torch.manual_seed(0)
    x = torch.randn(1, 2, 12)
    with torch.no_grad():
        y = net(x)
    np.save(os.path.join(OUT, "net.out.npy"), y.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
