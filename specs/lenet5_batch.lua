-- LeNet-5 on a batch of 16 digits: 600 KiB of tensors in its first layers,
-- more than modelc keeps in cache at once (512 KiB), so the generated entry
-- point runs the model in 2 passes of 8 samples, with a workspace for 8.
return model "lenet5_batch" {
  input = {16, 1, 28, 28},
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
