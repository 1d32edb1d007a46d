-- Conv1d over a long two-channel signal.
return model "conv1d_long" {
  input = {1, 2, 100},
  seed = 0,
  nn.Conv1d{2, 4, 3},
}
