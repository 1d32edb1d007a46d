-- The Conv1d tutorial's first example: 2 samples of 3 channels, length 4.
return model "conv1d_tutorial" {
  input = {2, 3, 4},
  seed = 42,
  nn.Conv1d{3, 2, 3},
}
