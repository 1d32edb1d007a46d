-- LeNet-5 on a 28 x 28 digit, as in the PyTorch tutorials.
return model "lenet5" {
  input = {1, 1, 28, 28},
  seed = 1,
  nn.Conv2d{1, 6, 5, padding = 2},
  nn.ReLU{},
  nn.MaxPool2d{2},
  nn.Conv2d{6, 16, 5},
  nn.ReLU{},
  nn.MaxPool2d{2},
  nn.Flatten{},
  nn.Linear{400, 120},
  nn.ReLU{},
  nn.Linear{120, 84},
  nn.ReLU{},
  nn.Linear{84, 10},
}
