-- The Conv1d tutorial's example with padding = 1: the length is kept.
return model "conv1d_tutorial_pad" {
  input = {2, 3, 4},
  seed = 42,
  nn.Conv1d{3, 2, 3, padding = 1},
}
