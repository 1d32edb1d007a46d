-- Two wide 64-channel convolutions over 1024 steps: 25 M MACs, the
-- benchmark's compute-bound case.
return model "wide_conv1d" {
  input = {1, 64, 1024},
  seed = 1,
  nn.Conv1d{64, 64, 3, padding = 1},
  nn.ReLU{},
  nn.Conv1d{64, 64, 3, padding = 1},
  nn.ReLU{},
}
